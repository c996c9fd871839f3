"""The dataset registry (config/datasets.yaml), loaded into typed, immutable objects.

Every other module asks the registry what a dataset looks like: extraction (headers, normalisers),
validation (suite name, required columns, vocabularies, date semantics, references), the sharing
policy (column roles), the publisher (Arrow schema, descriptions), the data dictionary and the
simulator. The file is checked when it is loaded; every error names the key path
(``datasets.yaml: placements.date_order[1]: no column 'x'``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import yaml

from sinergi.errors import ConfigError

# the C loader parses the registry ~10x faster (DAG files read it at parse time)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ROLES = ("direct_identifier", "quasi_identifier", "sensitive", "attribute")
TYPES = ("string", "date", "int", "bool")
DERIVATIONS = ("bps_code", "province_code", "kecamatan_code", "country_name")
SCHEMA_VERSION = 1


#: Keys a dataset / a column may have (a misspelt key would otherwise be silently ignored).
DATASET_KEYS = frozenset({"scope", "source", "record_id", "person_key", "suite", "references", "workplan",
                          "en", "id", "counting_basis", "columns", "date_order", "event_date", "snapshot",
                          "month_by"})
COLUMN_KEYS = frozenset({"name", "type", "role", "en", "id", "headers", "normalise", "derive", "required",
                         "future_allowed", "precision_sensitive", "closed",
                         "issued_by"})

#: The per-row data-quality column validation adds to the valid rows (``;``-joined names of the
#: warning rules a row breaks, in suite order; null when none). Not a registry column of any dataset:
#: every party receives it with every dataset (sinergi.policy.plan.SYSTEM_COLUMNS).
DATA_QUALITY_FLAGS = "data_quality_flags"


class RegistryError(ConfigError):
    """The dataset registry is malformed (raised at load time, naming the key path)."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    role: str
    en: str
    id: str
    headers: tuple[str, ...] = ()
    normalise: str | None = None
    derive_from: str | None = None
    derive_via: str | None = None
    required: bool = False
    #: a date that may lie after the month being processed (a validity horizon, a planned end)
    future_allowed: bool = False
    #: a long numeric identifier: a value that came through a number cell and may have lost digits
    #: is quarantined (``nik`` columns always are; sinergi.normalise)
    precision_sensitive: bool = False
    #: (vocabulary columns) an unknown value breaks identity, linkage or a reported count, so the row
    #: is quarantined; an open vocabulary keeps the observed value with a warning
    closed: bool = False
    #: the source system that issued this record id (a person's record there): whoever runs that
    #: system maps it straight back to the person, so the policy publishes it as is only to a party
    #: that owns the system and as a keyed token to any other (transform ``record``)
    issued_by: str | None = None

    @property
    def arrow_type(self):
        import pyarrow as pa  # lazily: DAG files read the registry and must parse fast

        return {"string": pa.string(), "date": pa.date32(), "int": pa.int64(), "bool": pa.bool_()}[self.type]

    @property
    def vocabulary(self) -> str | None:
        if self.normalise and self.normalise.startswith("vocab:"):
            return self.normalise.split(":", 1)[1]
        return None

    @property
    def is_derived(self) -> bool:
        return self.derive_from is not None


@dataclass(frozen=True)
class Source:
    system: str  # siskop2mi | disnaker | dinkes | dinsos
    kind: str  # file | sql
    file_stem: str | None = None
    formats: tuple[str, ...] = ()
    table: str | None = None


@dataclass(frozen=True)
class Dataset:
    name: str
    scope: str  # national | provincial
    source: Source
    record_id: str
    suite: str
    en: str
    id: str
    counting_basis: str
    columns: tuple[Column, ...]
    person_key: str | None = None
    workplan: tuple[str, ...] = ()
    references: dict[str, str] = field(default_factory=dict)  # column -> referenced dataset
    #: date columns in process order (each must not be after the next)
    date_order: tuple[str, ...] = ()
    #: the date of the event a row records (age is computed at it; the freshness gate watches it)
    event_date: str | None = None
    #: a register (standing entities, not events of the month): no freshness gate
    snapshot: bool = False
    #: (SQL sources) the date column that places a row in a month (sinergi.extract.sql)
    month_by: str | None = None
    partition: tuple[str, ...] = field(default=("year", "month"))

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"dataset {self.name!r} has no column {name!r}")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def source_columns(self) -> tuple[Column, ...]:
        """Columns read from the source (not derived)."""
        return tuple(c for c in self.columns if not c.is_derived)

    def columns_with_role(self, role: str) -> list[str]:
        return [c.name for c in self.columns if c.role == role]

    @property
    def arrow_schema(self):
        """Canonical schema (pa.Schema), with EN/ID descriptions and role embedded as field metadata."""
        import pyarrow as pa

        return pa.schema(
            [
                pa.field(
                    c.name,
                    c.arrow_type,
                    nullable=True,
                    metadata={"description": c.en, "description_id": c.id, "role": c.role},
                )
                for c in self.columns
            ],
            metadata={"dataset": self.name, "schema_version": str(SCHEMA_VERSION)},
        )


def _column(dataset: str, i: int, raw: dict) -> Column:
    where = f"datasets.yaml: {dataset}.columns[{raw.get('name', i)}]"
    unknown = sorted(set(raw) - COLUMN_KEYS, key=str)
    if unknown:
        raise RegistryError(f"{where}: unknown key(s) {unknown} (a value with ', ' needs quotes)")
    for key in ("name", "type", "role", "en", "id"):
        if key not in raw:
            raise RegistryError(f"{where}: missing key {key!r}")
    if raw["type"] not in TYPES:
        raise RegistryError(f"{where}.type: {raw['type']!r} is not one of {TYPES}")
    if raw["role"] not in ROLES:
        raise RegistryError(f"{where}.role: {raw['role']!r} is not one of {ROLES}")
    derive = raw.get("derive") or {}
    if derive and derive.get("via") not in DERIVATIONS:
        raise RegistryError(f"{where}.derive.via: {derive.get('via')!r} is not one of {DERIVATIONS}")
    if not derive and not raw.get("headers"):
        raise RegistryError(f"{where}: a source column needs 'headers'")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", raw["name"]):
        raise RegistryError(f"{where}.name: canonical names are snake_case")
    for flag in ("required", "future_allowed", "precision_sensitive", "closed"):
        if not isinstance(raw.get(flag, False), bool):
            raise RegistryError(f"{where}.{flag}: must be true or false, got {raw[flag]!r}")
    if raw.get("future_allowed") and raw["type"] != "date":
        raise RegistryError(f"{where}.future_allowed: only a date column can be allowed in the future")
    if "precision_sensitive" in raw and raw.get("normalise") not in ("id", "nik"):
        raise RegistryError(f"{where}.precision_sensitive: only an identifier (normalise id or nik) can be")
    if raw.get("normalise") == "nik" and raw.get("precision_sensitive") is False:
        raise RegistryError(f"{where}.precision_sensitive: a NIK column always is (16 digits)")
    if "closed" in raw and not str(raw.get("normalise") or "").startswith("vocab:"):
        raise RegistryError(f"{where}.closed: only a vocabulary column (normalise vocab:<name>) is open or closed")
    issued_by = raw.get("issued_by")
    if issued_by is not None and (not isinstance(issued_by, str) or raw["type"] != "string"
                                  or raw["role"] != "direct_identifier"):
        raise RegistryError(f"{where}.issued_by: only a string direct_identifier column (a person's record id) "
                            "names the system that issued it")
    return Column(
        name=raw["name"],
        type=raw["type"],
        role=raw["role"],
        en=raw["en"],
        id=raw["id"],
        headers=tuple(raw.get("headers", ())),
        normalise=raw.get("normalise"),
        derive_from=derive.get("from"),
        derive_via=derive.get("via"),
        required=raw.get("required", False),
        future_allowed=raw.get("future_allowed", False),
        precision_sensitive=raw.get("precision_sensitive", raw.get("normalise") == "nik"),
        closed=raw.get("closed", False),
        issued_by=issued_by,
    )


def _date_column(where: str, value, types: dict[str, str]) -> str:
    if value not in types:
        raise RegistryError(f"{where}: no column {value!r}")
    if types[value] != "date":
        raise RegistryError(f"{where}: column {value!r} is a {types[value]}, not a date")
    return value


def _dataset(name: str, raw: dict) -> Dataset:
    where = f"datasets.yaml: {name}"
    if not isinstance(raw, dict):
        raise RegistryError(f"{where}: expected a mapping of dataset keys")
    unknown = sorted(set(raw) - DATASET_KEYS, key=str)
    if unknown:
        raise RegistryError(f"{where}: unknown key(s) {unknown}; known: {sorted(DATASET_KEYS)}")
    for key in ("scope", "source", "record_id", "suite", "en", "id", "counting_basis", "columns"):
        if key not in raw:
            raise RegistryError(f"{where}: missing key {key!r}")
    columns = tuple(_column(name, i, c) for i, c in enumerate(raw["columns"]))
    names = [c.name for c in columns]
    types = {c.name: c.type for c in columns}
    if len(set(names)) != len(names):
        raise RegistryError(f"{where}: duplicate column names")
    for c in columns:
        if c.derive_from and c.derive_from not in names:
            raise RegistryError(f"{where}.columns[{c.name}].derive.from: no column {c.derive_from!r}")
    if raw["record_id"] not in names:
        raise RegistryError(f"{where}.record_id: no column {raw['record_id']!r}")
    references = dict(raw.get("references") or {})
    for column, target in references.items():
        if column not in names:
            raise RegistryError(f"{where}.references.{column}: no column {column!r}")
        if column == raw["record_id"]:
            raise RegistryError(f"{where}.references.{column}: the record id cannot reference another "
                                "dataset")
        if not isinstance(target, str):
            raise RegistryError(f"{where}.references.{column}: expected a dataset name, got {target!r}")
    order = raw.get("date_order") or []
    if not isinstance(order, list):
        raise RegistryError(f"{where}.date_order: expected a list of date columns")
    date_order = tuple(_date_column(f"{where}.date_order[{i}]", c, types) for i, c in enumerate(order))
    if len(set(date_order)) != len(date_order):
        raise RegistryError(f"{where}.date_order: a column is listed twice")
    event_date = raw.get("event_date")
    if event_date is not None:
        _date_column(f"{where}.event_date", event_date, types)
    if not isinstance(raw.get("snapshot", False), bool):
        raise RegistryError(f"{where}.snapshot: must be true or false, got {raw['snapshot']!r}")
    src = raw["source"]
    month_by = raw.get("month_by")
    if month_by is not None:
        _date_column(f"{where}.month_by", month_by, types)
        if src.get("kind") != "sql":
            raise RegistryError(f"{where}.month_by: only a SQL source picks its month's rows by a date column "
                                "(a file source is the month's export)")
    elif src.get("kind") == "sql" and not raw.get("snapshot", False):
        raise RegistryError(f"{where}.month_by: a SQL source of events needs the date column that places a row "
                            "in a month (a snapshot register takes every row created by the month end)")
    return Dataset(
        name=name,
        scope=raw["scope"],
        source=Source(
            system=src["system"],
            kind=src["kind"],
            file_stem=src.get("file_stem"),
            formats=tuple(src.get("formats", ())),
            table=src.get("table"),
        ),
        record_id=raw["record_id"],
        person_key=raw.get("person_key"),
        suite=raw["suite"],
        en=raw["en"],
        id=raw["id"],
        counting_basis=raw["counting_basis"],
        workplan=tuple(raw.get("workplan", ())),
        references=references,
        date_order=date_order,
        event_date=event_date,
        snapshot=raw.get("snapshot", False),
        month_by=month_by,
        columns=columns,
    )


def _check_references(found: dict[str, Dataset]) -> None:
    """Every referenced dataset exists, no dataset depends on itself (directly or not), and every
    ``issued_by`` names a source system of the registry."""
    systems = {ds.source.system for ds in found.values()}
    for ds in found.values():
        for c in ds.columns:
            if c.issued_by is not None and c.issued_by not in systems:
                raise RegistryError(f"datasets.yaml: {ds.name}.columns[{c.name}].issued_by: {c.issued_by!r} is not "
                                    f"a source system ({', '.join(sorted(systems))})")
        for column, target in ds.references.items():
            if target not in found:
                raise RegistryError(f"datasets.yaml: {ds.name}.references.{column}: no dataset {target!r}")
    state: dict[str, str] = {}

    def visit(n: str, path: tuple[str, ...]) -> None:
        if state.get(n) == "done":
            return
        if state.get(n) == "open":
            raise RegistryError(f"datasets.yaml: references form a cycle: {' -> '.join((*path, n))}")
        state[n] = "open"
        for target in found[n].references.values():
            visit(target, (*path, n))
        state[n] = "done"

    for n in found:
        visit(n, ())


def load(text: str) -> dict[str, Dataset]:
    """Parse and check a registry document (the text of datasets.yaml)."""
    raw = yaml.load(text, Loader=_YAML_LOADER)
    if not isinstance(raw, dict):
        raise RegistryError("datasets.yaml: expected a mapping of dataset names")
    found = {name: _dataset(name, value) for name, value in raw.items()}
    _check_references(found)
    return found


@cache
def datasets() -> dict[str, Dataset]:
    return load(resources.files("sinergi.config").joinpath("datasets.yaml").read_text(encoding="utf-8"))


def get(name: str) -> Dataset:
    try:
        return datasets()[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(datasets())}") from None


def systems() -> list[str]:
    """The source systems the datasets come from (siskop2mi, disnaker, dinkes, dinsos), sorted."""
    return sorted({ds.source.system for ds in datasets().values()})


def names(scope: str | None = None) -> list[str]:
    """Dataset names (of one scope), referenced datasets before the datasets that reference them."""
    ordered: list[str] = []

    def visit(n: str) -> None:
        if n not in ordered:
            for ref in datasets()[n].references.values():
                visit(ref)
            ordered.append(n)

    for n in datasets():
        visit(n)
    return [n for n in ordered if scope is None or datasets()[n].scope == scope]
