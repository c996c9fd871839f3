"""DAG policy checks (Astronomer-style): every DAG imports, is documented, owned, tagged, retried,
and parses fast (no I/O or heavy imports at top level)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted(p for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_"))


def _airflow_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(tmp_path / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path / 'airflow.db'}",
    )
    env.pop("SINERGI_TASK_RETRIES", None)  # check the production default
    return env


INSPECT = r"""
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
import airflow.sdk, pendulum  # noqa: F401  (already imported in the dag-processor)
out = {}
for path in sys.argv[1:]:
    t0 = time.perf_counter()
    bag = DagBag(dag_folder=path)
    elapsed = time.perf_counter() - t0
    out[path] = {"seconds": elapsed, "errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
    for dag in bag.dags.values():
        out[path]["dags"][dag.dag_id] = {
            "tags": sorted(dag.tags), "doc_md": dag.doc_md or "", "catchup": dag.catchup,
            "timezone": str(dag.timezone.name) if hasattr(dag.timezone, "name") else str(dag.timezone),
            "tasks": {t.task_id: {"owner": t.owner, "retries": t.retries, "io": t.task_id.rsplit(".", 1)[-1] in ("extract", "validate", "share", "publish"),
                                  "timeout": t.execution_timeout.total_seconds() if t.execution_timeout else None,
                                  "backoff": bool(t.retry_exponential_backoff), "pool": t.pool} for t in dag.tasks},
            "on_failure_callback": type(dag.on_failure_callback).__name__ if dag.on_failure_callback else None,
            "schedule": str(getattr(dag.timetable, "expression", "")),
            "params": sorted(dag.params.keys()),
            "param_specs": {k: {"schema": dag.params.get_param(k).schema, "value": dag.params.get_param(k).value}
                            for k in dag.params.keys()},
        }
print("JSON" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def dag_info(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("dagbag")
    # Parse each file in a process where Airflow is already imported, as the dag-processor does.
    # Each file is parsed in a fresh process (so the registry/policy load is paid by every file),
    # after a warm-up of Airflow's own modules.
    files = list(map(str, DAG_FILES))
    info: dict = {}
    for path in files:
        proc = subprocess.run([sys.executable, "-c", INSPECT, path], env=_airflow_env(tmp), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        line = next(line for line in proc.stdout.splitlines() if line.startswith("JSON"))
        info.update(json.loads(line[4:]))
    return info


def test_there_are_dags():
    names = {p.name for p in DAG_FILES}
    assert {"sinergi_national_monthly.py", "sinergi_provincial_monthly.py"} <= names


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_and_follows_policy(dag_info, path):
    info = dag_info[str(path)]
    assert info["errors"] == {}, info["errors"]
    assert info["dags"], f"{path.name} defines no DAG"
    for dag_id, dag in info["dags"].items():
        assert "sinergi" in dag["tags"], dag_id
        assert len(dag["doc_md"]) > 200, f"{dag_id} needs doc_md explaining inputs, outputs and re-runs"
        assert "Re-run" in dag["doc_md"] or "re-run" in dag["doc_md"]
        for task_id, t in dag["tasks"].items():
            assert t["owner"] and t["owner"] != "airflow", f"{dag_id}.{task_id} has no owner"
            if t["io"]:
                assert t["retries"] >= 1, f"{dag_id}.{task_id}: I/O tasks retry"
                assert t["backoff"], f"{dag_id}.{task_id}: retries back off"
                assert t["timeout"], f"{dag_id}.{task_id}: I/O tasks have a timeout"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_parses_fast(dag_info, path):
    seconds = dag_info[str(path)]["seconds"]
    print(f"{path.name}: parsed in {seconds:.3f} s")
    assert seconds < 0.5, f"{path.name} took {seconds:.2f} s to parse (limit 0.5 s)"


def test_monthly_dags_run_in_jakarta_with_params(dag_info):
    for info in dag_info.values():
        for dag_id, dag in info["dags"].items():
            if "monthly" in dag["tags"]:
                assert dag["timezone"] == "Asia/Jakarta", dag_id
                assert dag["catchup"] is True, dag_id
                assert {"month", "datasets", "allow_empty"} <= set(dag["params"]), dag_id


def _monthly(dag_info):
    dags = {dag_id: dag for info in dag_info.values() for dag_id, dag in info["dags"].items() if "monthly" in dag["tags"]}
    assert dags
    return dags


def test_every_validate_and_share_task_uses_the_heavy_pool(dag_info):
    from sinergi.settings import HEAVY_POOL

    for dag_id, dag in _monthly(dag_info).items():
        heavy = {task_id: t["pool"] for task_id, t in dag["tasks"].items() if task_id.rsplit(".", 1)[-1] in ("validate", "share")}
        assert len(heavy) >= 2, dag_id
        assert set(heavy.values()) == {HEAVY_POOL}, (dag_id, heavy)
        # and only those: extract/publish are I/O-bound and must not wait for heavy slots
        assert all(t["pool"] != HEAVY_POOL for task_id, t in dag["tasks"].items() if task_id not in heavy), dag_id


def test_monthly_dags_alert_once_per_failed_run_and_a_check_runs_at_the_deadline(dag_info):
    from sinergi.deadlines import sync_cron

    for dag_id, dag in _monthly(dag_info).items():
        assert dag["on_failure_callback"] == "MonthFailedNotifier", dag_id
    checks = {dag_id: dag for info in dag_info.values() for dag_id, dag in info["dags"].items() if dag_id == "sinergi_sync_deadline"}
    assert checks["sinergi_sync_deadline"]["schedule"] == sync_cron()
    assert checks["sinergi_sync_deadline"]["timezone"] == "Asia/Jakarta"


def test_monthly_params_are_optional_and_datasets_a_picker(dag_info):
    """The Trigger form: month and datasets may stay empty (a type admitting null, default None), and
    datasets is a multi-select of exactly the DAG's datasets (``examples``), validated (``items.enum``)."""
    from sinergi import registry

    seen = 0
    for info in dag_info.values():
        for dag_id, dag in info["dags"].items():
            if "monthly" not in dag["tags"]:
                continue
            seen += 1
            scope = "national" if "national" in dag["tags"] else "provincial"
            month, datasets = dag["param_specs"]["month"], dag["param_specs"]["datasets"]
            for name, spec in (("month", month), ("datasets", datasets)):
                assert "null" in spec["schema"]["type"] and spec["value"] is None, (dag_id, name, spec)
            assert datasets["schema"]["examples"] == registry.names(scope), dag_id
            assert datasets["schema"]["items"]["enum"] == registry.names(scope), dag_id
            assert dag["param_specs"]["allow_empty"]["value"] is False, dag_id
    assert seen == 2
