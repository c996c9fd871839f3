"""Where sources are: the national/dinas export folder and the Disnaker database.

Both are resolved by :class:`sinergi.settings.Settings` with the project's one precedence
(Connection through the DAG layer's lookup → ``AIRFLOW_CONN_<ID>`` → ``SINERGI_*`` variable →
embedded default): exports from ``sinergi_exports`` / ``SINERGI_EXPORTS_DIR`` / ``<home>/sources``;
the Disnaker database from ``sinergi_disnaker_db`` / ``SINERGI_DISNAKER_DB_URL`` /
``sqlite:///<exports>/disnaker.sqlite`` (what the simulator writes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sinergi.extract.errors import SourceNotFoundError
from sinergi.months import Month
from sinergi.registry import Dataset
from sinergi.settings import DISNAKER_CONN_ID, ConnectionLookup, Settings

__all__ = ["DISNAKER_CONN_ID", "SourceConfig"]


@dataclass(frozen=True)
class SourceConfig:
    exports_dir: Path
    disnaker_db_url: str

    def __repr__(self) -> str:  # never print a DB password
        return f"SourceConfig(exports_dir={str(self.exports_dir)!r}, disnaker_db_url={_redact(self.disnaker_db_url)!r})"

    @classmethod
    def from_env(cls, lookup: ConnectionLookup | None = None, environ: Mapping[str, str] | None = None) -> SourceConfig:
        return cls.from_settings(Settings(lookup=lookup, environ=environ))

    @classmethod
    def from_settings(cls, settings: Settings) -> SourceConfig:
        exports = settings.exports_dir()
        return cls(exports_dir=exports, disnaker_db_url=settings.disnaker_db_url(exports))

    def file_candidates(self, dataset: Dataset, month: Month | str) -> list[Path]:
        """Where the month's file may be, in the registry's format preference order."""
        month = Month.of(month)
        src = dataset.source
        folder = self.exports_dir / src.system / str(month)
        formats = list(src.formats) + [f for f in ("json",) if f not in src.formats]
        return [folder / f"{src.file_stem}_{month.compact}.{ext}" for ext in formats]

    def locate_file(self, dataset: Dataset, month: Month | str) -> tuple[Path, list[str]]:
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


def _redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
