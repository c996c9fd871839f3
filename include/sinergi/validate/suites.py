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
resolved at run time by ``sinergi.validate.params`` — the suite never copies a vocabulary.

Rules GX lacks as a built-in are expressed on *derived helper columns* declared in the suite's
``meta.sinergi.derived`` (computed by ``sinergi.validate.derive``), e.g. ``_age_at_event`` checked with
``expect_column_values_to_be_between``. Checks that are not GX expectations (Arrow column types) are
declared in ``meta.sinergi.table_checks`` with the same rule/severity/why keys.

``scaffold(dataset)`` drafts a suite from the registry; the committed JSON is what runs (edit it,
review it; ``python -m sinergi.validate.suites --write`` only creates missing files).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sinergi import registry, settings

SEVERITIES = ("quarantine", "warn", "stop")
BOOKKEEPING = ("_source_file", "_source_row", "_extract_issues")

#: Expectation types whose per-row failures sinergi.validate.masks can reproduce in Arrow
#: (only these may have severity ``quarantine``).
ROW_LEVEL_TYPES = (
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_unique",
    "expect_column_pair_values_to_be_equal",
    "expect_column_pair_values_a_to_be_greater_than_b",
)

# --- dataset-specific date semantics used by the scaffold (the committed JSON is authoritative) ----
#: Date columns in process order (registration <= health check <= departure <= return).
DATE_ORDER = {
    "placements": ["registration_date", "opp_date", "departure_date"],
    "cpmi_registrations": ["registration_date", "verification_date"],
    "returns": ["departure_date", "return_date"],
    "complaints": ["complaint_date", "resolved_date"],
    "job_orders": ["issued_date", "valid_until"],
    "trainings": ["start_date", "end_date"],
}
#: Columns that legitimately lie after the month end: licence/validity horizons, a planned course end,
#: and the verification date (SISKOP2MI exports carry the record's latest status, which can be
#: verified after the registration month).
FUTURE_ALLOWED = {"valid_until", "license_valid_until", "end_date", "verification_date"}
#: The event a row records (age at the event; freshness of the month).
EVENT_DATE = {
    "placements": "departure_date",
    "cpmi_registrations": "registration_date",
    "returns": "return_date",
    "complaints": "complaint_date",
    "initial_registrations": "registration_date",
    "trainings": "start_date",
    "empowerment": "program_date",
    "health_checks": "check_date",
    "stranded_returnees": "received_date",
}
#: Register snapshots (no freshness gate: the rows are not events of the month).
SNAPSHOTS = {"p3mi", "health_facilities", "training_institutions", "job_orders"}
#: Column -> the dataset whose ids it must resolve to.
REFERENCES = {"p3mi_id": "p3mi", "facility_id": "health_facilities", "institution_id": "training_institutions"}
#: Every Indonesian province code (Permendagri 72/2019; UU 14–16/2022 and 29/2022 for the Papua
#: provinces; NIKs issued before 2022 keep 91/92). A national standard list, not a region table.
PROVINCE_CODES = [
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "31", "32", "33", "34", "35", "36",
    "51", "52", "53", "61", "62", "63", "64", "65", "71", "72", "73", "74", "75", "76", "81", "82",
    "91", "92", "93", "94", "95", "96",
]


#: What each suite parameter resolves to at run time (sinergi.validate.gates.resolve).
PARAMETER_DOCS = {
    "expected_columns": "registry columns in order + _source_file, _source_row, _extract_issues + meta.sinergi.derived",
    "volume_min": "median of the trailing months' row counts x (1 - tolerance) - slack",
    "volume_max": "median of the trailing months' row counts x (1 + tolerance) + slack",
    "vocab_*": "sinergi.vocab.values(<name>) (config/vocabularies.yaml)",
    "kabkota_codes": "Kemendagri codes of sinergi.regions (config/regions.csv)",
    "country_codes": "ISO 3166-1 alpha-2 codes of config/countries.yaml",
    "month_end": "last day of the month being validated",
    "previous_month_start": "first day of the month before",
    "earliest_date": "1990-01-01",
    "ref_*": "valid ids of the named dataset for the same month, passed by the caller (references=...)",
}


class SuiteError(ValueError):
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


# ----------------------------------------------------------------------------------------- scaffold
def _e(type_: str, kwargs: dict, rule: str, severity: str, why: str, **extra) -> dict:
    return {"type": type_, "kwargs": kwargs, "meta": {"rule": rule, "severity": severity, "why": why, **extra}}


def _p(name: str) -> dict:
    return {"$PARAMETER": name}


def scaffold(dataset: str) -> dict:
    """Draft suite for a dataset from the registry (review, then commit as expectations/<suite>.json)."""
    ds = registry.get(dataset)
    cols = set(ds.column_names)
    derived: list[dict] = []
    ex: list[dict] = []
    ex.append(_e(
        "expect_table_columns_to_match_ordered_list", {"column_list": _p("expected_columns")}, "schema_columns", "stop",
        "The canonical schema is a contract (docs/ARCHITECTURE.md 'The canonical extracted table'): registry "
        "columns in registry order, the extraction bookkeeping columns, then this suite's helper columns. A "
        "missing or extra column means the export or the mapping changed; publishing it would break readers.",
    ))
    ex.append(_e(
        "expect_table_row_count_to_be_between", {"min_value": _p("volume_min"), "max_value": _p("volume_max")},
        "volume", "stop",
        "A month whose row count is far from the trailing months usually means a truncated or doubled export "
        "(MoU annex 4d/4e: monthly placement and return data). Bounds = median of the trailing months x (1 +- "
        "tolerance) +- slack; skipped with fewer than min_history months.",
        tolerance=0.5 if dataset not in SNAPSHOTS else 0.3, min_history=3, trailing_months=6, slack=10,
    ))
    ex.append(_e(
        "expect_column_values_to_be_null", {"column": "_extract_issues"}, "values_parse", "quarantine",
        "Extraction notes every value it could not parse (an unparseable date or number becomes null and is "
        "noted in _extract_issues). Such a row lost information, so it is held for review instead of published.",
    ))
    for c in ds.source_columns:
        if c.required:
            ex.append(_e(
                "expect_column_values_to_not_be_null", {"column": c.name}, f"required:{c.name}", "quarantine",
                f"Required by the dataset registry (datasets.yaml {dataset}.{c.name} required: true): {c.en}. "
                "A row without it cannot be counted or linked (MoU Art. 5(1)c-d: shared data on CPMI/PMI).",
            ))
    for c in ds.source_columns:
        if c.required:
            ex.append(_e(
                "expect_column_values_to_not_be_null", {"column": c.name, "mostly": 0.9}, f"null_rate:{c.name}", "stop",
                f"More than 10% of rows without {c.name} is a broken export or header mapping, not a few bad rows; "
                "the month must not publish until the source is fixed. Skipped below min_rows rows, where one "
                "missing value is already 10%.",
                min_rows=50,
            ))
    rid = ds.record_id
    derived.append({"name": "_duplicate_row", "fn": "duplicate_row", "args": {},
                    "why": "True on the 2nd and later copies of a row whose canonical columns are all equal."})
    derived.append({"name": "_record_id_dedup", "fn": "record_id_dedup", "args": {"column": rid},
                    "why": f"{rid}, blank on exact-duplicate copies (those fail duplicate_row instead)."})
    ex.append(_e(
        "expect_column_values_to_be_in_set", {"column": "_duplicate_row", "value_set": [False]}, "duplicate_row",
        "quarantine",
        "An export that repeats a row verbatim would double-count a person. Decision: the first copy continues, "
        "the other copies go to quarantine as duplicate_row, so nothing is dropped silently.",
    ))
    ex.append(_e(
        "expect_column_values_to_be_unique", {"column": "_record_id_dedup"}, "record_id_unique", "quarantine",
        f"{rid} identifies a record within the month. The same id with conflicting values cannot be resolved "
        "automatically: ALL rows sharing it are quarantined (exact copies are handled by duplicate_row).",
    ))
    if "nik" in cols:
        ex.append(_e(
            "expect_column_values_to_match_regex", {"column": "nik", "regex": "^[0-9]{16}$"}, "nik_shape",
            "quarantine",
            "NIK is 16 digits PPKKCCDDMMYYSSSS (UU 24/2013 Administrasi Kependudukan; DOMAIN.md 'Identifiers'). "
            "Spreadsheets mangle NIKs into floats (1.80101E+15) or strip digits; such a NIK cannot be linked.",
        ))
        derived.append({"name": "_nik_province", "fn": "nik_part", "args": {"column": "nik", "start": 0, "length": 2},
                        "why": "Digits 1-2 of a well-formed NIK (province), blank when the NIK is malformed."})
        derived.append({"name": "_nik_kabkota", "fn": "nik_part", "args": {"column": "nik", "start": 0, "length": 4},
                        "why": "Digits 1-4 of a well-formed NIK (kab/kota), blank when the NIK is malformed."})
        ex.append(_e(
            "expect_column_values_to_be_in_set", {"column": "_nik_province", "value_set": PROVINCE_CODES},
            "nik_province", "quarantine",
            "The first two NIK digits are a province code (Permendagri 72/2019 codes, incl. the 2022 Papua "
            "provinces). Anything else is a mistyped or fabricated NIK.",
        ))
        ex.append(_e(
            "expect_column_values_to_be_in_set", {"column": "_nik_kabkota", "value_set": _p("kabkota_codes")},
            "nik_kabkota", "quarantine",
            "The first four NIK digits are the Kemendagri kab/kota code of first registration (DOMAIN.md). They "
            "must be a kab/kota of sinergi.regions, which holds Lampung and the main sending regencies of other "
            "provinces for national data. A BPS code typed as NIK prefix is caught here too.",
        ))
        if "birth_date" in cols and "sex" in cols:
            derived.append({"name": "_nik_birth", "fn": "nik_part", "args": {"column": "nik", "start": 6, "length": 6},
                            "why": "Digits 7-12 of a well-formed NIK (DDMMYY, DD+40 for women)."})
            derived.append({"name": "_birth_sex_code", "fn": "birth_sex_code",
                            "args": {"birth_date": "birth_date", "sex": "sex"},
                            "why": "DDMMYY of birth_date with 40 added to DD when sex is P (as Dukcapil encodes it)."})
        if "kabkota_code" in cols:
            ex.append(_e(
                "expect_column_pair_values_to_be_equal",
                {"column_A": "_nik_kabkota", "column_B": "kabkota_code", "ignore_row_if": "either_value_is_missing"},
                "kabkota_matches_nik", "quarantine",
                "The kab/kota code must be the NIK's region (digits 1-4): SISKOP2MI and the dinas systems take the "
                "worker's kab/kota from the KTP. A mismatch is mostly a BPS code written into the Kemendagri field "
                "(BPS 1803 = Lampung Selatan, but Kemendagri 1803 = Lampung Utara; DOMAIN.md 'Region codes'), "
                "which no membership check can see. Review note: a worker who moved since first registration "
                "would also be held; switch to 'warn' if the sources take kab/kota from the domicile instead.",
            ))
        if "birth_date" in cols and "sex" in cols:
            ex.append(_e(
                "expect_column_pair_values_to_be_equal",
                {"column_A": "_nik_birth", "column_B": "_birth_sex_code", "ignore_row_if": "either_value_is_missing"},
                "nik_birth_date_sex", "quarantine",
                "NIK digits 7-12 encode the birth date, with DD+40 for women (DOMAIN.md 'Identifiers'). A mismatch "
                "means the NIK, the birth date or the sex column is wrong, so the row cannot be trusted for "
                "linking or for the sex/age statistics of MoU annex 4d/4e.",
            ))
    for c in ds.source_columns:
        if c.vocabulary:
            ex.append(_e(
                "expect_column_values_to_be_in_set", {"column": c.name, "value_set": _p(f"vocab_{c.vocabulary}")},
                f"vocab:{c.name}", "quarantine",
                f"{c.name} must be a canonical value of the '{c.vocabulary}' vocabulary (config/vocabularies.yaml, "
                "as BP2MI publishes it; DOMAIN.md 'Vocabularies'). Extraction keeps unmappable text as-is so it "
                "shows up here instead of being guessed.",
            ))
        elif c.normalise == "kabkota":
            ex.append(_e(
                "expect_column_values_to_be_in_set", {"column": c.name, "value_set": _p("kabkota_codes")},
                f"kabkota_known:{c.name}", "quarantine",
                "kab/kota must be a Kemendagri code of sinergi.regions (config/regions.csv): statistics by origin "
                "regency are the point of MoU annex 4d; an unknown spelling or a BPS code must not be guessed.",
            ))
        elif c.normalise == "country":
            ex.append(_e(
                "expect_column_values_to_be_in_set", {"column": c.name, "value_set": _p("country_codes")},
                f"country_known:{c.name}", "quarantine",
                "Countries are ISO 3166-1 alpha-2 codes of config/countries.yaml (DESIGN.md 'Canonical datasets'); "
                "an unknown country spelling is held for review rather than published under a wrong code.",
            ))
    for c in ds.source_columns:
        if c.type == "date" and c.name != "birth_date":
            kwargs = {"column": c.name, "min_value": _p("earliest_date")}
            if c.name not in FUTURE_ALLOWED:
                kwargs["max_value"] = _p("month_end")
            ex.append(_e(
                "expect_column_values_to_be_between", kwargs, f"date_plausible:{c.name}", "quarantine",
                "Dates must not lie after the end of the month being processed (a record cannot describe the "
                "future) nor before 1990 (typing errors such as 1900 or 0201)."
                if "max_value" in kwargs else
                "A validity/planned date may lie in the future, but not before 1990 (typing errors).",
            ))
    event = EVENT_DATE.get(dataset)
    if event and "birth_date" in cols:
        derived.append({"name": "_age_at_event", "fn": "age_years", "args": {"birth_date": "birth_date", "at": event},
                        "why": f"Age in completed years at {event}."})
        ex.append(_e(
            "expect_column_values_to_be_between", {"column": "_age_at_event", "min_value": 15, "max_value": 70},
            "age_15_70", "quarantine" if dataset != "empowerment" else "warn",
            f"Age at {event} must be 15-70: UU 18/2017 Art. 5 sets 18 as the minimum age of a PMI, and ages "
            "outside 15-70 are almost always a wrong birth date (tolerance for late registration of birth dates)."
            + (" Warn only here: family members of PMI in empowerment programmes may be children or elderly."
               if dataset == "empowerment" else ""),
        ))
    order = [c for c in DATE_ORDER.get(dataset, []) if c in cols]
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            ex.append(_e(
                "expect_column_pair_values_a_to_be_greater_than_b",
                {"column_A": b, "column_B": a, "or_equal": True, "ignore_row_if": "either_value_is_missing"},
                f"date_order:{a}<={b}", "quarantine",
                f"Process order: {a} must not be after {b} (registration <= health check <= departure <= return; "
                "SISKOP2MI workflow, DOMAIN.md). A reversed pair is a data-entry error.",
            ))
    for c in ds.source_columns:
        if c.name in REFERENCES and c.name != rid:
            ref = REFERENCES[c.name]
            ex.append(_e(
                "expect_column_values_to_be_in_set", {"column": c.name, "value_set": _p(f"ref_{ref}")},
                f"reference:{c.name}", "quarantine",
                f"{c.name} must be a valid id of the '{ref}' dataset of the same month (MoU annex 1b/3.1/5.4: "
                "only licensed P3MI, health facilities and training institutions). Skipped, with a warning, when "
                "the caller passes no ids for it.",
            ))
    if event and dataset not in SNAPSHOTS:
        derived.append({"name": "_event_date_until_month_end", "fn": "until_month_end", "args": {"column": event},
                        "why": f"{event}, blank when after the month end (those rows fail date_plausible and are "
                               "quarantined; one typo must not make the whole month look stale)."})
        ex.append(_e(
            "expect_column_max_to_be_between",
            {"column": "_event_date_until_month_end", "min_value": _p("previous_month_start"), "max_value": _p("month_end")},
            "freshness", "stop",
            f"The latest {event} must fall in the month being processed or the one before; otherwise the "
            "export is stale or of the wrong month (MoU annex 4d/4e: data every month).",
        ))
    used = sorted({v["$PARAMETER"] for e in ex for v in e["kwargs"].values() if isinstance(v, dict) and "$PARAMETER" in v})
    return {
        "name": ds.suite,
        "expectations": ex,
        "meta": {
            "sinergi": {
                "dataset": dataset,
                "about": f"Validation of {dataset}: {ds.en}",
                "parameters": {p: PARAMETER_DOCS[p.split("_")[0] + "_*" if p.startswith(("vocab_", "ref_")) else p]
                               for p in used},
                "derived": derived,
                "table_checks": [{
                    "rule": "column_types", "severity": "stop",
                    "why": "Every registry column must have its canonical Arrow type (registry type string/date/"
                           "int/bool); checked on the Arrow table before GX runs, because pandas dtypes blur "
                           "dates and nullable integers.",
                }],
            }
        },
    }


def main() -> None:  # pragma: no cover - developer tool
    import argparse

    ap = argparse.ArgumentParser(description="Draft missing expectation suites from the registry")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--force", action="store_true", help="overwrite existing files")
    args = ap.parse_args()
    for name in registry.names():
        path = suite_path(name)
        if path.exists() and not args.force:
            continue
        text = json.dumps(scaffold(name), indent=2, ensure_ascii=False) + "\n"
        if args.write:
            path.write_text(text, encoding="utf-8")
        print(f"{'wrote' if args.write else 'would write'} {path}")


if __name__ == "__main__":  # pragma: no cover
    main()
