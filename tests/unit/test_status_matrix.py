"""The Sinergi page's matrix (sinergi.status) on a real SeaweedFS store, for a simulated quarter run
through the pipeline's steps: published cells carry the manifest's counts, a dataset-month whose
latest run failed shows as failed (nothing published) or stale (an older generation in place, for
the one party whose publish failed), links point at bookkeeping objects only, lateness follows
config/deadlines.yaml."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import sinergi.simulate as simulate_mod
from sinergi import status
from sinergi.layout import LEDGER_BUCKET, QUARANTINE_BUCKET, failure_key, feedback_key, feedback_problems_key
from sinergi.pipeline import RunContext, extract_step, publish_step, recipients, share_step, validate_step
from sinergi.settings import Settings

pytestmark = pytest.mark.slow

JUL, AUG, SEP = "2025-07", "2025-08", "2025-09"


@pytest.fixture(scope="module")
def weed(own_store):
    """This module's own store (overrides the session's): the matrix reads every record of the store, so
    another test's publications, failures and key history must not be in it."""
    return own_store


NOW = dt.datetime(2025, 12, 1, tzinfo=dt.UTC)


def _fail(store, dataset: str, month: str, run_id: str, step: str, reason: str, map_index: int = -1,
          ) -> None:
    """A failure record as the DAGs' failure callback writes it (sinergi_airflow.callbacks)."""
    task_id = f"{dataset}.{step}"
    record = {"dag_id": "sinergi_national_monthly", "run_id": run_id, "task_id": task_id, "map_index": map_index,
              "try_number": 1, "dataset": dataset, "step": step, "month": month, "reason": reason,
              "failed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    store.put_bytes(QUARANTINE_BUCKET, failure_key(month, run_id, task_id, map_index), json.dumps(record).encode())


@pytest.fixture(scope="module")
def quarter(weed, tmp_path_factory):
    """p3mi and placements for July–September; placements: August re-run publishes for kp2mi but
    fails at lampung's publish, September fails at extract; a feedback workbook for September."""
    sources = tmp_path_factory.mktemp("status-sources")
    home = tmp_path_factory.mktemp("status-home")
    simulate_mod.simulate(sources, month=JUL, months=3, scale="demo", seed=7)
    env = {"SINERGI_HOME": str(home), "SINERGI_EXPORTS_DIR": str(sources), "SINERGI_MASTER_SECRET": "hex:" + "3c" * 32}
    ctx = RunContext(store=weed.pipeline, home=home, settings=Settings(environ=env))

    def run(dataset, month, run_id, parties=None):
        ref = validate_step(extract_step(dataset, month, run_id, ctx), ctx)
        return {p: publish_step(share_step(ref, p, ctx), ctx) for p in (parties or recipients(dataset, ctx))}

    for month in (JUL, AUG, SEP):
        run("p3mi", month, f"scheduled__{month}")
    run("placements", JUL, "scheduled__jul")
    run("placements", AUG, "scheduled__aug")
    run("placements", AUG, "manual__aug-rerun", parties=["kp2mi"])
    lampung_index = recipients("placements", ctx).index("lampung")
    _fail(weed.pipeline, "placements", AUG, "manual__aug-rerun", "publish", "ConcurrentPublishError: busy", lampung_index)
    _fail(weed.pipeline, "placements", SEP, "scheduled__sep", "extract", "SourceMissing: no export for 2025-09")
    weed.pipeline.put_bytes(QUARANTINE_BUCKET, feedback_key("siskop2mi", SEP), b"PK")
    # the per-dataset problem table behind the workbook holds observed values: never listed nor served
    weed.pipeline.put_bytes(QUARANTINE_BUCKET, feedback_problems_key("siskop2mi", SEP, "placements"), b"PAR1")
    model = status.build_matrix(weed.pipeline, ctx.policy, [JUL, AUG, SEP], now=NOW)
    return {"ctx": ctx, "model": model, "store": weed.pipeline}


def cell(model, month, party, dataset) -> dict:
    m = next(m for m in model["months"] if m["month"] == month)
    return next(c for c in m["cells"] if c["party"] == party and c["dataset"] == dataset)


def test_published_cells_carry_the_manifest_counts(quarter):
    c = cell(quarter["model"], JUL, "lampung", "placements")
    assert c["state"] == "published" and c["generation"] == 1 and c["run_id"] == "scheduled__jul"
    assert c["published"] > 0 and c["extracted"] >= c["published"]
    assert c["extracted"] == c["published"] + c["quarantined"] + c["filtered_out"] + c["suppressed"]
    assert c["top_rules"] == sorted(c["top_rules"], key=lambda x: -x[1]) and len(c["top_rules"]) <= status.TOP_RULES
    assert c["committed_wib"].endswith("WIB")
    # the full owner manifest in the ledger, the Data Docs of the validation that produced it
    bucket, key = c["manifest"]
    assert bucket == LEDGER_BUCKET and key.startswith("publications/lampung-share/_manifests/placements/2025-07/g000001-")
    docs_bucket, docs_key = c["data_docs"]
    assert docs_bucket == QUARANTINE_BUCKET and "/placements/2025-07/scheduled__jul/" in docs_key
    assert quarter["store"].head(docs_bucket, docs_key) is not None
    assert c["k_achieved"] is None or c["k_achieved"] >= quarter["ctx"].policy.k_for("placements", "lampung")


def test_a_failed_party_publish_leaves_that_party_stale_only(quarter):
    kp2mi = cell(quarter["model"], AUG, "kp2mi", "placements")
    lampung = cell(quarter["model"], AUG, "lampung", "placements")
    assert kp2mi["state"] == "published" and kp2mi["generation"] == 2 and kp2mi["run_id"] == "manual__aug-rerun"
    assert lampung["state"] == "stale" and lampung["generation"] == 1 and lampung["run_id"] == "scheduled__aug"
    assert "manual__aug-rerun failed at publish" in lampung["problem"]
    assert lampung["latest_attempt"]["run_id"] == "manual__aug-rerun"


def test_a_failed_month_is_marked_failed_with_its_reason_and_feedback(quarter):
    for party in ("kp2mi", "lampung"):
        c = cell(quarter["model"], SEP, party, "placements")
        assert c["state"] == "failed" and c["generation"] is None and c["manifest"] is None
        assert "failed at extract" in c["problem"] and "no export" in c["problem"]
        assert c["feedback"] == [(QUARANTINE_BUCKET, f"_feedback/siskop2mi/{SEP}/feedback_siskop2mi_{SEP}.xlsx")]
        assert c["late"] is True, "nothing committed and the sync day has passed"
    assert cell(quarter["model"], SEP, "lampung", "p3mi")["state"] == "published"


def test_lateness_follows_the_agreed_day(quarter):
    c = cell(quarter["model"], JUL, "lampung", "p3mi")
    # committed by this test run, long after 7 August 2025 12:00 WIB
    assert c["due"] == "2025-08-07 12:00 WIB" and c["late"] is True
    # a month not yet due is not late, published or not
    future = status.build_matrix(quarter["store"], quarter["ctx"].policy, ["2031-01"], now=NOW)
    assert {x["state"] for x in future["months"][0]["cells"]} == {"missing"}
    assert not any(x["late"] for x in future["months"][0]["cells"])


def test_months_are_discovered_and_gaps_shown(quarter):
    model = status.build_matrix(quarter["store"], quarter["ctx"].policy, now=NOW, last=2)
    months = [m["month"] for m in model["months"]]
    assert len(months) == 2 and months[-1] >= SEP, months
    # never before the first month anything was tried (this session's store may hold other tests' months)
    first = status.discover_months(quarter["store"], ["kp2mi-share", "lampung-share"])[0]
    wide = status.build_matrix(quarter["store"], quarter["ctx"].policy, now=NOW, last=12)
    assert wide["months"][0]["month"] >= str(first) and len(wide["months"]) <= 12


def test_the_page_renders_states_and_links_served_by_the_plugin(quarter):
    page = status.render_html(quarter["model"], file_url=lambda b, k: f"/sinergi/files/{b}/{k}",
                              run_url=lambda scope, ds, run: f"/dags/sinergi_{scope}_monthly/runs/{run}")
    assert "data-state='failed'" in page and "data-state='stale'" in page and "data-state='published'" in page
    assert "/dags/sinergi_national_monthly/runs/scheduled__jul" in page
    assert f"/sinergi/files/{QUARANTINE_BUCKET}/data-docs/placements/2025-07/scheduled__jul/" in page
    assert "/sinergi/files/sinergi-ledger/publications/" in page
    assert f"/sinergi/files/{QUARANTINE_BUCKET}/_feedback/siskop2mi/{SEP}/feedback_siskop2mi_{SEP}.xlsx" in page
    assert "problems/" not in page


def test_only_bookkeeping_objects_are_servable():
    parties = ["lampung-share"]
    assert status.servable(QUARANTINE_BUCKET, "data-docs/placements/2025-07/r/index.html", parties)
    assert status.servable(QUARANTINE_BUCKET, "_feedback/siskop2mi/2025-07/f.xlsx", parties)
    assert status.servable(LEDGER_BUCKET, "publications/lampung-share/_manifests/p3mi/2025-07/g000001-r.json", parties)
    assert status.servable("lampung-share", "_reports/2025-07/laporan-lampung-2025-07.html", parties)
    for bucket, key in ((QUARANTINE_BUCKET, "placements/2025-07/r/quarantine.parquet"),
                        ("lampung-share", "placements/year=2025/month=07/part-0.parquet"),
                        ("sinergi-landing", "siskop2mi/placements/2025-07/_latest.json"),
                        ("sinergi-trusted", "placements/year=2025/month=07/part-0.parquet"),
                        (QUARANTINE_BUCKET, "_feedback/siskop2mi/2025-07/problems/placements.parquet"),
                        (LEDGER_BUCKET, "refs/p3mi/2025-07.json"),
                        (QUARANTINE_BUCKET, "data-docs/../placements/2025-07/r/quarantine.parquet"),
                        ("other-share", "_reports/x.html")):
        assert not status.servable(bucket, key, parties), (bucket, key)
