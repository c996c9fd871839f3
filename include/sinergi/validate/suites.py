"""Expectation suites: one GX Core 1.x JSON per canonical dataset in ``expectations/<dataset>.json``.

The JSON files are the single source of truth for what is validated and how a failure is handled.
Every expectation carries ``meta``:

- ``rule``     — a short stable name (``required:nik``, ``nik_shape``, ``date_order:a<=b``...); it is the
                 reason written into ``_failed_rules`` of quarantined rows;
- ``severity`` — ``quarantine`` (failing rows go to quarantine), ``warn`` (logged only) or ``stop``
                 (the dataset does not publish this month);
- ``why``      — the reason it exists (MoU article, regulation, DOMAIN.md rule).

Values that come from the shared config (vocabularies, region and country codes, month bounds,
reference ids, volume bounds from history) are GX suite parameters (``{"$PARAMETER": name}``),
resolved at run time by ``sinergi.validate.gates.resolve`` — the suite never copies a vocabulary.

Rules GX lacks as a built-in are expressed on *derived helper columns* declared in the suite's
``meta.sinergi.derived`` (computed by ``sinergi.validate.derive``), e.g. ``_age_at_event`` checked with
``expect_column_values_to_be_between``. Checks that are not GX expectations (Arrow column types) are
declared in ``meta.sinergi.table_checks`` with the same rule/severity/why keys.

References are declared once, in the registry (``datasets.yaml`` ``references``): a suite must have
exactly one ``reference:<column>`` rule per declared reference, checking the column against the
``ref_<dataset>`` parameter, and no other; :func:`parse` refuses a suite that differs.

The committed JSON is what runs (edit it, review it). ``tools/scaffold_suite.py`` drafts a suite
from the registry for a new dataset (a developer tool, not runtime code).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sinergi import registry, settings
from sinergi.errors import ConfigError

SEVERITIES = ("quarantine", "warn", "stop")
BOOKKEEPING = ("_source_file", "_source_row", "_extract_issues")

#: Expectation types whose per-row failures sinergi.validate.masks can reproduce in Arrow
#: (only these may have severity ``quarantine``).
ROW_LEVEL_TYPES = (
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex",
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_unique",
    "expect_column_pair_values_to_be_equal",
    "expect_column_pair_values_a_to_be_greater_than_b",
)

#: What each suite parameter resolves to at run time (sinergi.validate.gates.resolve).
PARAMETER_DOCS = {
    "expected_columns": "registry columns in order + _source_file, _source_row, _extract_issues + meta.sinergi.derived",
    "volume_min": "median of the trailing months' row counts x (1 - tolerance) - slack",
    "volume_max": "median of the trailing months' row counts x (1 + tolerance) + slack",
    "vocab_*": "sinergi.vocab.values(<name>) (config/vocabularies.yaml)",
    "kabkota_codes": "Kemendagri codes of sinergi.regions (config/regions.csv)",
    "country_codes": "every ISO 3166-1 alpha-2 code (pycountry; names and aliases: sinergi.vocab)",
    "month_end": "last day of the month being validated",
    "previous_month_start": "first day of the month before",
    "earliest_date": "1990-01-01",
    "ref_*": "ids of the named dataset recorded up to the month, passed by the caller (references=...)",
}


class SuiteError(ConfigError):
    """A suite file is malformed (names the file and the expectation)."""


@dataclass(frozen=True)
class Rule:
    """One expectation of a suite with its Sinergi meta."""

    rule: str
    severity: str
    why: str
    type: str
    kwargs: dict
    meta: dict

    @property
    def row_level(self) -> bool:
        return self.type in ROW_LEVEL_TYPES and "mostly" not in self.kwargs

    def parameters(self) -> list[str]:
        return sorted({v["$PARAMETER"] for v in self.kwargs.values() if isinstance(v, dict) and "$PARAMETER" in v})


@dataclass(frozen=True)
class SuiteSpec:
    dataset: str
    name: str
    raw: dict
    rules: tuple[Rule, ...]
    derived: tuple[dict, ...]
    table_checks: tuple[dict, ...]

    def rule(self, name: str) -> Rule:
        for r in self.rules:
            if r.rule == name:
                return r
        raise KeyError(f"suite {self.name!r} has no rule {name!r}")

    @property
    def helper_columns(self) -> list[str]:
        return [d["name"] for d in self.derived]


def expectations_dir() -> Path:
    return settings.project_root() / "expectations"


def suite_path(dataset: str) -> Path:
    return expectations_dir() / f"{registry.get(dataset).suite}.json"


def _check_meta(where: str, meta: dict) -> None:
    for key in ("rule", "severity", "why"):
        if not meta.get(key):
            raise SuiteError(f"{where}: meta.{key} is required")
    if meta["severity"] not in SEVERITIES:
        raise SuiteError(f"{where}: meta.severity {meta['severity']!r} is not one of {SEVERITIES}")


def parse(dataset: str, raw: dict, source: str = "<dict>") -> SuiteSpec:
    rules = []
    for i, e in enumerate(raw.get("expectations", [])):
        meta = e.get("meta") or {}
        where = f"{source}: expectations[{i}] ({e.get('type')}, {meta.get('rule', '?')})"
        _check_meta(where, meta)
        r = Rule(meta["rule"], meta["severity"], meta["why"], e["type"], dict(e.get("kwargs", {})), meta)
        if r.severity == "quarantine" and not r.row_level:
            raise SuiteError(f"{where}: severity 'quarantine' needs a row-level expectation without 'mostly'")
        rules.append(r)
    names = [r.rule for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SuiteError(f"{source}: duplicate rule names {dupes}")
    _check_references(dataset, rules, source)
    smeta = (raw.get("meta") or {}).get("sinergi") or {}
    for i, t in enumerate(smeta.get("table_checks", [])):
        _check_meta(f"{source}: meta.sinergi.table_checks[{i}]", t)
    return SuiteSpec(
        dataset=dataset,
        name=raw["name"],
        raw=raw,
        rules=tuple(rules),
        derived=tuple(smeta.get("derived", [])),
        table_checks=tuple(smeta.get("table_checks", [])),
    )


REFERENCE_PREFIX = "reference:"


def reference_rule_name(column: str) -> str:
    return f"{REFERENCE_PREFIX}{column}"


def _check_references(dataset: str, rules: list[Rule], source: str) -> None:
    """The suite checks exactly the registry's references, each against its dataset's ids."""
    declared = registry.get(dataset).references
    by_name = {r.rule: r for r in rules}
    for column, target in declared.items():
        name = reference_rule_name(column)
        rule = by_name.get(name)
        want = {"column": column, "value_set": {"$PARAMETER": f"ref_{target}"}}
        if rule is None:
            raise SuiteError(f"{source}: datasets.yaml declares {dataset}.references.{column} -> {target}, "
                             f"but the suite has no rule {name!r}")
        if rule.type != "expect_column_values_to_be_in_set" or {k: rule.kwargs.get(k) for k in want} != want:
            raise SuiteError(f"{source}: rule {name!r} must be expect_column_values_to_be_in_set with kwargs "
                             f"{want} (datasets.yaml {dataset}.references.{column} -> {target})")
    for r in rules:
        refs = [p for p in r.parameters() if p.startswith("ref_")]
        is_reference = r.rule.startswith(REFERENCE_PREFIX) or refs
        if is_reference and r.rule.removeprefix(REFERENCE_PREFIX) not in declared:
            raise SuiteError(f"{source}: rule {r.rule!r} checks a reference that datasets.yaml does not "
                             f"declare for {dataset} (declared: {declared or 'none'}); declare it there")


@cache
def load(dataset: str) -> SuiteSpec:
    """Load and check ``expectations/<suite>.json`` for a dataset."""
    path = suite_path(dataset)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteError(f"no expectation suite for {dataset!r} at {path}") from None
    return parse(dataset, raw, str(path))


def resolve_kwargs(kwargs: dict, params: dict) -> dict:
    """kwargs with every ``{"$PARAMETER": name}`` replaced by its value."""
    return {k: (params[v["$PARAMETER"]] if isinstance(v, dict) and "$PARAMETER" in v else v) for k, v in kwargs.items()}


def gx_suite(spec: SuiteSpec, skip: set[str] = frozenset(), params: dict | None = None):
    """A GX ``ExpectationSuite`` of the spec's expectations, minus the rules in ``skip``.

    With ``params`` the suite parameters are substituted into the expectations, so the Data Docs show
    the actual value sets and column lists of the run (GX's renderer of
    expect_table_columns_to_match_ordered_list cannot render a parameterised column list).
    """
    from great_expectations.core import ExpectationSuite

    exps = []
    for e in spec.raw["expectations"]:
        if e["meta"]["rule"] in skip:
            continue
        if params is not None:
            e = {**e, "kwargs": resolve_kwargs(e["kwargs"], params)}
        exps.append(e)
    return ExpectationSuite(name=spec.name, expectations=exps, meta=spec.raw.get("meta") or {})
