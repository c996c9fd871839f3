"""The per-dataset flow (extract → validate → share per party → publish) as Airflow tasks.

Each task calls one step of ``sinergi.pipeline`` and passes on only the small reference it returns
(the XCom contract, sinergi.pipeline.results). The tasks are defined once, at module level, and
take the dataset as an argument; :func:`dataset_flow` is the flow itself. Heavy imports happen
inside the tasks, so DAG files parse fast.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import timedelta

from airflow.sdk import get_current_context, task, task_group

from sinergi.settings import HEAVY_POOL
from sinergi_airflow.assets import dataset_asset, publication_alias
from sinergi_airflow.runtime import month_of, run_context, run_step

log = logging.getLogger("sinergi")

__all__ = ["dataset_flow", "dataset_groups", "io_task_args"]


def io_task_args() -> dict:
    """Retries with exponential backoff for I/O tasks: for transient errors only (a PermanentError
    fails at once, see runtime.run_step). SINERGI_TASK_RETRIES / SINERGI_TASK_RETRY_DELAY (seconds)
    override the policy for local runs and tests."""
    return {
        "retries": int(os.environ.get("SINERGI_TASK_RETRIES", "3")),
        "retry_delay": timedelta(seconds=float(os.environ.get("SINERGI_TASK_RETRY_DELAY", "30"))),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(minutes=60),
    }


def month_and_run() -> tuple[str, str]:
    """The run's month (``YYYY-MM``) and run id."""
    ctx = get_current_context()
    return str(month_of(ctx)), ctx["run_id"]


def selected(dataset: str) -> bool:
    chosen = get_current_context()["params"].get("datasets") or []
    return not chosen or dataset in chosen


def _suppressed(report: dict) -> int:
    """Rows withheld for disclosure control; the share report gives a total or counts per reason."""
    value = report.get("rows_suppressed")
    if isinstance(value, dict):
        return int(sum(value.values()))
    return int(value or 0)


# all_done: a failed reference dataset must not hide this dataset's own extract errors; validation
# then checks the references against what was recorded (or warns that it could not).
@task(task_id="extract", trigger_rule="all_done", **io_task_args())
def extract(dataset: str) -> dict:
    from airflow.sdk.exceptions import AirflowSkipException

    from sinergi.pipeline import extract_step

    if not selected(dataset):
        raise AirflowSkipException(f"{dataset} not selected in params.datasets")
    month, run_id = run_step(month_and_run)
    return run_step(extract_step, dataset, month, run_id, run_context())


# validate and share hold a month's table in memory: the pool caps how many run at once (all workers)
@task(task_id="validate", pool=HEAVY_POOL, **io_task_args())
def validate(ref: dict) -> dict:
    from sinergi.pipeline import validate_step

    allow_empty = bool(get_current_context()["params"].get("allow_empty"))  # the operator's word (DAG param)
    return run_step(validate_step, ref, run_context(), allow_empty=allow_empty)


@task(task_id="recipients")
def recipients(ref: dict) -> list[str]:
    from sinergi.pipeline import recipients as recipients_of

    return list(run_step(recipients_of, ref["dataset"], run_context()))


@task(task_id="share", pool=HEAVY_POOL, **io_task_args())
def share(ref: dict, party: str) -> dict:
    from sinergi.pipeline import share_step

    return run_step(share_step, ref, party, run_context())


@task(task_id="publish", **io_task_args())
def publish(ref: dict, *, outlet_events=None) -> dict:
    """Publish, and emit the party's Asset (through the dataset's alias) with the month's counts."""
    from sinergi.pipeline import publish_step

    out = run_step(publish_step, ref, run_context())
    counts = ref["counts"]
    report = ref.get("share_report") or {}
    extra = {
        "party": ref["party"],
        "month": ref["month"],
        "run_id": ref["run_id"],
        "rows": out.get("rows"),
        # source_rows (the file's data rows) = valid + quarantined; malformed lines are among the quarantined
        "source_rows": counts.get("source_rows"),
        "extracted": counts.get("extracted"),
        "malformed": counts.get("malformed"),
        "valid": counts.get("valid"),
        "quarantined": counts.get("quarantined"),
        # valid = published + filtered_out (the party's row filter) + suppressed (k-anonymity)
        "filtered_out": int(report.get("rows_filtered_out") or 0),
        "suppressed": _suppressed(report),
        "published": out.get("rows"),
    }
    dataset = ref["dataset"]
    outlet_events[publication_alias(dataset)].add(dataset_asset(ref["party"], out["bucket"], dataset), extra=extra)
    # one JSON line (names and counts only): `make run` prints progress from it (sinergi.local.progress)
    log.info("SINERGI PUBLISHED %s", json.dumps({"dataset": dataset, **extra}, sort_keys=True, default=str))
    return out


@task_group
def dataset_flow(dataset: str) -> None:
    """extract → validate → share per receiving party → publish per party."""
    ref = validate(extract(dataset))
    publish.override(outlets=[publication_alias(dataset)]).expand(
        ref=share.partial(ref=ref).expand(party=recipients(ref)))


def dataset_groups(scope: str) -> dict:
    """One flow per dataset of the scope (from the registry); referenced datasets (e.g. p3mi) run
    before the datasets whose references they resolve."""
    from sinergi import registry

    groups = {
        name: dataset_flow.override(group_id=name, tooltip=f"{name}: extract → validate → share per party → publish")(name)
        for name in registry.names(scope)
    }
    for name in groups:
        for referenced in set(registry.get(name).references.values()):
            if referenced in groups:
                groups[referenced] >> groups[name]
    # A DAG run's state comes from its leaf tasks only. A failed reference dataset (p3mi) is not a
    # leaf — its dependents run anyway (trigger_rule all_done) and may succeed or be skipped — so
    # without this gate the month could show "success" although a dataset failed.
    gate = any_dataset_failed()
    for group in groups.values():
        group >> gate
    return groups


@task(task_id="any_dataset_failed", trigger_rule="one_failed", retries=0, on_failure_callback=None,
      doc_md="Runs only when a dataset failed, and fails the month's run (every dataset still ran).")
def any_dataset_failed():
    from airflow.sdk.exceptions import AirflowFailException

    from sinergi.layout import QUARANTINE_BUCKET, failures_prefix

    month, run_id = month_and_run()
    raise AirflowFailException(
        f"one or more datasets failed for {month}: see the `SINERGI FAILURE` lines in their task logs "
        f"and the records under s3://{QUARANTINE_BUCKET}/{failures_prefix(month)} (run {run_id})"
    )
