"""Run the DAGs through Airflow itself on the embedded defaults (``make run``, ``make up``, tests).

Airflow is started as a subprocess (``airflow dags test``, ``airflow standalone``, ``airflow backfill``),
so this package never imports it. Metadata lives in SQLite under ``<home>/airflow`` unless
AIRFLOW__DATABASE__SQL_ALCHEMY_CONN is set.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shlex
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sinergi import settings
from sinergi.local.process import Supervisor, free_port, port_free
from sinergi.months import Month
from sinergi.private import create_private, write_private

DAG_IDS = {"national": "sinergi_national_monthly", "provincial": "sinergi_provincial_monthly", "indicators": "sinergi_indicators"}


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


def pool_cmd(slots: int | None = None) -> list[str]:
    """``airflow pools set`` for the memory-heavy validate/share tasks (sinergi.settings.HEAVY_POOL)."""
    slots = slots or settings.Settings().heavy_pool_slots()
    return airflow_cmd("pools", "set", settings.HEAVY_POOL, str(slots),
                       "validate/share tasks holding a month's table in memory (SINERGI_HEAVY_POOL_SLOTS)")


def ensure_pool(env: dict[str, str], log_path: Path) -> None:
    """Create or resize the heavy-task pool; without it the scheduler never runs validate/share."""
    slots = settings.Settings(environ=env).heavy_pool_slots()
    _run(pool_cmd(slots), env, log_path, f"airflow pools set {settings.HEAVY_POOL}")


def dags_test(scope: str, month: str, env: dict[str, str], log_path: Path, datasets: list[str] | None = None,
              on_line: Callable[[str], None] | None = None) -> None:
    """Run one monthly DAG for ``month`` through Airflow (``airflow dags test``); ``on_line`` sees
    each line of its output as it comes (progress, sinergi.local.progress)."""
    # No logical date: `dags test` would make it the run's *start* date too, and the UI would show a
    # run of July 2025 as having lasted since then. The run starts now; the month comes from the conf.
    conf = json.dumps({"month": str(Month.parse(month)), "datasets": datasets or None})
    _run(airflow_cmd("dags", "test", DAG_IDS[scope], "-c", conf), env, log_path,
         f"airflow dags test {DAG_IDS[scope]} ({month})", on_line=on_line)


class AirflowRunError(RuntimeError):
    pass


def _run(cmd: list[str], env: dict[str, str], log_path: Path, what: str,
         on_line: Callable[[str], None] | None = None) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"\n$ {' '.join(cmd)}\n".encode())
        log.flush()
        if on_line is None:
            rc = subprocess.call(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        else:  # stream: every line to the log as it comes, and to the watcher
            with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL) as proc:
                for raw in proc.stdout:
                    log.write(raw)
                    log.flush()
                    try:
                        on_line(raw.decode(errors="replace"))
                    except Exception as e:  # progress is a courtesy: never stop the run for it
                        log.write(f"(progress: {type(e).__name__}: {e})\n".encode())
                rc = proc.wait()
    text = log_path.read_text(errors="replace")
    failed_tasks = [line for line in text.splitlines() if "SINERGI FAILURE" in line]
    if rc != 0 or "DagRunState.FAILED" in text.split(f"$ {' '.join(cmd)}")[-1]:
        detail = "\n".join(dict.fromkeys(failed_tasks)) or text[-3000:]
        raise AirflowRunError(f"{what} failed (exit {rc}); full log: {log_path}\n{detail}")


# -- a long-running local Airflow (`airflow standalone`): `sinergi up`, the UI and backfill tests ---------
DEFAULT_API_PORT = 8080
ADMIN_USER = "admin"


class AirflowStartError(RuntimeError):
    pass


def _secret_file(path: Path, nbytes: int = 32) -> str:
    """A secret generated once and kept (0600) so every component and restart agrees on it."""
    return create_private(path, lambda: secrets.token_urlsafe(nbytes)).decode().strip()


def standalone_env(
    home: Path | None = None,
    port: int = DEFAULT_API_PORT,
    base: dict[str, str] | None = None,
    *,
    schedule: bool = False,
) -> dict[str, str]:
    """Environment for ``airflow standalone`` on 127.0.0.1:``port`` with state under ``<home>/airflow``.

    ``schedule=False`` turns off the scheduler's own cron runs (``[scheduler] use_job_schedule``):
    the monthly DAGs have ``catchup=True`` from July 2025, so unpausing them locally would queue a
    run for every month since, while the simulator only produced a few. Manual triggers and
    backfills still run.
    """
    env = airflow_env(home, base)
    af_home = Path(env["AIRFLOW_HOME"])
    env["PATH"] = f"{_no_log_server_bin(af_home)}{os.pathsep}{env['PATH']}"
    env["AIRFLOW__API__HOST"] = "127.0.0.1"
    env["AIRFLOW__API__PORT"] = str(port)
    env.setdefault("AIRFLOW__API__WORKERS", "1")  # one uvicorn worker is plenty locally (2 cores)
    if port != DEFAULT_API_PORT:
        # tasks talk to the api-server's execution API; the default points at localhost:8080
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{port}/execution/"
        # a second local Airflow (tests next to `make up`) must not fight over the log-server ports
        # (8793/8794 by default); they serve logs only to holders of a token signed with the JWT secret
        for option in ("WORKER_LOG_SERVER_PORT", "TRIGGER_LOG_SERVER_PORT"):
            env.setdefault(f"AIRFLOW__LOGGING__{option}", str(free_port()))
    # one JWT secret shared by the api-server, scheduler and task processes
    env.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", _secret_file(af_home / "jwt_secret"))
    env.setdefault("AIRFLOW__CORE__FERNET_KEY", _fernet_key(af_home / "fernet_key"))
    env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "True" if schedule else "False"
    # a laptop / 2-core CI box: few concurrent task processes, and patience when the api-server is busy
    env.setdefault("AIRFLOW__CORE__PARALLELISM", "4")
    env.setdefault("AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT", "60")
    env.setdefault("AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", "30")
    env.setdefault("SINERGI_TASK_RETRIES", "0")
    if env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("sqlite"):
        # five components write to one SQLite file: wait for the lock instead of failing after 5 s
        env.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS", f"{__name__}.SQLITE_CONNECT_ARGS")
        env.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC", f"{__name__}.SQLITE_CONNECT_ARGS_ASYNC")
    return env


def _no_log_server_bin(af_home: Path) -> Path:
    """A folder whose ``airflow`` starts the scheduler and the triggerer without their log servers.

    Airflow 3.3 binds those (``[logging] worker_log_server_port`` 8793, ``trigger_log_server_port``
    8794) to every interface — ``serve_logs`` hard-codes ``host=""`` and no setting changes it. On one
    machine they are not needed: the api-server reads the task and trigger logs from the local log
    folder. ``airflow standalone`` launches its components as ``airflow <component>`` from PATH, so
    this folder goes first on PATH and adds ``--skip-serve-logs``."""
    folder = af_home / "bin"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    script = (f"#!/bin/sh\n# generated by sinergi.local.localairflow: no log servers on all interfaces\n"
              f"case \"$1\" in scheduler|triggerer) exec {shlex.quote(airflow_cmd()[0])} \"$@\" --skip-serve-logs ;; esac\n"
              f"exec {shlex.quote(airflow_cmd()[0])} \"$@\"\n")
    wrapper = folder / "airflow"
    if not wrapper.exists() or wrapper.read_text() != script:
        write_private(wrapper, script)
        wrapper.chmod(0o700)
    return folder


class _ImmediateCursor(sqlite3.Cursor):
    def execute(self, sql, *args):
        # A SAVEPOINT outside a transaction starts a *deferred* one: after a read, its first write
        # fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT) whenever another process
        # committed in between — the busy timeout does not help. Airflow opens such savepoints
        # (e.g. creating backfill runs) while the scheduler writes every few seconds, so take the
        # write lock up front (waiting up to the busy timeout) instead.
        if not self.connection.in_transaction and sql.lstrip()[:9].upper() == "SAVEPOINT":
            super().execute("BEGIN IMMEDIATE")
        return super().execute(sql, *args)


class _ImmediateConnection(sqlite3.Connection):
    def cursor(self, factory=_ImmediateCursor):
        return super().cursor(factory)


#: SQLite settings for the local standalone (imported by Airflow by dotted path): wait up to 60 s
#: for the lock, and never start a write transaction from a stale read snapshot.
SQLITE_CONNECT_ARGS: dict = {"timeout": 60, "factory": _ImmediateConnection}
SQLITE_CONNECT_ARGS_ASYNC: dict = {"timeout": 60}


def _fernet_key(path: Path) -> str:
    return create_private(path, lambda: base64.urlsafe_b64encode(secrets.token_bytes(32))).decode().strip()


@dataclass(frozen=True)
class StandaloneStatus:
    running: bool
    pid: int | None
    url: str
    username: str
    password: str | None
    log: Path

    def __str__(self) -> str:
        if not self.running:
            return f"airflow stopped (log {self.log})"
        return f"airflow running (pid {self.pid}) at {self.url} — login {self.username} (password in a 0600 file)"


class Standalone:
    """``airflow standalone`` (api-server, scheduler, dag-processor, triggerer) as a background process.

    State lives under ``<home>/airflow``: ``standalone.pid``, ``standalone.json`` (port, URL),
    ``standalone.log`` and the SimpleAuthManager's generated password file. The process gets its
    own session, so ``stop`` signals the whole process group it started — nothing else.
    """

    def __init__(self, home: Path | None = None, port: int | None = None, *, schedule: bool = False,
                 extra_env: dict[str, str] | None = None):
        self.home = (home or settings.home()).resolve()
        self.dir = self.home / "airflow"
        self.dir.mkdir(parents=True, exist_ok=True)
        saved = self._saved()
        self.port = int(port or os.environ.get("SINERGI_AIRFLOW_PORT") or saved.get("port") or DEFAULT_API_PORT)
        self.schedule = schedule
        self.extra_env = dict(extra_env or {})
        self.process = Supervisor(self.dir / "standalone.pid", marker=b"standalone")

    # -- paths -----------------------------------------------------------------------------------
    @property
    def pid_file(self) -> Path:
        return self.process.pid_file

    @property
    def state_file(self) -> Path:
        return self.dir / "standalone.json"

    @property
    def log_file(self) -> Path:
        return self.dir / "standalone.log"

    @property
    def password_file(self) -> Path:
        return self.dir / "simple_auth_manager_passwords.json.generated"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _saved(self) -> dict:
        try:
            return json.loads((self.dir / "standalone.json").read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def env(self) -> dict[str, str]:
        base = dict(os.environ)
        # the same home everywhere (airflow_env only sets AIRFLOW_HOME if it is not set already)
        base.pop("AIRFLOW_HOME", None)
        env = standalone_env(self.home, self.port, base, schedule=self.schedule)
        env.update(self.extra_env)
        return env

    # -- process ---------------------------------------------------------------------------------
    def pid(self) -> int | None:
        return self.process.pid()

    def password(self) -> str | None:
        try:
            return json.loads(self.password_file.read_text()).get(ADMIN_USER)
        except (FileNotFoundError, ValueError):
            return None

    def _ensure_password(self) -> None:
        """The admin password, generated here into a 0600 file before Airflow starts: Airflow's
        SimpleAuthManager would otherwise generate it itself, write the file with the default umask and
        print the password into its log; given an existing file it only reads it."""
        path = self.password_file
        if path.exists() and self.password() is not None:
            if path.stat().st_mode & 0o077:
                write_private(path, path.read_bytes())  # an older, looser file: same content, 0600
            return
        write_private(path, json.dumps({ADMIN_USER: secrets.token_urlsafe(16)}) + "\n")

    def health(self) -> dict | None:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=3) as r:
                return json.loads(r.read())
        except (OSError, ValueError):
            return None

    def healthy(self) -> bool:
        h = self.health() or {}
        parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        return bool(h) and all((h.get(p) or {}).get("status") == "healthy" for p in parts)

    def status(self) -> StandaloneStatus:
        pid = self.pid()
        return StandaloneStatus(running=pid is not None, pid=pid, url=self.url, username=ADMIN_USER,
                                password=self.password(), log=self.log_file)

    def start(self, timeout: float = 240.0) -> StandaloneStatus:
        """Start (harmless if already running) and wait until every component reports healthy."""
        if self.pid() is not None:
            self.wait_healthy(timeout)
            return self.status()
        if not port_free(self.port):
            raise AirflowStartError(
                f"cannot start Airflow: port {self.port} on 127.0.0.1 is already in use by another process. "
                f"Stop it, or choose another port with SINERGI_AIRFLOW_PORT=<port> (make up AIRFLOW_PORT=<port>)."
            )
        env = self.env()
        self._write_env_file(env)
        self._ensure_password()
        proc = self.process.start(
            airflow_cmd("standalone"), env=env, cwd=self.dir, log_file=self.log_file,
            header=f"\n=== airflow standalone on {self.url} ({time.strftime('%Y-%m-%d %H:%M:%S')}) ===\n")
        self.state_file.write_text(json.dumps({"pid": proc.pid, "port": self.port, "url": self.url}))
        try:
            self.wait_healthy(timeout, proc)
            ensure_pool(env, self.log_file)
        except (AirflowStartError, AirflowRunError):
            self.stop()
            raise
        return self.status()

    @property
    def env_file(self) -> Path:
        return self.dir / "env.sh"

    def _write_env_file(self, env: dict[str, str]) -> None:
        """``source .local/airflow/env.sh`` gives a shell the same Airflow (CLI: backfill, trigger…)."""
        keep = sorted(k for k in env if k.startswith(("AIRFLOW_", "AIRFLOW__", "SINERGI_")))
        lines = ["# generated by `sinergi up`: the environment of the local Airflow (contains secrets; 0600)"]
        lines += [f"export {k}={shlex.quote(env[k])}" for k in keep]
        lines.append(f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:\"$PATH\"")
        write_private(self.env_file, "\n".join(lines) + "\n")

    def wait_healthy(self, timeout: float, proc: subprocess.Popen | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise AirflowStartError(f"airflow standalone exited with code {proc.returncode}; log {self.log_file}:\n"
                                        + self.log_file.read_text(errors="replace")[-3000:])
            if self.healthy() and self.password() is not None:
                return
            time.sleep(1)
        raise AirflowStartError(f"Airflow at {self.url} not healthy within {timeout:.0f}s (last health: {self.health()}); "
                                f"log {self.log_file}:\n" + self.log_file.read_text(errors="replace")[-3000:])

    def stop(self, timeout: float = 40.0) -> bool:
        """Stop the process group started by ``start``; False if it was not running. Every component
        (scheduler, dag-processor, triggerer, api-server) shuts down cleanly on SIGTERM; the whole
        group gets it, as standalone itself would not pass it on."""
        return self.process.stop(timeout)


def backfill(dag_id: str, from_month: str, to_month: str, env: dict[str, str], log_path: Path,
             max_active_runs: int = 1, reprocess: str = "failed", datasets: list[str] | None = None) -> None:
    """``airflow backfill create`` for the months ``from_month``..``to_month`` (inclusive).

    In Airflow 3 this only records the backfill and its runs in the metadata DB; a running
    scheduler (``sinergi up`` / standalone) executes them oldest first. The DAG must be unpaused.
    """
    # from/to are logical dates (inclusive): the months' data-interval starts.
    # reprocess: "none" (only months never run), "failed" (also re-run failed months), "completed" (all)
    # datasets: only these datasets each month (the DAG's `datasets` param); the month comes from
    # each run's data interval, so it is not part of the run conf.
    conf = ["--dag-run-conf", json.dumps({"datasets": datasets})] if datasets else []
    cmd = airflow_cmd("backfill", "create", "--dag-id", dag_id,
                      "--from-date", Month.parse(from_month).logical_date,
                      "--to-date", Month.parse(to_month).logical_date,
                      "--max-active-runs", str(max_active_runs), "--reprocess-behavior", reprocess, *conf)
    for attempt in range(1, 6):
        try:
            _run(cmd, env, log_path, f"airflow backfill create {dag_id} {from_month}..{to_month}")
            return
        except AirflowRunError as e:
            # Local SQLite only: a write racing the running scheduler fails at once with "database is
            # locked" (the busy timeout does not apply to a read transaction upgrading to a write).
            # The backfill is created in one transaction, so trying again is safe.
            if "database is locked" not in str(e) or attempt == 5:
                raise
            time.sleep(2 * attempt)


# -- the whole local stack: object store + simulated sources + Airflow (`sinergi up` / `down`) ---------
@dataclass
class LocalStack:
    """The embedded store, simulated sources for a few months, and ``airflow standalone``."""

    home: Path
    api_port: int | None = None
    s3_port: int | None = None
    first_month: str = "2025-07"
    months: int = 3
    scale: str = "demo"
    seed: int = 42
    schedule: bool = False
    exports_dir: Path | None = None  # real exports instead of simulated ones

    def __post_init__(self):
        from sinergi.local.store import EmbeddedStore

        self.home = Path(self.home).resolve()
        self.store = EmbeddedStore(home=self.home, s3_port=self.s3_port)
        self.sources = Path(self.exports_dir).resolve() if self.exports_dir else self.home / "sources"
        env = {
            "SINERGI_HOME": str(self.home),
            "SINERGI_EXPORTS_DIR": str(self.sources),
            "SINERGI_DISNAKER_DB_URL": os.environ.get("SINERGI_DISNAKER_DB_URL") or f"sqlite:///{self.sources / 'disnaker.sqlite'}",
        }
        self.airflow = Standalone(self.home, self.api_port, schedule=self.schedule, extra_env=env)

    def simulate(self) -> dict | None:
        """Simulated sources for ``months`` months from ``first_month`` (skipped if already there)."""
        if self.exports_dir:
            return None
        marker = self.sources / "_simulated.json"
        wanted = {"month": self.first_month, "months": self.months, "scale": self.scale, "seed": self.seed}
        try:
            if json.loads(marker.read_text()) == wanted:
                return None
        except (FileNotFoundError, ValueError):
            pass
        from sinergi.simulate import simulate

        result = simulate(self.sources, month=self.first_month, months=self.months, scale=self.scale, seed=self.seed)
        marker.write_text(json.dumps(wanted))
        return {"rows": sum(result.rows.values()), "months": list(result.months)}

    def up(self, timeout: float = 240.0) -> StandaloneStatus:
        self.store.up()
        self.simulate()
        return self.airflow.start(timeout)

    def down(self) -> tuple[bool, bool]:
        """Stop Airflow, then the store; (airflow_was_running, store_was_running)."""
        return self.airflow.stop(), self.store.down()

    @property
    def months_list(self) -> list[str]:
        first = Month.parse(self.first_month)
        return [str(m) for m in first.until(first.add(self.months - 1))]
