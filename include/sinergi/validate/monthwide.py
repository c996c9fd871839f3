"""Month-wide rules: the expectations a chunk cannot answer alone, and the month-wide row facts.

Row count, null rates with ``mostly``, column maxima and uniqueness are checked once, by GX, on a
narrow frame of the whole month (only the columns they read: real values where needed, month-wide
integer codes for uniqueness, 2-bit "has a value" stand-ins for null checks). Duplicate copies and
the rows failing a uniqueness rule are decided on the month before any row is split, so a copy in
the last chunk makes the first one fail too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sinergi.chunks import chunks
from sinergi.timing import stage
from sinergi.validate import derive, gx, masks, suites
from sinergi.validate.suites import Rule, SuiteSpec

#: Table expectations that every chunk answers exactly as the whole month would (the column list).
CHUNK_INVARIANT_TYPES = ("expect_table_columns_to_match_ordered_list", "expect_table_columns_to_match_set",
                         "expect_table_column_count_to_equal")
#: Month-wide rules that only need to know where a column is null.
NULLNESS_TYPES = ("expect_column_values_to_not_be_null", "expect_column_values_to_be_null")

MonthColumn = Callable[[str], pa.ChunkedArray]


def is_month_wide(rule: Rule) -> bool:
    """Checked on the whole month at once (on a narrow frame, see month_frame); every other
    expectation runs chunk by chunk and its counts are summed."""
    if rule.type in CHUNK_INVARIANT_TYPES:
        return False
    return (rule.type not in suites.ROW_LEVEL_TYPES or "mostly" in rule.kwargs
            or rule.type == "expect_column_values_to_be_unique")


def rule_columns(rule: Rule) -> list[str]:
    return [rule.kwargs[k] for k in ("column", "column_A", "column_B") if isinstance(rule.kwargs.get(k), str)]


def value_columns(rules) -> set[str]:
    """Columns whose values (not only their nulls) month-wide rules look at."""
    return {c for r in rules if r.type not in NULLNESS_TYPES for c in rule_columns(r)}


def _nullness(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """True where the column has a value, null where it has none: 2 bits a row instead of the value."""
    return pc.if_else(pc.is_valid(col), pa.scalar(True), pa.scalar(None, pa.bool_()))


def month_part(work: pa.Table, columns: list[str], values: set[str], codes: dict[str, pa.Array],
               offset: int) -> pa.Table:
    """One chunk's share of the month frame: the month-wide rules' columns only, as values, as
    month-wide integer codes (uniqueness: same equalities, 4 bytes instead of the string), or as nullness."""
    m = work.num_rows
    arrays = [codes[c].slice(offset, m) if c in codes else work.column(c) if c in values
              else _nullness(work.column(c)) for c in columns]
    return pa.table(arrays, names=columns)


def month_frame(parts: list[pa.Table], params: dict):
    """The month-wide frame for GX (pandas, booleans kept as 2-bit Arrow columns)."""
    import pandas as pd

    table = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    return gx.to_gx_frame(table, params, types_mapper={pa.bool_(): pd.ArrowDtype(pa.bool_())}.get)


def duplicates(month_column: MonthColumn, n: int, spec: SuiteSpec, record_id: str | None,
               source) -> np.ndarray | None:
    """Month-wide ``_duplicate_row`` (True on the 2nd and later copies of an identical row), or None when
    the suite does not derive it. Only rows whose record id repeats can be copies: the record ids are
    read first (one narrow column), then only those rows."""
    if not any(d["fn"] == "duplicate_row" for d in spec.derived):
        return None
    with stage("month-wide copies"):
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


def uniqueness(month_column: MonthColumn, spec: SuiteSpec, rules, duplicate: np.ndarray | None
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
