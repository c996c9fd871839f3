"""The per-dataset task group (extract → validate → share per party → publish), built from config.

Every task calls one step of ``sinergi.pipeline`` and passes on only the small reference it returns.
Heavy imports happen inside the tasks, so DAG files parse fast.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from airflow.sdk import get_current_context, task, task_group

from sinergi_airflow.assets import dataset_asset, publication_alias

log = logging.getLogger("sinergi")

TIMEZONE = "Asia/Jakarta"


def io_task_args() -> dict:
    """Retries with exponential backoff for I/O tasks (0 retries in tests: SINERGI_TASK_RETRIES=0)."""
    return {
        "retries": int(os.environ.get("SINERGI_TASK_RETRIES", "3")),
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(minutes=60),
    }


def _lookup(conn_id: str):
    """Resolve a connection through Airflow's secrets backends, for the core's settings
    (``sinergi.settings``, ``sinergi.extract``, ``sinergi.secrets``)."""
    from airflow.sdk import Connection as AirflowConnection

    from sinergi.settings import Connection

    try:
        c = AirflowConnection.get(conn_id)
    except Exception:  # not defined anywhere: the core falls back to env / embedded defaults
        return None
    return Connection(conn_type=c.conn_type, host=c.host, port=c.port, login=c.login, password=c.password,
                      schema=c.schema, extra=c.extra_dejson)


def _context():
    from sinergi.pipeline import RunContext

    return RunContext.from_env(lookup=_lookup)


def month_and_run() -> tuple[str, str]:
    """The logical month (param ``month`` or the data interval's month in Asia/Jakarta) and run id."""
    ctx = get_current_context()
    month = (ctx["params"].get("month") or "").strip()
    if not month:
        start = ctx["data_interval_start"]
        month = start.in_timezone(TIMEZONE).strftime("%Y-%m") if hasattr(start, "in_timezone") else start.strftime("%Y-%m")
    return month, ctx["run_id"]


def selected(dataset: str) -> bool:
    chosen = get_current_context()["params"].get("datasets") or []
    return not chosen or dataset in chosen


def _suppressed(report: dict) -> int:
    """Rows withheld for disclosure control; the share report gives a total or counts per reason."""
    value = report.get("rows_suppressed")
    if isinstance(value, dict):
        return int(sum(value.values()))
    return int(value or 0)


def dataset_group(dataset: str, upstream_refs: list | None = None):
    """Build the task group for one dataset."""

    @task_group(group_id=dataset, tooltip=f"{dataset}: extract → validate → share per party → publish")
    def group():
        # all_done: a failed reference dataset must not hide this dataset's own extract errors;
        # validation then reports the missing references clearly.
        @task(task_id="extract", trigger_rule="all_done", **io_task_args())
        def extract() -> dict:
            from airflow.sdk.exceptions import AirflowSkipException

            from sinergi.pipeline import extract_step

            if not selected(dataset):
                raise AirflowSkipException(f"{dataset} not selected in params.datasets")
            month, run_id = month_and_run()
            return extract_step(dataset, month, run_id, _context())

        @task(task_id="validate", **io_task_args())
        def validate(ref: dict) -> dict:
            from sinergi.pipeline import validate_step

            return validate_step(ref, _context())

        @task(task_id="recipients")
        def recipients(ref: dict) -> list[str]:
            from sinergi.pipeline import recipients as recipients_of

            return list(recipients_of(ref["dataset"], _context()))

        @task(task_id="share", **io_task_args())
        def share(ref: dict, party: str) -> dict:
            from sinergi.pipeline import share_step

            return share_step(ref, party, _context())

        @task(task_id="publish", outlets=[publication_alias(dataset)], **io_task_args())
        def publish(ref: dict, *, outlet_events=None) -> dict:
            from sinergi.pipeline import publish_step

            out = publish_step(ref, _context())
            counts = ref["counts"]
            report = ref.get("share_report") or {}
            extra = {
                "party": ref["party"],
                "month": ref["month"],
                "run_id": ref["run_id"],
                "rows": out.get("rows"),
                "extracted": counts.get("extracted"),
                "valid": counts.get("valid"),
                "quarantined": counts.get("quarantined"),
                # valid = published + filtered_out (the party's row filter) + suppressed (k-anonymity)
                "filtered_out": int(report.get("rows_filtered_out") or 0),
                "suppressed": _suppressed(report),
                "published": out.get("rows"),
            }
            outlet_events[publication_alias(dataset)].add(dataset_asset(ref["party"], out["bucket"], dataset), extra=extra)
            log.info("published %s", extra)
            return out

        ref = validate(extract())
        shared = share.partial(ref=ref).expand(party=recipients(ref))
        publish.expand(ref=shared)

    return group()


def dataset_groups(scope: str) -> dict:
    """One group per dataset of the scope (from the registry); referenced datasets (e.g. p3mi)
    run before the datasets whose references they resolve."""
    from sinergi import registry

    groups = {name: dataset_group(name) for name in registry.names(scope)}
    for name in groups:
        for referenced in set(registry.get(name).references.values()):
            if referenced in groups:
                groups[referenced] >> groups[name]
    # A DAG run's state comes from its leaf tasks only. A failed reference dataset (p3mi) is not a
    # leaf — its dependents run anyway (trigger_rule all_done) and may succeed or be skipped — so
    # without this gate the month could show "success" although a dataset failed.
    gate = failure_gate()
    for group in groups.values():
        group >> gate
    return groups


def failure_gate():
    from airflow.sdk.exceptions import AirflowFailException

    @task(task_id="any_dataset_failed", trigger_rule="one_failed", retries=0, on_failure_callback=None,
          doc_md="Runs only when a dataset failed, and fails the month's run (every dataset still ran).")
    def any_dataset_failed():
        month, run_id = month_and_run()
        raise AirflowFailException(
            f"one or more datasets failed for {month}: see the `SINERGI FAILURE` lines in their task logs "
            f"and the records under s3://sinergi-quarantine/_failures/{month}/ (run {run_id})"
        )

    return any_dataset_failed()
