"""Alert mails to the operators through the SMTP Connection ``sinergi_smtp`` (SMTP provider's hook).

* :class:`MonthFailedNotifier` — the DAG's ``on_failure_callback``: ONE mail per failed run (not per
  task), listing every failed task's dataset, month, step and reason from the failure records the
  task callback wrote (sinergi_airflow.callbacks). It runs where Airflow runs DAG callbacks (the
  dag-processor; in-process for ``airflow dags test``).
* :func:`sync_deadline` — the DAG's ``deadline=``: an Airflow DeadlineAlert that fires when the month's
  run has not finished by the sync day and hour of config/deadlines.yaml (WIB); its callback
  :func:`sync_overdue` runs in the triggerer.

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

    settings = Settings(lookup=lookup)
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


def sync_deadline():
    """The DAG's DeadlineAlert: the month's sync must have finished by the configured day and hour.

    Airflow measures it from when the run was queued; a scheduled run is queued when its month's
    interval ends (the 1st of the next month, 03:00 WIB), so the alert fires at the configured day
    and hour of that month. A manual re-run gets the same grace from when it was queued."""
    from airflow.sdk.definitions.callback import AsyncCallback
    from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

    from sinergi.deadlines import sync_grace

    return DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=sync_grace(),
                         callback=AsyncCallback(sync_overdue), name="sinergi_sync_deadline")


def overdue_alert(context: dict) -> Alert:
    """The deadline mail from the small context Airflow gives a deadline callback (the run as JSON)."""
    from sinergi.months import Month

    run = (context or {}).get("dag_run") or {}
    month = ((run.get("conf") or {}).get("month")) or ""
    if not month and run.get("data_interval_start"):
        import pendulum

        month = str(Month.from_data_interval(pendulum.parse(run["data_interval_start"])))
    due = ((context or {}).get("deadline") or {}).get("deadline_time")
    due_text = str(due) if due else "its deadline"
    if due:
        import pendulum

        due_text = pendulum.parse(str(due)).in_timezone("Asia/Jakarta").format("YYYY-MM-DD HH:mm") + " WIB"
    return sync_late(run.get("dag_id") or "?", month or "unknown", run.get("dag_run_id") or run.get("run_id") or "?",
                     due_text, run.get("state") or "unknown")


async def sync_overdue(context: dict | None = None, **_kwargs) -> None:
    """DeadlineAlert callback (runs in the triggerer): mail that the month's sync is late."""
    import asyncio

    try:
        await asyncio.to_thread(send, overdue_alert(context or {}))
    except Exception:
        log.exception("SINERGI ALERT (deadline) could not be sent")


__all__ = ["MonthFailedNotifier", "send", "sync_deadline", "sync_overdue"]
