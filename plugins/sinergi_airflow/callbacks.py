"""Failure callback: one short, readable line per failed task (dataset, month, step, reason), plus a
JSON record where an operator finds it without digging through logs:
``s3://sinergi-quarantine/_failures/<YYYY-MM>/<run>/<task_id>[-<map_index>].json`` (owner-only;
key from sinergi.layout.failure_key).

A callback must never fail the run a second time: every error in here is logged and swallowed.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

log = logging.getLogger("sinergi.failures")

MAX_REASON = 500


def _month(context) -> str:
    from sinergi_airflow.runtime import month_of

    try:
        return str(month_of(context))
    except Exception:  # a bad param or no interval: the record says "unknown" rather than failing
        return ""


def _reason(context) -> str:
    exc = context.get("exception")
    if exc is None:
        return "unknown (no exception in the task context; see the task log)"
    text = " ".join(str(exc).split())  # one line: the log line and the record stay greppable
    if len(text) > MAX_REASON:
        text = text[: MAX_REASON - 1] + "…"
    cause = getattr(exc, "__cause__", None)
    if type(exc).__name__ == "AirflowFailException" and cause is not None and text.startswith(type(cause).__name__):
        return text  # a permanent error failed at once (runtime.run_step): its own type name leads
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def failure_record(context) -> dict:
    """What failed, as a small JSON-able dict (no data values, only names, counts and the message)."""
    ti = context.get("task_instance") or context.get("ti")
    task_id = getattr(ti, "task_id", None) or "?"
    map_index = getattr(ti, "map_index", -1)
    dataset, _, step = task_id.rpartition(".")
    dag = context.get("dag")
    month = _month(context) or None
    record = {
        "dag_id": getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None),
        "run_id": context.get("run_id"),
        "task_id": task_id,
        "map_index": map_index if isinstance(map_index, int) else -1,
        "try_number": getattr(ti, "try_number", None),
        "dataset": dataset or None,
        "step": step,
        "month": month,
        "reason": _reason(context),
        "failed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if step == "validate" and dataset and month:
        record["feedback"] = _feedback_url(dataset, month)
    return record


def _feedback_url(dataset: str, month: str) -> str | None:
    """The source system's feedback workbook of the month (written by validation, also when it stops)."""
    try:
        from sinergi import registry
        from sinergi.layout import QUARANTINE_BUCKET, feedback_key

        return f"s3://{QUARANTINE_BUCKET}/{feedback_key(registry.get(dataset).source.system, month)}"
    except Exception:  # not a registry dataset (a task outside the per-dataset group)
        return None


def failure_summary(context) -> str:
    r = failure_record(context)
    where = r["step"] + (f"[{r['map_index']}]" if r["map_index"] not in (-1, None) else "")
    return (f"SINERGI FAILURE dataset={r['dataset'] or '-'} month={r['month'] or '-'} step={where} "
            f"run={r['run_id']} reason={r['reason']}")


def write_failure_record(record: dict, store=None) -> str:
    """Store the record in the owner-only quarantine bucket; returns its s3:// URL."""
    from sinergi.layout import QUARANTINE_BUCKET, failure_key

    if store is None:
        from sinergi.s3 import S3ObjectStore
        from sinergi.settings import Settings
        from sinergi_airflow.runtime import lookup

        store = S3ObjectStore(Settings(lookup=lookup).pipeline_s3(), attempts=2, backoff=0.5)
    key = failure_key(record["month"], record["run_id"], record["task_id"], record["map_index"])
    store.put_bytes(QUARANTINE_BUCKET, key, json.dumps(record, indent=1, sort_keys=True).encode(),
                    content_type="application/json")
    return f"s3://{QUARANTINE_BUCKET}/{key}"


def on_task_failure(context) -> None:
    try:
        record = failure_record(context)
        log.error(failure_summary(context))
    except Exception:  # never let the callback itself fail
        log.exception("SINERGI FAILURE (could not summarise the failure)")
        return
    try:
        where = write_failure_record(record)
        log.error("SINERGI FAILURE record: %s", where)
    except Exception as e:  # the store may be what failed; the log line above is enough then
        log.warning("could not store the failure record: %s: %s", type(e).__name__, str(e)[:300])
