"""Validate one dataset-month with Great Expectations and split it into valid and quarantined rows.

Design (why it is fast enough for millions of rows, in bounded memory):
1. the month is read in chunks; the suite's helper columns are derived in Arrow per chunk
   (sinergi.validate.derive), except duplicate copies, which are decided on the month first;
2. GX runs the row-level expectations chunk by chunk on pandas frames in BASIC mode (the counts
   are summed), and the month-wide ones (row count, null rates, column max,
   uniqueness) once on a narrow frame of the month; the merged result is the official one, with
   statistics and Data Docs;
3. for row-level expectations the failing rows come from Arrow masks with GX's semantics
   (sinergi.validate.masks), and each mask's count must equal GX's ``unexpected_count`` or the run
   fails with ``EngineMismatchError`` (so GX remains the authority on *whether* rows fail);
4. severity comes from each expectation's meta: ``quarantine`` rows leave the valid set, ``warn``
   is reported, ``stop`` marks the dataset as not publishable this month.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sinergi import registry
from sinergi.chunks import ParquetSource, TableSource, as_source, chunks, column
from sinergi.validate import derive, gates, masks, suites
from sinergi.validate.gates import GateOutcome
from sinergi.validate.suites import BOOKKEEPING, SuiteSpec

log = logging.getLogger(__name__)

FAILED_RULES = "_failed_rules"
RUN_ID = "_run_id"
#: BASIC without sample values: counts and percentages for manifests and Data Docs, never raw
#: personal values. (SUMMARY would add GX's failing-row index lists, a whole-frame filter per rule
#: that costs a third of the GX time; the Arrow masks give the rows.)
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}


class ReconciliationError(RuntimeError):
    """extracted != valid + quarantined for a dataset and run: a row was lost or invented."""


@dataclass
class ValidationResult:
    dataset: str
    month: str
    run_id: str
    valid: pa.Table | None  # None when the valid rows went to a sink
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
           docs_dir: Path | None = None, result_format=RESULT_FORMAT, ctx=None):
    """Run the suite on a pandas frame in an ephemeral context; returns (result, docs index or None).

    Column-pair expectations run on a frame of only their columns: GX drops the rows with a missing
    value from the *whole* frame for each of them (a take of every column, ~0.3 s per rule per 1M
    rows). The two results are merged into one suite result, in suite order, as if GX had run the
    suite once; the Data Docs are built from that merged result.
    """
    ctx = ctx or gx_context()
    source = ctx.data_sources.add_pandas(f"sinergi-{uuid.uuid4().hex[:8]}")
    active = [r for r in spec.rules if r.rule not in skip]
    paired = {r.rule for r in active if _pair_columns(r)}
    parts = [(spec.dataset, df, set(skip) | paired)]
    if paired:
        cols = list(dict.fromkeys(c for r in active if r.rule in paired for c in _pair_columns(r)))
        parts.append((f"{spec.dataset}__column_pairs", df[cols], set(skip) | {r.rule for r in active} - paired))
    results = []
    try:
        for asset, frame, part_skip in parts:
            batch_def = source.add_dataframe_asset(asset).add_batch_definition_whole_dataframe(month)
            batch = batch_def.get_batch(batch_parameters={"dataframe": frame})
            results.append(batch.validate(suites.gx_suite(spec, part_skip, params), result_format=result_format,
                                          expectation_parameters=params))
            del batch
    finally:
        # the context (GX keeps the last one alive) would otherwise hold every frame it validated
        ctx.data_sources.delete(source.name)
    result = _merge_results(spec, results)
    if docs_dir is None:
        return result, None
    return result, build_docs(ctx, spec, result, params, skip, run_id=run_id, month=month, docs_dir=docs_dir)


def build_docs(ctx, spec: SuiteSpec, result, params: dict, skip: set[str], *, run_id: str, month: str,
               docs_dir: Path) -> Path:
    """A Data Docs site of one (possibly merged) suite result; returns its index.html."""
    from sinergi.validate import datadocs

    return datadocs.build_docs(ctx, suites.gx_suite(spec, set(skip), params), result, run_id=run_id,
                               month=month, docs_dir=Path(docs_dir))


def _merge_results(spec: SuiteSpec, results: list):
    """One suite result from the parts' results, expectations in suite order."""
    if len(results) == 1:
        return results[0]
    return _suite_result(spec, [r for res in results for r in res.results], dict(results[0].meta), results[0].batch_id)


# ----------------------------------------------------------------------------------------- helpers
# datetime64[ns] holds 1677-09-22 .. 2262-04-11; a date outside (a typo such as year 0205) keeps the
# frame's dates as Python objects.
_NS_MIN, _NS_MAX = dt.date(1678, 1, 1), dt.date(2262, 1, 1)


def to_gx_frame(table: pa.Table, params: dict, types_mapper=None):
    """The pandas frame GX validates, and the parameters in the frame's terms.

    Columns are made contiguous first (pandas' take on a many-chunk Arrow column is several times
    slower). Date columns become datetime64[ns] with date parameters as Timestamps: GX compares
    those vectorised, while Python ``date`` objects go through a per-value Python function (~1 s
    per date rule per 1M rows). The Arrow masks keep the original ``date`` parameters.
    """
    table = table.combine_chunks()
    dates = [f.name for f in table.schema if pa.types.is_date(f.type)]
    if not dates:
        return table.to_pandas(types_mapper=types_mapper), params
    for c in dates:
        lo, hi = (v.as_py() for v in pc.min_max(table.column(c)).values())
        if (lo is not None and lo < _NS_MIN) or (hi is not None and hi >= _NS_MAX):
            return table.to_pandas(types_mapper=types_mapper), params
    import pandas as pd

    df = table.to_pandas(date_as_object=False, coerce_temporal_nanoseconds=True, types_mapper=types_mapper)
    gx_params = {k: pd.Timestamp(v) if isinstance(v, dt.date) else v for k, v in params.items()}
    return df, gx_params


def check_types(spec: SuiteSpec, table: pa.Table | pa.Schema) -> list[str]:
    """Problems with the Arrow schema: missing/mistyped registry columns, missing bookkeeping."""
    schema = table if isinstance(table, pa.Schema) else table.schema
    ds = registry.get(spec.dataset)
    problems = []
    names = set(schema.names)
    for c in ds.columns:
        if c.name not in names:
            problems.append(f"missing column {c.name!r}")
        elif schema.field(c.name).type != c.arrow_type:
            problems.append(f"column {c.name!r} has type {schema.field(c.name).type}, expected {c.arrow_type}")
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


# -------------------------------------------------------------------------------- month-wide rules
#: Table expectations that every chunk answers exactly as the whole month would (the column list).
CHUNK_INVARIANT_TYPES = ("expect_table_columns_to_match_ordered_list", "expect_table_columns_to_match_set",
                         "expect_table_column_count_to_equal")


def is_month_wide(rule) -> bool:
    """Checked on the whole month at once (on a narrow frame, see _month_frame); every other
    expectation runs chunk by chunk and its counts are summed."""
    if rule.type in CHUNK_INVARIANT_TYPES:
        return False
    return (rule.type not in suites.ROW_LEVEL_TYPES or "mostly" in rule.kwargs
            or rule.type == "expect_column_values_to_be_unique")


#: Month-wide rules that only need to know where a column is null.
_NULLNESS_TYPES = ("expect_column_values_to_not_be_null", "expect_column_values_to_be_null")


def _rule_columns(rule) -> list[str]:
    return [rule.kwargs[k] for k in ("column", "column_A", "column_B") if isinstance(rule.kwargs.get(k), str)]


def _value_columns(rules) -> set[str]:
    """Columns whose values (not only their nulls) month-wide rules look at."""
    return {c for r in rules if r.type not in _NULLNESS_TYPES for c in _rule_columns(r)}


def _nullness(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """True where the column has a value, null where it has none: 2 bits a row instead of the value."""
    return pc.if_else(pc.is_valid(col), pa.scalar(True), pa.scalar(None, pa.bool_()))


def _month_part(work: pa.Table, columns: list[str], value_columns: set[str], codes: dict[str, pa.Array],
                offset: int) -> pa.Table:
    """One chunk's share of the month frame: the month-wide rules' columns only, as values, as
    month-wide integer codes (uniqueness: same equalities, 4 bytes instead of the string), or as nullness."""
    m = work.num_rows
    arrays = [codes[c].slice(offset, m) if c in codes else work.column(c) if c in value_columns
              else _nullness(work.column(c)) for c in columns]
    return pa.table(arrays, names=columns)


def _month_frame(parts: list[pa.Table], params: dict):
    """The month-wide frame for GX (pandas, booleans kept as 2-bit Arrow columns)."""
    import pandas as pd

    table = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    df, gx_params = to_gx_frame(table, params, types_mapper={pa.bool_(): pd.ArrowDtype(pa.bool_())}.get)
    return df, gx_params


def _duplicates(month_column, n: int, spec: SuiteSpec, record_id: str | None, source) -> np.ndarray | None:
    """Month-wide ``_duplicate_row`` (True on the 2nd and later copies of an identical row), or None when
    the suite does not derive it. Only rows whose record id repeats can be copies: the record ids are
    read first (one narrow column), then only those rows."""
    if not any(d["fn"] == "duplicate_row" for d in spec.derived):
        return None
    out = np.zeros(n, dtype=bool)
    if record_id is None:
        rows = pa.concat_tables(list(chunks(source)))
        out[:] = derive.duplicate_row(rows).to_numpy(zero_copy_only=False)
        return out
    counts = pc.value_counts(month_column(record_id).drop_null())
    repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
    del counts
    if not len(repeated):
        return out
    subsets, positions, offset = [], [], 0
    for chunk in chunks(source):
        idx = np.flatnonzero(pc.fill_null(pc.is_in(chunk.column(record_id), value_set=repeated), False)
                             .to_numpy(zero_copy_only=False))
        if len(idx):
            subsets.append(chunk.take(pa.array(idx)))
            positions.append(idx + offset)
        offset += chunk.num_rows
    subset = pa.concat_tables(subsets)
    flags = derive.duplicate_row(subset, record_id=record_id).to_numpy(zero_copy_only=False)
    out[np.concatenate(positions)[flags]] = True
    return out


def _uniqueness(month_column, spec: SuiteSpec, rules, duplicate: np.ndarray | None
                ) -> tuple[dict[str, np.ndarray], dict[str, pa.Array]]:
    """For each uniqueness rule: the global row positions failing it, computed on the month's column
    before the rows are split (a copy in the last chunk makes the first one fail too), and the column
    as month-wide integer codes for the GX month frame."""
    failing, codes = {}, {}
    for rule in rules:
        col_name = rule.kwargs["column"]
        helper = next((d for d in spec.derived if d["name"] == col_name), None)
        if helper is None:
            col = month_column(col_name)
        elif helper["fn"] == "record_id_dedup" and duplicate is not None:
            col = derive.record_id_dedup(pa.table({"id": month_column(helper["args"]["column"])}), "id",
                                         pa.array(duplicate))
        else:
            raise suites.SuiteError(f"{spec.name}: {rule.rule}: uniqueness on helper column {col_name!r} "
                                    f"({helper['fn']}) cannot be checked month-wide")
        mask = masks.unexpected_mask(pa.table({col_name: col}), rule, {})
        failing[rule.rule] = np.flatnonzero(pc.fill_null(mask, False).to_numpy(zero_copy_only=False))
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        codes[col_name] = pc.dictionary_encode(col).indices
    return failing, codes


# ------------------------------------------------------------------------------- merging GX results
def _sum_results(chunk_results: list) -> object:
    """One expectation result from the per-chunk results of a row-level rule (no ``mostly``): counts
    are summed, percentages recomputed, success = no chunk failed."""
    import copy

    first = chunk_results[0]
    if len(chunk_results) == 1:
        return first
    merged = copy.deepcopy(first)
    merged.success = all(r.success for r in chunk_results)
    broken = next((r for r in chunk_results if r.exception_info and r.exception_info.get("raised_exception")), None)
    if broken is not None:
        merged.exception_info = broken.exception_info
    res = dict(first.result or {})
    for key in ("element_count", "missing_count", "unexpected_count"):
        if key in res:
            res[key] = sum((r.result or {}).get(key) or 0 for r in chunk_results)
    total, missing, unexpected = res.get("element_count"), res.get("missing_count", 0), res.get("unexpected_count")
    if total is not None and unexpected is not None:
        pct_total = 100.0 * unexpected / total if total else None
        pct_nonmissing = 100.0 * unexpected / (total - missing) if total - missing else None
        if "missing_percent" in res:
            res["missing_percent"] = 100.0 * missing / total if total else None
        if "unexpected_percent_total" in res:
            res["unexpected_percent_total"] = pct_total
        if "unexpected_percent_nonmissing" in res:
            res["unexpected_percent_nonmissing"] = pct_nonmissing
        if "unexpected_percent" in res:
            res["unexpected_percent"] = pct_nonmissing if "missing_count" in res else pct_total
    merged.result = res
    return merged


def _suite_result(spec: SuiteSpec, results: list, meta: dict, batch_id):
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.validator.validation_statistics import calc_validation_statistics

    order = {r.rule: i for i, r in enumerate(spec.rules)}
    results = sorted(results, key=lambda r: order[r.expectation_config.meta["rule"]])
    stats = calc_validation_statistics(results)
    return ExpectationSuiteValidationResult(
        success=stats.success, results=results, suite_name=spec.name,
        statistics={"evaluated_expectations": stats.evaluated_expectations,
                    "successful_expectations": stats.successful_expectations,
                    "unsuccessful_expectations": stats.unsuccessful_expectations,
                    "success_percent": stats.success_percent},
        meta=meta, batch_id=batch_id,
    )


# ---------------------------------------------------------------------------------------- validate
def _with_failed_rules(table: pa.Table, idx: np.ndarray, rules_per_row: list[list[str]], run_id: str) -> pa.Table:
    q = table.take(pa.array(idx, pa.int64()))
    q = q.append_column(FAILED_RULES, pa.array(rules_per_row, pa.list_(pa.string())))
    return q.append_column(RUN_ID, pa.array([run_id] * len(idx), pa.string()))


def _empty_quarantine(table: pa.Table | pa.Schema, run_id: str) -> pa.Table:
    empty = table.empty_table() if isinstance(table, pa.Schema) else table.slice(0, 0)
    return _with_failed_rules(empty, np.array([], dtype=np.int64), [], run_id)


def validate(
    table: pa.Table | TableSource | ParquetSource,
    dataset: str,
    month: str,
    run_id: str | None = None,
    references: dict[str, set[str]] | None = None,
    history: list[int] | None = None,
    docs_dir: Path | None = None,
    *,
    suite: SuiteSpec | None = None,
    valid_sink: Callable[[pa.Table], None] | None = None,
) -> ValidationResult:
    """Validate one month's extract of a dataset against ``expectations/<dataset>.json``.

    ``table`` is the month (an Arrow table) or a chunked source of it (sinergi.chunks: a
    ``ParquetSource`` of a local file). The month is validated in chunks of ``chunk_rows()`` rows,
    so memory holds one chunk plus a few narrow month-wide columns:

    - row-level rules (not null, in set, regex, between, column pairs) run in GX chunk by chunk;
      their counts are summed into one result per rule;
    - month-wide rules (row count, null rates with ``mostly``, column max, uniqueness) run in GX
      once, on a frame of the month with only the columns they read: real values where needed,
      month-wide integer codes for uniqueness, 2-bit "has a value" stand-ins for null checks;
    - the column list is checked on every chunk (each answers as the month would);
    - duplicate copies and uniqueness are decided on the month before any row is split.

    Pure except for writing Data Docs into ``docs_dir`` when given. ``references`` maps a dataset
    name to its valid ids for the same month (``{"p3mi": {...}}``); ``history`` lists the previous
    months' row counts (oldest first) for the volume gate. ``suite`` overrides the committed suite
    (reviewing a changed suite before committing it). With ``valid_sink`` the valid rows are handed
    to it chunk by chunk (and ``result.valid`` is None); otherwise they are collected into
    ``result.valid``.
    """
    run_id = run_id or uuid.uuid4().hex[:12]
    spec = suite or suites.load(dataset)
    ds = registry.get(dataset)
    source = as_source(table)
    n = source.num_rows
    gate_list: list[GateOutcome] = []
    warnings: list[str] = []
    stop_reasons: list[str] = []
    valid_parts: list[pa.Table] = []
    sink = valid_sink or valid_parts.append

    # 1. Arrow types (a table check declared in the suite meta). A table with missing or mistyped
    #    columns cannot be row-validated: every row goes to quarantine and the dataset stops.
    problems = check_types(spec, source.schema)
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
        parts = [_with_failed_rules(c, np.arange(c.num_rows), [["column_types"]] * c.num_rows, run_id) for c in chunks(source)]
        quarantined = pa.concat_tables(parts)
        reconcile(dataset, run_id, n, 0, quarantined.num_rows)
        return ValidationResult(
            dataset, month, run_id, None if valid_sink else source.schema.empty_table(), quarantined,
            {"extracted": n, "valid": 0, "quarantined": n, "by_rule": {"column_types": n}},
            gate_list, True, stop_reasons, warnings,
            {"suite": spec.name, "success": False, "statistics": {}, "expectations": [], "skipped": [],
             "error": "column types do not match the registry; GX not run"},
        )

    # 2. parameters; which rules run month-wide; the month-wide row facts (copies, uniqueness)
    params, skip = gates.resolve(spec, month, references, history, rows=n)
    warnings.extend(v for k, v in skip.items() if not k.startswith("null_rate:"))  # small months: not news
    active = [r for r in spec.rules if r.rule not in skip]
    month_rules = [r for r in active if is_month_wide(r)]
    chunk_rules = [r for r in active if not is_month_wide(r)]
    month_names = {r.rule for r in month_rules}
    chunk_names = {r.rule for r in chunk_rules}
    value_columns = _value_columns(month_rules)
    month_columns = {c for r in month_rules for c in _rule_columns(r)}
    cache: dict[str, pa.ChunkedArray] = {}

    def month_column(name: str) -> pa.ChunkedArray:  # a narrow month-wide read, once per column
        if name not in cache:
            cache[name] = column(source, name)
        return cache[name]

    duplicate = _duplicates(month_column, n, spec, ds.record_id, source)
    failures: dict[str, list[np.ndarray]] = {}
    unique_rules = [r for r in month_rules if r.type == "expect_column_values_to_be_unique" and r.severity == "quarantine"]
    unique_failing, codes = _uniqueness(month_column, spec, unique_rules, duplicate)
    cache.clear()
    month_end = gates.month_bounds(month)[1]

    # 3. chunk by chunk: helpers, GX on the row-level rules, Arrow masks, split. A month that fits
    #    in one chunk runs the whole suite in that one GX run (no month frame needed).
    single = n <= getattr(source, "rows", n)
    chunk_skip = set(skip) if single else set(skip) | month_names
    ctx = gx_context()
    chunk_results: dict[str, list] = {}
    meta = batch_id = None
    month_parts: list[pa.Table] = []
    quarantine_parts: list[pa.Table] = []
    offset = valid_count = 0
    for chunk in chunks(source):
        if single and offset:
            raise RuntimeError(f"{spec.name}: a source of {n} rows in chunks of {source.rows} gave more than one chunk")
        m = chunk.num_rows
        work = derive.add_helpers(chunk, spec.derived, ds.record_id, month_end=month_end,
                                  duplicate=None if duplicate is None else pa.array(duplicate[offset:offset + m]))
        if not single:
            frame_columns = [c for c in work.column_names if c in month_columns] or work.column_names[:1]
            month_parts.append(_month_part(work, frame_columns, value_columns, codes, offset))
        df, gx_params = to_gx_frame(work, params)
        result, _ = run_gx(spec, df, gx_params, chunk_skip, run_id=run_id, month=month, ctx=ctx)
        del df
        gc.collect()  # GX leaves reference cycles around each frame: free the chunk now, not later
        meta, batch_id = meta or dict(result.meta), batch_id or result.batch_id
        by_rule = _result_by_rule(result)
        per_row: dict[int, list[str]] = {}
        for rule in spec.rules:  # suite order: a row lists its failed rules in that order
            if rule.rule in chunk_names:
                r = by_rule[rule.rule]
                chunk_results.setdefault(rule.rule, []).append(r)
                if r.exception_info and r.exception_info.get("raised_exception"):
                    raise RuntimeError(f"{spec.name}: expectation {rule.rule} ({rule.type}) raised in GX: "
                                       f"{r.exception_info.get('exception_message')}")
                if rule.severity != "quarantine":
                    continue
                mask = masks.unexpected_mask(work, rule, params)
                count = pc.sum(mask).as_py() or 0
                gx_count = (r.result or {}).get("unexpected_count")
                if gx_count is not None and gx_count != count:
                    raise masks.EngineMismatchError(
                        f"{spec.name}: rule {rule.rule}: GX counts {gx_count} unexpected rows, Arrow mask {count}")
                idx = np.flatnonzero(pc.fill_null(mask, False).to_numpy(zero_copy_only=False)) if count else []
            elif rule.rule in unique_failing:
                g = unique_failing[rule.rule]
                idx = g[(g >= offset) & (g < offset + m)] - offset
            else:
                continue
            for i in idx:
                per_row.setdefault(int(i), []).append(rule.rule)
            if len(idx):
                failures.setdefault(rule.rule, []).append(np.asarray(idx))
        del work
        q_idx = np.array(sorted(per_row), dtype=np.int64)
        if len(q_idx):
            keep = np.ones(m, dtype=bool)
            keep[q_idx] = False
            valid = chunk.filter(pa.array(keep))
            quarantine_parts.append(_with_failed_rules(chunk, q_idx, [per_row[i] for i in q_idx.tolist()], run_id))
        else:
            valid = chunk
        valid_count += valid.num_rows
        sink(valid)
        offset += m

    # 4. the month-wide rules, once, on the month frame (in a one-chunk month the chunk's run had them)
    if not single:
        month_df, gx_params = _month_frame(month_parts, params)
        del month_parts
        month_result, _ = run_gx(spec, month_df, gx_params, set(skip) | chunk_names, run_id=run_id, month=month, ctx=ctx)
        del month_df
        gc.collect()
        results = list(month_result.results) + [_sum_results(rs) for rs in chunk_results.values()]
        result = _suite_result(spec, results, meta or dict(month_result.meta), batch_id or month_result.batch_id)
    docs_path = build_docs(ctx, spec, result, gx_params, set(skip), run_id=run_id, month=month,
                           docs_dir=docs_dir) if docs_dir is not None else None
    by_rule = _result_by_rule(result)

    # 5. per-expectation outcome by severity
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
            if rule.rule in unique_failing:  # the month-wide mask against GX's month-wide count
                gx_count, count = res.get("unexpected_count"), len(unique_failing[rule.rule])
                if gx_count is not None and gx_count != count:
                    raise masks.EngineMismatchError(
                        f"{spec.name}: rule {rule.rule}: GX counts {gx_count} unexpected rows, Arrow mask {count}")
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

    quarantined = pa.concat_tables(quarantine_parts) if quarantine_parts else _empty_quarantine(source.schema, run_id)
    valid_table = None
    if valid_sink is None:
        valid_table = pa.concat_tables(valid_parts) if valid_parts else source.schema.empty_table()
    by_rule_counts = {k: int(sum(len(i) for i in v)) for k, v in failures.items()}
    reconcile(dataset, run_id, n, valid_count, quarantined.num_rows)
    summary = _summary(spec, result, params, skip)
    summary["run_id"] = run_id
    summary["month"] = month
    stopped = bool(stop_reasons)
    if stopped:
        log.warning("%s %s: dataset stopped: %s", dataset, month, "; ".join(stop_reasons))
    for w in warnings:
        log.warning("%s %s: %s", dataset, month, w)
    return ValidationResult(
        dataset, month, run_id, valid_table, quarantined,
        {"extracted": n, "valid": valid_count, "quarantined": quarantined.num_rows, "by_rule": by_rule_counts},
        gate_list, stopped, stop_reasons, warnings, summary, docs_path,
    )
