"""The yearly monitoring and evaluation task (MoU Art. 7), shared by the indicators DAG (on demand,
param ``year``) and the yearly DAG (every January): one mapped task instance per party."""

from __future__ import annotations

import logging

from airflow.sdk import get_current_context, task

from sinergi_airflow.tasks import io_task_args


@task(task_id="evaluation_parties")
def evaluation_parties(parties: list[str], wanted: bool = True) -> list[dict]:
    """(party, year) pairs of this run: none unless ``wanted`` (the indicators DAG asks only when its
    ``year`` param is set); the year from the param, else the run's data interval."""
    from sinergi.indicators.yearly import evaluation_year

    ctx = get_current_context()
    params = ctx["params"]
    if not wanted and params.get("year") in (None, ""):
        return []
    interval = ctx.get("data_interval_start") if params.get("year") in (None, "") else None
    year = evaluation_year(params.get("year"), interval)
    chosen = [p for p in parties if not params.get("parties") or p in params["parties"]]
    pairs = [{"party": p, "year": year} for p in chosen]
    logging.getLogger("sinergi").info("yearly evaluation plan: %s", pairs)
    return pairs


@task(task_id="evaluation", **io_task_args())
def evaluation(party: str, year: int) -> dict:
    """The yearly evaluation report of ``party`` for ``year``: to its bucket and the worker's disk."""
    from sinergi.indicators.yearly import run_yearly
    from sinergi_airflow.runtime import run_context, run_step

    ctx = run_context()
    out = run_step(run_yearly, ctx.store, party, year, ctx.policy, ctx.home)
    logging.getLogger("sinergi").info("yearly evaluation %s %s: %d months, report s3://%s/%s", party, year,
                                      len(out["months"]), out["bucket"], out["report_key"])
    return out
