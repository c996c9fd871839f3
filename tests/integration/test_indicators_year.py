"""Issue 15, "done when": a simulated YEAR (12 months, ``--scale lampung``) through the real extract and
validate steps (GX; validate writes the trusted zone), then the indicators of each party.

For every indicator, area (kab/kota, province, total), breakdown and period — the month period of
all 12 months, and month / year to date / last 12 months of June and December — every unsuppressed
value equals an independent DuckDB count over the *validated staging data* of the same months (the
valid rows with their NIKs; the party's row filter, deduplication, periods, cohorts and medians
written here in SQL, not taken from the compute code). Two parties entitled to the same rows get
identical values, and no suppressed value appears in any published report (monthly or yearly).

Runs the pipeline steps directly (no Airflow) on the in-memory store; the duration of each phase
is printed (``pytest -s``)."""

from __future__ import annotations

import io
import time
from collections import defaultdict
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from report_checks import cell_texts, numbers, spelled, value_part
from sinergi import registry
from sinergi.errors import DatasetStopped
from sinergi.indicators.definitions import BY_ID, INDICATORS, PLACED_WITHIN_DAYS
from sinergi.indicators.report import cell_id
from sinergi.layout import STAGING_BUCKET, TRUSTED_BUCKET, trusted_key
from sinergi.months import Month
from sinergi.settings import Settings
from support import MemoryStore

# a Lampung year through GX takes minutes, more on a loaded machine: beyond the suite default of 900 s
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

YEAR = 2025
MONTHS = [f"{YEAR}-{m:02d}" for m in range(1, 13)]
FULL = ("2025-06", "2025-12")  # reference months checked in every period
UNKNOWN = "(tidak diketahui)"
RID = {ds: registry.get(ds).record_id for ds in registry.names()}
# The parties' row filters, written out (a test below checks the policy still says exactly this).
LAMPUNG_ORIGIN = "(province_code = '18' OR kabkota_code LIKE '18%')"
NATIONAL_FILTER = "(province_code == '18' or kabkota_code starts with '18')"


# -- the year through the real steps -------------------------------------------------------------------
@pytest.fixture(scope="module")
def year(tmp_path_factory):
    from sinergi.pipeline import RunContext, extract_step, validate_step
    from sinergi.simulate import simulate

    timings = {}
    tmp = tmp_path_factory.mktemp("year")
    t0 = time.perf_counter()
    # 1 % defects: every dataset-month stays under the reject_share gate (5 %), so the year is whole;
    # at the default 3 % a small reference file (p3mi, ~120 rows) can cross it by chance.
    sim = simulate(tmp / "sources", month=MONTHS[0], months=12, scale="lampung", seed=15, defect_rate=0.01)
    timings["simulate 12 months (lampung scale)"] = time.perf_counter() - t0
    env = {"SINERGI_HOME": str(tmp / "home"), "SINERGI_EXPORTS_DIR": str(tmp / "sources"),
           "SINERGI_DISNAKER_DB_URL": f"sqlite:///{tmp / 'sources' / 'disnaker.sqlite'}",
           "SINERGI_MASTER_SECRET": "hex:" + "15" * 32}
    ctx = RunContext(store=MemoryStore(), home=tmp / "home", settings=Settings(environ=env))
    valid: dict[str, dict[str, pa.Table]] = defaultdict(dict)
    refs, stopped = {}, []
    t0 = time.perf_counter()
    for month in MONTHS:
        for ds in registry.names():  # references first (the registry's order)
            try:
                ref = validate_step(extract_step(ds, month, f"year-{month}", ctx), ctx)
            except DatasetStopped as e:
                stopped.append((ds, month, str(e)))
                continue
            refs[(ds, month)] = ref
            valid[ds][month] = pq.read_table(io.BytesIO(ctx.store.get_bytes(STAGING_BUCKET, ref["valid_key"])))
    timings["extract + validate + trusted write, 13 datasets x 12 months"] = time.perf_counter() - t0
    return {"ctx": ctx, "valid": dict(valid), "refs": refs, "stopped": stopped, "sim": sim, "timings": timings,
            "home": tmp / "home"}


@pytest.fixture(scope="module")
def computed(year):
    from sinergi.indicators.compute import compute_indicators
    from sinergi.indicators.run import party_view, read_trusted_tables

    ctx, timings = year["ctx"], year["timings"]
    t0 = time.perf_counter()
    trusted = read_trusted_tables(ctx.store, MONTHS[-1])
    out = {}
    for party in ctx.policy.parties:
        view = party_view(trusted, party, ctx.policy)
        for ref in MONTHS:
            periods = ("month", "ytd", "year") if ref in FULL else ("month",)
            out[(party, ref)] = compute_indicators(view, ref, period_names=periods)
    timings["compute indicators, 2 parties x 12 months"] = time.perf_counter() - t0
    return {"trusted": trusted, "tables": out}


def test_every_validated_month_is_in_the_trusted_zone_row_for_row(year):
    store = year["ctx"].store
    assert not year["stopped"], year["stopped"]
    for (ds, month), ref in year["refs"].items():
        data = store.get_bytes(TRUSTED_BUCKET, trusted_key(ds, month))
        rows = pq.ParquetFile(io.BytesIO(data)).metadata.num_rows
        assert rows == ref["counts"]["valid"] == ref["counts"]["trusted"] == year["valid"][ds][month].num_rows
        assert ref["counts"]["extracted"] == ref["counts"]["valid"] + ref["counts"]["quarantined"]
    placed = sum(t.num_rows for t in year["valid"]["placements"].values())
    assert 20_000 < placed < 40_000  # a Lampung-scale year (national export: ~85 % Lampung origin)


def test_the_row_filters_written_here_are_the_policys(year):
    policy = year["ctx"].policy
    for party, p in policy.parties.items():
        for ds, entry in p.datasets.items():
            expected = NATIONAL_FILTER if registry.get(ds).scope == "national" and ds != "p3mi" else None
            if ds in ("p3mi", "job_orders"):
                continue  # not counted by any indicator
            assert (entry.row_filter.describe() if entry.row_filter else None) == expected, (party, ds)
    assert PLACED_WITHIN_DAYS == 183


# -- the independent recomputation -----------------------------------------------------------------------
class Recount:
    """DuckDB over the validated staging rows (NIKs included), one party's view, written from the
    indicator definitions in words — not from the compute code."""

    def __init__(self, valid: dict[str, dict[str, pa.Table]]):
        self.con = duckdb.connect()
        for ds, by_month in valid.items():
            parts = [t.append_column("_month", pa.array([m] * t.num_rows, pa.string())) for m, t in by_month.items()]
            self.con.register(f"all_{ds}", pa.concat_tables(parts, promote_options="permissive"))
        self.cache: dict = {}

    def src(self, party: str, ds: str, lo: str, hi: str) -> str:
        """A temp table: the period's rows the party may see, one per record id (latest month wins);
        for the facility register, the latest month's snapshot."""
        key = (party, ds, lo, hi)
        if key not in self.cache:
            name = f"s{len(self.cache)}"
            where = LAMPUNG_ORIGIN if registry.get(ds).scope == "national" else "TRUE"
            if ds == "health_facilities":
                sql = (f"SELECT * FROM all_{ds} WHERE {where} AND _month = (SELECT max(_month) FROM all_{ds} "
                       f"WHERE _month BETWEEN '{lo}' AND '{hi}')")
            else:
                sql = (f"SELECT * FROM all_{ds} WHERE {where} AND _month BETWEEN '{lo}' AND '{hi}' "
                       f"QUALIFY row_number() OVER (PARTITION BY {RID[ds]} ORDER BY _month DESC) = 1")
            self.con.execute(f"CREATE TEMP TABLE {name} AS {sql}")
            self.cache[key] = name
        return self.cache[key]

    def grouped(self, src: str, expr: str, where: str = "TRUE", dim: str | None = None) -> dict:
        """{(level, code, dimension, value): number} for kab/kota, province and total."""
        dsel = f"coalesce(CAST({dim} AS VARCHAR), '{UNKNOWN}')" if dim else "'total'"
        out = {}
        for level, area in (("kabkota", "kabkota_code"), ("province", "left(kabkota_code, 2)"), ("total", "NULL")):
            for code, val, n in self.con.execute(
                    f"SELECT {area}, {dsel}, {expr} FROM {src} WHERE {where} GROUP BY ALL").fetchall():
                out[(level, code, dim or "total", val)] = n
        return out


def _days(month: str, last: bool) -> str:
    m = Month.parse(month)
    return f"DATE '{m.last_day if last else m.first_day}'"


COUNTS = {  # indicator -> (dataset, counted expression, condition, breakdowns)
    "cpmi_registered": ("cpmi_registrations", "count(*)", "TRUE", ["verification_status", "sex"]),
    "initial_registrations": ("initial_registrations", "count(*)", "TRUE", ["sex"]),
    "placements": ("placements", "count(*)", "TRUE", ["destination_country", "sector", "placement_scheme", "sex"]),
    "returns": ("returns", "count(*)", "TRUE", ["return_status", "sex"]),
    "complaints": ("complaints", "count(*)", "TRUE", ["complaint_type", "workflow_status"]),
    "complaints_resolved": ("complaints", "count(*)", "workflow_status = 'Selesai' AND resolved_date BETWEEN {first} "
                            "AND {last}", []),
    "cpmi_trained": ("trainings", "count(DISTINCT nik)", "TRUE", ["training_type", "result"]),
    "health_checks": ("health_checks", "count(*)", "TRUE", ["result", "sex"]),
    "health_facilities_licensed": ("health_facilities", "count(*)",
                                   "license_valid_until IS NULL OR license_valid_until >= {last}", ["facility_type"]),
    "stranded_received": ("stranded_returnees", "count(*)", "TRUE", ["condition"]),
    "empowerment_returnees": ("empowerment", "count(DISTINCT nik)", "participant_type = 'purna PMI'", ["program_type"]),
    "empowerment_families": ("empowerment", "count(DISTINCT nik)", "participant_type = 'keluarga PMI'", ["program_type"]),
    # one cell of a breakdown, or the sum of two, as their own indicators
    "cpmi_verified": ("cpmi_registrations", "count(*)", "verification_status = 'terverifikasi'", []),
    "returns_sick_deceased": ("returns", "count(*)", "return_status IN ('sakit', 'meninggal')", []),
    "complaints_failed_departure_fraud": ("complaints", "count(*)",
                                          "complaint_type IN ('PMI gagal berangkat', 'Penipuan peluang kerja')", []),
    "health_checks_fit": ("health_checks", "count(*)", "result = 'fit'", []),
}
RATES = {"cpmi_verified_rate": ("cpmi_verified", "cpmi_registered"), "health_fit_rate": ("health_checks_fit", "health_checks"),
         "trained_placed_6m_share": ("trained_placed_6m", "trained_cohort")}


def expected_cells(rc: Recount, party: str, ref: str, period: str) -> dict:
    """indicator -> {(level, code, dimension, value): expected value} for one party, month and period."""
    m = Month.parse(ref)
    lo, hi = {"month": (ref, ref), "ytd": (str(Month(m.year, 1)), ref), "year": (str(m - 11), ref)}[period]
    first, last = _days(lo, False), _days(hi, True)
    out: dict[str, dict] = {}
    for ind_id, (ds, expr, where, dims) in COUNTS.items():
        src = rc.src(party, ds, lo, hi)
        where = where.format(first=first, last=last)
        cells = {}
        for dim in [None, *dims]:
            cells |= rc.grouped(src, expr, where, dim)
        out[ind_id] = cells
    # median days from complaint to resolution, over the complaints resolved in the period
    src = rc.src(party, "complaints", lo, hi)
    out["complaint_days_to_resolution_median"] = rc.grouped(
        src, "median(resolved_date - complaint_date)",
        f"workflow_status = 'Selesai' AND resolved_date BETWEEN {first} AND {last}")
    # the training cohort: each person's first end date in the period (its kab/kota: the smallest code
    # among that day's trainings), placed if any placement up to the month departs 0-183 days later
    tr, pl = rc.src(party, "trainings", lo, hi), rc.src(party, "placements", "0000-01", ref)
    rc.con.execute(f"""CREATE OR REPLACE TEMP TABLE cohort AS
        WITH f AS (SELECT nik, min(end_date) AS ed FROM {tr} WHERE end_date IS NOT NULL AND end_date <= {last}
                   GROUP BY nik)
        SELECT f.nik, f.ed, min(t.kabkota_code) AS kabkota_code,
               EXISTS (SELECT 1 FROM {pl} p WHERE p.nik = f.nik AND p.departure_date BETWEEN f.ed AND f.ed + 183) AS placed
        FROM f JOIN {tr} t ON t.nik = f.nik AND t.end_date = f.ed GROUP BY f.nik, f.ed""")
    out["trained_cohort"] = rc.grouped("cohort", "count(*)")
    out["trained_placed_6m"] = rc.grouped("cohort", "count(*)", "placed")
    for rate, (num, den) in RATES.items():
        out[rate] = {k: out[num].get(k, 0) / d for k, d in out[den].items() if d}
    return out


def _published(table: pa.Table, period: str) -> dict:
    out: dict[str, dict] = defaultdict(dict)
    for r in table.to_pylist():
        if r["period"] == period:
            out[r["indicator_id"]][(r["area_level"], r["kabkota_code"], r["dimension"], r["dimension_value"])] = r
    return out


@pytest.fixture(scope="module")
def recount(year, computed):
    t0 = time.perf_counter()
    rc = Recount(year["valid"])
    expected = {}
    for party in year["ctx"].policy.parties:
        for ref in MONTHS:
            for period in (("month", "ytd", "year") if ref in FULL else ("month",)):
                expected[(party, ref, period)] = expected_cells(rc, party, ref, period)
    year["timings"]["independent DuckDB recount"] = time.perf_counter() - t0
    return expected


def test_every_unsuppressed_value_equals_the_independent_count(year, computed, recount):
    checked: dict[str, int] = defaultdict(int)
    hidden = 0
    for (party, ref, period), expected in recount.items():
        got = _published(computed["tables"][(party, ref)], period)
        assert set(got) == {i.id for i in INDICATORS}, (party, ref, period)
        for ind_id, cells in got.items():
            want = expected[ind_id]
            for key, r in cells.items():
                if r["suppressed"]:
                    assert r["value"] is None
                    hidden += 1
                    continue
                exp = want.get(key, 0 if BY_ID[ind_id].kind in ("count", "sum", "alias", "cohort") else None)
                if exp is None:  # a rate or median without a base in this area
                    assert r["value"] is None, (party, ref, period, ind_id, key, r["value"])
                else:
                    assert r["value"] == pytest.approx(exp), (party, ref, period, ind_id, key, r["value"], exp)
                checked[ind_id] += 1
            # every cell the recount finds is published (a value, or suppressed): nothing is dropped
            for key, n in want.items():
                if n and BY_ID[ind_id].kind != "median":
                    assert key in cells, (party, ref, period, ind_id, key, n)
    assert set(checked) == {i.id for i in INDICATORS}, set(BY_ID) - set(checked)
    assert sum(checked.values()) > 20_000 and hidden > 100
    print(f"\nyear test: {sum(checked.values())} unsuppressed cells equal the DuckDB recount; {hidden} suppressed")


def test_no_kab_kota_is_lost_any_more(computed, recount):
    """The defect of issue 15: kab/kota figures from the protected release undercounted. Now every
    Lampung kab/kota's placements equal the validated count (or are suppressed as a small cell)."""
    for party in ("lampung", "kp2mi"):
        got = _published(computed["tables"][(party, "2025-12")], "ytd")["placements"]
        want = recount[(party, "2025-12", "ytd")]["placements"]
        codes = {k[1] for k in want if k[0] == "kabkota"}
        assert len(codes) == 15 and all(k[1].startswith("18") for k in want if k[0] == "kabkota")
        for code in codes:
            r = got[("kabkota", code, "total", "total")]
            assert not r["suppressed"] and r["value"] == want[("kabkota", code, "total", "total")]
        assert ("kabkota", None, "total", "total") not in got  # no "withheld"/unknown kab/kota any more


def test_two_parties_entitled_to_the_same_rows_get_identical_values(year, computed):
    policy = year["ctx"].policy
    assert policy.parties["lampung"].datasets.keys() >= policy.parties["kp2mi"].datasets.keys() - {"p3mi"}
    for ref in MONTHS:
        a, b = computed["tables"][("lampung", ref)], computed["tables"][("kp2mi", ref)]
        cols = ["period", "indicator_id", "area_level", "kabkota_code", "dimension", "dimension_value", "value",
                "suppressed", "suppression"]
        assert sorted(map(tuple, (r.values() for r in a.select(cols).to_pylist()))) == \
            sorted(map(tuple, (r.values() for r in b.select(cols).to_pylist())))


# -- the published reports ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reports(year, computed):
    from sinergi.indicators import run_for_party
    from sinergi.indicators.yearly import run_yearly

    ctx = year["ctx"]
    t0 = time.perf_counter()
    out = {}
    for party in ctx.policy.parties:
        monthly = run_for_party(ctx.store, party, MONTHS[-1], ctx.policy, year["home"], trusted=computed["trusted"])
        yearly = run_yearly(ctx.store, party, YEAR, ctx.policy, year["home"], trusted=computed["trusted"])
        bucket = ctx.policy.parties[party].bucket
        out[party] = {"monthly": ctx.store.get_bytes(bucket, monthly["report_key"]).decode(),
                      "yearly": ctx.store.get_bytes(bucket, yearly["report_key"]).decode(),
                      "paths": (monthly["report_path"], yearly["report_path"])}
    year["timings"]["monthly + yearly reports, 2 parties"] = time.perf_counter() - t0
    return out


def test_no_suppressed_value_appears_in_the_published_reports(computed, recount, reports):
    for party, html in reports.items():
        truths = {}
        for period in ("month", "ytd", "year"):
            got, want = _published(computed["tables"][(party, "2025-12")], period), recount[(party, "2025-12", period)]
            truths |= {cell_id(r): want[i].get(k) for i, cells in got.items() for k, r in cells.items()}
        for ref in MONTHS:  # the trend points (month period of every month)
            got, want = _published(computed["tables"][(party, ref)], "month"), recount[(party, ref, "month")]
            truths |= {cell_id(r): want[i].get(k) for i, cells in got.items() for k, r in cells.items()}
        hidden = {cid for cid, v in truths.items() if v}
        for kind in ("monthly", "yearly"):
            bound = cell_texts(html[kind])
            table = {cell_id(r): r for ref in MONTHS for r in computed["tables"][(party, ref)].to_pylist()}
            suppressed_shown = 0
            for cid, texts in bound.items():
                r = table[cid]
                if not r["suppressed"]:
                    continue
                suppressed_shown += 1
                true = truths[cid] if cid in hidden else None
                unit = BY_ID[r["indicator_id"]].unit
                token = (None if true is None else f"{true * 100:.1f}" if unit == "ratio"
                         else f"{true:.1f}" if unit == "days" else spelled(true))
                for text in texts:
                    assert "sel disamarkan" in text, (party, kind, cid, text)
                    assert not numbers(value_part(text)), (party, kind, cid, text)
                    assert token is None or token not in numbers(text.replace(r["ref_month"], "")), (
                        party, kind, cid, text, true)
            assert suppressed_shown > 5, (party, kind)
        assert "Kab/kota tidak diketahui" not in html["monthly"] + html["yearly"]
        for path in html["paths"]:
            assert Path(path).is_file()


def test_report_timings(year, reports):
    """Not a speed assertion (benchmarks do that): the phases of the year, for the record."""
    for what, seconds in year["timings"].items():
        print(f"year test timing: {what}: {seconds:.1f} s")
    assert year["timings"]["extract + validate + trusted write, 13 datasets x 12 months"] > 0
