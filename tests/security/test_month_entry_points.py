"""A sloppy month ("2025-07\\n" — a value read from a file or pasted into a form) is refused at every
door it can come in by, before any work: the command line, the DAGs' trigger form (the real DAGs
parsed by Airflow, their Params validated as Airflow does), the run's month resolution in the tasks,
and the pipeline steps themselves. Filed under a wrong key it would be published where nobody looks
(or next to the right month)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from sinergi.months import MonthError
from sinergi.pipeline import RunContext, extract_step
from sinergi.publish import publish
from sinergi.settings import Settings
from support import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
SLOPPY = ["2025-07\n", "2025-07\r\n", " 2025-07", "2025-07 ", "2025-7", "2025-13", "2025-07-01", "2025/07"]
SINERGI = str(Path(sys.executable).parent / "sinergi")


@pytest.mark.parametrize("command", [["run", "--month"], ["up", "--month"], ["summary", "--month"],
                                     ["simulate", "--out", "{tmp}/sim", "--month"]])
def test_the_command_line_refuses_it_before_starting_anything(command, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SINERGI_", "AIRFLOW_"))}
    env["SINERGI_HOME"] = str(tmp_path / "home")
    for month in ("2025-07\n", "2025-7"):
        args = [a.format(tmp=tmp_path) for a in command]
        r = subprocess.run([SINERGI, *args, month], capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 2 and "month" in r.stderr.lower() and "Traceback" not in r.stderr, (command, r.stderr)
    assert not (tmp_path / "home" / "store").exists() and not (tmp_path / "sim").exists()


PARAMS = r"""
import copy, json, sys
from airflow.dag_processing.dagbag import DagBag
values = json.loads(sys.argv[2])
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
out = {}
for dag in bag.dags.values():
    if "month" not in dag.params:
        continue
    for v in values:
        params = copy.deepcopy(dag.params)  # the DAG's own Params (with their schema)
        try:
            params["month"] = v  # what the trigger form / REST API conf goes through
            params.validate()
            out.setdefault(dag.dag_id, {})[v] = "accepted"
        except Exception as e:
            out.setdefault(dag.dag_id, {})[v] = type(e).__name__
print("JSON" + json.dumps(out))
"""


@pytest.mark.slow
def test_the_dags_trigger_form_refuses_it(tmp_path):
    env = dict(os.environ, AIRFLOW_HOME=str(tmp_path / "airflow"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"), AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
               AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path / 'airflow.db'}")
    r = subprocess.run([sys.executable, "-c", PARAMS, str(ROOT / "dags"), json.dumps([*SLOPPY, "2025-07", ""])],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    found = json.loads(next(line for line in r.stdout.splitlines() if line.startswith("JSON"))[4:])
    assert {"sinergi_national_monthly", "sinergi_provincial_monthly"} <= set(found), found
    for dag_id, results in found.items():
        assert results["2025-07"] == "accepted" and results[""] == "accepted", (dag_id, results)  # controls
        refused = {v: res for v, res in results.items() if v in SLOPPY}
        assert all(res == "ParamValidationError" for res in refused.values()), (dag_id, refused)


@pytest.mark.parametrize("month", SLOPPY)
def test_the_tasks_month_resolution_refuses_it(month):
    sys.path.insert(0, str(ROOT / "plugins"))
    try:
        from sinergi_airflow.runtime import month_of
    finally:
        sys.path.remove(str(ROOT / "plugins"))
    with pytest.raises(MonthError):
        month_of({"params": {"month": month}})


@pytest.mark.parametrize("month", SLOPPY)
def test_the_pipeline_steps_refuse_it_before_any_work(month, tmp_path):
    store = MemoryStore()
    env = {"SINERGI_HOME": str(tmp_path), "SINERGI_EXPORTS_DIR": str(tmp_path / "exports"),
           "SINERGI_MASTER_SECRET": "hex:" + os.urandom(32).hex()}
    ctx = RunContext(store=store, home=tmp_path, settings=Settings(environ=env))
    with pytest.raises(MonthError):
        extract_step("placements", month, "run-1", ctx)
    with pytest.raises(MonthError):
        publish(store, bucket="kp2mi-share", dataset="placements", month=month, run_id="run-1",
                table=pa.table({"placement_id": ["P-1"]}))
    assert store.objects == {} and not (tmp_path / "exports").exists()


def test_controls_a_good_month_gets_past_the_month_check(tmp_path):
    env = {"SINERGI_HOME": str(tmp_path), "SINERGI_EXPORTS_DIR": str(tmp_path / "exports")}
    ctx = RunContext(store=MemoryStore(), home=tmp_path, settings=Settings(environ=env))
    with pytest.raises(Exception) as err:  # noqa: PT011 - anything but a month error: no exports here
        extract_step("placements", "2025-07", "run-1", ctx)
    assert not isinstance(err.value, MonthError)
