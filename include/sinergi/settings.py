"""Where things are: local state, endpoints and connections, resolved from the environment.

Production passes everything through Airflow Connections / environment / a secrets backend; the
embedded default keeps all state under ``.local/`` in the repository (never committed). The core
does not import Airflow: Airflow Connections given as ``AIRFLOW_CONN_<ID>`` environment variables
are parsed here, and the DAG layer may pass a ``lookup`` callable for other secrets backends.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

DEFAULT_S3_PORT = 8333
S3_CONN_ID = "sinergi_s3"

ConnectionLookup = Callable[[str], "Connection | None"]


def project_root() -> Path:
    # include/sinergi/settings.py -> repository root
    return Path(__file__).resolve().parents[2]


def home() -> Path:
    """Local state directory (``SINERGI_HOME``, default ``<repo>/.local``)."""
    return Path(os.environ.get("SINERGI_HOME") or project_root() / ".local").resolve()


@dataclass(frozen=True)
class Connection:
    """The parts of an Airflow Connection the core needs."""

    conn_type: str | None = None
    host: str | None = None
    port: int | None = None
    login: str | None = None
    password: str | None = None
    schema: str | None = None
    extra: dict = field(default_factory=dict)


def _parse_connection(raw: str) -> Connection:
    raw = raw.strip()
    if raw.startswith("{"):
        d = json.loads(raw)
        extra = d.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra) if extra.strip() else {}
        return Connection(
            conn_type=d.get("conn_type"),
            host=d.get("host"),
            port=int(d["port"]) if d.get("port") else None,
            login=d.get("login"),
            password=d.get("password"),
            schema=d.get("schema"),
            extra=extra,
        )
    u = urlsplit(raw)
    extra = dict(parse_qsl(u.query))
    if "__extra__" in extra:
        extra = json.loads(extra["__extra__"])
    return Connection(
        conn_type=u.scheme.replace("-", "_") or None,
        host=unquote(u.hostname) if u.hostname else None,
        port=u.port,
        login=unquote(u.username) if u.username else None,
        password=unquote(u.password) if u.password else None,
        schema=u.path.lstrip("/") or None,
        extra=extra,
    )


def airflow_connection(conn_id: str, lookup: ConnectionLookup | None = None) -> Connection | None:
    """Resolve an Airflow Connection: via ``lookup`` (the DAG layer's secrets backend), else the
    ``AIRFLOW_CONN_<ID>`` environment variable (JSON or URI form). None if not configured."""
    if lookup is not None:
        found = lookup(conn_id)
        if found is not None:
            return found
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    return _parse_connection(raw) if raw else None


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a ``KEY=value`` file (the credentials files under ``.local/credentials``)."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            values[k.strip().removeprefix("export ").strip()] = v.strip().strip("'\"")
    return values


@dataclass(frozen=True)
class S3Settings:
    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def __repr__(self) -> str:  # never print the secret
        return f"S3Settings(endpoint={self.endpoint!r}, access_key={self.access_key!r}, secret_key='***')"


def credentials_dir(base: Path | None = None) -> Path:
    return (base or home()) / "credentials"


def pipeline_s3(lookup: ConnectionLookup | None = None, base: Path | None = None) -> S3Settings:
    """The pipeline identity: Connection ``sinergi_s3`` → env ``SINERGI_S3_*`` → ``.local/credentials/pipeline.env``."""
    conn = airflow_connection(S3_CONN_ID, lookup)
    if conn is not None and conn.login:
        endpoint = conn.extra.get("endpoint_url") or f"http://{conn.host or '127.0.0.1'}:{conn.port or DEFAULT_S3_PORT}"
        return S3Settings(endpoint, conn.login, conn.password or "", conn.extra.get("region_name", "us-east-1"))
    if os.environ.get("SINERGI_S3_ACCESS_KEY"):
        return S3Settings(
            os.environ.get("SINERGI_S3_ENDPOINT", f"http://127.0.0.1:{DEFAULT_S3_PORT}"),
            os.environ["SINERGI_S3_ACCESS_KEY"],
            os.environ.get("SINERGI_S3_SECRET_KEY", ""),
        )
    return party_s3("pipeline", base)


def party_s3(party: str, base: Path | None = None) -> S3Settings:
    """A party's (or the pipeline's) credentials from ``.local/credentials/<party>.env``."""
    path = credentials_dir(base) / f"{party}.env"
    if not path.exists():
        raise FileNotFoundError(
            f"no credentials for {party!r}: {path} does not exist (start the embedded store with "
            "`sinergi store up`, or configure the Airflow connection 'sinergi_s3' / SINERGI_S3_* variables)"
        )
    env = read_env_file(path)
    return S3Settings(env["AWS_ENDPOINT_URL"], env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_REGION", "us-east-1"))
