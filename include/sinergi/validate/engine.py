"""Validate one dataset-month with Great Expectations and split it into valid and quarantined rows.

Design (why it is fast enough for millions of rows):
1. the suite's helper columns are derived in Arrow (sinergi.validate.derive);
2. GX runs the whole suite once on the pandas frame in SUMMARY mode — the official results,
   statistics and Data Docs;
3. for row-level expectations the failing rows come from Arrow masks with GX's semantics
   (sinergi.validate.masks), and each mask's count must equal GX's ``unexpected_count`` or the run
   fails with ``EngineMismatchError`` (so GX remains the authority on *whether* rows fail);
4. severity comes from each expectation's meta: ``quarantine`` rows leave the valid set, ``warn``
   is reported, ``stop`` marks the dataset as not publishable this month.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sinergi import registry
from sinergi.validate import derive, gates, masks, suites
from sinergi.validate.gates import GateOutcome
from sinergi.validate.suites import BOOKKEEPING, SuiteSpec

log = logging.getLogger(__name__)

FAILED_RULES = "_failed_rules"
RUN_ID = "_run_id"
#: SUMMARY without sample values: results go into manifests and Data Docs, never raw personal values.
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 0}


class ReconciliationError(RuntimeError):
    """extracted != valid + quarantined for a dataset and run: a row was lost or invented."""


@dataclass
class ValidationResult:
    dataset: str
    month: str
    run_id: str
    valid: pa.Table
    quarantined: pa.Table
    counts: dict
    gates: list[GateOutcome] = field(default_factory=list)
    stopped: bool = False
    stop_reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    docs_path: Path | None = None

    def raise_if_stopped(self) -> None:
        if self.stopped:
            raise gates.BatchGateError(
                f"{self.dataset} {self.month} (run {self.run_id}) does not publish: batch rules failed:\n  - "
                + "\n  - ".join(self.stop_reasons)
            )


# ------------------------------------------------------------------------------------------ GX setup
_GX = None


def _gx():
    """Import GX once, quietly (no analytics, no progress bars, warnings only)."""
    global _GX
    if _GX is None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        for name in ("great_expectations", "great_expectations.core", "great_expectations.data_context"):
            logging.getLogger(name).setLevel(logging.WARNING)
        import great_expectations as gx

        for name in ("great_expectations", "great_expectations.data_context.types.base"):
            logging.getLogger(name).setLevel(logging.WARNING)
        # GX fingerprints every in-memory pandas batch by hashing the whole frame (about 2 s per
        # 1M rows, twice per run) only to store an md5 as a batch marker. Our batches are
        # identified by run id and the landed file's sha256, so the fingerprint is switched off.
        from great_expectations.execution_engine import pandas_execution_engine

        pandas_execution_engine.HASH_THRESHOLD = 0
        _GX = gx
    return _GX


def gx_context():
    gx = _gx()  # first: quiet import settings apply before GX loads
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


def _pair_columns(rule) -> tuple[str, str] | None:
    kw = rule.kwargs
    return (kw["column_A"], kw["column_B"]) if "column_A" in kw and "column_B" in kw else None


def run_gx(spec: SuiteSpec, df, params: dict, skip: set[str], *, run_id: str, month: str,
           docs_dir: Path | None = None, result_format=RESULT_FORMAT):
    """Run the suite on a pandas frame in an ephemeral context; returns (result, docs index or None).

    Column-pair expectations run on a frame of only their columns: GX drops the rows with a missing
    value from the *whole* frame for each of them (a take of every column, ~0.3 s per rule per 1M
    rows). The two results are merged into one suite result, in suite order, as if GX had run the
    suite once; the Data Docs are built from that merged result.
    """
    ctx = gx_context()
    source = ctx.data_sources.add_pandas("sinergi")
    active = [r for r in spec.rules if r.rule not in skip]
    paired = {r.rule for r in active if _pair_columns(r)}
    parts = [(spec.dataset, df, set(skip) | paired)]
    if paired:
        cols = list(dict.fromkeys(c for r in active if r.rule in paired for c in _pair_columns(r)))
        parts.append((f"{spec.dataset}__column_pairs", df[cols], set(skip) | {r.rule for r in active} - paired))
    results = []
    for asset, frame, part_skip in parts:
        batch_def = source.add_dataframe_asset(asset).add_batch_definition_whole_dataframe(month)
        batch = batch_def.get_batch(batch_parameters={"dataframe": frame})
        results.append(batch.validate(suites.gx_suite(spec, part_skip, params), result_format=result_format,
                                      expectation_parameters=params))
    result = _merge_results(spec, results)
    if docs_dir is None:
        return result, None
    from sinergi.validate import datadocs

    return result, datadocs.build_docs(ctx, suites.gx_suite(spec, set(skip), params), result, run_id=run_id,
                                       month=month, docs_dir=Path(docs_dir))


def _merge_results(spec: SuiteSpec, results: list):
    """One suite result from the parts' results, expectations in suite order."""
    if len(results) == 1:
        return results[0]
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.validator.validation_statistics import calc_validation_statistics

    order = {r.rule: i for i, r in enumerate(spec.rules)}
    merged = sorted((r for res in results for r in res.results), key=lambda r: order[r.expectation_config.meta["rule"]])
    stats = calc_validation_statistics(merged)
    first = results[0]
    return ExpectationSuiteValidationResult(
        success=stats.success, results=merged, suite_name=first.suite_name,
        statistics={"evaluated_expectations": stats.evaluated_expectations,
                    "successful_expectations": stats.successful_expectations,
                    "unsuccessful_expectations": stats.unsuccessful_expectations,
                    "success_percent": stats.success_percent},
        meta=dict(first.meta), batch_id=first.batch_id,
    )


# ----------------------------------------------------------------------------------------- helpers
# datetime64[ns] holds 1677-09-22 .. 2262-04-11; a date outside (a typo such as year 0205) keeps the
# frame's dates as Python objects.
_NS_MIN, _NS_MAX = dt.date(1678, 1, 1), dt.date(2262, 1, 1)


def to_gx_frame(table: pa.Table, params: dict):
    """The pandas frame GX validates, and the parameters in the frame's terms.

    Columns are made contiguous first (pandas' take on a many-chunk Arrow column is several times
    slower). Date columns become datetime64[ns] with date parameters as Timestamps: GX compares
    those vectorised, while Python ``date`` objects go through a per-value Python function (~1 s
    per date rule per 1M rows). The Arrow masks keep the original ``date`` parameters.
    """
    table = table.combine_chunks()
    dates = [f.name for f in table.schema if pa.types.is_date(f.type)]
    if not dates:
        return table.to_pandas(), params
    for c in dates:
        lo, hi = (v.as_py() for v in pc.min_max(table.column(c)).values())
        if (lo is not None and lo < _NS_MIN) or (hi is not None and hi >= _NS_MAX):
            return table.to_pandas(), params
    import pandas as pd

    df = table.to_pandas(date_as_object=False, coerce_temporal_nanoseconds=True)
    gx_params = {k: pd.Timestamp(v) if isinstance(v, dt.date) else v for k, v in params.items()}
    return df, gx_params


def check_types(spec: SuiteSpec, table: pa.Table) -> list[str]:
    """Problems with the Arrow schema: missing/mistyped registry columns, missing bookkeeping."""
    ds = registry.get(spec.dataset)
    problems = []
    names = set(table.column_names)
    for c in ds.columns:
        if c.name not in names:
            problems.append(f"missing column {c.name!r}")
        elif table.schema.field(c.name).type != c.arrow_type:
            problems.append(f"column {c.name!r} has type {table.schema.field(c.name).type}, expected {c.arrow_type}")
    for b in BOOKKEEPING:
        if b not in names:
            problems.append(f"missing bookkeeping column {b!r}")
    return problems


def reconcile(dataset: str, run_id: str, extracted: int, valid: int, quarantined: int) -> None:
    if extracted != valid + quarantined:
        raise ReconciliationError(
            f"{dataset} run {run_id}: extracted {extracted} rows but valid {valid} + quarantined {quarantined} "
            f"= {valid + quarantined}; {extracted - valid - quarantined:+d} rows unaccounted for"
        )


def _result_by_rule(result) -> dict[str, object]:
    return {r.expectation_config.meta["rule"]: r for r in result.results}


def _summary(spec: SuiteSpec, result, params: dict, skip: dict[str, str]) -> dict:
    per = []
    for r in result.results:
        meta = r.expectation_config.meta
        kw = r.expectation_config.kwargs
        entry = {
            "rule": meta["rule"],
            "severity": meta["severity"],
            "expectation": r.expectation_config.type,
            "column": kw.get("column") or (f"{kw.get('column_A')},{kw.get('column_B')}" if "column_A" in kw else None),
            "success": bool(r.success),
        }
        res = r.result or {}
        for k in ("unexpected_count", "unexpected_percent", "missing_count", "element_count"):
            if k in res:
                # percentages rounded: a long float's digits are noise in the manifest (and look like ids)
                entry[k] = round(res[k], 4) if isinstance(res[k], float) else res[k]
        if "observed_value" in res and r.expectation_config.type != "expect_table_columns_to_match_ordered_list":
            entry["observed_value"] = gates._jsonable(res["observed_value"])
        per.append(entry)
    stats = dict(result.statistics)
    return {
        "suite": spec.name,
        "success": bool(result.success),
        "statistics": gates._jsonable(stats),
        "expectations": per,
        "skipped": [{"rule": k, "reason": v} for k, v in skip.items()],
    }


def _with_failed_rules(table: pa.Table, idx: np.ndarray, rules_per_row: list[list[str]], run_id: str) -> pa.Table:
    q = table.take(pa.array(idx, pa.int64()))
    q = q.append_column(FAILED_RULES, pa.array(rules_per_row, pa.list_(pa.string())))
    return q.append_column(RUN_ID, pa.array([run_id] * len(idx), pa.string()))


def _empty_quarantine(table: pa.Table, run_id: str) -> pa.Table:
    return _with_failed_rules(table, np.array([], dtype=np.int64), [], run_id)


# ---------------------------------------------------------------------------------------- validate
def validate(
    table: pa.Table,
    dataset: str,
    month: str,
    run_id: str | None = None,
    references: dict[str, set[str]] | None = None,
    history: list[int] | None = None,
    docs_dir: Path | None = None,
    *,
    suite: SuiteSpec | None = None,
) -> ValidationResult:
    """Validate one month's extract of a dataset against ``expectations/<dataset>.json``.

    Pure except for writing Data Docs into ``docs_dir`` when given. ``references`` maps a dataset
    name to its valid ids for the same month (``{"p3mi": {...}}``); ``history`` lists the previous
    months' row counts (oldest first) for the volume gate. ``suite`` overrides the committed suite
    (reviewing a changed suite before committing it).
    """
    run_id = run_id or uuid.uuid4().hex[:12]
    spec = suite or suites.load(dataset)
    ds = registry.get(dataset)
    n = table.num_rows
    gate_list: list[GateOutcome] = []
    warnings: list[str] = []
    stop_reasons: list[str] = []

    # 1. Arrow types (a table check declared in the suite meta). A table with missing or mistyped
    #    columns cannot be row-validated: every row goes to quarantine and the dataset stops.
    problems = check_types(spec, table)
    for tc in spec.table_checks:
        if tc["rule"] != "column_types":
            raise suites.SuiteError(f"{spec.name}: unknown table check {tc['rule']!r}")
        msg = f"column_types: {'; '.join(problems)}" if problems else "column_types: all registry columns have their canonical types"
        gate_list.append(GateOutcome("column_types", tc["severity"], "failed" if problems else "passed", msg, "arrow schema"))
        if problems and tc["severity"] == "stop":
            stop_reasons.append(msg)
        elif problems:
            warnings.append(msg)
    if problems:
        if not stop_reasons:  # types cannot be waived: rows cannot be checked
            stop_reasons.append(f"column_types: {'; '.join(problems)}")
        quarantined = _with_failed_rules(table, np.arange(n), [["column_types"]] * n, run_id)
        valid = table.slice(0, 0)
        reconcile(dataset, run_id, n, valid.num_rows, quarantined.num_rows)
        return ValidationResult(
            dataset, month, run_id, valid, quarantined,
            {"extracted": n, "valid": 0, "quarantined": n, "by_rule": {"column_types": n}},
            gate_list, True, stop_reasons, warnings,
            {"suite": spec.name, "success": False, "statistics": {}, "expectations": [], "skipped": [],
             "error": "column types do not match the registry; GX not run"},
        )

    # 2. helper columns + parameters, then GX
    work = derive.add_helpers(table, spec.derived, ds.record_id, month_end=gates.month_bounds(month)[1])
    params, skip = gates.resolve(spec, month, references, history, rows=n)
    warnings.extend(v for k, v in skip.items() if not k.startswith("null_rate:"))  # small months: not news
    df, gx_params = to_gx_frame(work, params)
    result, docs_path = run_gx(spec, df, gx_params, set(skip), run_id=run_id, month=month, docs_dir=docs_dir)
    del df
    by_rule = _result_by_rule(result)

    # 3. per-expectation outcome by severity
    failures: dict[str, np.ndarray] = {}
    for rule in spec.rules:
        if rule.rule in skip:
            if rule.severity == "stop":
                gate_list.append(GateOutcome(rule.rule, rule.severity, "skipped", skip[rule.rule], rule.type))
            continue
        r = by_rule[rule.rule]
        if r.exception_info and r.exception_info.get("raised_exception"):
            raise RuntimeError(f"{spec.name}: expectation {rule.rule} ({rule.type}) raised in GX: "
                               f"{r.exception_info.get('exception_message')}")
        res = r.result or {}
        if rule.severity == "quarantine":
            mask = masks.unexpected_mask(work, rule, params)
            count = pc.sum(mask).as_py() or 0
            gx_count = res.get("unexpected_count")
            if gx_count is not None and gx_count != count:
                raise masks.EngineMismatchError(
                    f"{spec.name}: rule {rule.rule}: GX counts {gx_count} unexpected rows, Arrow mask {count}")
            if count:
                failures[rule.rule] = np.flatnonzero(pc.fill_null(mask, False).to_numpy(zero_copy_only=False))
        elif not r.success:
            msg, observed, expected = gates.describe(rule, res, params)
            if rule.severity == "stop":
                stop_reasons.append(msg)
                gate_list.append(GateOutcome(rule.rule, "stop", "failed", msg, rule.type, observed, expected))
            else:
                warnings.append(msg)
        elif rule.severity == "stop":
            msg, observed, expected = gates.describe(rule, res, params)
            gate_list.append(GateOutcome(rule.rule, "stop", "passed", msg, rule.type, observed, expected))

    # 4. split: every failed rule of a row is listed, in suite order
    per_row: dict[int, list[str]] = {}
    for rule_name, idx in failures.items():
        for i in idx.tolist():
            per_row.setdefault(i, []).append(rule_name)
    q_idx = np.array(sorted(per_row), dtype=np.int64)
    base = table  # canonical + bookkeeping, no helpers
    if len(q_idx):
        keep = np.ones(n, dtype=bool)
        keep[q_idx] = False
        valid = base.filter(pa.array(keep))
        quarantined = _with_failed_rules(base, q_idx, [per_row[i] for i in q_idx.tolist()], run_id)
    else:
        valid = base
        quarantined = _empty_quarantine(base, run_id)
    by_rule_counts = {k: len(v) for k, v in failures.items()}
    reconcile(dataset, run_id, n, valid.num_rows, quarantined.num_rows)
    summary = _summary(spec, result, params, skip)
    summary["run_id"] = run_id
    summary["month"] = month
    stopped = bool(stop_reasons)
    if stopped:
        log.warning("%s %s: dataset stopped: %s", dataset, month, "; ".join(stop_reasons))
    for w in warnings:
        log.warning("%s %s: %s", dataset, month, w)
    return ValidationResult(
        dataset, month, run_id, valid, quarantined,
        {"extracted": n, "valid": valid.num_rows, "quarantined": quarantined.num_rows, "by_rule": by_rule_counts},
        gate_list, stopped, stop_reasons, warnings, summary, docs_path,
    )

