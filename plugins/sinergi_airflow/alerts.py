"""Alert mails to the operators through the SMTP Connection ``sinergi_smtp`` (SMTP provider's hook).

* :class:`MonthFailedNotifier` — the DAG's ``on_failure_callback``: ONE mail per failed run (not per
  task), listing every failed task's dataset, month, step and reason from the failure records the
  task callback wrote (sinergi_airflow.callbacks). It runs where Airflow runs DAG callbacks (the
  dag-processor; in-process for ``airflow dags test``).
* :func:`check_sync_deadline` — the task of DAG ``sinergi_sync_deadline``, scheduled at the sync's
  day and hour of config/deadlines.yaml (WIB): one mail listing every publication of the month
  still missing. (Airflow 3.3's DAG ``deadline=`` DeadlineAlert is not used: with it, every
  successful ``airflow dags test`` run — ``make run`` — crashes in DagRun.update_state.)

Recipients: ``extra.to`` of the Connection or ``SINERGI_ALERT_TO`` (sinergi.settings). Without a
Connection or recipients an alert is only logged. Sending never fails the run a second time.
"""

from __future__ import annotations

import json
import logging

from airflow.sdk import BaseNotifier

from sinergi.alerts import Alert, month_failed, sync_late
from sinergi.settings import SMTP_CONN_ID

log = logging.getLogger("sinergi.alerts")

DEFAULT_FROM = "sinergi-alerts@localhost"


def send(alert: Alert, conn_id: str = SMTP_CONN_ID) -> bool:
    """Send ``alert`` to the configured recipients; False (and a log line) when alerts are not set up."""
    from sinergi.settings import Settings, _as_connection
    from sinergi_airflow.runtime import lookup

    def lookup_or_none(conn_id: str):
        try:
            return lookup(conn_id)
        except Exception:  # no secrets backend reachable here: the environment form still counts
            return None

    settings = Settings(lookup=lookup_or_none)
    found = settings.connection(conn_id)
    recipients = settings.alert_recipients()
    if found is None or not recipients:
        log.warning("SINERGI ALERT (not mailed: no %s Connection with recipients): %s", conn_id, alert.subject)
        return False
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    conn = _as_connection(found)
    with SmtpHook(smtp_conn_id=conn_id) as hook:
        hook.send_email_smtp(to=recipients, subject=alert.subject, html_content=alert.html,
                             from_email=conn.extra.get("from_email") or DEFAULT_FROM)
    log.info("SINERGI ALERT mailed to %d recipient(s): %s", len(recipients), alert.subject)
    return True


def failure_records(month: str, run_id: str) -> list[dict]:
    """The failure records of one run (written by the task failure callback), from the store."""
    from sinergi.layout import QUARANTINE_BUCKET, failures_prefix, run_segment
    from sinergi.s3 import S3ObjectStore
    from sinergi.settings import Settings
    from sinergi_airflow.runtime import lookup

    store = S3ObjectStore(Settings(lookup=lookup).pipeline_s3(), attempts=2, backoff=0.5)
    prefix = f"{failures_prefix(month)}{run_segment(run_id)}/"
    return [json.loads(store.get_bytes(QUARANTINE_BUCKET, o.key)) for o in store.list(QUARANTINE_BUCKET, prefix)
            if o.key.endswith(".json")]


class MonthFailedNotifier(BaseNotifier):
    """DAG-level failure notifier: one mail per failed month run, naming each failed dataset and step."""

    template_fields = ()

    def __init__(self, smtp_conn_id: str = SMTP_CONN_ID):
        super().__init__()
        self.smtp_conn_id = smtp_conn_id

    def __call__(self, *args) -> None:
        # No template fields to render; BaseNotifier's rendering also fails for `airflow dags test`
        # (it hands the callback a SerializedDAG without get_template_env).
        self.notify(args[0] if len(args) == 1 and isinstance(args[0], dict) else {})

    def notify(self, context) -> None:
        from sinergi_airflow.callbacks import _month, _reason

        try:
            dag = context.get("dag")
            dag_id = getattr(dag, "dag_id", None) or "?"
            run_id = context.get("run_id") or getattr(context.get("dag_run"), "run_id", None) or "?"
            month = _month(context) or "unknown"
            try:
                records = failure_records(month, run_id) if month != "unknown" else []
            except Exception as e:  # the store may be what failed: the mail still goes out
                log.warning("could not read the failure records: %s: %s", type(e).__name__, str(e)[:300])
                records = []
            # the run's own gate (any_dataset_failed) has no record: it only says that others failed
            alert = month_failed(dag_id, month, run_id, records,
                                 fallback_reason=_reason(context) if context.get("exception") else "")
            send(alert, self.smtp_conn_id)
        except Exception:  # never fail the callback
            log.exception("SINERGI ALERT could not be sent")


def check_sync_deadline(month: str, due: str) -> list[tuple[str, str]]:
    """The deadline check (DAG sinergi_sync_deadline): every publication of ``month`` the policy
    shares must be committed by now; mail the missing ones (one alert) and return them."""
    from sinergi import registry
    from sinergi.deadlines import unpublished
    from sinergi.pipeline import RunContext
    from sinergi_airflow.runtime import lookup

    ctx = RunContext.from_env(lookup=lookup)
    missing = unpublished(ctx.store, ctx.policy, registry.names("national") + registry.names("provincial"), month)
    if missing:
        send(sync_late(month, due, missing))
    return missing


__all__ = ["MonthFailedNotifier", "check_sync_deadline", "send"]


def sync_deadline_dag(dag_id: str = "sinergi_sync_deadline", doc_md: str = ""):
    """The deadline check as a DAG: at the sync's day and hour (WIB) each month, for the month before."""
    import pendulum
    from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task

    from sinergi.deadlines import sync_cron
    from sinergi.months import PARAM_PATTERN, TIMEZONE
    from sinergi_airflow.monthly import FIRST_MONTH, OWNER

    @task(task_id="check_sync_deadline", retries=2)
    def check() -> list:
        from airflow.sdk.exceptions import AirflowFailException

        from sinergi.deadlines import sync_due
        from sinergi.months import Month

        ctx = get_current_context()
        raw = (ctx["params"] or {}).get("month")
        month = Month.parse(raw) if raw else Month.containing(ctx["logical_date"]).add(-1)
        due = pendulum.instance(sync_due(month)).format("YYYY-MM-DD HH:mm") + " WIB"
        missing = check_sync_deadline(str(month), due)
        if missing:  # red in the grid as well as in the mailbox
            raise AirflowFailException(f"{month}: {len(missing)} publication(s) missing at {due}: "
                                       + ", ".join(f"{d}→{p}" for d, p in missing))
        return []

    @dag(dag_id=dag_id, schedule=CronTriggerTimetable(sync_cron(), timezone=TIMEZONE),
         start_date=FIRST_MONTH.add(months=1), catchup=False, max_active_runs=1,
         tags=["sinergi", "alerts"], default_args={"owner": OWNER}, doc_md=doc_md,
         params={"month": Param("", type="string", title="Month (YYYY-MM)", pattern=PARAM_PATTERN,
                                description="Check this month instead of the one before the run (empty = that one).")})
    def sync_deadline():
        check()

    return sync_deadline()
