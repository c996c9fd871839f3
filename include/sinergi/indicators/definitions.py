"""The MoU indicator definitions, loaded from ``config/indicators.yaml`` into plain dataclasses.

The YAML is the single place that says what each indicator counts: the annex work-plan row
(Lampiran Rencana Kerja) it serves, the dataset whose validated months (trusted zone) it is computed
from, its kind, filters and breakdowns, its formula in words (English and Bahasa Indonesia), and the
yearly targets of the monitoring and evaluation (MoU Art. 7; the file's header documents every key).
This module checks it when it is first imported — every problem names the key path
(``indicators.yaml: indicators.placements.kind: ...``) — and stays light (PyYAML with the C loader
and the registry; no Arrow): the indicators DAG imports ``SOURCE_DATASETS`` at parse time.
Computation is in ``sinergi.indicators.compute``; disclosure control in ``sinergi.indicators.suppress``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from sinergi import registry
from sinergi.errors import ConfigError

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FILE = "indicators.yaml"
_NAME = re.compile(r"[a-z][a-z0-9_]*")

KINDS = ("count", "sum", "alias", "rate", "median", "cohort")
UNITS = ("persons", "records", "ratio", "days", "facilities")
#: Register snapshots: the period value is the latest month's snapshot, not a sum of months.
SNAPSHOT_DATASETS = frozenset({"health_facilities"})

PERIODS = ("month", "ytd", "year")
PERIOD_LABEL = {"month": "Bulan ini / month", "ytd": "Januari s.d. bulan ini / year to date",
                "year": "12 bulan terakhir / last 12 months"}
DIRECTIONS = ("at_least", "at_most")
#: The trusted zone's person column (sinergi.pipeline.trusted.PERSON_KEY; spelled here to keep this
#: module free of Arrow: the indicators DAG imports it at parse time).
PERSON_KEY = "person_key"


class IndicatorConfigError(ConfigError):
    """``config/indicators.yaml`` is invalid (the message names the key path)."""


@dataclass(frozen=True)
class Indicator:
    id: str
    name_en: str
    name_id: str
    workplan_row: str
    dataset: str
    kind: str  # count | sum | alias | rate | median | cohort
    unit: str  # persons | records | ratio | days | facilities
    formula: str
    dimensions: tuple[str, ...] = ()
    where: dict[str, tuple] = field(default_factory=dict)  # column -> allowed values (count kind)
    distinct: str | None = None  # count distinct this column (persons) instead of rows
    parts: tuple[str, ...] = ()  # sum: (indicator, dimension, value) flattened as "ind|dim|value"
    numerator: str | None = None
    denominator: str | None = None
    small_cell: bool = True  # False only for counts of organisations (not persons)
    headline: bool = True
    also_needs: tuple[str, ...] = ()  # datasets read besides ``dataset`` (cohort linkage)
    date_in_period: str | None = None  # count filter: this date column lies in the period
    valid_at_period_end: str | None = None  # count filter: this date column is empty or >= the period's end
    formula_id: str = ""  # the formula in Bahasa Indonesia
    also_serves: tuple[str, ...] = ()  # further annex rows the indicator informs
    targets: dict[int, Target] = field(default_factory=dict)  # year -> target (MoU Art. 7)

    @property
    def workplan_rows(self) -> tuple[str, ...]:
        return (self.workplan_row, *self.also_serves)


@dataclass(frozen=True)
class Target:
    """A yearly target: for Provinsi Lampung (``province``) and optionally per Lampung kab/kota,
    in the indicator's unit over the calendar year; ``direction`` says whether reaching it means
    at least (counts, shares) or at most (days to resolve a complaint) the target."""

    year: int
    direction: str
    province: float | None = None
    kabkota: dict[str, float] = field(default_factory=dict)


# -- loading and checking -------------------------------------------------------------------------
_TOP = {"settings", "indicators"}
_SETTINGS = {"small_cell_threshold": 2, "placed_within_days": 1}  # key -> minimum
_REQUIRED = ("title", "workplan_row", "dataset", "kind", "unit", "formula")
_OPTIONAL = ("also_needs", "dimensions", "where", "distinct", "parts", "numerator", "denominator", "small_cell",
             "headline", "date_in_period", "valid_at_period_end", "also_serves", "targets", "target_direction")
_PART_KEYS = ("indicator", "dimension", "value")
#: Per kind: keys it needs, keys it may not have.
_KIND_NEEDS = {"alias": ("parts",), "sum": ("parts",), "rate": ("numerator", "denominator"), "median": ("denominator",)}
_COUNT_ONLY = ("dimensions", "where", "distinct", "date_in_period", "valid_at_period_end")
_KIND_FORBIDS = {
    "count": ("parts", "numerator", "denominator"),
    "alias": ("numerator", "denominator", *_COUNT_ONLY),
    "sum": ("numerator", "denominator", *_COUNT_ONLY),
    "rate": ("parts", *_COUNT_ONLY),
    "median": ("parts", "numerator", *_COUNT_ONLY),
    "cohort": ("parts", "numerator", "denominator", *_COUNT_ONLY),
}


def _fail(path: str, message: str) -> IndicatorConfigError:
    return IndicatorConfigError(f"{_FILE}: {path}: {message}")


def _text(raw: Any, path: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        hint = " (quote it: YAML reads 2.1 as a number)" if isinstance(raw, (int, float)) else ""
        raise _fail(path, f"expected non-empty text, got {raw!r}{hint}")
    return " ".join(raw.split())


def _texts(raw: Any, path: str) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise _fail(path, f"expected a list, got {type(raw).__name__}")
    return tuple(_text(v, f"{path}[{i}]") for i, v in enumerate(raw))


def _dataset(raw: Any, path: str) -> str:
    name = _text(raw, path)
    try:
        registry.get(name)
    except KeyError:
        raise _fail(path, f"unknown dataset {name!r} (not in the registry)") from None
    return name


def _column(raw: Any, dataset: str, path: str) -> str:
    name = _text(raw, path)
    if name not in registry.get(dataset).column_names:
        raise _fail(path, f"dataset {dataset!r} has no column {name!r}")
    return name


def _flag(raw: Any, path: str) -> bool:
    if not isinstance(raw, bool):
        raise _fail(path, f"expected true or false, got {raw!r}")
    return raw


def _indicator(ident: str, raw: Any, earlier: dict[str, Indicator], settings: dict[str, int]) -> Indicator:
    where = f"indicators.{ident}"
    if not _NAME.fullmatch(str(ident)):
        raise _fail(where, "an indicator id is snake_case")
    if not isinstance(raw, dict):
        raise _fail(where, f"expected a mapping, got {type(raw).__name__}")
    for key in raw:
        if key not in _REQUIRED and key not in _OPTIONAL:
            raise _fail(f"{where}.{key}", "unknown key")
    for key in _REQUIRED:
        if key not in raw:
            raise _fail(f"{where}.{key}", "missing required key")
    title = raw["title"]
    if not isinstance(title, dict) or set(title) != {"en", "id"}:
        raise _fail(f"{where}.title", "expected {en: <English title>, id: <judul Bahasa Indonesia>}")
    if not isinstance(raw["formula"], dict) or set(raw["formula"]) != {"en", "id"}:
        raise _fail(f"{where}.formula", "expected {en: <formula in English>, id: <rumus dalam Bahasa Indonesia>}")
    kind = raw["kind"]
    if kind not in KINDS:
        raise _fail(f"{where}.kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    if raw["unit"] not in UNITS:
        raise _fail(f"{where}.unit", f"{raw['unit']!r} is not one of {', '.join(UNITS)}")
    for key in _KIND_NEEDS.get(kind, ()):
        if key not in raw:
            raise _fail(f"{where}.{key}", f"an indicator of kind {kind} needs {key!r}")
    for key in _KIND_FORBIDS[kind]:
        if key in raw:
            raise _fail(f"{where}.{key}", f"does not apply to an indicator of kind {kind}")
    dataset = _dataset(raw["dataset"], f"{where}.dataset")

    parts: list[str] = []
    if "parts" in raw:
        if not isinstance(raw["parts"], list) or not raw["parts"]:
            raise _fail(f"{where}.parts", "expected a non-empty list of {indicator, dimension, value}")
        if kind == "alias" and len(raw["parts"]) != 1:
            raise _fail(f"{where}.parts", "an alias is exactly one cell of another indicator")
        for i, part in enumerate(raw["parts"]):
            pw = f"{where}.parts[{i}]"
            if not isinstance(part, dict) or set(part) != set(_PART_KEYS):
                raise _fail(pw, "expected {indicator: <id>, dimension: <column>, value: <value>}")
            ref, dim, value = (_text(part[k], f"{pw}.{k}") for k in _PART_KEYS)
            if ref not in earlier or earlier[ref].kind != "count":
                raise _fail(f"{pw}.indicator", f"{ref!r} is not a count indicator defined above")
            if dim not in earlier[ref].dimensions:
                raise _fail(f"{pw}.dimension", f"{ref!r} is not broken down by {dim!r}")
            if parts and ref != parts[0].split("|")[0]:
                raise _fail(f"{pw}.indicator", "all parts are cells of the same indicator")
            parts.append(f"{ref}|{dim}|{value}")
    refs = {}
    for key in ("numerator", "denominator"):
        if key in raw:
            refs[key] = _text(raw[key], f"{where}.{key}")
            if refs[key] not in earlier:
                raise _fail(f"{where}.{key}", f"{refs[key]!r} is not an indicator defined above")
    where_filter = {}
    if "where" in raw:
        if not isinstance(raw["where"], dict) or not raw["where"]:
            raise _fail(f"{where}.where", "expected a mapping {column: [allowed values]}")
        for col, values in raw["where"].items():
            _column(col, dataset, f"{where}.where.{col}")
            if not values:
                raise _fail(f"{where}.where.{col}", "expected a list of at least one allowed value")
            where_filter[col] = _texts(values, f"{where}.where.{col}")
    formula, formula_id = (_text(raw["formula"][lang], f"{where}.formula.{lang}").replace(
        "{placed_within_days}", str(settings["placed_within_days"])) for lang in ("en", "id"))
    distinct = None
    if "distinct" in raw:
        distinct = _text(raw["distinct"], f"{where}.distinct")
        if distinct == PERSON_KEY:
            if not registry.get(dataset).person_key:
                raise _fail(f"{where}.distinct", f"dataset {dataset!r} has no person_key: persons cannot be counted")
        else:
            _column(distinct, dataset, f"{where}.distinct")
    unit = raw["unit"]
    direction = raw.get("target_direction", "at_least")
    if direction not in DIRECTIONS:
        raise _fail(f"{where}.target_direction", f"{direction!r} is not one of {', '.join(DIRECTIONS)}")
    if "target_direction" in raw and "targets" not in raw:
        raise _fail(f"{where}.target_direction", "only applies together with targets")
    targets = _targets(raw.get("targets"), f"{where}.targets", unit, direction) if "targets" in raw else {}
    return Indicator(
        id=ident,
        name_en=_text(title["en"], f"{where}.title.en"),
        name_id=_text(title["id"], f"{where}.title.id"),
        workplan_row=_text(raw["workplan_row"], f"{where}.workplan_row"),
        dataset=dataset,
        kind=kind,
        unit=raw["unit"],
        formula=formula,
        formula_id=formula_id,
        also_serves=tuple(_texts(raw.get("also_serves", []), f"{where}.also_serves")),
        targets=targets,
        dimensions=tuple(_column(d, dataset, f"{where}.dimensions[{i}]")
                         for i, d in enumerate(_texts(raw.get("dimensions", []), f"{where}.dimensions"))),
        where=where_filter,
        distinct=distinct,
        parts=tuple(parts),
        numerator=refs.get("numerator"),
        denominator=refs.get("denominator"),
        small_cell=_flag(raw.get("small_cell", True), f"{where}.small_cell"),
        headline=_flag(raw.get("headline", True), f"{where}.headline"),
        also_needs=tuple(_dataset(d, f"{where}.also_needs[{i}]")
                         for i, d in enumerate(_texts(raw.get("also_needs", []), f"{where}.also_needs"))),
        date_in_period=(_column(raw["date_in_period"], dataset, f"{where}.date_in_period")
                        if "date_in_period" in raw else None),
        valid_at_period_end=(_column(raw["valid_at_period_end"], dataset, f"{where}.valid_at_period_end")
                             if "valid_at_period_end" in raw else None),
    )


def _targets(raw: Any, path: str, unit: str, direction: str) -> dict[int, Target]:
    from sinergi import regions

    if not isinstance(raw, dict) or not raw:
        raise _fail(path, "expected a mapping {<year>: {province: <value>, kabkota: {<code>: <value>}}}")
    lampung = {r.kemendagri_code for r in regions.lampung()}
    out: dict[int, Target] = {}
    for year, entry in raw.items():
        yp = f"{path}.{year}"
        if not isinstance(year, int) or isinstance(year, bool) or not 2024 <= year <= 2100:
            raise _fail(yp, "a target year is a number such as 2025")
        if not isinstance(entry, dict) or not entry or set(entry) - {"province", "kabkota"}:
            raise _fail(yp, "expected {province: <value>} and/or {kabkota: {<Kemendagri code>: <value>}}")
        province = _target_value(entry["province"], f"{yp}.province", unit) if "province" in entry else None
        kab = entry.get("kabkota", {})
        if not isinstance(kab, dict):
            raise _fail(f"{yp}.kabkota", "expected a mapping {<Kemendagri code>: <value>} (quote the codes)")
        kabkota = {}
        for code, value in kab.items():
            if not isinstance(code, str) or code not in lampung:
                raise _fail(f"{yp}.kabkota.{code}", "not a Lampung kab/kota Kemendagri code (quote it: \"1807\")")
            kabkota[code] = _target_value(value, f"{yp}.kabkota.{code}", unit)
        out[year] = Target(year=year, direction=direction, province=province, kabkota=kabkota)
    return out


def _target_value(raw: Any, path: str, unit: str) -> float:
    if not isinstance(raw, int | float) or isinstance(raw, bool) or raw < 0:
        raise _fail(path, f"expected a number >= 0, got {raw!r}")
    if unit == "ratio" and raw > 1:
        raise _fail(path, f"a ratio target lies between 0 and 1 (0.9 = 90 %), got {raw!r}")
    return float(raw)


def parse_indicators(data: Any) -> tuple[dict[str, int], tuple[Indicator, ...]]:
    """(settings, indicators) from the parsed YAML; IndicatorConfigError names the first bad key."""
    if not isinstance(data, dict):
        raise _fail("(top level)", "expected a mapping with 'settings' and 'indicators'")
    for key in data:
        if key not in _TOP:
            raise _fail(str(key), "unknown key")
    for key in sorted(_TOP):
        if key not in data:
            raise _fail(key, "missing required key")
    raw_settings = data["settings"]
    if not isinstance(raw_settings, dict):
        raise _fail("settings", f"expected a mapping, got {type(raw_settings).__name__}")
    settings = {}
    for key, value in raw_settings.items():
        if key not in _SETTINGS:
            raise _fail(f"settings.{key}", "unknown key")
        if not isinstance(value, int) or isinstance(value, bool) or value < _SETTINGS[key]:
            raise _fail(f"settings.{key}", f"expected a whole number >= {_SETTINGS[key]}, got {value!r}")
        settings[key] = value
    for key in _SETTINGS:
        if key not in settings:
            raise _fail(f"settings.{key}", "missing required key")
    raw = data["indicators"]
    if not isinstance(raw, dict) or not raw:
        raise _fail("indicators", "expected a mapping of indicator id -> definition")
    out: dict[str, Indicator] = {}
    for ident, entry in raw.items():
        out[str(ident)] = _indicator(str(ident), entry, out, settings)
    return settings, tuple(out.values())


def load_indicators(text: str | None = None) -> tuple[dict[str, int], tuple[Indicator, ...]]:
    """Parse and check ``config/indicators.yaml`` (or the given YAML text)."""
    if text is None:
        text = resources.files("sinergi.config").joinpath(_FILE).read_text(encoding="utf-8")
    try:
        data = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise IndicatorConfigError(f"{_FILE}: not valid YAML: {exc}") from None
    return parse_indicators(data)


SETTINGS, INDICATORS = load_indicators()
BY_ID: dict[str, Indicator] = {i.id: i for i in INDICATORS}

#: Cells with a count from 1 to THRESHOLD-1 are suppressed (configurable per call).
DEFAULT_THRESHOLD: int = SETTINGS["small_cell_threshold"]
#: Window for "placed within 6 months of training".
PLACED_WITHIN_DAYS: int = SETTINGS["placed_within_days"]
#: Source datasets used, in first-use order.
SOURCE_DATASETS: tuple[str, ...] = tuple(dict.fromkeys(i.dataset for i in INDICATORS))


def needed_datasets(ind: Indicator) -> tuple[str, ...]:
    return (ind.dataset, *ind.also_needs)
