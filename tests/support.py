"""Helpers shared by the test modules (``pythonpath = ["tests"]`` in pyproject.toml)."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from sinergi.months import Month
from sinergi.objectstore import ObjectInfo, ObjectNotFound, PreconditionFailed

#: The machine's PostgreSQL (trust auth), as the tests that create their own database reach it.
PG = dict(host="127.0.0.1", port=5432, user="postgres", dbname="test")


@contextmanager
def fresh_pg_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the machine's server (SQLAlchemy URL), dropped afterwards."""
    import secrets

    import psycopg2

    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = psycopg2.connect(**PG)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def pg_query(url: str, sql: str, *args) -> list[tuple]:
    """Rows of one query on the database of a ``fresh_pg_database`` URL."""
    import psycopg2

    conn = psycopg2.connect(**{**PG, "dbname": url.rsplit("/", 1)[1]})
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


#: Chromium from Debian (`make chromium`; Playwright's own download does not work here), offline-quiet.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]


@contextmanager
def chromium() -> Iterator:
    """A headless Chromium (Playwright ``Browser``), closed afterwards."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make chromium` installs it (apt-get install chromium)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def db_reachable(url: str) -> bool:
    """True if a database server answers at ``url`` (any failure means "not here")."""
    try:
        eng = sa.create_engine(url)
        with eng.connect():
            pass
        eng.dispose()
        return True
    except Exception:  # noqa: BLE001
        return False


class DirStore:
    """ObjectStore protocol over a directory (bucket/key -> file; metadata in a JSON side file)."""

    endpoint = "file://"

    def __init__(self, root: Path):
        self.root = root
        self.puts: list[str] = []

    def _p(self, bucket: str, key: str) -> Path:
        return self.root / bucket / key

    def put_bytes(self, bucket, key, data, *, content_type="application/octet-stream", if_none_match=False,
                  if_match=None, metadata=None) -> str:
        p = self._p(bucket, key)
        if if_none_match and p.exists():
            raise PreconditionFailed(f"{bucket}/{key} exists")
        if if_match is not None and (not p.is_file() or hashlib.md5(p.read_bytes()).hexdigest() != if_match):
            raise PreconditionFailed(f"{bucket}/{key} changed")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        p.with_name(p.name + ".__meta__").write_text(json.dumps(metadata or {}))
        self.puts.append(key)
        return hashlib.md5(data).hexdigest()

    def put_file(self, bucket, key, path, *, content_type="application/octet-stream", metadata=None) -> str:
        p = self._p(bucket, key)
        p.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, p)  # streamed, like a multipart upload
        p.with_name(p.name + ".__meta__").write_text(json.dumps(metadata or {}))
        self.puts.append(key)
        return "copied"

    def get_bytes(self, bucket, key) -> bytes:
        p = self._p(bucket, key)
        if not p.is_file():
            raise ObjectNotFound(f"{bucket}/{key}")
        return p.read_bytes()

    def get_file(self, bucket, key, path) -> None:
        Path(path).write_bytes(self.get_bytes(bucket, key))

    def head(self, bucket, key) -> ObjectInfo | None:
        p = self._p(bucket, key)
        if not key or not p.is_file():
            return None
        return ObjectInfo(key, p.stat().st_size, hashlib.md5(p.read_bytes()).hexdigest())

    def metadata(self, bucket, key) -> dict[str, str]:
        return json.loads(self._p(bucket, key).with_name(Path(key).name + ".__meta__").read_text())

    def list(self, bucket, prefix="") -> Iterator[ObjectInfo]:
        base = self.root / bucket
        for p in sorted(base.rglob("*")):
            key = p.relative_to(base).as_posix()
            if p.is_file() and not key.endswith(".__meta__") and key.startswith(prefix):
                yield self.head(bucket, key)

    def delete(self, bucket, key) -> None:
        self._p(bucket, key).unlink(missing_ok=True)

    def ensure_bucket(self, bucket) -> None:
        (self.root / bucket).mkdir(parents=True, exist_ok=True)


class MemoryStore:
    """ObjectStore protocol in memory, with conditional writes as S3 does them (ETag = MD5).

    ``on_put(bucket, key, data) -> data`` may rewrite what is stored (a faulty store, for the
    reconciliation tests); ``puts`` records every write, conditional ones included."""

    endpoint = "memory://"

    def __init__(self, on_put: Callable[[str, str, bytes], bytes] | None = None):
        self.objects: dict[tuple[str, str], tuple[bytes, dict[str, str]]] = {}
        self.buckets: set[str] = set()
        self.puts: list[tuple[str, str, dict]] = []
        self.on_put = on_put

    def put_bytes(self, bucket, key, data, *, content_type="application/octet-stream", if_none_match=False,
                  if_match=None, metadata=None) -> str:
        current = self.objects.get((bucket, key))
        if if_none_match and current is not None:
            raise PreconditionFailed(f"{bucket}/{key} exists")
        if if_match is not None and (current is None or hashlib.md5(current[0]).hexdigest() != if_match):
            raise PreconditionFailed(f"{bucket}/{key} changed")
        data = bytes(data)
        if self.on_put is not None:
            data = self.on_put(bucket, key, data)
        self.objects[(bucket, key)] = (data, dict(metadata or {}))
        self.puts.append((bucket, key, {"if_none_match": if_none_match, "if_match": if_match}))
        return hashlib.md5(data).hexdigest()

    def put_file(self, bucket, key, path, *, content_type="application/octet-stream", metadata=None) -> str:
        return self.put_bytes(bucket, key, Path(path).read_bytes(), metadata=metadata)

    def get_bytes(self, bucket, key) -> bytes:
        try:
            return self.objects[(bucket, key)][0]
        except KeyError:
            raise ObjectNotFound(f"{bucket}/{key}") from None

    def get_file(self, bucket, key, path) -> None:
        Path(path).write_bytes(self.get_bytes(bucket, key))

    def head(self, bucket, key) -> ObjectInfo | None:
        found = self.objects.get((bucket, key))
        return None if found is None else ObjectInfo(key, len(found[0]), hashlib.md5(found[0]).hexdigest())

    def metadata(self, bucket, key) -> dict[str, str]:
        return dict(self.objects[(bucket, key)][1])

    def list(self, bucket, prefix="") -> Iterator[ObjectInfo]:
        for b, key in sorted(self.objects):
            if b == bucket and key.startswith(prefix):
                yield self.head(b, key)

    def keys(self, bucket, prefix="") -> list[str]:
        return [o.key for o in self.list(bucket, prefix)]

    def delete(self, bucket, key) -> None:
        self.objects.pop((bucket, key), None)

    def ensure_bucket(self, bucket) -> None:
        self.buckets.add(bucket)


# -- Airflow's REST API (tests of a running local Airflow) -----------------------------------------
class AirflowAPIError(RuntimeError):
    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


def airflow_api(standalone) -> AirflowAPI:
    """A client for a running ``sinergi.local.localairflow.Standalone`` (its generated admin login)."""
    password = standalone.password()
    if password is None:
        raise RuntimeError(f"no generated admin password in {standalone.password_file}: is Airflow started?")
    from sinergi.local.localairflow import ADMIN_USER

    return AirflowAPI(standalone.url, ADMIN_USER, password)


class AirflowAPI:
    """A tiny client for Airflow's public REST API (``/api/v2``), with a SimpleAuthManager token."""

    def __init__(self, url: str, username: str, password: str):
        self.url = url.rstrip("/")
        body = json.dumps({"username": username, "password": password}).encode()
        token = self._request("POST", "/auth/token", body, {})["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def _request(self, method: str, path: str, body: bytes | None, headers: dict, attempts: int = 5) -> dict:
        """One API call; reads (GET) are retried when a busy local server times out or answers 5xx."""
        req = urllib.request.Request(f"{self.url}{path}", data=body, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json", **headers})
        tries = attempts if method == "GET" else 1
        for attempt in range(1, tries + 1):
            try:
                with urllib.request.urlopen(req, timeout=120) as r:
                    raw = r.read()
                return json.loads(raw) if raw else {}
            except urllib.error.HTTPError as e:
                error = AirflowAPIError(e.code, e.read().decode(errors="replace")[:2000])
                if e.code < 500 or attempt == tries:
                    raise error from None
            except (TimeoutError, urllib.error.URLError, ConnectionError) as e:
                if attempt == tries:
                    raise
                error = e
            time.sleep(2 * attempt)
        raise error  # pragma: no cover - the loop returns or raises

    def get(self, path: str, **query) -> dict:
        qs = ("?" + urllib.parse.urlencode(query, doseq=True)) if query else ""
        return self._request("GET", f"/api/v2{path}{qs}", None, self.headers)

    def post(self, path: str, body: dict) -> dict:
        return self._request("POST", f"/api/v2{path}", json.dumps(body).encode(), self.headers)

    def patch(self, path: str, body: dict) -> dict:
        return self._request("PATCH", f"/api/v2{path}", json.dumps(body).encode(), self.headers)

    # -- conveniences ----------------------------------------------------------------------------
    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> dict:
        """Wait until the dag-processor has parsed and serialised ``dag_id``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                dag = self.get(f"/dags/{dag_id}")
                self.get(f"/dags/{dag_id}/details")
                return dag
            except AirflowAPIError as e:
                if e.status != 404 or time.monotonic() > deadline:
                    raise
            time.sleep(1)

    def unpause(self, dag_id: str) -> None:
        self.patch(f"/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, month: str, datasets: list[str] | None = None, run_id: str | None = None) -> str:
        """Trigger a run for ``month`` (logical date = the month's interval start); returns the run id."""
        body = {"logical_date": Month.parse(month).logical_date, "conf": {"month": month, "datasets": datasets or []}}
        if run_id:
            body["dag_run_id"] = run_id
        return self.post(f"/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 600.0) -> str:
        """Wait for a run to finish; returns its final state (``success`` or ``failed``)."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.get(f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")["state"]
            if state in ("success", "failed"):
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} run {run_id} still {state} after {timeout:.0f}s")
            time.sleep(2)

    def failed_tasks(self, dag_id: str, run_id: str) -> list[dict]:
        tis = self.get(f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances", limit=1000)
        return [t for t in tis["task_instances"] if t["state"] in ("failed", "upstream_failed")]

    def task_log(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1, try_number: int = 1) -> str:
        path = f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/{task_id}/logs/{try_number}"
        out = self.get(path, map_index=map_index, full_content="true")
        content = out.get("content")
        if isinstance(content, list):
            return "\n".join(c.get("event", "") if isinstance(c, dict) else str(c) for c in content)
        return str(content)

    def asset_events(self, **query) -> list[dict]:
        return self.get("/assets/events", limit=1000, **query)["asset_events"]
