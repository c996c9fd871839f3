"""On a real SeaweedFS (its own server, so other tests' months stay untouched): trusted-zone months
written to ``sinergi-trusted`` → ``run_for_party`` → indicators dataset + HTML report in each party's
bucket and on disk → the report opened in headless Chromium (charts present). The slow tests run the
real chain: simulator → extract → validate (GX, writes the trusted zone) → share → publish →
indicators, recompute the indicators with DuckDB from the trusted zone, and run the indicators DAG
(monthly and yearly) and the yearly DAG through Airflow."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sinergi.indicators.run import compute_for_party
from sinergi.indicators.sample import sample_trusted
from sinergi.layout import TRUSTED_BUCKET, trusted_key
from sinergi.objectstore import AccessDenied
from sinergi.policy import load_policy
from support import chromium

MONTHS = ["2025-07", "2025-08"]
MONTH = "2025-08"


@pytest.fixture(scope="module")
def policy():
    return load_policy()


class _Store:
    def __init__(self, embedded):
        from sinergi.s3 import S3ObjectStore

        self.embedded = embedded
        self.pipeline = S3ObjectStore(embedded.credentials("pipeline"), attempts=3, backoff=0.2)

    def client_for(self, party: str):
        from sinergi.s3 import S3ObjectStore

        return S3ObjectStore(self.embedded.credentials(party), attempts=1, backoff=0.1)


def _start(home: Path) -> _Store:
    from sinergi.local.store import EmbeddedStore

    embedded = EmbeddedStore(home=home, s3_port=EmbeddedStore._free_port())
    embedded.up()
    return _Store(embedded)


@pytest.fixture(scope="module")
def own_store(tmp_path_factory):
    store = _start(tmp_path_factory.mktemp("ind-store"))
    try:
        yield store
    finally:
        store.embedded.down()


@pytest.fixture(scope="module")
def published(own_store, policy, tmp_path_factory):
    """Write sample trusted months into the trusted zone, then run the indicators of every party."""
    from sinergi.indicators import run_for_party

    home = tmp_path_factory.mktemp("ind-home")
    trusted = sample_trusted(MONTHS, seed=5, scale=0.5)
    for ds, by_month in trusted.items():
        for m, t in by_month.items():
            buf = io.BytesIO()
            pq.write_table(t, buf)
            own_store.pipeline.put_bytes(TRUSTED_BUCKET, trusted_key(ds, m), buf.getvalue())
    results = {party: run_for_party(own_store.pipeline, party, MONTH, policy, home, run_id="test-ind")
               for party in policy.parties}
    return {"home": home, "trusted": trusted, "results": results}


def test_indicators_published_to_each_party_bucket(own_store, policy, published):
    for party, res in published["results"].items():
        bucket = policy.parties[party].bucket
        reader = own_store.client_for(party)  # the party's own read-only key
        data = reader.get_bytes(bucket, f"indicators/year={MONTH[:4]}/month={MONTH[5:]}/part-0.parquet")
        table = pq.read_table(io.BytesIO(data))
        assert table.num_rows == res["rows"] > 0
        expected, _ = compute_for_party(published["trusted"], party, MONTH, policy)
        key = ["period", "indicator_id", "area_level", "kabkota_code", "dimension", "dimension_value"]
        assert table.sort_by([(k, "ascending") for k in key]).to_pylist() == \
            expected.sort_by([(k, "ascending") for k in key]).to_pylist()
        for r in table.to_pylist():
            if r["unit"] in ("records", "persons") and not r["suppressed"]:
                assert not (0 < r["value"] < 5)
        # the report is in the bucket (readable by the party) and on disk, byte-identical
        html = reader.get_bytes(bucket, res["report_key"])
        assert res["report_key"] == f"_reports/{MONTH}/laporan-{party}-{MONTH}.html"
        local = Path(res["report_path"])
        assert local == published["home"] / "reports" / party / f"{MONTH}.html"
        assert local.read_bytes() == html
        # the trusted zone itself stays owner-only: a party's key cannot read it
        with pytest.raises(AccessDenied):
            reader.get_bytes(TRUSTED_BUCKET, trusted_key("placements", MONTH))


def test_only_the_datasets_the_policy_gives_a_party_are_counted(policy, published):
    for party, res in published["results"].items():
        received = set(policy.parties[party].datasets)
        assert set(res["datasets_used"]) <= received
        assert res["missing"] == {}  # every indicator dataset is shared with both parties today
        html = Path(res["report_path"]).read_text(encoding="utf-8")
        assert 'id="missing"' not in html


def test_rerun_is_idempotent(own_store, policy, published):
    from sinergi.indicators import run_for_party

    party = "lampung"
    bucket = policy.parties[party].bucket
    first = published["results"][party]
    again = run_for_party(own_store.pipeline, party, MONTH, policy, published["home"], run_id="test-ind-2")
    assert again["publish"]["sha256"] == first["publish"]["sha256"]
    assert own_store.pipeline.get_bytes(bucket, again["report_key"]) == Path(first["report_path"]).read_bytes()


def test_yearly_evaluation_goes_to_the_bucket_and_disk(own_store, policy, published):
    from sinergi.indicators.yearly import run_yearly

    for party in policy.parties:
        out = run_yearly(own_store.pipeline, party, 2025, policy, published["home"])
        assert out["report_key"] == f"_reports/2025/evaluasi-{party}-2025.html" and out["months"] == MONTHS
        html = own_store.client_for(party).get_bytes(policy.parties[party].bucket, out["report_key"])
        assert Path(out["report_path"]).read_bytes() == html
        text = html.decode()
        assert 'id="partial"' in text  # two validated months of 2025: the year is not complete
        assert text.count("<tr data-row=") >= 26 and 'id="targets"' in text


def test_report_renders_in_headless_chromium(published):
    report = Path(published["results"]["lampung"]["report_path"])
    requests: list[str] = []
    with chromium() as browser:
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri())
        assert "Laporan Bulanan Indikator" in page.title()
        assert page.locator("svg.chart").count() >= 5
        titles = page.locator("svg.chart > title").all_text_contents()
        assert any("negara tujuan" in t for t in titles)
        assert any("kab/kota" in t for t in titles)
        assert any("per 10.000 penduduk" in t for t in titles)
        assert page.locator("svg.chart rect.bar").count() > 10
        assert page.locator("svg.trend").count() >= 3
        assert page.locator("svg#trend-placements circle").count() == 2  # one point per month
        assert page.locator("svg#map-placements g[data-code]").count() == 15
        box = page.locator("svg#kabkota-placements").bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100  # laid out, not collapsed
        assert page.locator("#headline tbody tr").count() >= 10
    assert all(u.startswith("file://") for u in requests), requests  # nothing fetched from the network


# -- the real chain ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory, monkeypatch_module):
    """One simulated month through the real pipeline steps into a fresh store, then the indicators."""
    from sinergi import registry
    from sinergi.errors import DatasetStopped
    from sinergi.indicators import run_for_party
    from sinergi.pipeline import (
        RunContext,
        extract_step,
        publish_step,
        recipients,
        share_step,
        validate_step,
    )
    from sinergi.simulate import simulate

    tmp = tmp_path_factory.mktemp("ind-e2e")
    sources = tmp / "sources"
    simulate(sources, month=E2E_MONTH, months=1, scale="demo", seed=7)
    monkeypatch_module.setenv("SINERGI_EXPORTS_DIR", str(sources))
    monkeypatch_module.setenv("SINERGI_DISNAKER_DB_URL", f"sqlite:///{sources / 'disnaker.sqlite'}")
    store = _start(tmp / "home")
    try:
        ctx = RunContext(store=store.pipeline, home=tmp / "home")
        stopped = []
        for ds in registry.names():
            try:
                ref = validate_step(extract_step(ds, E2E_MONTH, "e2e", ctx), ctx)
            except DatasetStopped as e:
                stopped.append((ds, str(e)))
                continue
            for party in recipients(ds, ctx):
                publish_step(share_step(ref, party, ctx), ctx)
        results = {party: run_for_party(store.pipeline, party, E2E_MONTH, ctx.policy, tmp / "home")
                   for party in ctx.policy.parties}
        yield {"store": store, "results": results, "policy": ctx.policy, "stopped": stopped, "home": tmp / "home"}
    finally:
        store.embedded.down()


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


E2E_MONTH = "2025-07"


LAMPUNG_ORIGIN = "(province_code = '18' OR kabkota_code LIKE '18%')"  # the policy's row filter, in SQL


@pytest.mark.slow
def test_end_to_end_indicators_recomputed_from_the_trusted_zone(pipeline_run):
    """The published indicators equal DuckDB counts over the trusted zone (all validated rows, the
    party's row filter in SQL) — and are never below what the party's own k-anonymised release shows."""
    import duckdb

    from sinergi import registry

    store, policy = pipeline_run["store"], pipeline_run["policy"]
    part = f"year={E2E_MONTH[:4]}/month={E2E_MONTH[5:]}/part-0.parquet"
    for party, res in pipeline_run["results"].items():
        bucket = policy.parties[party].bucket
        reader = store.client_for(party)  # what this party reads with its own key
        ind = pq.read_table(io.BytesIO(reader.get_bytes(bucket, f"indicators/{part}")))
        assert ind.num_rows == res["rows"] > 0
        con = duckdb.connect()
        con.register("ind", ind)
        checked = 0
        for ds, ind_id, expr in (("placements", "placements", "count(*)"), ("returns", "returns", "count(*)"),
                                 ("cpmi_registrations", "cpmi_registered", "count(*)"),
                                 ("health_checks", "health_checks", "count(*)"),
                                 ("trainings", "cpmi_trained", "count(DISTINCT person_key)"),
                                 ("stranded_returnees", "stranded_received", "count(*)")):
            assert ds in policy.parties[party].datasets and ds in res["datasets_used"]
            con.register("trusted", pq.read_table(io.BytesIO(store.pipeline.get_bytes(TRUSTED_BUCKET, f"{ds}/{part}"))))
            con.register("released", pq.read_table(io.BytesIO(reader.get_bytes(bucket, f"{ds}/{part}"))))
            where = LAMPUNG_ORIGIN if registry.get(ds).scope == "national" else "TRUE"
            expected = dict(con.execute(f"SELECT kabkota_code, {expr} FROM trusted WHERE {where} GROUP BY ALL").fetchall())
            total = con.execute(f"SELECT {expr} FROM trusted WHERE {where}").fetchone()[0]
            released = dict(con.execute("SELECT kabkota_code, count(*) FROM released WHERE kabkota_code IS NOT NULL "
                                        "GROUP BY ALL").fetchall())
            got = {k: (v, s) for k, v, s in con.execute(
                "SELECT kabkota_code, value, suppressed FROM ind WHERE indicator_id=? AND period='month' "
                "AND dimension='total' AND area_level='kabkota'", [ind_id]).fetchall()}
            assert None not in got  # every validated record has its kab/kota: no "not recorded" area
            for code, n in expected.items():
                value, hidden = got[code]
                assert hidden or value == n, (party, ind_id, code)
                assert not hidden or value is None
                if not hidden and expr == "count(*)":
                    assert value >= released.get(code, 0)  # k-anonymity no longer lowers the counts
                checked += 1
            value, hidden = con.execute(
                "SELECT value, suppressed FROM ind WHERE indicator_id=? AND period='month' AND dimension='total' "
                "AND area_level='total'", [ind_id]).fetchone()
            assert hidden or value == total
        assert checked > 20
        bad = con.execute("SELECT count(*) FROM ind WHERE unit IN ('records','persons') AND NOT suppressed "
                          "AND value BETWEEN 1 AND 4").fetchone()[0]
        assert bad == 0
        html = reader.get_bytes(bucket, res["report_key"]).decode()
        assert "<svg" in html and "<script" not in html


@pytest.mark.slow
def test_indicators_and_yearly_dags_run_through_airflow(pipeline_run, tmp_path):
    """`airflow dags test sinergi_indicators` with month and year params recomputes, republishes and
    writes the yearly evaluation; the January run of `sinergi_yearly_evaluation` evaluates the year
    that ended."""
    import json

    from sinergi.local import localairflow
    from sinergi.publish import read_pointer

    home, policy, store = pipeline_run["home"], pipeline_run["policy"], pipeline_run["store"]
    bucket = policy.parties["lampung"].bucket
    report = Path(pipeline_run["results"]["lampung"]["report_path"])
    yearly = home / "reports" / "lampung" / "evaluasi-2025.html"
    before = read_pointer(store.pipeline, bucket, "indicators", E2E_MONTH)
    report.unlink()
    env = localairflow.airflow_env(home)
    env.update(SINERGI_HOME=str(home), AIRFLOW_HOME=str(tmp_path / "airflow"),
               AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path / 'airflow.db'}", SINERGI_TASK_RETRIES="0")
    log = tmp_path / "airflow.log"
    localairflow.migrate(env, log)
    conf = json.dumps({"month": E2E_MONTH, "year": 2025, "parties": ["lampung"]})
    localairflow._run(localairflow.airflow_cmd("dags", "test", "sinergi_indicators", "-c", conf), env, log,
                      "airflow dags test sinergi_indicators")
    text = log.read_text(errors="replace")
    assert "indicators plan: [{'party': 'lampung', 'month': '2025-07'}]" in text
    assert "yearly evaluation plan: [{'party': 'lampung', 'year': 2025}]" in text
    assert report.exists() and "<svg" in report.read_text(encoding="utf-8")
    assert yearly.exists() and 'id="coverage"' in yearly.read_text(encoding="utf-8")
    assert store.client_for("lampung").get_bytes(bucket, "_reports/2025/evaluasi-lampung-2025.html") == yearly.read_bytes()
    after = read_pointer(store.pipeline, bucket, "indicators", E2E_MONTH)
    assert after["generation"] == before["generation"] + 1
    # the yearly DAG's January run: its data interval starts in January 2025 → the year 2025
    yearly.unlink()
    localairflow._run(localairflow.airflow_cmd("dags", "test", "sinergi_yearly_evaluation", "2026-01-10T06:00:00+07:00",
                                               "-c", json.dumps({"parties": ["lampung"]})), env, log,
                      "airflow dags test sinergi_yearly_evaluation")
    line = "yearly evaluation plan: [{'party': 'lampung', 'year': 2025}]"
    assert log.read_text(errors="replace").count(line) > text.count(line)
    assert yearly.exists()
