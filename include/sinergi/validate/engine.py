"""Validate one dataset-month with Great Expectations and split it into valid and quarantined rows.

``validate()`` runs five phases, each a function below:

1. :func:`check_schema` — the Arrow types. A month with missing or mistyped columns cannot be
   row-validated: every row goes to quarantine and the dataset stops;
2. :func:`plan` — the suite's parameters and skipped rules for this run, which rules are month-wide,
   and the month-wide row facts (duplicate copies, rows failing uniqueness), decided on the month
   before any row is split (sinergi.validate.monthwide);
3. :func:`split_chunks` — chunk by chunk: helper columns in Arrow (sinergi.validate.derive), GX on
   the row-level expectations in BASIC mode on a pandas frame, and the failing rows from Arrow masks
   with GX's semantics (sinergi.validate.masks); each mask's count must equal GX's
   ``unexpected_count`` or the run fails with ``EngineMismatchError`` (GX remains the authority on
   *whether* rows fail). Valid rows go to the sink, failing rows to quarantine with every reason.
   Row-level ``warn`` rules get masks too: a row breaking one stays valid and lists it in the
   ``data_quality_flags`` column (``;``-joined, suite order; null when none), published to every
   party. Unknown values of vocabulary, country and kab/kota columns are counted per value;
4. :func:`check_month_wide` — the month-wide rules (row count, null rates, column max, uniqueness)
   once, on a narrow frame of the month; the per-chunk counts are summed and merged with them into
   the official result, with statistics and Data Docs (GX plumbing: sinergi.validate.gx);
5. the outcome by severity (sinergi.validate.outcome): ``quarantine`` rows leave the valid set,
   ``warn`` is reported (and flagged per row), ``stop`` marks the dataset as not publishable this
   month; then the month gates (too many rejected rows, an empty month after months with rows) and
   the counts must reconcile (extracted = valid + quarantined).

Memory holds one chunk plus a few narrow month-wide columns, so millions of rows fit.
"""

from __future__ import annotations

import collections
import gc
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sinergi import registry
from sinergi.chunks import ParquetSource, TableSource, as_source, chunks, column
from sinergi.errors import DatasetStopped, ReconciliationError
from sinergi.months import Month
from sinergi.registry import DATA_QUALITY_FLAGS, Dataset
from sinergi.validate import derive, gates, gx, masks, monthwide, outcome, suites
from sinergi.validate.gates import GateOutcome
from sinergi.validate.outcome import Verdict
from sinergi.validate.suites import BOOKKEEPING, SuiteSpec

log = logging.getLogger(__name__)

FAILED_RULES = "_failed_rules"
RUN_ID = "_run_id"
#: Observed unknown values listed per column in the counts (the most frequent; longer ones cut).
UNKNOWN_VALUES_TOP = 50
UNKNOWN_VALUE_CHARS = 60
#: Suite parameters that hold a closed list of codes a registry column's values are checked against.
_VALUE_LISTS = ("country_codes", "kabkota_codes")


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
            raise DatasetStopped(
                f"{self.dataset} {self.month} (run {self.run_id}) does not publish: batch rules failed:\n  - "
                + "\n  - ".join(self.stop_reasons)
            )


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
            got = schema.field(c.name).type
            problems.append(f"column {c.name!r} has type {got}, expected {c.arrow_type}")
    for b in BOOKKEEPING:
        if b not in names:
            problems.append(f"missing bookkeeping column {b!r}")
    return problems


def reconcile(dataset: str, run_id: str, extracted: int, valid: int, quarantined: int) -> None:
    if extracted != valid + quarantined:
        raise ReconciliationError(
            f"{dataset} run {run_id}: extracted {extracted} rows but valid {valid} + quarantined "
            f"{quarantined} = {valid + quarantined}; "
            f"{extracted - valid - quarantined:+d} rows unaccounted for"
        )


def _with_failed_rules(table: pa.Table, idx: np.ndarray, rules_per_row: list[list[str]],
                       run_id: str, flags: pa.Array | None = None) -> pa.Table:
    """The quarantined rows with their reasons, the run, and the warnings they also carry."""
    q = table.take(pa.array(idx, pa.int64()))
    q = q.append_column(FAILED_RULES, pa.array(rules_per_row, pa.list_(pa.string())))
    q = q.append_column(RUN_ID, pa.array([run_id] * len(idx), pa.string()))
    return q.append_column(DATA_QUALITY_FLAGS, pa.nulls(len(idx), pa.string()) if flags is None else flags)


def flags_column(warned: list[tuple[str, np.ndarray]], n: int) -> pa.Array:
    """``data_quality_flags``: the names of the warning rules each row breaks, ``;``-joined in the
    given (suite) order; null when none."""
    acc = pa.nulls(n, pa.string())
    for name, mask in warned:
        if not mask.any():
            continue
        joined = pc.binary_join_element_wise(acc, pa.scalar(name), ";")  # null where acc is null
        acc = pc.if_else(pa.array(mask), pc.coalesce(joined, pa.scalar(name)), acc)
    return acc


def _empty_quarantine(table: pa.Table | pa.Schema, run_id: str) -> pa.Table:
    empty = table.empty_table() if isinstance(table, pa.Schema) else table.slice(0, 0)
    return _with_failed_rules(empty, np.array([], dtype=np.int64), [], run_id)


# ------------------------------------------------------------------------------ 1. the Arrow types
def check_schema(spec: SuiteSpec, source, verdict: Verdict) -> list[str]:
    """Phase 1: the Arrow types (a table check declared in the suite meta); returns the problems."""
    problems = check_types(spec, source.schema)
    outcome.column_types(spec, problems, verdict)
    return problems


def _unreadable(dataset: str, month: str, run_id: str, spec: SuiteSpec, source, verdict: Verdict,
                valid_sink) -> ValidationResult:
    """Every row to quarantine as ``column_types``: the month cannot be row-validated."""
    n = source.num_rows
    parts = [_with_failed_rules(c, np.arange(c.num_rows), [["column_types"]] * c.num_rows, run_id)
             for c in chunks(source)]
    quarantined = pa.concat_tables(parts)
    reconcile(dataset, run_id, n, 0, quarantined.num_rows)
    return ValidationResult(
        dataset, month, run_id, None if valid_sink else source.schema.empty_table(), quarantined,
        {"extracted": n, "valid": 0, "quarantined": n, "by_rule": {"column_types": n},
         "warnings_by_rule": {}, "unknown_values": {}},
        verdict.gates, True, verdict.stop_reasons, verdict.warnings, outcome.types_summary(spec),
    )


# ------------------------------------------------------------- 2. parameters, skips, month-wide facts
@dataclass
class Plan:
    """What this run checks and where: the resolved parameters, the skipped rules, the month-wide
    rules and the month-wide row facts the chunk loop needs."""

    params: dict
    skip: dict[str, str]
    month_names: set[str]
    chunk_names: set[str]
    value_columns: set[str]
    month_columns: set[str]
    duplicate: np.ndarray | None
    unique_failing: dict[str, np.ndarray]
    codes: dict[str, pa.Array]
    month_end: object


def plan(spec: SuiteSpec, ds: Dataset, source, month: Month, references: dict[str, set[str]] | None,
         history: list[int] | None, verdict: Verdict) -> Plan:
    """Phase 2: parameters and skips; which rules run month-wide; the month-wide row facts."""
    params, skip = gates.resolve(spec, month, references, history, rows=source.num_rows)
    outcome.skipped(skip, verdict)
    active = [r for r in spec.rules if r.rule not in skip]
    month_rules = [r for r in active if monthwide.is_month_wide(r)]
    chunk_rules = [r for r in active if not monthwide.is_month_wide(r)]
    cache: dict[str, pa.ChunkedArray] = {}

    def month_column(name: str) -> pa.ChunkedArray:  # a narrow month-wide read, once per column
        if name not in cache:
            cache[name] = column(source, name)
        return cache[name]

    duplicate = monthwide.duplicates(month_column, source.num_rows, spec, ds.record_id, source)
    unique_rules = [r for r in month_rules
                    if r.type == "expect_column_values_to_be_unique" and r.severity == "quarantine"]
    unique_failing, codes = monthwide.uniqueness(month_column, spec, unique_rules, duplicate)
    cache.clear()
    return Plan(
        params=params, skip=skip,
        month_names={r.rule for r in month_rules}, chunk_names={r.rule for r in chunk_rules},
        value_columns=monthwide.value_columns(month_rules),
        month_columns={c for r in month_rules for c in monthwide.rule_columns(r)},
        duplicate=duplicate, unique_failing=unique_failing, codes=codes, month_end=month.last_day,
    )


# ---------------------------------------------------------------------------- 3. the chunk loop
@dataclass
class Split:
    """What the chunk loop leaves for the month-wide phase and the outcome."""

    single: bool  # the month was one chunk: its GX run had every rule
    chunk_results: dict[str, list] = field(default_factory=dict)
    meta: dict | None = None
    batch_id: object = None
    last_result: object = None  # the (only) chunk's GX result when single
    last_params: dict | None = None
    month_parts: list[pa.Table] = field(default_factory=list)
    quarantine_parts: list[pa.Table] = field(default_factory=list)
    failures: dict[str, list[np.ndarray]] = field(default_factory=dict)
    valid_count: int = 0
    #: rows published with each warning rule in their data_quality_flags
    warned: collections.Counter = field(default_factory=collections.Counter)
    #: column -> observed value outside its vocabulary / code list -> rows (valid and quarantined)
    unknown: dict[str, collections.Counter] = field(default_factory=dict)


def split_chunks(spec: SuiteSpec, ds: Dataset, source, p: Plan, run_id: str, month: Month, ctx,
                 sink: Callable[[pa.Table], None]) -> Split:
    """Phase 3: chunk by chunk, helpers, GX on the row-level rules, Arrow masks, split. A month that
    fits in one chunk runs the whole suite in that one GX run (no month frame needed)."""
    n = source.num_rows
    out = Split(single=n <= getattr(source, "rows", n))
    chunk_skip = set(p.skip) if out.single else set(p.skip) | p.month_names
    offset = 0
    for chunk in chunks(source):
        if out.single and offset:
            raise RuntimeError(f"{spec.name}: a source of {n} rows in chunks of {source.rows} "
                               "gave more than one chunk")
        m = chunk.num_rows
        duplicate = None if p.duplicate is None else pa.array(p.duplicate[offset:offset + m])
        work = derive.add_helpers(chunk, spec.derived, ds.record_id, month_end=p.month_end,
                                  duplicate=duplicate)
        if not out.single:
            frame_columns = [c for c in work.column_names if c in p.month_columns] or work.column_names[:1]
            out.month_parts.append(
                monthwide.month_part(work, frame_columns, p.value_columns, p.codes, offset))
        df, gx_params = gx.to_gx_frame(work, p.params)
        result, _ = gx.run_gx(spec, df, gx_params, chunk_skip, run_id=run_id, month=str(month), ctx=ctx)
        del df
        gc.collect()  # GX leaves reference cycles around each frame: free the chunk now, not later
        out.meta, out.batch_id = out.meta or dict(result.meta), out.batch_id or result.batch_id
        out.last_result, out.last_params = result, gx_params
        per_row, warned = _failing_rows(spec, work, result, p, out, offset)
        del work
        flags = flags_column(warned, m)
        q_idx = np.array(sorted(per_row), dtype=np.int64)
        keep = np.ones(m, dtype=bool)
        keep[q_idx] = False
        for name, mask in warned:
            out.warned[name] += int(np.count_nonzero(mask & keep))
        if len(q_idx):
            valid = chunk.filter(pa.array(keep)).append_column(DATA_QUALITY_FLAGS, flags.filter(pa.array(keep)))
            reasons = [per_row[i] for i in q_idx.tolist()]
            out.quarantine_parts.append(_with_failed_rules(chunk, q_idx, reasons, run_id,
                                                           flags.take(pa.array(q_idx, pa.int64()))))
        else:
            valid = chunk.append_column(DATA_QUALITY_FLAGS, flags)
        out.valid_count += valid.num_rows
        sink(valid)
        offset += m
    return out


def _failing_rows(spec: SuiteSpec, work: pa.Table, result, p: Plan, out: Split,
                  offset: int) -> tuple[dict[int, list[str]], list[tuple[str, np.ndarray]]]:
    """Row (within the chunk) -> the quarantine rules it fails, in suite order, and the row masks of
    the row-level warning rules (suite order); records the chunk's results, failures and unknown
    values in ``out``."""
    by_rule = gx.result_by_rule(result)
    m = work.num_rows
    per_row: dict[int, list[str]] = {}
    warned: list[tuple[str, np.ndarray]] = []
    for rule in spec.rules:  # suite order: a row lists its failed rules in that order
        if rule.rule in p.chunk_names:
            r = by_rule[rule.rule]
            out.chunk_results.setdefault(rule.rule, []).append(r)
            gx.raise_if_raised(spec, rule, r)
            if rule.severity == "stop" or not rule.row_level:
                continue
            mask = masks.unexpected_mask(work, rule, p.params)
            count = pc.sum(mask).as_py() or 0
            gx_count = (r.result or {}).get("unexpected_count")
            if gx_count is not None and gx_count != count:
                raise masks.EngineMismatchError(f"{spec.name}: rule {rule.rule}: GX counts {gx_count} "
                                                f"unexpected rows, Arrow mask {count}")
            if count and _lists_values(rule):
                _count_unknown(work, rule, mask, out)
            if rule.severity == "warn":
                warned.append((rule.rule, pc.fill_null(mask, False).to_numpy(zero_copy_only=False)))
                continue
            idx = np.flatnonzero(pc.fill_null(mask, False).to_numpy(zero_copy_only=False)) if count else []
        elif rule.rule in p.unique_failing:
            g = p.unique_failing[rule.rule]
            idx = g[(g >= offset) & (g < offset + m)] - offset
        else:
            continue
        for i in idx:
            per_row.setdefault(int(i), []).append(rule.rule)
        if len(idx):
            out.failures.setdefault(rule.rule, []).append(np.asarray(idx))
    return per_row, warned


def _lists_values(rule) -> bool:
    """A membership rule of a registry column against a vocabulary or a code list: its unexpected
    values are observed spellings (not personal data) worth listing for the producer."""
    column = rule.kwargs.get("column")
    return (rule.type == "expect_column_values_to_be_in_set" and isinstance(column, str)
            and not column.startswith("_")
            and any(p.startswith("vocab_") or p in _VALUE_LISTS for p in rule.parameters()))


def _count_unknown(work: pa.Table, rule, mask, out: Split) -> None:
    column = rule.kwargs["column"]
    values = work.column(column).filter(pc.fill_null(mask, False))
    counts = out.unknown.setdefault(column, collections.Counter())
    for item in pc.value_counts(values).to_pylist():
        counts[str(item["values"])[:UNKNOWN_VALUE_CHARS]] += int(item["counts"])


def unknown_values(unknown: dict[str, collections.Counter]) -> dict[str, dict[str, int]]:
    """``{column: {value: rows}}``, the UNKNOWN_VALUES_TOP most frequent values per column."""
    return {c: dict(sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))[:UNKNOWN_VALUES_TOP])
            for c, v in sorted(unknown.items()) if v}


# ------------------------------------------------------------------------ 4. the month-wide rules
def check_month_wide(spec: SuiteSpec, p: Plan, s: Split, run_id: str, month: Month, ctx,
                     docs_dir: Path | None) -> tuple[object, Path | None]:
    """Phase 4: the month-wide rules, once, on the month frame (in a one-chunk month the chunk's run
    had them), merged with the summed chunk results into the official result; its Data Docs."""
    if s.single:
        result, gx_params = s.last_result, s.last_params
    else:
        month_df, gx_params = monthwide.month_frame(s.month_parts, p.params)
        s.month_parts.clear()
        month_result, _ = gx.run_gx(spec, month_df, gx_params, set(p.skip) | p.chunk_names, run_id=run_id,
                                    month=str(month), ctx=ctx)
        del month_df
        gc.collect()
        results = list(month_result.results) + [gx.sum_results(rs) for rs in s.chunk_results.values()]
        result = gx.suite_result(spec, results, s.meta or dict(month_result.meta),
                                 s.batch_id or month_result.batch_id)
    docs_path = gx.build_docs(ctx, spec, result, gx_params, set(p.skip), run_id=run_id, month=str(month),
                              docs_dir=docs_dir) if docs_dir is not None else None
    return result, docs_path


# --------------------------------------------------------------------------------------- validate
def validate(
    table: pa.Table | TableSource | ParquetSource,
    dataset: str,
    month: Month | str,
    run_id: str | None = None,
    references: dict[str, set[str]] | None = None,
    history: list[int] | None = None,
    docs_dir: Path | None = None,
    *,
    suite: SuiteSpec | None = None,
    valid_sink: Callable[[pa.Table], None] | None = None,
    malformed: int = 0,
    allow_empty: bool = False,
) -> ValidationResult:
    """Validate one month's extract of a dataset against ``expectations/<dataset>.json``.

    ``table`` is the month (an Arrow table) or a chunked source of it (sinergi.chunks: a
    ``ParquetSource`` of a local file), validated in chunks of ``chunk_rows()`` rows (see the
    module docstring for the phases). ``month`` is ``YYYY-MM`` (parsed strictly).

    Pure except for writing Data Docs when ``docs_dir`` is given (the local state directory; the
    site goes to ``sinergi.layout.local_data_docs_dir(docs_dir, ...)``). ``references`` maps a
    referenced dataset to the ids the referencing column may hold (``{"p3mi": {...}}``; a reference
    without ids is skipped with a warning); ``history`` lists the previous months' row counts (oldest
    first) for the volume gate. ``suite`` overrides the committed suite (reviewing a changed suite
    before committing it). With ``valid_sink`` the valid rows are handed to it chunk by chunk (and
    ``result.valid`` is None); otherwise they are collected into ``result.valid``.
    """
    month = Month.of(month)
    run_id = run_id or uuid.uuid4().hex[:12]
    spec = suite or suites.load(dataset)
    ds = registry.get(dataset)
    source = as_source(table)
    n = source.num_rows
    verdict = Verdict()
    valid_parts: list[pa.Table] = []
    sink = valid_sink or valid_parts.append

    if check_schema(spec, source, verdict):  # 1
        return _unreadable(dataset, str(month), run_id, spec, source, verdict, valid_sink)
    p = plan(spec, ds, source, month, references, history, verdict)  # 2
    ctx = gx.gx_context()
    s = split_chunks(spec, ds, source, p, run_id, month, ctx, sink)  # 3
    result, docs_path = check_month_wide(spec, p, s, run_id, month, ctx, docs_dir)  # 4
    outcome.judge(spec, result, p.params, p.skip, p.unique_failing, verdict)  # 5

    quarantined = (pa.concat_tables(s.quarantine_parts) if s.quarantine_parts
                   else _empty_quarantine(source.schema, run_id))
    outcome.month_gates(spec, verdict, rows=n, quarantined=quarantined.num_rows, malformed=malformed,
                        valid=s.valid_count, history=history, allow_empty=allow_empty)
    valid_table = None
    if valid_sink is None:
        valid_table = pa.concat_tables(valid_parts) if valid_parts else \
            source.schema.append(pa.field(DATA_QUALITY_FLAGS, pa.string())).empty_table()
    by_rule_counts = {k: int(sum(len(i) for i in v)) for k, v in s.failures.items()}
    reconcile(dataset, run_id, n, s.valid_count, quarantined.num_rows)
    summary = outcome.summary(spec, result, p.params, p.skip)
    summary["run_id"] = run_id
    summary["month"] = str(month)
    if verdict.stopped:
        log.warning("%s %s: dataset stopped: %s", dataset, month, "; ".join(verdict.stop_reasons))
    for w in verdict.warnings:
        log.warning("%s %s: %s", dataset, month, w)
    return ValidationResult(
        dataset, str(month), run_id, valid_table, quarantined,
        {"extracted": n, "valid": s.valid_count, "quarantined": quarantined.num_rows,
         "by_rule": by_rule_counts,
         "warnings_by_rule": {r.rule: s.warned[r.rule] for r in spec.rules if s.warned.get(r.rule)},
         "unknown_values": unknown_values(s.unknown)},
        verdict.gates, verdict.stopped, verdict.stop_reasons, verdict.warnings, summary, docs_path,
    )
