"""GX plumbing: the quiet import, the ephemeral context, the pandas frame GX validates, one suite run,
Data Docs, and merging per-part / per-chunk results into the one result GX would have given.

Nothing here decides what a result means for the rows or the dataset (sinergi.validate.outcome does).
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from sinergi.timing import stage
from sinergi.validate import suites
from sinergi.validate.suites import Rule, SuiteSpec

#: BASIC without sample values: counts and percentages for manifests and Data Docs, never raw
#: personal values. (SUMMARY would add GX's failing-row index lists, a whole-frame filter per rule
#: that costs a third of the GX time; the Arrow masks give the rows.)
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}

_GX = None


def load():
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
    gx = load()  # first: quiet import settings apply before GX loads
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


def _pair_columns(rule: Rule) -> tuple[str, str] | None:
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
    month = str(month)
    with stage("GX"):
        ctx = ctx or gx_context()
        source = ctx.data_sources.add_pandas(f"sinergi-{uuid.uuid4().hex[:8]}")
        active = [r for r in spec.rules if r.rule not in skip]
        paired = {r.rule for r in active if _pair_columns(r)}
        parts = [(spec.dataset, df, set(skip) | paired)]
        if paired:
            cols = list(dict.fromkeys(c for r in active if r.rule in paired for c in _pair_columns(r)))
            unpaired = {r.rule for r in active} - paired
            parts.append((f"{spec.dataset}__column_pairs", df[cols], set(skip) | unpaired))
        results = []
        try:
            for asset, frame, part_skip in parts:
                batch_def = source.add_dataframe_asset(asset).add_batch_definition_whole_dataframe(month)
                batch = batch_def.get_batch(batch_parameters={"dataframe": frame})
                suite = suites.gx_suite(spec, part_skip, params)
                results.append(batch.validate(suite, result_format=result_format,
                                              expectation_parameters=params))
                del batch
        finally:
            # the context (GX keeps the last one alive) would otherwise hold every frame it validated
            ctx.data_sources.delete(source.name)
        result = merge_results(spec, results)
        if docs_dir is None:
            return result, None
        return result, build_docs(ctx, spec, result, params, skip, run_id=run_id, month=month,
                                  docs_dir=docs_dir)


def build_docs(ctx, spec: SuiteSpec, result, params: dict, skip: set[str], *, run_id: str, month: str,
               docs_dir: Path) -> Path:
    """A Data Docs site of one (possibly merged) suite result; returns its index.html."""
    from sinergi.validate import datadocs

    with stage("Data Docs"):
        return datadocs.build_docs(ctx, suites.gx_suite(spec, set(skip), params), result, run_id=run_id,
                                   month=str(month), docs_dir=Path(docs_dir))


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
    with stage("pandas frames"):
        table = table.combine_chunks()
        dates = [f.name for f in table.schema if pa.types.is_date(f.type)]
        if not dates:
            return table.to_pandas(types_mapper=types_mapper), params
        for c in dates:
            lo, hi = (v.as_py() for v in pc.min_max(table.column(c)).values())
            if (lo is not None and lo < _NS_MIN) or (hi is not None and hi >= _NS_MAX):
                return table.to_pandas(types_mapper=types_mapper), params
        import pandas as pd

        df = table.to_pandas(date_as_object=False, coerce_temporal_nanoseconds=True,
                             types_mapper=types_mapper)
        gx_params = {k: pd.Timestamp(v) if isinstance(v, dt.date) else v for k, v in params.items()}
        return df, gx_params


# ------------------------------------------------------------------------------- reading results
def result_by_rule(result) -> dict[str, object]:
    return {r.expectation_config.meta["rule"]: r for r in result.results}


def raise_if_raised(spec: SuiteSpec, rule: Rule, r) -> None:
    """An expectation that raised inside GX has no answer: stop the run, naming it."""
    if r.exception_info and r.exception_info.get("raised_exception"):
        raise RuntimeError(f"{spec.name}: expectation {rule.rule} ({rule.type}) raised in GX: "
                           f"{r.exception_info.get('exception_message')}")


# ------------------------------------------------------------------------------- merging results
def merge_results(spec: SuiteSpec, results: list):
    """One suite result from the parts' results, expectations in suite order."""
    if len(results) == 1:
        return results[0]
    every = [r for res in results for r in res.results]
    return suite_result(spec, every, dict(results[0].meta), results[0].batch_id)


def sum_results(chunk_results: list) -> object:
    """One expectation result from the per-chunk results of a row-level rule (no ``mostly``): counts
    are summed, percentages recomputed, success = no chunk failed."""
    first = chunk_results[0]
    if len(chunk_results) == 1:
        return first
    merged = copy.deepcopy(first)
    merged.success = all(r.success for r in chunk_results)
    broken = next((r for r in chunk_results
                   if r.exception_info and r.exception_info.get("raised_exception")), None)
    if broken is not None:
        merged.exception_info = broken.exception_info
    res = dict(first.result or {})
    for key in ("element_count", "missing_count", "unexpected_count"):
        if key in res:
            res[key] = sum((r.result or {}).get(key) or 0 for r in chunk_results)
    total, missing = res.get("element_count"), res.get("missing_count", 0)
    unexpected = res.get("unexpected_count")
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


def suite_result(spec: SuiteSpec, results: list, meta: dict, batch_id):
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
