"""Header matching: source header spellings -> canonical column names (registry ``headers``),
case-, space- and punctuation-insensitively ("Kab / Kota" == "KAB/KOTA" == "kab_kota")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from sinergi.extract.errors import MissingColumnError
from sinergi.registry import Dataset

# Bookkeeping columns of SQL sources that are expected and not schema drift.
SQL_BOOKKEEPING = frozenset({"CREATEDAT", "UPDATEDAT"})


def header_key(text: object) -> str:
    return re.sub(r"[^A-Z0-9]+", "", str(text or "").upper())


def header_lookup(dataset: Dataset) -> dict[str, str]:
    """Normalised header spelling -> canonical column (the canonical name itself also matches)."""
    return _lookup(dataset.name, dataset.source_columns)


@cache
def _lookup(_name: str, columns: tuple) -> dict[str, str]:
    table: dict[str, str] = {}
    for col in columns:
        for spelling in (*col.headers, col.name):
            table.setdefault(header_key(spelling), col.name)
    return table


def header_score(dataset: Dataset, cells: list[object]) -> int:
    """How many distinct canonical columns a candidate header row names."""
    lookup = header_lookup(dataset)
    return len({lookup[k] for k in (header_key(c) for c in cells) if k in lookup})


@dataclass
class HeaderMap:
    """Position in the source row -> canonical column, plus what drifted."""

    positions: dict[int, str]
    headers: list[str]
    warnings: list[str] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)

    @property
    def by_column(self) -> dict[str, int]:
        return {c: i for i, c in self.positions.items()}


def map_headers(dataset: Dataset, headers: list[object], source: str, *, ignore: frozenset[str] = frozenset()) -> HeaderMap:
    lookup = header_lookup(dataset)
    positions: dict[int, str] = {}
    warnings: list[str] = []
    seen: dict[str, int] = {}
    texts = ["" if h is None else str(h).strip() for h in headers]
    for i, h in enumerate(texts):
        key = header_key(h)
        if not key:
            continue
        col = lookup.get(key)
        if col is None:
            if key not in ignore:
                warnings.append(f"{source}: unknown column {h!r} ignored (schema drift)")
            continue
        if col in seen:
            warnings.append(f"{source}: column {h!r} duplicates {texts[seen[col]]!r} (both map to {col}); "
                            f"the first is used")
            continue
        seen[col] = i
        positions[i] = col
    missing_required = [c for c in dataset.source_columns if c.required and c.name not in seen]
    if missing_required:
        detail = "; ".join(f"{c.name} (expected a header like {' / '.join(repr(h) for h in c.headers)})"
                           for c in missing_required)
        raise MissingColumnError(
            f"{source}: required column(s) missing: {detail}. Headers found: {', '.join(repr(t) for t in texts if t)}",
            source=source, columns=tuple(c.name for c in missing_required),
        )
    missing_optional = [c.name for c in dataset.source_columns if c.name not in seen]
    for name in missing_optional:
        col = dataset.column(name)
        warnings.append(f"{source}: optional column {name} missing (expected a header like "
                        f"{' / '.join(repr(h) for h in col.headers)}); filled with nulls")
    return HeaderMap(positions, texts, warnings, missing_optional)
