"""Failure callback: one short, readable line per failed task (dataset, month, step, reason)."""

from __future__ import annotations

import logging

log = logging.getLogger("sinergi.failures")


def failure_summary(context) -> str:
    ti = context.get("task_instance") or context.get("ti")
    task_id = getattr(ti, "task_id", "?")
    dataset, _, step = task_id.rpartition(".")
    params = context.get("params") or {}
    month = params.get("month") or ""
    if not month and context.get("data_interval_start") is not None:
        start = context["data_interval_start"]
        month = start.in_timezone("Asia/Jakarta").strftime("%Y-%m") if hasattr(start, "in_timezone") else str(start)[:7]
    reason = context.get("exception")
    reason_text = f"{type(reason).__name__}: {reason}" if reason is not None else "unknown"
    return f"SINERGI FAILURE dataset={dataset or '-'} month={month or '-'} step={step} run={context.get('run_id')} reason={reason_text}"


def on_task_failure(context) -> None:
    log.error(failure_summary(context))
