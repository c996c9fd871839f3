"""Indicators recomputed independently with DuckDB from trusted-zone-shaped inputs (as one party may
see them: its datasets, its row filter), and the disclosure rules checked on the output table alone
(not through the code under test)."""

from __future__ import annotations

from collections import defaultdict

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sinergi.indicators.compute import compute_indicators, missing_indicators
from sinergi.indicators.definitions import BY_ID, INDICATORS
from sinergi.indicators.run import compute_for_party, party_view
from sinergi.indicators.sample import sample_trusted
from sinergi.policy import load_policy

MONTHS = ["2025-07", "2025-08", "2025-09"]
MONTH = "2025-09"
PERIODS = {"month": ("2025-09", "2025-09"), "ytd": ("2025-01", "2025-09"), "year": ("2024-10", "2025-09")}
RID = {"cpmi_registrations": "registration_id", "initial_registrations": "registration_id", "placements": "placement_id",
       "returns": "return_id", "complaints": "complaint_id", "trainings": "training_id", "health_checks": "check_id",
       "stranded_returnees": "case_id", "empowerment": "empowerment_id", "health_facilities": "facility_id"}
LAMPUNG = [f"18{n:02d}" for n in range(1, 14)] + ["1871", "1872"]


@pytest.fixture(scope="module")
def policy():
    return load_policy()


@pytest.fixture(scope="module")
def trusted():
    return sample_trusted(MONTHS, seed=11)


@pytest.fixture(scope="module")
def inputs(policy, trusted):
    tabs = party_view(trusted, "lampung", policy)
    # One complaint re-sent in a later month with a new status: must count once (latest state).
    c7 = tabs["complaints"]["2025-07"].slice(0, 1).to_pylist()[0]
    c7 |= {"workflow_status": "Selesai", "resolved_date": __import__("datetime").date(2025, 9, 20)}
    c9 = tabs["complaints"]["2025-09"]
    tabs["complaints"]["2025-09"] = pa.concat_tables([c9, pa.Table.from_pylist([c7], schema=c9.schema)])
    return tabs


@pytest.fixture(scope="module")
def out(inputs):
    return compute_indicators(inputs, MONTH)


@pytest.fixture(scope="module")
def db(inputs, out):
    con = duckdb.connect()
    for ds, by_month in inputs.items():
        parts = [t.append_column("_month", pa.array([m] * t.num_rows, pa.string())) for m, t in by_month.items()]
        con.register(f"raw_{ds}", pa.concat_tables(parts))
    con.register("ind", out)
    return con


def _dedup(con, ds: str, period: str) -> str:
    """SQL for the period's rows of ds: one row per record id, latest month (snapshot: latest month)."""
    lo, hi = PERIODS[period]
    if ds == "health_facilities":
        return (f"(SELECT * FROM raw_{ds} WHERE _month = (SELECT max(_month) FROM raw_{ds} "
                f"WHERE _month BETWEEN '{lo}' AND '{hi}'))")
    return (f"(SELECT * FROM raw_{ds} WHERE _month BETWEEN '{lo}' AND '{hi}' "
            f"QUALIFY row_number() OVER (PARTITION BY {RID[ds]} ORDER BY _month DESC) = 1)")


def _published(con, ind: str, period: str, dim: str = "total", level: str = "total") -> dict:
    rows = con.execute(
        "SELECT coalesce(kabkota_code, '-'), dimension_value, value, suppressed FROM ind WHERE indicator_id=? "
        "AND period=? AND dimension=? AND area_level=?", [ind, period, dim, level]).fetchall()
    return {(k, v): (val, s) for k, v, val, s in rows}


COUNTS = {  # indicator -> SQL expression of the counted quantity and a WHERE clause, written independently
    "cpmi_registered": ("count(*)", "TRUE"),
    "initial_registrations": ("count(*)", "TRUE"),
    "placements": ("count(*)", "TRUE"),
    "returns": ("count(*)", "TRUE"),
    "complaints": ("count(*)", "TRUE"),
    "cpmi_trained": ("count(DISTINCT person_key)", "TRUE"),
    "health_checks": ("count(*)", "TRUE"),
    "stranded_received": ("count(*)", "TRUE"),
    "empowerment_returnees": ("count(DISTINCT person_key)", "participant_type = 'purna PMI'"),
    "empowerment_families": ("count(DISTINCT person_key)", "participant_type = 'keluarga PMI'"),
    "health_facilities_licensed": ("count(*)", "license_valid_until IS NULL OR license_valid_until >= DATE '{end}'"),
}
END = {"month": "2025-09-30", "ytd": "2025-09-30", "year": "2025-09-30"}


@pytest.mark.parametrize("period", list(PERIODS))
@pytest.mark.parametrize("ind_id", list(COUNTS))
def test_counts_match_independent_duckdb(db, ind_id, period):
    ind = BY_ID[ind_id]
    expr, where = COUNTS[ind_id]
    where = where.format(end=END[period])
    src = _dedup(db, ind.dataset, period)
    checked = 0
    for dim in ("total", *ind.dimensions):
        group = "" if dim == "total" else f", coalesce(CAST({dim} AS VARCHAR), '(tidak diketahui)')"
        sel = "'total'" if dim == "total" else f"coalesce(CAST({dim} AS VARCHAR), '(tidak diketahui)')"
        # grand total
        expected = {("-", r[0]): r[1] for r in db.execute(
            f"SELECT {sel}, {expr} FROM {src} WHERE {where} GROUP BY ALL" if dim != "total"
            else f"SELECT 'total', {expr} FROM {src} WHERE {where}").fetchall()}
        got = _published(db, ind_id, period, dim)
        for key, value in expected.items():
            val, sup = got[key]
            if not sup:
                assert val == value, (ind_id, period, dim, key)
                checked += 1
        # per Lampung kab/kota
        expected = {(r[0], r[1]): r[2] for r in db.execute(
            f"SELECT kabkota_code, {sel}, {expr} FROM {src} WHERE ({where}) AND kabkota_code IS NOT NULL "
            f"GROUP BY kabkota_code{group}").fetchall()}
        got = _published(db, ind_id, period, dim, "kabkota")
        for key, value in expected.items():
            val, sup = got[key]
            if not sup:
                assert val == value, (ind_id, period, dim, key)
            else:
                assert val is None
            checked += 1
        if dim == "total":  # every Lampung kab/kota is present, zero when nothing happened
            assert {k for k, _ in got} >= set(LAMPUNG)
            for code in LAMPUNG:
                if (code, "total") not in expected:
                    assert got[(code, "total")] == (0.0, False)
    assert checked > 0


@pytest.mark.parametrize("period", list(PERIODS))
def test_rates_and_median_match(db, period):
    src = _dedup(db, "cpmi_registrations", period)
    reg, ver = db.execute(f"SELECT count(*), count(*) FILTER (WHERE verification_status='terverifikasi') FROM {src}").fetchone()
    got = _published(db, "cpmi_verified_rate", period)[("-", "total")]
    assert got[1] or got[0] == pytest.approx(ver / reg)
    assert _published(db, "cpmi_verified", period)[("-", "total")][0] in (ver, None)

    src = _dedup(db, "health_checks", period)
    n, fit = db.execute(f"SELECT count(*), count(*) FILTER (WHERE result='fit') FROM {src}").fetchone()
    got = _published(db, "health_fit_rate", period)[("-", "total")]
    assert got[1] or got[0] == pytest.approx(fit / n)

    lo, hi = PERIODS[period]
    src = _dedup(db, "complaints", period)
    days = [r[0] for r in db.execute(
        f"SELECT resolved_date - complaint_date FROM {src} WHERE workflow_status='Selesai' AND resolved_date "
        f"BETWEEN DATE '{lo}-01' AND DATE '2025-09-30'").fetchall()]
    base = _published(db, "complaints_resolved", period)[("-", "total")]
    med = _published(db, "complaint_days_to_resolution_median", period)[("-", "total")]
    if base[1] or len(days) < 5:
        assert med[0] is None
    else:
        assert base[0] == len(days)
        assert med[0] == pytest.approx(sorted(days)[len(days) // 2] if len(days) % 2 else
                                       (sorted(days)[len(days) // 2 - 1] + sorted(days)[len(days) // 2]) / 2)


def test_returns_sick_deceased_and_cohort_match(db):
    for period in PERIODS:
        src = _dedup(db, "returns", period)
        n = db.execute(f"SELECT count(*) FROM {src} WHERE return_status IN ('sakit','meninggal')").fetchone()[0]
        val, sup = _published(db, "returns_sick_deceased", period)[("-", "total")]
        assert sup or val == n
        tr, pl = _dedup(db, "trainings", period), _dedup(db, "placements", "year")
        cohort, placed = db.execute(f"""
            WITH c AS (SELECT person_key, min(end_date) AS ed FROM {tr}
                       WHERE end_date IS NOT NULL AND end_date <= DATE '2025-09-30' GROUP BY person_key)
            SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM {pl} p WHERE p.person_key = c.person_key
                   AND p.departure_date BETWEEN c.ed AND c.ed + 183)) FROM c""").fetchone()
        c_val, c_sup = _published(db, "trained_cohort", period)[("-", "total")]
        p_val, p_sup = _published(db, "trained_placed_6m", period)[("-", "total")]
        s_val, s_sup = _published(db, "trained_placed_6m_share", period)[("-", "total")]
        assert c_sup or c_val == cohort
        assert p_sup or p_val == placed
        assert s_sup or s_val == pytest.approx(placed / cohort)
        assert not (p_sup and not s_sup), "a share must not reveal a suppressed numerator"


def test_resent_complaint_counted_once_in_latest_state(db):
    # The complaint re-sent in September appears in July and September: counted once in ytd.
    n_distinct = db.execute(f"SELECT count(*) FROM {_dedup(db, 'complaints', 'ytd')}").fetchone()[0]
    n_rows = db.execute("SELECT count(*) FROM raw_complaints").fetchone()[0]
    assert n_rows == n_distinct + 1
    val, sup = _published(db, "complaints", "ytd")[("-", "total")]
    assert sup or val == n_distinct


# -- disclosure control, checked on the output only ---------------------------------------------------
def test_no_small_cell_is_published(out):
    for r in out.to_pylist():
        if r["unit"] in ("records", "persons") and not r["suppressed"]:
            assert not (0 < r["value"] < 5), r
        if r["suppressed"]:
            assert r["value"] is None and r["suppression"] in ("small_cell", "secondary", "base")
    assert sum(out.column("suppressed").to_pylist()) > 0  # the fixture does have small cells


def _lone_hidden(groups: dict) -> list:
    bad = []
    for key, members in groups.items():
        hidden = [m for m in members if m[1]]
        shown_positive = [m for m in members if not m[1] and (m[0] or 0) > 0]
        if len(hidden) == 1 and shown_positive:
            bad.append(key)
    return bad


@pytest.mark.parametrize("threshold", [5, 10])
def test_totals_do_not_reveal_suppressed_cells(inputs, threshold):
    rows = compute_indicators(inputs, MONTH, threshold=threshold).to_pylist()
    counts = [r for r in rows if BY_ID[r["indicator_id"]].kind in ("count", "cohort", "sum", "alias")
              and BY_ID[r["indicator_id"]].small_cell]
    for r in counts:
        assert r["suppressed"] or not (0 < r["value"] < threshold)
    row_groups, col_groups = defaultdict(list), defaultdict(list)
    for r in counts:
        cell = (r["value"], r["suppressed"])
        area = (r["area_level"], r["kabkota_code"], r["province_code"])
        if r["dimension"] == "total":
            for dim in BY_ID[r["indicator_id"]].dimensions:  # the total closes every breakdown of its area
                row_groups[(r["period"], r["indicator_id"], area, dim)].append(cell)
        else:
            row_groups[(r["period"], r["indicator_id"], area, r["dimension"])].append(cell)
        parent = {"kabkota": ("province", r["province_code"]), "province": ("total", None)}.get(r["area_level"])
        own = (r["area_level"], r["kabkota_code"] if r["area_level"] != "total" else None)
        base = (r["period"], r["indicator_id"], r["dimension"], r["dimension_value"])
        if parent:
            col_groups[(*base, parent)].append(cell)
        if r["area_level"] in ("province", "total"):
            col_groups[(*base, own)].append(cell)
    # a breakdown group only exists where the area has breakdown cells
    row_groups = {k: v for k, v in row_groups.items() if len(v) > 1}
    assert not _lone_hidden(row_groups)
    assert not _lone_hidden(col_groups)


def test_rates_hidden_when_base_small(inputs):
    rows = compute_indicators(inputs, MONTH).to_pylist()
    idx = {(r["period"], r["indicator_id"], r["area_level"], r["kabkota_code"], r["dimension"]): r for r in rows}
    for r in rows:
        ind = BY_ID[r["indicator_id"]]
        if ind.kind != "rate" or r["dimension"] != "total":
            continue
        den = idx[(r["period"], ind.denominator, r["area_level"], r["kabkota_code"], "total")]
        num = idx[(r["period"], ind.numerator, r["area_level"], r["kabkota_code"], "total")]
        if den["suppressed"] or num["suppressed"]:
            assert r["suppressed"] and r["value"] is None


def test_missing_datasets_mean_missing_indicators(policy, trusted):
    # A party that receives only provincial datasets gets no national indicator.
    provincial = {ds: t for ds, t in party_view(trusted, "kp2mi", policy).items()
                  if ds in ("health_checks", "trainings", "initial_registrations", "empowerment")}
    out = compute_indicators(provincial, "2025-09")
    ids = set(out.column("indicator_id").to_pylist())
    missing = missing_indicators(provincial)
    assert ids.isdisjoint(missing)
    for ind in INDICATORS:
        assert (ind.id in ids) == (ind.id not in missing)
    assert "placements" in missing and "trained_placed_6m_share" in missing and "cpmi_trained" in ids


def test_the_party_row_filter_is_applied_before_counting(policy, trusted, inputs):
    """A party never learns counts about rows it may not see: national rows from other provinces are
    in the trusted zone but in no area, total or breakdown of the Lampung-origin parties."""
    others = sum(t.filter(pc.not_equal(t.column("province_code"), "18")).num_rows
                 for t in trusted["placements"].values())
    assert others > 0  # the trusted zone has them ...
    assert all(set(t.column("province_code").to_pylist()) == {"18"} for t in inputs["placements"].values())
    for party in ("lampung", "kp2mi"):
        out, _ = compute_for_party(trusted, party, MONTH, policy)
        provinces = {r["province_code"] for r in out.to_pylist() if r["area_level"] != "total"}
        assert provinces == {"18"}, (party, provinces)  # ... but no party's indicators count them
    unfiltered = compute_indicators(trusted, MONTH)
    assert {r["province_code"] for r in unfiltered.to_pylist() if r["area_level"] == "province"} > {"18"}


def test_two_parties_entitled_to_the_same_rows_get_identical_values(policy, trusted):
    """kp2mi and lampung both receive the Lampung-origin national rows and every provincial row:
    every indicator both get has the same value and suppression in every cell."""
    a, _ = compute_for_party(trusted, "lampung", MONTH, policy)
    b, _ = compute_for_party(trusted, "kp2mi", MONTH, policy)
    common = set(a.column("indicator_id").to_pylist()) & set(b.column("indicator_id").to_pylist())
    assert {"placements", "returns", "complaints", "cpmi_trained", "trained_placed_6m_share"} <= common

    def cells(t):
        return sorted((r["indicator_id"], r["period"], r["area_level"], r["kabkota_code"] or "", r["dimension"],
                       r["dimension_value"], r["value"], r["suppressed"]) for r in t.to_pylist()
                      if r["indicator_id"] in common)

    assert cells(a) == cells(b)


def test_deterministic_and_future_months_ignored(inputs):
    a = compute_indicators(inputs, "2025-08")
    b = compute_indicators({ds: {m: t for m, t in v.items() if m <= "2025-08"} for ds, v in inputs.items()}, "2025-08")
    assert a.equals(b)
    assert set(a.column("ref_month").to_pylist()) == {"2025-08"}
    ytd = [r for r in a.to_pylist() if r["period"] == "ytd"]
    assert {r["period_start"] for r in ytd} == {"2025-01"} and max(r["months_covered"] for r in ytd) == 2


def test_sum_never_reveals_one_hidden_part(out):
    rows = out.to_pylist()
    part = {(r["period"], r["area_level"], r["kabkota_code"], r["province_code"], r["dimension_value"]): r
            for r in rows if r["indicator_id"] == "returns" and r["dimension"] == "return_status"}
    sums = [r for r in rows if r["indicator_id"] == "returns_sick_deceased"]
    assert sums
    for r in sums:
        key = (r["period"], r["area_level"], r["kabkota_code"], r["province_code"])
        parts = [part.get((*key, v)) for v in ("sakit", "meninggal")]
        hidden = [p for p in parts if p is not None and p["suppressed"]]
        shown = [p for p in parts if p is not None and not p["suppressed"]]
        if len(hidden) == 1:
            assert r["suppressed"], r
        if not r["suppressed"]:
            assert r["value"] == sum(p["value"] for p in shown) or len(hidden) >= 2
