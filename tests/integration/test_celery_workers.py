"""Real multi-worker runs: a simulated month through the CeleryExecutor on this machine's Redis and
PostgreSQL (a fresh database), with TWO ``airflow celery worker`` processes that share no local disk
— each its own working directory, TMPDIR, SINERGI_HOME and log folder; only the object store, the
metadata DB, the broker and the read-only source exports are common (as in docker-compose.yaml).

Which worker ran a task is read from where its log is: a worker writes the logs of the tasks it ran
into its own log folder and nowhere else."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sinergi.local import localairflow
from sinergi.local.process import Supervisor, free_port
from support import fresh_pg_database, pg_query

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
REDIS = "redis://127.0.0.1:6379/0"
MONTH = "2025-09"
DAG_ID = "sinergi_national_monthly"
# a reference dataset and one resolving it; each has a share and a publish per receiving party,
# mapped — queued together, so two idle workers take one each
DATASETS = ["p3mi", "job_orders"]
WORKERS = ("w1", "w2")


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with fresh_pg_database("sinergi_celery") as url:
        yield url


def _base_env(tmp: Path, pg_url: str, weed, sources: Path, api_port: int, queue: str) -> dict[str, str]:
    cred = weed.credentials("pipeline")
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW", "SINERGI_", "AWS_"))}
    return {
        **keep,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg_url,
        "AIRFLOW__CELERY__BROKER_URL": REDIS,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + pg_url,
        # one task per worker at a time, and no task reserved while busy: queued tasks spread out
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
        "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,  # this test's own queue on the shared Redis
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",  # only the run this test triggers
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
        # the pipeline's settings, as the compose stack gives them to every container (no local files)
        "AIRFLOW_CONN_SINERGI_S3": json.dumps({"conn_type": "aws", "login": cred.access_key, "password": cred.secret_key,
                                               "extra": {"endpoint_url": cred.endpoint}}),
        "SINERGI_MASTER_SECRET": "hex:" + secrets.token_hex(32),
        "SINERGI_EXPORTS_DIR": str(sources),
        "SINERGI_DISNAKER_DB_URL": f"sqlite:///{sources / 'disnaker.sqlite'}",
        "SINERGI_TASK_RETRIES": "0",
        "SINERGI_HEAVY_POOL_SLOTS": "2",
    }


def _own_dirs(env: dict[str, str], where: Path) -> dict[str, str]:
    """A process's private disk: home, temp dir, logs, Sinergi home."""
    for sub in ("airflow", "tmp", "logs", "sinergi"):
        (where / sub).mkdir(parents=True, exist_ok=True)
    return {**env, "AIRFLOW_HOME": str(where / "airflow"), "TMPDIR": str(where / "tmp"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(where / "logs"), "SINERGI_HOME": str(where / "sinergi")}


@pytest.fixture(scope="module")
def store(own_store):
    """A store of this test's own: its runs use their own master secret, which a store other tests
    published to with another secret would rightly refuse (a changed secret stops the run)."""
    return own_store


@pytest.fixture(scope="module")
def celery_month(store, pg_url, tmp_path_factory):
    from sinergi.simulate import simulate

    weed = store
    tmp = tmp_path_factory.mktemp("celery")
    sources = tmp / "sources"
    simulate(sources, month=MONTH, months=1, scale="demo", seed=23)
    api_port = free_port()
    base = _base_env(tmp, pg_url, weed, sources, api_port, queue=f"sinergi-test-{secrets.token_hex(3)}")
    control = _own_dirs(base, tmp / "control")
    log = tmp / "control.log"
    localairflow.migrate(control, log)
    localairflow.ensure_pool(control, log)  # what `make up` and the compose init do
    airflow = localairflow.airflow_cmd()[0]
    commands = {
        "api-server": ([airflow, "api-server"], control, tmp / "control"),
        "scheduler": ([airflow, "scheduler", "--skip-serve-logs"], control, tmp / "control"),
        "dag-processor": ([airflow, "dag-processor"], control, tmp / "control"),
    }
    for name in WORKERS:
        where = tmp / f"worker-{name}"
        commands[name] = ([airflow, "celery", "worker", "--celery-hostname", f"sinergi-{name}@%h",
                           "--queues", base["AIRFLOW__OPERATORS__DEFAULT_QUEUE"], "--concurrency", "1",
                           "--skip-serve-logs", "--without-gossip", "--without-mingle"],
                          _own_dirs(base, where), where)
    procs: dict[str, Supervisor] = {}
    try:
        for name, (cmd, env, cwd) in commands.items():
            # a celery worker retitles itself "[celeryd: …]": the marker must survive that
            procs[name] = Supervisor(tmp / f"{name}.pid", marker=b"celery" if name in WORKERS else b"airflow")
            procs[name].start(cmd, env=env, cwd=cwd, log_file=tmp / f"{name}.log")
        deadline = time.monotonic() + 240
        while not pg_query(pg_url, "SELECT 1 FROM dag WHERE dag_id = %s", DAG_ID):
            _alive(procs, tmp)
            assert time.monotonic() < deadline, "the dag-processor did not register the DAG"
            time.sleep(2)
        conf = json.dumps({"month": MONTH, "datasets": DATASETS})
        for cmd in (["dags", "unpause", DAG_ID], ["dags", "trigger", DAG_ID, "--run-id", "celery_two_workers", "-c", conf]):
            subprocess.run([airflow, *cmd], env=control, check=True, capture_output=True, timeout=120)
        deadline = time.monotonic() + 420
        state = None
        while state not in ("success", "failed"):
            _alive(procs, tmp)
            assert time.monotonic() < deadline, f"the run did not finish (state {state})"
            time.sleep(3)
            rows = pg_query(pg_url, "SELECT state FROM dag_run WHERE dag_id = %s AND run_id = 'celery_two_workers'", DAG_ID)
            state = rows[0][0] if rows else None
        tis = pg_query(pg_url, "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = %s "
                             "AND run_id = 'celery_two_workers'", DAG_ID)
        yield {"state": state, "tis": tis, "tmp": tmp, "home": weed.home}
    finally:
        for p in procs.values():
            p.stop(timeout=30)
        _forget_queue(base["AIRFLOW__OPERATORS__DEFAULT_QUEUE"])
        left = _processes_naming(base["AIRFLOW__OPERATORS__DEFAULT_QUEUE"])
        assert not left, f"processes of this test still running after stop: {left}"


def _processes_naming(text: str) -> list[int]:
    """Pids whose command line (as they show it now, retitled or not) contains ``text``."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if text.encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def _forget_queue(queue: str) -> None:
    """Leave the shared Redis as found: this test's queue and kombu's bindings for it."""
    import redis

    client = redis.Redis.from_url(REDIS)
    try:
        keys = [k for k in client.scan_iter(match=f"*{queue}*")]
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _alive(procs: dict[str, Supervisor], tmp: Path) -> None:
    for name, p in procs.items():
        if p.proc is not None and p.proc.poll() is not None:
            raise AssertionError(f"{name} exited ({p.proc.returncode}):\n"
                                 + (tmp / f"{name}.log").read_text(errors="replace")[-3000:])


def _ran_on(tmp: Path) -> dict[tuple[str, int], set[str]]:
    """(task_id, map_index) → the workers whose own log folder holds its log."""
    where: dict[tuple[str, int], set[str]] = {}
    for name in WORKERS:
        for path in (tmp / f"worker-{name}" / "logs").rglob("*.log"):
            parts = {p.split("=", 1)[0]: p.split("=", 1)[1] for p in path.parts if "=" in p}
            if parts.get("run_id") == "celery_two_workers" and "task_id" in parts:
                key = (parts["task_id"], int(parts.get("map_index", -1)))
                where.setdefault(key, set()).add(name)
    return where


def test_the_month_ran_to_success_on_celery(celery_month):
    assert celery_month["state"] == "success", celery_month["tis"]
    states = {(t, m): s for t, m, s in celery_month["tis"]}
    for dataset in DATASETS:
        assert states[(f"{dataset}.extract", -1)] == "success"
        assert [s for (t, _), s in states.items() if t == f"{dataset}.publish"] and all(
            s == "success" for (t, _), s in states.items() if t == f"{dataset}.publish")


def test_tasks_of_one_dataset_ran_on_both_workers(celery_month):
    ran = _ran_on(celery_month["tmp"])
    succeeded = {(t, m) for t, m, s in celery_month["tis"] if s == "success"}
    # every task that ran left its log on exactly one worker, never on the control plane
    assert succeeded <= set(ran), sorted(succeeded - set(ran))
    assert all(len(w) == 1 for w in ran.values()), ran
    assert not list((celery_month["tmp"] / "control" / "logs").rglob("task_id=*"))
    per_dataset = {ds: set().union(*(w for (t, _), w in ran.items() if t.startswith(f"{ds}."))) for ds in DATASETS}
    assert any(workers == set(WORKERS) for workers in per_dataset.values()), per_dataset


def test_the_month_published_and_reconciled(celery_month):
    from sinergi.local.report import publication_rows
    from sinergi.policy import load_policy

    policy = load_policy()
    for dataset in DATASETS:
        for party in policy.recipients(dataset):
            rows = publication_rows(party, policy.parties[party].bucket, MONTH, celery_month["home"], [dataset])
            assert len(rows) == 1, (dataset, party)
            r = rows[0]
            assert r["run_id"] == "celery_two_workers"
            assert r["extracted"] == r["quarantined"] + r["filtered_out"] + r["suppressed"] + r["published"], r
            assert r["published"] > 0
