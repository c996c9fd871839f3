"""Settings: every connection, secret and location the pipeline uses, resolved by ONE precedence.

For each setting the first of these that is configured wins:

1. the Airflow Connection, through the DAG layer's ``lookup(conn_id)`` (Airflow's secrets backends;
   it returns a :class:`Connection`, a plain string or None);
2. the Connection given as the environment variable ``AIRFLOW_CONN_<ID>`` (JSON or URI form,
   parsed here, so the core never imports Airflow);
3. the ``SINERGI_*`` environment variable(s);
4. the embedded default under ``SINERGI_HOME`` (``<repo>/.local`` unless set).

A source that is configured but incomplete (a Connection without a login or password) is an
error naming it, never silently skipped for the next one.

===================  ==========================  ==============================  ==============================================
setting              Connection id (1, 2)        environment (3)                 embedded default (4)
===================  ==========================  ==============================  ==============================================
object store         ``sinergi_s3``              ``SINERGI_S3_ENDPOINT``,        ``<home>/credentials/pipeline.env``
(pipeline identity)  (login, password,           ``SINERGI_S3_ACCESS_KEY``,      (written by the embedded store)
                     ``extra.endpoint_url``)     ``SINERGI_S3_SECRET_KEY``
export files         ``sinergi_exports``         ``SINERGI_EXPORTS_DIR``         ``<home>/sources`` (the simulator's output)
                     (``extra.path``)
Disnaker database    ``sinergi_disnaker_db``     ``SINERGI_DISNAKER_DB_URL``     ``sqlite:///<exports>/disnaker.sqlite``
master secret        ``sinergi_master_secret``   ``SINERGI_MASTER_SECRET``       ``<home>/secrets/master.key`` (generated once)
                     (password)
alert mail           ``sinergi_smtp`` (SMTP:     ``SINERGI_ALERT_TO``            none: alerts are only logged
                     host, port, login, password, (recipients, comma-separated)
                     ``extra.to``, ``extra.from_email``)
heavy-task pool      —                           ``SINERGI_HEAVY_POOL_SLOTS``    2 slots (pool ``sinergi_heavy``)
===================  ==========================  ==============================  ==============================================

``SINERGI_HOME`` itself is only an environment variable (it locates the defaults).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from sinergi.errors import ConfigError

DEFAULT_S3_PORT = 8333
HOME_ENV = "SINERGI_HOME"

S3_CONN_ID = "sinergi_s3"
EXPORTS_CONN_ID = "sinergi_exports"
DISNAKER_CONN_ID = "sinergi_disnaker_db"
MASTER_SECRET_CONN_ID = "sinergi_master_secret"
SMTP_CONN_ID = "sinergi_smtp"

#: The Airflow pool of the memory-heavy tasks (validate, share): at most this many run at once.
HEAVY_POOL = "sinergi_heavy"
DEFAULT_HEAVY_POOL_SLOTS = 2

#: What a lookup may return: a Connection, a string (a URI, URL or the secret itself) or None.
ConnectionLookup = Callable[[str], "Connection | str | bytes | None"]


def project_root() -> Path:
    # include/sinergi/settings.py -> repository root
    return Path(__file__).resolve().parents[2]


def home(environ: Mapping[str, str] | None = None) -> Path:
    """Local state directory (``SINERGI_HOME``, default ``<repo>/.local``)."""
    env = os.environ if environ is None else environ
    return Path(env.get(HOME_ENV) or project_root() / ".local").expanduser().resolve()


def conn_env(conn_id: str) -> str:
    """The environment variable holding the Connection ``conn_id`` (``AIRFLOW_CONN_<ID>``)."""
    return f"AIRFLOW_CONN_{conn_id.upper()}"


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

    def __repr__(self) -> str:  # never print the password
        return (f"Connection(conn_type={self.conn_type!r}, host={self.host!r}, port={self.port!r}, "
                f"login={self.login!r}, password={'***' if self.password else None}, schema={self.schema!r})")


def parse_connection(raw: str) -> Connection:
    """An Airflow Connection in JSON or URI form (ValueError if it is neither)."""
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
    if not u.scheme:
        raise ValueError("not a connection URI")
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


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a ``KEY=value`` file (the credentials files under ``<home>/credentials``)."""
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


def party_s3(party: str, base: Path | None = None) -> S3Settings:
    """A party's (or the pipeline's) key from ``<home>/credentials/<party>.env`` (the embedded store's)."""
    path = credentials_dir(base) / f"{party}.env"
    if not path.exists():
        raise ConfigError(
            f"no credentials for {party!r}: {path} does not exist (start the embedded store with "
            f"`sinergi store up`, or configure the Airflow connection {S3_CONN_ID!r} / SINERGI_S3_* variables)"
        )
    env = read_env_file(path)
    return S3Settings(env["AWS_ENDPOINT_URL"], env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"],
                      env.get("AWS_REGION", "us-east-1"))


# Airflow conn_type -> SQLAlchemy dialect+driver (drivers pinned in requirements)
_DIALECTS = {
    "postgres": "postgresql+psycopg2",
    "postgresql": "postgresql+psycopg2",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "sqlite": "sqlite",
}


def connection_url(conn: Connection | str) -> str:
    """SQLAlchemy URL for an Airflow-style Connection (a URL string is passed through; an Airflow
    URI such as ``postgres://…`` or a JSON Connection is converted)."""
    if isinstance(conn, str):
        raw = conn.strip()
        scheme = raw.split("://", 1)[0].lower() if "://" in raw else ""
        if raw.startswith("{") or (scheme in _DIALECTS and scheme != "sqlite"):
            return connection_url(parse_connection(raw))
        return raw  # already a SQLAlchemy URL (dialect+driver://..., sqlite:///...)
    extra = conn.extra or {}
    if extra.get("sqlalchemy_url"):
        return str(extra["sqlalchemy_url"])
    ctype = (conn.conn_type or "").lower().replace("-", "_")
    dialect = _DIALECTS.get(ctype)
    if dialect is None:
        raise ConfigError(f"connection {DISNAKER_CONN_ID!r}: unsupported conn_type {conn.conn_type!r}; "
                          f"expected one of {sorted(_DIALECTS)}")
    if dialect == "sqlite":
        return f"sqlite:///{conn.host or conn.schema or ''}"
    auth = ""
    if conn.login:
        auth = quote(conn.login, safe="")
        if conn.password:
            auth += ":" + quote(conn.password, safe="")
        auth += "@"
    port = f":{conn.port}" if conn.port else ""
    url = f"{dialect}://{auth}{conn.host or '127.0.0.1'}{port}/{conn.schema or ''}"
    if dialect.startswith("mysql"):
        url += "?charset=utf8mb4"
    return url


@dataclass(frozen=True)
class Found:
    """Where a setting was found (for logs and errors; never the value) and its raw value: a
    :class:`Connection` (steps 1–2), a string or bytes (a lookup's plain answer, or step 3)."""

    where: str
    value: Any


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of one process (or one task). ``lookup`` is the DAG layer's
    Connection lookup; ``environ`` defaults to ``os.environ`` (read at call time)."""

    lookup: ConnectionLookup | None = None
    environ: Mapping[str, str] | None = None

    @property
    def env(self) -> Mapping[str, str]:
        return os.environ if self.environ is None else self.environ

    @property
    def home(self) -> Path:
        return home(self.env)

    # -- the one precedence ----------------------------------------------------------------------
    def connection(self, conn_id: str) -> Found | None:
        """Steps 1 and 2: the Connection from the lookup, else from ``AIRFLOW_CONN_<ID>``."""
        if self.lookup is not None:
            found = self.lookup(conn_id)
            if found:
                return Found(f"connection {conn_id!r} (secrets backend)", found)
        raw = self.env.get(conn_env(conn_id))
        if raw:
            try:
                return Found(conn_env(conn_id), parse_connection(raw))
            except (ValueError, TypeError):  # the text may hold a secret: never repeat it
                raise ConfigError(f"{conn_env(conn_id)} cannot be parsed as an Airflow Connection "
                                  "(JSON or URI form)") from None
        return None

    def find(self, conn_id: str, env_var: str) -> Found | None:
        """Steps 1–3; None means "use the embedded default"."""
        found = self.connection(conn_id)
        if found is None and self.env.get(env_var):
            found = Found(env_var, self.env[env_var])
        return found

    # -- the settings ----------------------------------------------------------------------------
    def pipeline_s3(self) -> S3Settings:
        """The pipeline identity on the object store."""
        found = self.connection(S3_CONN_ID)
        if found is not None:
            conn = _as_connection(found)
            if not conn.login or not conn.password:
                raise ConfigError(f"{found.where}: the object-store connection needs a login (access key) and a "
                                  "password (secret key)")
            endpoint = (conn.extra.get("endpoint_url")
                        or f"http://{conn.host or '127.0.0.1'}:{conn.port or DEFAULT_S3_PORT}")
            return S3Settings(endpoint, conn.login, conn.password, conn.extra.get("region_name", "us-east-1"))
        if self.env.get("SINERGI_S3_ACCESS_KEY"):
            if not self.env.get("SINERGI_S3_SECRET_KEY"):
                raise ConfigError("SINERGI_S3_ACCESS_KEY is set but SINERGI_S3_SECRET_KEY is not")
            return S3Settings(self.env.get("SINERGI_S3_ENDPOINT") or f"http://127.0.0.1:{DEFAULT_S3_PORT}",
                              self.env["SINERGI_S3_ACCESS_KEY"], self.env["SINERGI_S3_SECRET_KEY"])
        return party_s3("pipeline", self.home)

    def exports_dir(self) -> Path:
        """Where the national and dinas export files are (``<system>/<YYYY-MM>/<file>``)."""
        found = self.find(EXPORTS_CONN_ID, "SINERGI_EXPORTS_DIR")
        value = found.value if found is not None else None
        if found is None:
            path = self.home / "sources"
        elif isinstance(value, str) and not (value.lstrip().startswith("{") or "://" in value):
            path = Path(value)  # a folder (SINERGI_EXPORTS_DIR, or a lookup's plain answer)
        else:
            conn = _as_connection(found)
            raw = conn.extra.get("path") or conn.host
            if not raw:
                raise ConfigError(f"{found.where}: the exports connection needs extra.path (the folder)")
            path = Path(raw)
        return path.expanduser().resolve()

    def disnaker_db_url(self, exports_dir: Path | None = None) -> str:
        """SQLAlchemy URL of the Disnaker database."""
        found = self.find(DISNAKER_CONN_ID, "SINERGI_DISNAKER_DB_URL")
        if found is None:
            return f"sqlite:///{(exports_dir or self.exports_dir()) / 'disnaker.sqlite'}"
        return connection_url(found.value if isinstance(found.value, str) else _as_connection(found))

    def master_secret(self) -> Found | None:
        """Steps 1–3 for the master secret (sinergi.secrets decodes it, or generates the default)."""
        return self.find(MASTER_SECRET_CONN_ID, "SINERGI_MASTER_SECRET")

    def master_secret_file(self) -> Path:
        return self.home / "secrets" / "master.key"

    def alert_recipients(self) -> list[str]:
        """Who gets the failure and deadline alerts: ``extra.to`` of the ``sinergi_smtp`` Connection
        (a list or a comma-separated string), else ``SINERGI_ALERT_TO``; empty = alerts only logged."""
        found = self.connection(SMTP_CONN_ID)
        raw = _as_connection(found).extra.get("to") if found is not None else None
        raw = raw or self.env.get("SINERGI_ALERT_TO") or []
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        return [str(a).strip() for a in items if str(a).strip()]

    def heavy_pool_slots(self) -> int:
        """Slots of the ``sinergi_heavy`` pool (``SINERGI_HEAVY_POOL_SLOTS``, default 2): how many
        validate/share tasks may hold a month's table in memory at once across all workers."""
        raw = self.env.get("SINERGI_HEAVY_POOL_SLOTS")
        if not raw:
            return DEFAULT_HEAVY_POOL_SLOTS
        try:
            slots = int(raw)
        except ValueError:
            slots = 0
        if slots < 1:
            raise ConfigError(f"SINERGI_HEAVY_POOL_SLOTS must be a whole number of at least 1, got {raw!r}")
        return slots


def _as_connection(found: Found) -> Connection:
    """A Connection from whatever a lookup returned (ours, Airflow's own object, or URI/JSON text)."""
    value = found.value
    if isinstance(value, Connection):
        return value
    if isinstance(value, str):
        try:
            return parse_connection(value)
        except (ValueError, TypeError):
            raise ConfigError(f"{found.where} cannot be parsed as an Airflow Connection") from None
    if hasattr(value, "conn_type"):  # a Connection-like object (Airflow's own)
        extra = getattr(value, "extra_dejson", None) or getattr(value, "extra", None) or {}
        if isinstance(extra, str):
            extra = json.loads(extra) if extra.strip() else {}
        return Connection(conn_type=value.conn_type, host=value.host, port=value.port, login=value.login,
                          password=value.password, schema=value.schema, extra=dict(extra))
    raise ConfigError(f"{found.where}: unexpected value of type {type(value).__name__}")
