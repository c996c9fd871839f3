"""The failure callback: a one-line summary (dataset, month, step, reason) in the task log and a JSON
record in the owner-only quarantine bucket; it never raises, even when the store is down."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from sinergi.layout import QUARANTINE_BUCKET
from sinergi.local import localairflow
from sinergi.local.process import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def callbacks():
    sys.path.insert(0, str(ROOT / "plugins"))
    try:
        from sinergi_airflow import callbacks as module

        yield module
    finally:
        sys.path.remove(str(ROOT / "plugins"))


def _context(task_id="placements.validate", map_index=-1, month="2025-07", exc=None):
    ti = SimpleNamespace(task_id=task_id, map_index=map_index, dag_id="sinergi_national_monthly", try_number=2)
    return {
        "ti": ti,
        "params": {"month": month, "datasets": []},
        "run_id": "manual__2026-01-01T00:00:00+00:00",
        "exception": exc if exc is not None else RuntimeError("placements 2025-07 is not published:\n  share of rows failing nik_valid 40% > 5%"),
    }


def test_summary_is_one_readable_line(callbacks):
    line = callbacks.failure_summary(_context(task_id="placements.publish", map_index=1))
    assert line.startswith("SINERGI FAILURE dataset=placements month=2025-07 step=publish[1] ")
    assert "reason=RuntimeError: placements 2025-07 is not published: share of rows failing" in line
    assert "\n" not in line


def test_month_falls_back_to_the_data_interval_in_jakarta(callbacks):
    import pendulum

    ctx = _context(month="")
    ctx["data_interval_start"] = pendulum.datetime(2025, 8, 31, 20, 0, tz="UTC")  # 1 Sep 03:00 WIB
    assert callbacks.failure_record(ctx)["month"] == "2025-09"


def _logged(caplog, capsys) -> str:
    # importing Airflow (for its secrets backends) may hand stdlib logging over to structlog's stdout
    return caplog.text + capsys.readouterr().out


def test_record_lands_in_the_quarantine_bucket(callbacks, weed, caplog, capsys):
    caplog.set_level(logging.INFO, logger="sinergi.failures")
    callbacks.on_task_failure(_context())
    key = "_failures/2025-07/manual__2026-01-01T00_00_00_00_00/placements.validate.json"
    record = json.loads(weed.pipeline.get_bytes(QUARANTINE_BUCKET, key))
    assert record["dataset"] == "placements" and record["step"] == "validate" and record["month"] == "2025-07"
    assert record["reason"].startswith("RuntimeError: placements 2025-07 is not published")
    # the producer's list of problems of the month (sinergi.feedback), written by validation
    assert record["feedback"] == f"s3://{QUARANTINE_BUCKET}/_feedback/siskop2mi/2025-07/feedback_siskop2mi_2025-07.xlsx"
    logged = _logged(caplog, capsys)
    assert "SINERGI FAILURE dataset=placements" in logged
    assert f"SINERGI FAILURE record: s3://{QUARANTINE_BUCKET}/{key}" in logged
    # the parties cannot read it
    from sinergi.objectstore import AccessDenied

    with pytest.raises(AccessDenied):
        weed.client_for("lampung").get_bytes(QUARANTINE_BUCKET, key)


def test_callback_never_raises_when_the_store_is_down(callbacks, monkeypatch, caplog, capsys):
    dead = free_port()
    monkeypatch.setenv("AIRFLOW_CONN_SINERGI_S3", json.dumps(
        {"conn_type": "aws", "login": "x", "password": "y", "extra": {"endpoint_url": f"http://127.0.0.1:{dead}"}}))
    caplog.set_level(logging.INFO, logger="sinergi.failures")
    callbacks.on_task_failure(_context())  # must not raise
    logged = _logged(caplog, capsys)
    assert "could not store the failure record" in logged
    assert "SINERGI FAILURE dataset=placements" in logged
    # and a context it cannot make sense of
    callbacks.on_task_failure({})


@pytest.mark.slow
def test_a_failing_dag_run_reports_and_records_the_failure(weed, tmp_path):
    """Through Airflow: a month without source files fails at extract with a readable summary."""
    env = localairflow.airflow_env(weed.home)
    env["SINERGI_EXPORTS_DIR"] = str(tmp_path / "empty-exports")
    (tmp_path / "empty-exports").mkdir()
    log = tmp_path / "failing-run.log"
    localairflow.migrate(env, log)
    with pytest.raises(localairflow.AirflowRunError) as err:
        localairflow.dags_test("national", "2025-10", env, log, datasets=["p3mi"])
    assert "SINERGI FAILURE dataset=p3mi month=2025-10 step=extract" in str(err.value)
    keys = [o.key for o in weed.pipeline.list(QUARANTINE_BUCKET, "_failures/2025-10/")]
    assert any(k.endswith("/p3mi.extract.json") for k in keys), keys
    record = json.loads(weed.pipeline.get_bytes(QUARANTINE_BUCKET, next(k for k in keys if k.endswith("/p3mi.extract.json"))))
    assert record["month"] == "2025-10" and record["step"] == "extract" and "p3mi" in record["reason"]
    # the run starts now (not at October 2025's logical date: the UI would show a run lasting a year)
    import sqlite3
    from datetime import UTC, datetime, timedelta

    db = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as con:
        (start,) = con.execute("SELECT start_date FROM dag_run WHERE dag_id = 'sinergi_national_monthly' "
                                  "ORDER BY id DESC LIMIT 1").fetchone()
    started = datetime.fromisoformat(str(start)).replace(tzinfo=UTC)
    assert datetime.now(UTC) - started < timedelta(hours=1), f"the run's start date is {start}"
