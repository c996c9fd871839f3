"""Per-row failure masks in Arrow, with the same semantics as the GX built-ins.

GX computes the official results (statistics, Data Docs) in BASIC mode; asking GX for every
failing row index (COMPLETE) is slow and huge on millions of rows (STACK.md). So for row-level
expectations the failing rows are computed here, vectorised, and the engine checks on every run
that each mask's count equals GX's ``unexpected_count`` for that expectation (a disagreement
raises ``EngineMismatchError``; tests also compare the indices with GX COMPLETE).

GX semantics reproduced: column-map expectations ignore nulls (except not_be_null / be_null);
pair expectations with ``ignore_row_if="either_value_is_missing"`` ignore rows with a null in either
column (``"both_values_are_missing"``, GX's default, only rows where both are null).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from sinergi.errors import PermanentError
from sinergi.timing import stage
from sinergi.validate.suites import Rule, SuiteError, resolve_kwargs


class EngineMismatchError(PermanentError):
    """The Arrow row mask disagrees with GX's unexpected_count for an expectation (a bug to report:
    the same data gives the same disagreement on every retry)."""


def _valid(a) -> pa.ChunkedArray:
    return pc.is_valid(a)


def _and_valid(a, cond) -> pa.ChunkedArray:
    return pc.and_(_valid(a), pc.fill_null(cond, False))


def _scalar_for(value, typ: pa.DataType):
    return pa.scalar(value, typ)


def unexpected_mask(table: pa.Table, rule: Rule, params: dict) -> pa.ChunkedArray:
    """Boolean mask of the rows GX counts as unexpected for ``rule`` (true = the row fails)."""
    with stage("Arrow masks"):
        return _mask(table, rule, params)


def _mask(table: pa.Table, rule: Rule, params: dict) -> pa.ChunkedArray:
    kw = resolve_kwargs(rule.kwargs, params)
    t = rule.type
    if t == "expect_column_values_to_not_be_null":
        return pc.is_null(table[kw["column"]])
    if t == "expect_column_values_to_be_null":
        return pc.is_valid(table[kw["column"]])
    if t == "expect_column_values_to_be_in_set":
        col = table[kw["column"]]
        value_set = pa.array(list(kw["value_set"]), col.type)
        return _and_valid(col, pc.invert(pc.is_in(col, value_set=value_set)))
    if t == "expect_column_values_to_match_regex":
        col = table[kw["column"]]
        return _and_valid(col, pc.invert(pc.match_substring_regex(col, kw["regex"])))
    if t == "expect_column_values_to_not_match_regex":
        col = table[kw["column"]]
        return _and_valid(col, pc.match_substring_regex(col, kw["regex"]))
    if t == "expect_column_values_to_be_between":
        col = table[kw["column"]]
        bad = pa.array([False] * table.num_rows, pa.bool_())
        if kw.get("min_value") is not None:
            lo = _scalar_for(kw["min_value"], col.type)
            bad = pc.or_(bad, pc.fill_null((pc.less_equal if kw.get("strict_min") else pc.less)(col, lo), False))
        if kw.get("max_value") is not None:
            hi = _scalar_for(kw["max_value"], col.type)
            bad = pc.or_(bad, pc.fill_null((pc.greater_equal if kw.get("strict_max") else pc.greater)(col, hi), False))
        return _and_valid(col, bad)
    if t == "expect_column_values_to_be_unique":
        col = table[kw["column"]]
        counts = pc.value_counts(pc.drop_null(col))
        dupes = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
        return _and_valid(col, pc.is_in(col, value_set=dupes))
    if t in ("expect_column_pair_values_to_be_equal", "expect_column_pair_values_a_to_be_greater_than_b"):
        a, b = table[kw["column_A"]], table[kw["column_B"]]
        ignore = kw.get("ignore_row_if", "both_values_are_missing")
        if ignore == "either_value_is_missing":
            considered = pc.and_(_valid(a), _valid(b))
        elif ignore == "both_values_are_missing":
            considered = pc.or_(_valid(a), _valid(b))
        else:
            raise SuiteError(f"{rule.rule}: ignore_row_if={ignore!r} is not supported for row masks")
        if t == "expect_column_pair_values_to_be_equal":
            ok = pc.equal(a, b)
        else:
            ok = (pc.greater_equal if kw.get("or_equal") else pc.greater)(a, b)
        return pc.and_(considered, pc.invert(pc.fill_null(ok, False)))
    raise SuiteError(f"{rule.rule}: no row mask for {t}")
