"""Where sources are: the national/dinas export folder and the Disnaker database.

Resolution order (the core never imports Airflow):
- exports dir: ``SINERGI_EXPORTS_DIR``, else ``<SINERGI_HOME or repo/.local>/sources``;
- Disnaker DB: ``SINERGI_DISNAKER_DB_URL``; else the Airflow Connection ``sinergi_disnaker_db``
  resolved by the DAG layer's ``lookup`` callable (returning a URL or a ``settings.Connection``),
  else given as ``AIRFLOW_CONN_SINERGI_DISNAKER_DB`` (JSON or URI, parsed here); else
  ``sqlite:///<exports>/disnaker.sqlite`` (what the simulator writes).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sinergi import settings
from sinergi.extract.errors import SourceNotFoundError
from sinergi.registry import Dataset

DISNAKER_CONN_ID = "sinergi_disnaker_db"
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

# Airflow conn_type -> SQLAlchemy dialect+driver (drivers pinned in requirements)
_DIALECTS = {
    "postgres": "postgresql+psycopg2",
    "postgresql": "postgresql+psycopg2",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "sqlite": "sqlite",
}


def check_month(month: str) -> tuple[int, int]:
    m = _MONTH.match(month or "")
    if not m:
        raise ValueError(f"month must look like YYYY-MM, got {month!r}")
    return int(m.group(1)), int(m.group(2))


def connection_url(conn: settings.Connection | str) -> str:
    """SQLAlchemy URL for an Airflow-style Connection (or pass a URL string through)."""
    if isinstance(conn, str):
        raw = conn.strip()
        scheme = raw.split("://", 1)[0].lower() if "://" in raw else ""
        if raw.startswith("{") or (scheme in _DIALECTS and scheme != "sqlite"):
            return connection_url(settings._parse_connection(raw))
        return raw  # already a SQLAlchemy URL (dialect+driver://..., sqlite:///...)
    extra = conn.extra or {}
    if extra.get("sqlalchemy_url"):
        return str(extra["sqlalchemy_url"])
    ctype = (conn.conn_type or "").lower().replace("-", "_")
    dialect = _DIALECTS.get(ctype)
    if dialect is None:
        raise ValueError(f"connection {DISNAKER_CONN_ID!r}: unsupported conn_type {conn.conn_type!r}; "
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
class SourceConfig:
    exports_dir: Path
    disnaker_db_url: str

    def __repr__(self) -> str:  # never print a DB password
        return f"SourceConfig(exports_dir={str(self.exports_dir)!r}, disnaker_db_url={_redact(self.disnaker_db_url)!r})"

    @classmethod
    def from_env(
        cls,
        lookup: Callable[[str], settings.Connection | str | None] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> SourceConfig:
        env = os.environ if environ is None else environ
        exports = Path(env.get("SINERGI_EXPORTS_DIR") or _default_home(env) / "sources").expanduser().resolve()
        url = env.get("SINERGI_DISNAKER_DB_URL")
        if not url and lookup is not None:
            found = lookup(DISNAKER_CONN_ID)
            url = connection_url(found) if found else None
        if not url:
            raw = env.get(f"AIRFLOW_CONN_{DISNAKER_CONN_ID.upper()}")
            url = connection_url(raw) if raw else None
        return cls(exports_dir=exports, disnaker_db_url=url or f"sqlite:///{exports / 'disnaker.sqlite'}")

    def file_candidates(self, dataset: Dataset, month: str) -> list[Path]:
        """Where the month's file may be, in the registry's format preference order."""
        y, m = check_month(month)
        src = dataset.source
        folder = self.exports_dir / src.system / f"{y:04d}-{m:02d}"
        formats = list(src.formats) + [f for f in ("json",) if f not in src.formats]
        return [folder / f"{src.file_stem}_{y:04d}{m:02d}.{ext}" for ext in formats]

    def locate_file(self, dataset: Dataset, month: str) -> tuple[Path, list[str]]:
        """The month's source file and warnings (several candidate files present)."""
        candidates = self.file_candidates(dataset, month)
        folder = candidates[0].parent
        found = [p for p in candidates if p.is_file()]
        if not found and folder.is_dir():  # tolerate case differences in exported names
            lower = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
            found = [lower[c.name.lower()] for c in candidates if c.name.lower() in lower]
        if not found:
            present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
            raise SourceNotFoundError(
                f"{dataset.name} {month}: no source file; expected one of "
                f"{', '.join(str(c) for c in candidates)}"
                + (f" (folder holds: {', '.join(present[:10])})" if present else f" (folder {folder} does not exist)")
            )
        warnings = []
        if len(found) > 1:
            warnings.append(f"{dataset.name} {month}: several source files ({', '.join(p.name for p in found)}); "
                            f"used {found[0].name} (registry format order)")
        return found[0], warnings


def _default_home(env: Mapping[str, str]) -> Path:
    return Path(env.get("SINERGI_HOME") or settings.project_root() / ".local")


def _redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
