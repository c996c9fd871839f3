"""Alert mails through a real SMTP server (aiosmtpd on a free port): the DAG-level failure notifier
sends ONE mail for a month whose exports are missing, naming dataset, month, step and reason; the
deadline alert's callback mails that the month's sync is late; no Connection means no mail."""

from __future__ import annotations

import asyncio
import json
import sys
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest

from sinergi.local import localairflow
from sinergi.local.process import free_port

ROOT = Path(__file__).resolve().parents[2]


class Sink:
    """Collects every message the SMTP server receives."""

    def __init__(self):
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.original_content or envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    sink.port = port
    try:
        yield sink
    finally:
        controller.stop()


def smtp_connection(port: int, to: str = "ops@bp3mi.example, data@disnaker.example") -> str:
    return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port,
                       "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 10, "retry_limit": 1,
                                 "from_email": "sinergi@bp3mi.example", "to": to}})


def body(message: Message) -> str:
    parts = [p for p in message.walk() if p.get_content_maintype() == "text"]
    return "\n".join(p.get_payload(decode=True).decode() for p in parts)


@pytest.fixture(scope="module")
def alerts():
    sys.path.insert(0, str(ROOT / "plugins"))
    try:
        from sinergi_airflow import alerts as module

        yield module
    finally:
        sys.path.remove(str(ROOT / "plugins"))


def test_deadline_callback_mails_that_the_sync_is_late(alerts, smtp, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SINERGI_SMTP", smtp_connection(smtp.port))
    context = {"dag_run": {"dag_id": "sinergi_national_monthly", "dag_run_id": "scheduled__2025-07-31T20:00:00+00:00",
                           "conf": {}, "data_interval_start": "2025-06-30T20:00:00+00:00", "state": "running"},
               "deadline": {"id": "x", "deadline_time": "2025-08-07T05:00:00+00:00"}}
    asyncio.run(alerts.sync_overdue(context=context))
    assert len(smtp.messages) == 1
    rcpt, message = smtp.messages[0]
    assert rcpt == ["ops@bp3mi.example", "data@disnaker.example"]
    assert message["Subject"] == "[Sinergi] 2025-07 is late: sinergi_national_monthly not finished by 2025-08-07 12:00 WIB"
    assert "Run state when the deadline passed: running" in body(message)


def test_without_a_connection_an_alert_is_only_logged(alerts, smtp, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SINERGI_SMTP", raising=False)
    monkeypatch.delenv("SINERGI_ALERT_TO", raising=False)
    from sinergi.alerts import sync_late

    assert alerts.send(sync_late("d", "2025-07", "r", "2025-08-07 12:00 WIB", "running")) is False
    assert smtp.messages == []


def test_the_deadline_is_the_configured_day_and_hour_of_the_next_month(alerts):
    """A scheduled run is queued when its month ends (1st, 03:00 WIB): queued + grace = sync day/hour."""
    import datetime as dt

    from sinergi.deadlines import sync_due
    from sinergi.months import Month

    deadline = alerts.sync_deadline()
    for month in ("2025-07", "2026-02"):
        queued = dt.datetime.fromisoformat(Month.parse(month).add(1).logical_date)
        assert queued + deadline.interval == sync_due(month)
    assert deadline.callback.path == "sinergi_airflow.alerts.sync_overdue"


@pytest.mark.slow
def test_a_month_with_missing_exports_sends_exactly_one_mail(weed, smtp, tmp_path):
    """Through Airflow (`airflow dags test`): two datasets fail at extract, one mail names both."""
    env = localairflow.airflow_env(weed.home)
    env["SINERGI_EXPORTS_DIR"] = str(tmp_path / "empty-exports")
    (tmp_path / "empty-exports").mkdir()
    env["AIRFLOW_CONN_SINERGI_SMTP"] = smtp_connection(smtp.port)
    log = tmp_path / "failing-run.log"
    localairflow.migrate(env, log)
    with pytest.raises(localairflow.AirflowRunError):
        localairflow.dags_test("national", "2025-11", env, log, datasets=["p3mi", "job_orders"])
    assert len(smtp.messages) == 1, [m["Subject"] for _, m in smtp.messages]
    rcpt, message = smtp.messages[0]
    assert rcpt == ["ops@bp3mi.example", "data@disnaker.example"]
    assert message["From"] == "sinergi@bp3mi.example"
    assert message["Subject"] == "[Sinergi] 2025-11 failed: job_orders, p3mi (sinergi_national_monthly)"
    text = body(message)
    for dataset in ("p3mi", "job_orders"):
        line = next(ln for ln in text.splitlines() if ln.startswith(f"- dataset={dataset} "))
        assert " month=2025-11 step=extract reason=" in line
        assert dataset in line.split("reason=", 1)[1]  # the reason names what is missing
    assert "2 failed task(s) in 2 dataset(s)" in text
    assert "s3://sinergi-quarantine/_failures/2025-11/" in text
