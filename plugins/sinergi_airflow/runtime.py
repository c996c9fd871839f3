"""What every Sinergi task takes from Airflow: the month and run it works on, the Connection lookup
(Airflow's secrets backends) and the RunContext built on it, and the mapping of the pipeline's
errors onto Airflow's retry policy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sinergi.errors import is_permanent
from sinergi.months import Month, MonthError

T = TypeVar("T")


def month_of(context: Mapping[str, Any]) -> Month:
    """The month a run works on: the ``month`` param (strict ``YYYY-MM``) if given, else the month
    of the run's data interval in Asia/Jakarta (the run for July starts on 1 August)."""
    raw = (context.get("params") or {}).get("month")
    if raw:
        return Month.parse(raw)
    start = context.get("data_interval_start") or context.get("logical_date")
    if start is None:
        raise MonthError("this run has no data interval: trigger it with the param month=YYYY-MM")
    return Month.from_data_interval(start)


def lookup(conn_id: str):
    """A Connection from Airflow's secrets backends for sinergi.settings (None if not defined:
    the core then falls back to the environment and the embedded defaults)."""
    from airflow.sdk import Connection as AirflowConnection
    from airflow.sdk.exceptions import AirflowNotFoundException

    from sinergi.settings import Connection

    try:
        c = AirflowConnection.get(conn_id)
    except AirflowNotFoundException:  # not defined anywhere; any other failure is an error (fail closed)
        return None
    return Connection(conn_type=c.conn_type, host=c.host, port=c.port, login=c.login, password=c.password,
                      schema=c.schema, extra=c.extra_dejson)


def run_context():
    from sinergi.pipeline import RunContext

    return RunContext.from_env(lookup=lookup)


def run_step(step: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a pipeline step. A PermanentError (a stopped batch, a missing column, a reconciliation
    error ...) fails the task at once — retrying cannot help — as AirflowFailException whose message
    keeps the original type and message (``DatasetStopped: placements 2025-07 is not published: …``);
    anything else keeps the task's retry policy."""
    try:
        return step(*args, **kwargs)
    except Exception as e:
        if is_permanent(e):
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"{type(e).__name__}: {e}") from e
        raise
