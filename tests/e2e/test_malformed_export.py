"""End to end (issue 14): a month in which one export is malformed, on a real SeaweedFS store.

July is first published from good exports. Then SISKOP2MI re-delivers July and its job orders
export is broken: one data line in ten carries a stray quote. Re-running the month:

- the other datasets (p3mi, placements) publish again;
- job_orders stops at the reject_share gate (its malformed lines are over 5 %), and its July
  publication — generation, bytes, references ledger — is exactly the one before;
- placements, which references job_orders, is unaffected: checked against the last good job order
  ids, it has the same valid and quarantined rows as in the good run;
- the SISKOP2MI feedback workbook of July names every malformed line (file, data row, rule) and
  reconciles source rows = valid + quarantined.
"""

from __future__ import annotations

import hashlib
import io
import json

import openpyxl
import pytest

from conftest import start_store
from sinergi import layout, registry
from sinergi.errors import DatasetStopped
from sinergi.layout import LEDGER_BUCKET, QUARANTINE_BUCKET
from sinergi.settings import Settings

pytestmark = pytest.mark.slow

MONTHS = ("2025-06", "2025-07")
DATASETS = ("p3mi", "job_orders", "placements")  # in reference order


def _seed() -> int:
    """A seed whose July job orders export is a CSV (the simulator picks CSV or XLSX per seed)."""
    from sinergi.simulate.writers import choose_format

    return next(s for s in range(3, 200) if choose_format(s, "job_orders", MONTHS[1]).ext == "csv")


def _publication(store, policy, dataset: str, month: str) -> dict[str, tuple[int, str]]:
    """Party -> (current generation, sha256 of the published object)."""
    out = {}
    for party in policy.recipients(dataset):
        bucket = policy.parties[party].bucket
        current = json.loads(store.get_bytes(bucket, layout.pointer_key(dataset, month)))
        data = store.get_bytes(bucket, layout.data_key(dataset, month))
        out[party] = (current["generation"], hashlib.sha256(data).hexdigest())
    return out


def _break_job_orders(path) -> list[int]:
    """Put a stray quote at the start of the second field of every tenth data line; their data rows."""
    raw = path.read_bytes()
    try:
        text, encoding = raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = raw.decode("cp1252"), "cp1252"
    lines = text.split("\r\n")
    first_header = registry.get("job_orders").source_columns[0].headers[0]
    h = next(i for i, line in enumerate(lines) if line.startswith(first_header))
    broken = []
    for k in range(h + 1, len(lines)):
        row = k - h
        if lines[k] and row % 10 == 3:
            head, sep, tail = lines[k].partition(";")
            lines[k] = head + sep + '"' + tail
            broken.append(row)
    path.write_bytes("\r\n".join(lines).encode(encoding))
    return broken


@pytest.fixture(scope="module")
def month_with_a_broken_export(tmp_path_factory):
    from sinergi.pipeline import RunContext, extract_step, publish_step, recipients, share_step, validate_step
    from sinergi.simulate import simulate

    home = tmp_path_factory.mktemp("malformed-home")
    sources = tmp_path_factory.mktemp("malformed-sources")
    simulate(sources, month=MONTHS[0], months=len(MONTHS), scale="demo", seed=_seed())
    running = start_store(home)
    try:
        env = {"SINERGI_HOME": str(home), "SINERGI_EXPORTS_DIR": str(sources),
               "SINERGI_MASTER_SECRET": "hex:" + "3c" * 32}
        ctx = RunContext(store=running.pipeline, home=home, settings=Settings(environ=env))

        def run(dataset: str, month: str, run_id: str) -> dict:
            ref = validate_step(extract_step(dataset, month, run_id, ctx), ctx)
            for party in recipients(dataset, ctx):
                publish_step(share_step(ref, party, ctx), ctx)
            return ref

        for month in MONTHS:
            good = {ds: run(ds, month, f"good-{month}") for ds in DATASETS}
        before = {ds: _publication(running.pipeline, ctx.policy, ds, MONTHS[1]) for ds in DATASETS}
        refs_before = running.pipeline.get_bytes(LEDGER_BUCKET, layout.refs_key("job_orders", MONTHS[1]))

        path = sources / "siskop2mi" / MONTHS[1] / f"JOB_ORDER_{MONTHS[1].replace('-', '')}.csv"
        broken = _break_job_orders(path)
        bad, stopped = {}, None
        for ds in DATASETS:
            try:
                bad[ds] = run(ds, MONTHS[1], "redelivered")
            except DatasetStopped as exc:
                stopped = (ds, str(exc))
        yield {"store": running.pipeline, "policy": ctx.policy, "good": good, "bad": bad, "stopped": stopped,
               "before": before, "refs_before": refs_before, "broken": broken, "path": path}
    finally:
        running.embedded.down()


def test_the_malformed_dataset_stops_at_the_gate(month_with_a_broken_export):
    run = month_with_a_broken_export
    assert len(run["broken"]) > 40
    dataset, message = run["stopped"]
    assert dataset == "job_orders" and "reject_share" in message and f"{len(run['broken'])} malformed" in message


def test_its_previous_publication_and_ledger_are_intact(month_with_a_broken_export):
    run = month_with_a_broken_export
    store = run["store"]
    assert _publication(store, run["policy"], "job_orders", MONTHS[1]) == run["before"]["job_orders"]
    assert store.get_bytes(LEDGER_BUCKET, layout.refs_key("job_orders", MONTHS[1])) == run["refs_before"]


def test_the_other_datasets_publish(month_with_a_broken_export):
    run = month_with_a_broken_export
    assert set(run["bad"]) == {"p3mi", "placements"}
    for ds in ("p3mi", "placements"):
        now = _publication(run["store"], run["policy"], ds, MONTHS[1])
        assert all(now[p][0] == run["before"][ds][p][0] + 1 for p in now), (ds, now, run["before"][ds])


def test_its_dependents_are_unaffected(month_with_a_broken_export):
    run = month_with_a_broken_export
    good, bad = run["good"]["placements"]["counts"], run["bad"]["placements"]["counts"]
    for key in ("source_rows", "valid", "quarantined", "by_rule"):
        assert bad[key] == good[key], key
    assert not any("job_orders" in w and "not checked" in w for w in run["bad"]["placements"]["validation_warnings"])


def test_the_feedback_workbook_names_the_malformed_rows(month_with_a_broken_export):
    from sinergi import feedback

    run = month_with_a_broken_export
    key = layout.feedback_key("siskop2mi", MONTHS[1])
    wb = openpyxl.load_workbook(io.BytesIO(run["store"].get_bytes(QUARANTINE_BUCKET, key)), read_only=True)
    try:
        problems = [list(r) for r in wb["masalah - problems"].iter_rows(values_only=True)]
        recon = [list(r) for r in wb["rekonsiliasi"].iter_rows(values_only=True)]
    finally:
        wb.close()
    head = feedback.texts()["columns"]
    cols = {name: problems[0].index(head[name]) for name in ("dataset", "file", "row", "rule")}
    named = sorted(r[cols["row"]] for r in problems[1:]
                   if r[cols["dataset"]] == "job_orders" and r[cols["rule"]] == "malformed_line")
    assert named == run["broken"]
    assert {r[cols["file"]] for r in problems[1:] if r[cols["rule"]] == "malformed_line"} == {run["path"].name}
    by_dataset = {r[0]: r[1:] for r in recon[1:]}
    source_rows, valid, quarantined, malformed = by_dataset["job_orders"][:4]
    assert source_rows == valid + quarantined and malformed == len(run["broken"])
    assert {"p3mi", "placements"} <= set(by_dataset)
