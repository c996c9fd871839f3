"""Through Airflow itself (``airflow dags test``, retries on): a permanent error — a batch gate that
stops the month — fails its task at once, while a transient error — the object store does not
answer — is retried. The tries are read back from Airflow's own metadata database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sinergi.local import localairflow
from sinergi.local.process import free_port
from sinergi.pipeline import ledger

pytestmark = pytest.mark.slow

DAG_ID = localairflow.DAG_IDS["national"]
RETRIES = 2


def _env(weed, tmp_path: Path, sources: Path) -> tuple[dict, Path]:
    """The embedded defaults of ``weed``, with this test's own Airflow metadata and retries on."""
    db = tmp_path / "airflow" / "airflow.db"
    base = {**__import__("os").environ, "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}"}
    env = localairflow.airflow_env(weed.home, base)
    env |= {"SINERGI_TASK_RETRIES": str(RETRIES), "SINERGI_TASK_RETRY_DELAY": "1",
            "SINERGI_EXPORTS_DIR": str(sources)}
    return env, db


def _tries(db: Path, task_id: str) -> tuple[int, str, int]:
    """(try_number, final state, number of earlier tries kept in the history) of a task."""
    with sqlite3.connect(db) as conn:
        try_number, state = conn.execute(
            "SELECT try_number, state FROM task_instance WHERE dag_id = ? AND task_id = ?", (DAG_ID, task_id)).fetchone()
        earlier = conn.execute("SELECT count(*) FROM task_instance_history WHERE dag_id = ? AND task_id = ?",
                               (DAG_ID, task_id)).fetchone()[0]
    return try_number, state, earlier


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    from sinergi.simulate import simulate

    out = tmp_path_factory.mktemp("retry-sources")
    simulate(out, month="2026-03", months=1, scale="demo", seed=3)
    return out


def test_a_permanent_error_is_tried_once(weed, tmp_path, sources):
    month = "2026-03"
    for earlier in ("2025-12", "2026-01", "2026-02"):  # a volume far above this month: the gate stops it
        ledger.record_volume(weed.pipeline, "p3mi", earlier, 100_000)
    env, db = _env(weed, tmp_path, sources)
    log = tmp_path / "permanent.log"
    localairflow.migrate(env, log)
    with pytest.raises(localairflow.AirflowRunError) as err:
        localairflow.dags_test("national", month, env, log, datasets=["p3mi"])
    assert "SINERGI FAILURE dataset=p3mi month=2026-03 step=validate" in str(err.value)
    assert "reason=DatasetStopped: p3mi 2026-03 is not published" in str(err.value)
    assert _tries(db, "p3mi.extract")[:2] == (1, "success")
    assert _tries(db, "p3mi.validate") == (1, "failed", 0)  # retries=2, yet one try
    record = json.loads(weed.pipeline.get_bytes(
        "sinergi-quarantine", next(o.key for o in weed.pipeline.list("sinergi-quarantine", "_failures/2026-03/")
                                   if o.key.endswith("/p3mi.validate.json"))))
    assert record["try_number"] == 1 and record["reason"].startswith("DatasetStopped: ")


def test_a_transient_error_is_retried(weed, tmp_path, sources):
    env, db = _env(weed, tmp_path, sources)
    dead = f"http://127.0.0.1:{free_port()}"  # the object store does not answer: StoreUnavailable
    env["AIRFLOW_CONN_SINERGI_S3"] = json.dumps({"conn_type": "aws", "login": "x", "password": "y",
                                                 "extra": {"endpoint_url": dead}})
    log = tmp_path / "transient.log"
    localairflow.migrate(env, log)
    with pytest.raises(localairflow.AirflowRunError) as err:
        localairflow.dags_test("national", "2026-03", env, log, datasets=["p3mi"])
    assert "SINERGI FAILURE dataset=p3mi month=2026-03 step=extract" in str(err.value)
    assert "reason=StoreUnavailable: " in str(err.value)
    assert _tries(db, "p3mi.extract") == (RETRIES + 1, "failed", RETRIES)
