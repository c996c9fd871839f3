"""Alert mails through a real SMTP server (aiosmtpd on a free port): the DAG-level failure notifier
sends ONE mail for a month whose exports are missing, naming dataset, month, step and reason; the
deadline check mails the publications still missing at the sync deadline; no Connection, no mail."""

from __future__ import annotations

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


def test_deadline_check_mails_the_missing_publications_once(alerts, smtp, weed, monkeypatch):
    """At the deadline, every publication the policy owes for the month must be committed; the
    missing ones are listed (dataset, party) in ONE mail. A committed month pointer counts as done."""
    from sinergi.layout import pointer_key
    from sinergi.policy import load_policy

    monkeypatch.setenv("AIRFLOW_CONN_SINERGI_SMTP", smtp_connection(smtp.port))
    policy = load_policy()
    month = "2024-03"  # nothing of it published in this session's store…
    done_party = policy.recipients("placements")[0]
    # …but placements for one party
    weed.pipeline.put_bytes(policy.parties[done_party].bucket, pointer_key("placements", month),
                            json.dumps({"generation": 1, "run_id": "r", "rows": 1}).encode())
    missing = alerts.check_sync_deadline(month, "2024-04-07 12:00 WIB")
    assert ("placements", done_party) not in missing
    assert ("p3mi", policy.recipients("p3mi")[0]) in missing
    assert len(smtp.messages) == 1
    rcpt, message = smtp.messages[0]
    assert rcpt == ["ops@bp3mi.example", "data@disnaker.example"]
    assert message["Subject"] == f"[Sinergi] 2024-03 is late: {len(missing)} publication(s) missing at 2024-04-07 12:00 WIB"
    text = body(message)
    for dataset, party in missing:
        assert f"- dataset={dataset} party={party} month=2024-03" in text
    assert f"dataset=placements party={done_party} " not in text


def test_the_deadline_check_runs_at_the_configured_day_and_hour():
    from sinergi.deadlines import load, sync_cron

    due = load()[1]
    assert sync_cron() == f"0 {due.hour} {due.day} * *"


def test_without_a_connection_an_alert_is_only_logged(alerts, smtp, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SINERGI_SMTP", raising=False)
    monkeypatch.delenv("SINERGI_ALERT_TO", raising=False)
    from sinergi.alerts import sync_late

    assert alerts.send(sync_late("2025-07", "2025-08-07 12:00 WIB", [("placements", "kp2mi")])) is False
    assert smtp.messages == []


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


@pytest.mark.slow
def test_the_deadline_dag_mails_once_and_fails_when_the_month_is_late(weed, smtp, tmp_path):
    """Through Airflow: the check run at the deadline of November 2025 (the 7th, 12:00 WIB) checks
    October (nothing of it is published in this session's store)."""
    env = localairflow.airflow_env(weed.home)
    env["AIRFLOW_CONN_SINERGI_SMTP"] = smtp_connection(smtp.port)
    log = tmp_path / "deadline-run.log"
    localairflow.migrate(env, log)
    cmd = localairflow.airflow_cmd("dags", "test", "sinergi_sync_deadline", "2025-11-07T12:00:00+07:00")
    with pytest.raises(localairflow.AirflowRunError):
        localairflow._run(cmd, env, log, "airflow dags test sinergi_sync_deadline")
    assert "2025-10: " in log.read_text()  # the task failed, saying so
    assert len(smtp.messages) == 1
    _, message = smtp.messages[0]
    assert message["Subject"].startswith("[Sinergi] 2025-10 is late: ")
    assert message["Subject"].endswith(" publication(s) missing at 2025-11-07 12:00 WIB")
    text = body(message)
    assert "- dataset=placements party=" in text and "- dataset=trainings party=" in text  # both syncs
