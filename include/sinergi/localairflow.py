"""Run the DAGs through Airflow itself on the embedded defaults (``make run``, ``make up``, tests).

Airflow is started as a subprocess (``airflow dags test``), so the core still never imports it.
Metadata lives in SQLite under ``<home>/airflow`` unless AIRFLOW__DATABASE__SQL_ALCHEMY_CONN is set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sinergi import settings

DAG_IDS = {"national": "sinergi_national_monthly", "provincial": "sinergi_provincial_monthly"}


def airflow_env(home: Path | None = None, base: dict[str, str] | None = None) -> dict[str, str]:
    home = home or settings.home()
    root = settings.project_root()
    env = dict(os.environ if base is None else base)
    af_home = home / "airflow"
    af_home.mkdir(parents=True, exist_ok=True)
    env.setdefault("AIRFLOW_HOME", str(af_home))
    env.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{af_home / 'airflow.db'}")
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(root / "dags"))
    env.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(root / "plugins"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env.setdefault("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    env.setdefault("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "True")
    env.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
    env.setdefault("SINERGI_HOME", str(home))
    # `airflow dags test` waits out real retry delays; a local run should fail fast instead.
    env.setdefault("SINERGI_TASK_RETRIES", "0")
    # the venv's bin first: airflow standalone launches `airflow` from PATH
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def airflow_cmd(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "airflow"), *args]


def migrate(env: dict[str, str], log_path: Path) -> None:
    _run(airflow_cmd("db", "migrate"), env, log_path, "airflow db migrate")


def dags_test(scope: str, month: str, env: dict[str, str], log_path: Path, datasets: list[str] | None = None) -> None:
    """Run one monthly DAG for ``month`` through Airflow (``airflow dags test``)."""
    year, mon = (int(x) for x in month.split("-"))
    # logical date = the month's data interval start (1st, 03:00 Asia/Jakarta)
    logical_date = f"{year:04d}-{mon:02d}-01T03:00:00+07:00"
    conf = json.dumps({"month": month, "datasets": datasets or []})
    _run(airflow_cmd("dags", "test", DAG_IDS[scope], logical_date, "-c", conf), env, log_path, f"airflow dags test {DAG_IDS[scope]} ({month})")


class AirflowRunError(RuntimeError):
    pass


def _run(cmd: list[str], env: dict[str, str], log_path: Path, what: str) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"\n$ {' '.join(cmd)}\n".encode())
        log.flush()
        rc = subprocess.call(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    text = log_path.read_text(errors="replace")
    failed_tasks = [line for line in text.splitlines() if "SINERGI FAILURE" in line]
    if rc != 0 or "DagRunState.FAILED" in text.split(f"$ {' '.join(cmd)}")[-1]:
        detail = "\n".join(dict.fromkeys(failed_tasks)) or text[-3000:]
        raise AirflowRunError(f"{what} failed (exit {rc}); full log: {log_path}\n{detail}")
