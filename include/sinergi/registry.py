"""The dataset registry (config/datasets.yaml), loaded into typed, immutable objects.

Every other module asks the registry what a dataset looks like: extraction (headers, normalisers),
validation (suite name, required columns, vocabularies), the sharing policy (column roles), the
publisher (Arrow schema, descriptions) and the data dictionary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import yaml

# the C loader parses the registry ~10x faster (DAG files read it at parse time)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ROLES = ("direct_identifier", "quasi_identifier", "sensitive", "attribute")
TYPES = ("string", "date", "int", "bool")
DERIVATIONS = ("bps_code", "province_code", "kecamatan_code", "country_name")
SCHEMA_VERSION = 1


class RegistryError(ValueError):
    """The dataset registry is malformed (raised at load time, naming the dataset and column)."""


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


def _column(dataset: str, raw: dict) -> Column:
    where = f"datasets.yaml: {dataset}.columns[{raw.get('name', '?')}]"
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
        required=bool(raw.get("required", False)),
    )


def _dataset(name: str, raw: dict) -> Dataset:
    columns = tuple(_column(name, c) for c in raw["columns"])
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise RegistryError(f"datasets.yaml: {name}: duplicate column names")
    for c in columns:
        if c.derive_from and c.derive_from not in names:
            raise RegistryError(f"datasets.yaml: {name}.columns[{c.name}].derive.from: no column {c.derive_from!r}")
    if raw["record_id"] not in names:
        raise RegistryError(f"datasets.yaml: {name}.record_id: no column {raw['record_id']!r}")
    references = dict(raw.get("references") or {})
    for column in references:
        if column not in names:
            raise RegistryError(f"datasets.yaml: {name}.references: no column {column!r}")
    src = raw["source"]
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
        columns=columns,
    )


@cache
def datasets() -> dict[str, Dataset]:
    text = resources.files("sinergi.config").joinpath("datasets.yaml").read_text(encoding="utf-8")
    return {name: _dataset(name, raw) for name, raw in yaml.load(text, Loader=_YAML_LOADER).items()}


def get(name: str) -> Dataset:
    try:
        return datasets()[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(datasets())}") from None


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
