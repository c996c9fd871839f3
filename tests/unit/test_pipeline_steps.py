"""The pipeline's steps without Airflow (extract → validate → share → publish), on the in-memory store
of tests/support.py and simulated sources: reconciliation, the ledger, references, the run-id rule
and the timing marks."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
import pytest

import sinergi.simulate as simulate_mod
from sinergi import timing
from sinergi.errors import DatasetStopped, ReconciliationError
from sinergi.layout import (
    LANDING_BUCKET,
    LEDGER_BUCKET,
    QUARANTINE_BUCKET,
    STAGING_BUCKET,
    manifest_prefix,
    refs_key,
    run_segment,
    volume_key,
)
from sinergi.pipeline import (
    RunContext,
    extract_step,
    ledger,
    publish_step,
    recipients,
    share_step,
    validate_step,
)
from sinergi.settings import Settings
from support import MemoryStore

MONTHS = ("2025-07", "2025-08")


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    out = tmp_path_factory.mktemp("sources")
    simulate_mod.simulate(out, month=MONTHS[0], months=len(MONTHS), scale="demo", seed=5, defect_rate=0.03)
    return out


@pytest.fixture
def make_ctx(sources, tmp_path):
    def make(store=None) -> RunContext:
        env = {"SINERGI_HOME": str(tmp_path / "home"), "SINERGI_EXPORTS_DIR": str(sources),
               "SINERGI_MASTER_SECRET": "hex:" + "5a" * 32}
        return RunContext(store=store or MemoryStore(), home=tmp_path / "home", settings=Settings(environ=env))

    return make


def run_dataset(ctx: RunContext, dataset: str, month: str, run_id: str = "run-1") -> dict:
    """One dataset-month through every step, as the DAG's task group runs it."""
    ref = validate_step(extract_step(dataset, month, run_id, ctx), ctx)
    published = {party: publish_step(share_step(ref, party, ctx), ctx) for party in recipients(dataset, ctx)}
    return {"ref": ref, "published": published}


def _manifest(store: MemoryStore, bucket: str, dataset: str, month: str) -> dict:
    keys = [k for k in store.keys(bucket, manifest_prefix(dataset, month)) if "/g" in k and "_claims" not in k]
    return json.loads(store.get_bytes(bucket, sorted(keys)[-1]))


def test_a_month_flows_through_every_step_and_reconciles(make_ctx):
    ctx = make_ctx()
    store = ctx.store
    for dataset in ("p3mi", "job_orders", "placements"):
        out = run_dataset(ctx, dataset, MONTHS[0])
        counts = out["ref"]["counts"]
        assert counts["extracted"] == out["ref"]["extracted"] == counts["valid"] + counts["quarantined"] > 0
        for party, result in out["published"].items():
            bucket = ctx.policy.parties[party].bucket
            data = pq.read_table(io.BytesIO(store.get_bytes(bucket, result["object_key"])))
            manifest = _manifest(store, bucket, dataset, MONTHS[0])
            share = manifest["share_report"]
            assert data.num_rows == result["rows"] == manifest["rows_published"]
            assert counts["valid"] == data.num_rows + share["rows_filtered_out"] + sum(share["rows_suppressed"].values())
    # placements resolved both references from the ledger: no "not checked" warning
    placements = _manifest(store, "lampung-share", "placements", MONTHS[0])
    assert not [w for w in placements["warnings"] if "were not checked" in w], placements["warnings"]


def test_ledger_is_written_with_compare_and_swap_and_read_by_the_next_month(make_ctx):
    ctx = make_ctx()
    store = ctx.store
    first = run_dataset(ctx, "p3mi", MONTHS[0])["ref"]
    doc = json.loads(store.get_bytes(LEDGER_BUCKET, refs_key("p3mi", MONTHS[0])))
    extracted = pq.read_table(io.BytesIO(store.get_bytes(STAGING_BUCKET, first["extracted_key"])))
    # every id that exists (valid or quarantined for another reason), nothing else
    assert doc["ids"] == sorted(set(extracted["p3mi_id"].drop_null().to_pylist())) and doc["month"] == MONTHS[0]
    volume = json.loads(store.get_bytes(LEDGER_BUCKET, volume_key("p3mi")))
    assert volume["rows"] == {MONTHS[0]: first["counts"]["extracted"]}
    ledger_puts = [(k, how) for b, k, how in store.puts if b == LEDGER_BUCKET]
    assert ledger_puts and all(how["if_none_match"] or how["if_match"] for _, how in ledger_puts), ledger_puts

    # the next month: p3mi runs again (the volume document is updated in place, conditionally) ...
    second = run_dataset(ctx, "p3mi", MONTHS[1])["ref"]
    volume = json.loads(store.get_bytes(LEDGER_BUCKET, volume_key("p3mi")))
    assert volume["rows"] == {MONTHS[0]: first["counts"]["extracted"], MONTHS[1]: second["counts"]["extracted"]}
    assert any(k == volume_key("p3mi") and how["if_match"] for _, k, how in
               [(b, k, h) for b, k, h in store.puts if b == LEDGER_BUCKET])
    assert ledger.volume_history(store, "p3mi", "2025-09") == [first["counts"]["extracted"], second["counts"]["extracted"]]
    # ... and job orders of the next month resolve against the ids of both months
    refs, warnings = ledger.referenced_ids(store, "job_orders", MONTHS[1])
    assert warnings == [] and refs["p3mi"] == set(doc["ids"]) | set(
        json.loads(store.get_bytes(LEDGER_BUCKET, refs_key("p3mi", MONTHS[1])))["ids"])
    # a month before anything was recorded knows nothing yet
    assert ledger.referenced_ids(store, "job_orders", "2025-06")[0] == {}


def test_volume_history_from_the_ledger_can_stop_the_month(make_ctx):
    """validate reads the volume history back: a history far above this month trips the volume gate."""
    ctx = make_ctx()
    for month in ("2025-04", "2025-05", "2025-06"):
        ledger.record_volume(ctx.store, "p3mi", month, 100_000)
    with pytest.raises(DatasetStopped, match="volume"):
        validate_step(extract_step("p3mi", MONTHS[0], "run-1", ctx), ctx)


def test_ledger_is_written_only_for_a_month_validated_without_a_stop(make_ctx):
    """Extracted ids are not facts yet: a stopped month records neither ids nor volume."""
    ctx = make_ctx()
    history = ("2025-04", "2025-05", "2025-06")
    for month in history:
        ledger.record_volume(ctx.store, "p3mi", month, 100_000)
    with pytest.raises(DatasetStopped):
        validate_step(extract_step("p3mi", MONTHS[0], "run-1", ctx), ctx)
    assert ctx.store.head(LEDGER_BUCKET, refs_key("p3mi", MONTHS[0])) is None
    assert ledger.recorded_months(ctx.store, "p3mi") == []
    volume = json.loads(ctx.store.get_bytes(LEDGER_BUCKET, volume_key("p3mi")))
    assert sorted(volume["rows"]) == list(history)
    # the rejected rows are still in quarantine, and nothing valid is left in staging
    assert ctx.store.keys(QUARANTINE_BUCKET, f"p3mi/{MONTHS[0]}/")
    assert not [k for k in ctx.store.keys(STAGING_BUCKET, f"p3mi/{MONTHS[0]}/") if k.endswith("valid.parquet")]


def test_a_stopped_failed_or_empty_reference_month_keeps_the_last_good_ids(make_ctx):
    """p3mi validates in July, then stops in August: August's job orders are checked against July's
    p3mi ids (not against nothing, not skipped), and their manifest says so. An empty month adds
    nothing either."""
    ctx = make_ctx()
    store = ctx.store
    july = run_dataset(ctx, "p3mi", MONTHS[0])["ref"]
    july_ids = set(json.loads(store.get_bytes(LEDGER_BUCKET, refs_key("p3mi", MONTHS[0])))["ids"])
    assert july_ids and july["counts"]["valid"] > 0
    for month in ("2025-05", "2025-06"):  # a history that makes August look truncated: p3mi stops
        ledger.record_volume(store, "p3mi", month, 100_000)
    with pytest.raises(DatasetStopped):
        validate_step(extract_step("p3mi", MONTHS[1], "run-2", ctx), ctx)
    assert [str(m) for m in ledger.recorded_months(store, "p3mi")] == [MONTHS[0]]
    refs, warnings = ledger.referenced_ids(store, "job_orders", MONTHS[1])
    assert refs == {"p3mi": july_ids}
    assert warnings == [f"job_orders {MONTHS[1]}: p3mi has no valid ids recorded for {MONTHS[1]} (not run yet, "
                        "stopped, failed or empty); job_orders's references to p3mi were checked against the last "
                        f"good ids, recorded up to {MONTHS[0]} (run run-1)"]
    out = run_dataset(ctx, "job_orders", MONTHS[1], run_id="run-2")
    assert "reference:p3mi_id" not in {s["rule"] for s in out["ref"]["gx"]["skipped"]}  # checked, not skipped
    assert out["ref"]["counts"]["valid"] > 0
    for party in out["published"]:
        manifest = _manifest(store, ctx.policy.parties[party].bucket, "job_orders", MONTHS[1])
        assert any("checked against the last good ids, recorded up to 2025-07" in w for w in manifest["warnings"])
    # an empty (or all-quarantined) month records nothing: the ids stay those of July
    ledger.record_ids(store, "p3mi", "2025-09", "run-3", [])
    assert [str(m) for m in ledger.recorded_months(store, "p3mi")] == [MONTHS[0]]
    assert ledger.referenced_ids(store, "placements", "2025-09")[0]["p3mi"] == july_ids


def test_a_referenced_dataset_never_run_is_a_warning_not_a_stop(make_ctx):
    """placements without any p3mi or job order ids recorded: validated and published, the reference
    checks skipped, and the manifest says so."""
    ctx = make_ctx()
    out = run_dataset(ctx, "placements", MONTHS[0])
    warnings = out["ref"]["validation_warnings"]
    for referenced in ("p3mi", "job_orders"):
        assert any(f"no {referenced} ids recorded for {MONTHS[0]} or before" in w for w in warnings), warnings
    for party in out["published"]:
        manifest = _manifest(ctx.store, ctx.policy.parties[party].bucket, "placements", MONTHS[0])
        assert any("no p3mi ids recorded" in w for w in manifest["warnings"]), manifest["warnings"]
    assert not any(r.startswith("reference:") for r in out["ref"]["counts"]["by_rule"])


def _drop_last_row(suffix: str):
    def on_put(bucket: str, key: str, data: bytes) -> bytes:
        if bucket == STAGING_BUCKET and key.endswith(suffix):
            table = pq.read_table(io.BytesIO(data))
            buf = io.BytesIO()
            pq.write_table(table.slice(0, table.num_rows - 1), buf)
            return buf.getvalue()
        return data

    return on_put


def test_a_row_lost_in_staging_is_a_reconciliation_error(make_ctx):
    ctx = make_ctx(MemoryStore(on_put=_drop_last_row("extracted.parquet")))
    ref = extract_step("p3mi", MONTHS[0], "run-1", ctx)
    with pytest.raises(ReconciliationError, match=r"p3mi 2025-07: \d+ rows were staged by extract but validation read"):
        validate_step(ref, ctx)
    assert ctx.store.head(LEDGER_BUCKET, refs_key("p3mi", MONTHS[0])) is None  # no ledger from a bad month


def test_a_row_lost_before_publishing_is_a_reconciliation_error(make_ctx):
    ctx = make_ctx(MemoryStore(on_put=_drop_last_row("share/lampung.parquet")))
    ref = validate_step(extract_step("p3mi", MONTHS[0], "run-1", ctx), ctx)
    shared = share_step(ref, "lampung", ctx)
    with pytest.raises(ReconciliationError, match="rows were shared but"):
        publish_step(shared, ctx)


def test_one_run_id_rule_in_every_zone(make_ctx):
    """An Airflow run id is filed under the same key segment in landing, staging and quarantine."""
    ctx = make_ctx()
    run_id = "scheduled__2025-08-01T03:00:00+07:00"
    segment = run_segment(run_id)
    assert segment == "scheduled__2025-08-01T03_00_00_07_00"
    ref = validate_step(extract_step("p3mi", MONTHS[0], run_id, ctx), ctx)
    share_step(ref, "lampung", ctx)
    keys = {bucket: [k for k in ctx.store.keys(bucket) if "scheduled__" in k]
            for bucket in (LANDING_BUCKET, STAGING_BUCKET, QUARANTINE_BUCKET)}
    assert keys[LANDING_BUCKET] and keys[STAGING_BUCKET] and keys[QUARANTINE_BUCKET]
    assert any(k.startswith("data-docs/p3mi/") for k in keys[QUARANTINE_BUCKET])
    for bucket, found in keys.items():
        for key in found:
            assert f"/{segment}/" in key, (bucket, key)
    assert ref["quarantine_key"] == f"p3mi/{MONTHS[0]}/{segment}/quarantine.parquet"


def test_steps_are_timed_with_the_landing_thread(make_ctx, monkeypatch):
    """The stages the steps mark reach a recorder — also the landing, which runs in its own thread
    for a large file (the limit is lowered here so the demo file takes that path)."""
    from sinergi.extract import landing

    monkeypatch.setattr(landing, "IN_MEMORY_LIMIT", 0)
    ctx = make_ctx()
    with timing.recording() as recorder:
        run_dataset(ctx, "p3mi", MONTHS[0])
    stages = set(recorder.seconds)
    assert {"extract", "validate", "share", "publish", "extract/landing", "extract/staging write",
            "validate/staging read", "validate/quarantine write", "validate/data docs upload",
            "share/staging write", "publish/staging read", "publish/catalog"} <= stages, sorted(stages)
    assert recorder.calls["extract/landing"] == 1
    assert all(recorder.seconds[s] <= recorder.seconds[s.split("/")[0]] + 1e-6 for s in stages if "/" in s)


def test_refs_are_xcom_sized(make_ctx):
    """What travels between tasks is small JSON (keys and counts), never the data."""
    ctx = make_ctx()
    ref = validate_step(extract_step("p3mi", MONTHS[0], "run-1", ctx), ctx)
    shared = share_step(ref, "lampung", ctx)
    published = publish_step(shared, ctx)
    assert json.loads(json.dumps(shared)) == shared and json.loads(json.dumps(published)) == published
    assert len(json.dumps(shared)) < 64_000
    extracted = pq.read_table(io.BytesIO(ctx.store.get_bytes(STAGING_BUCKET, ref["extracted_key"])))
    text = json.dumps(shared)
    # the reference, not the data: no value of any row travels (ids, names)
    for column in ("p3mi_id", "company_name", "license_number"):
        values = [v for v in extracted.column(column).to_pylist() if v]
        assert values and not any(str(v) in text for v in values), column
