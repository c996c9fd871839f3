"""Disclosure control before a release: k-anonymity (generalise, then suppress) and the leak guard.

k-anonymity (``k_anonymise``)
    Equivalence classes are the distinct combinations of the release's quasi-identifiers (after
    the party's transforms, e.g. age_band, sex, kabkota_code, kecamatan_code, education; a null is
    a value of its own). Rows in classes smaller than k are generalised further *locally* (only
    those rows), one step at a time — by default age band 5 -> 10 years, kecamatan dropped
    (kab/kota stays), age band -> 20 years, education dropped, kab/kota dropped (province stays) —
    re-counting after each step; rows still in small
    classes are then suppressed (removed, counted with reason ``k_anonymity``). Local recoding keeps
    the detail of every row that is already safe; the column types never change, so the published
    schema stays deterministic. Every published class has >= k rows. Counting is done with Arrow
    ``group_by`` on a dense class id (dictionary codes of each QI combined), no pandas.

    Limits (documented in the record of processing): k-anonymity says nothing about the diversity
    of sensitive values inside a class (l-diversity), and a party that links its own releases with
    tokens over many months can narrow classes (composition); k is a floor, not a guarantee.

Leak guard (``leak_guard``)
    Scans every string column of the outgoing table for raw NIK (16 digits), Indonesian mobile
    (+62/62/08..., 10-13 digits) or international (+country) phone numbers, passport-like values
    (1-2 capital letters + 6-8 digits) and e-mail addresses, and for any value of a dropped or
    tokenised direct-identifier column (case-insensitive exact match, values of 4+ characters).
    A hit raises ``LeakError`` naming the column and the pattern, never the value. Patterns need a
    non-alphanumeric boundary (or the string edge) on both sides, so identifiers embedded in longer
    alphanumeric codes — and tokens ``t_`` + 32 letters (no digits at all) — cannot match (see sinergi.tokens).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from sinergi.errors import PermanentError
from sinergi.safeguards import DROPPED_VALUES, PATTERNS, REGION_COLUMNS, Step, default_steps, parse_step

# The step grammar and the patterns are defined (pure Python) in sinergi.safeguards, where the policy
# model checks names against them; they are re-exported here with the engines that apply them.
__all__ = [
    "MIN_FORBIDDEN_LEN", "PATTERNS", "PROBE_BATCH", "REGION_COLUMNS", "SUPPRESSION_REASON", "LeakError", "Step",
    "class_ids", "class_sizes", "default_steps", "k_anonymise", "leak_guard", "parse_step", "widen_band",
]

SUPPRESSION_REASON = "k_anonymity"
MIN_FORBIDDEN_LEN = 4
#: Dropped-identifier values probed against the release per ``is_in`` call (bounded memory, few hash-set builds).
PROBE_BATCH = 1_000_000


class LeakError(PermanentError):
    """A value in an outgoing column looks like a raw identifier (message names column + pattern only).
    Permanent: the same input and policy leak again; fix the policy (or the source) first."""

    def __init__(self, column: str, pattern: str, rows: int):
        self.column, self.pattern, self.rows = column, pattern, rows
        super().__init__(f"leak guard: column {column!r} has {rows} value(s) matching {pattern!r}; release blocked")


# --- leak guard ------------------------------------------------------------------------------


def _canon(arr: pa.Array) -> pa.Array:
    """Upper-cased and trimmed. The ASCII kernels give the same result on ASCII-only text, ~7× faster."""
    if pc.all(pc.string_is_ascii(arr)).as_py() is not False:
        return pc.ascii_upper(pc.ascii_trim_whitespace(arr))
    return pc.utf8_upper(pc.utf8_trim_whitespace(arr))


def _as_arrays(values) -> Iterator[pa.Array]:
    """The values as Arrow arrays: an array, a chunked array, a list of strings, or an iterable of
    arrays (a dropped column read chunk by chunk, so the month's identifiers are never all in memory)."""
    if isinstance(values, pa.ChunkedArray):
        yield from values.chunks
        return
    if isinstance(values, pa.Array):
        yield values
        return
    items = iter(values)
    first = next(items, None)
    if isinstance(first, (pa.Array, pa.ChunkedArray)):
        yield from _as_arrays(first)
        for arr in items:
            yield from _as_arrays(arr)
        return
    yield pa.array([None if v is None else str(v) for v in (first, *items)], pa.string())


def _canon_long(arr: pa.Array) -> pa.Array:
    """Canonical (upper, trimmed) non-null values of 4+ characters: only these can be a forbidden match."""
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, pa.string())
    vals = _canon(arr.drop_null())
    return vals.filter(pc.greater_equal(pc.utf8_length(vals), MIN_FORBIDDEN_LEN))


def _in_release(parts: list[pa.Array], outgoing: pa.Array) -> pa.Array:
    """The distinct values of ``parts`` that are in the release. Probed in batches: ``is_in`` builds
    its hash set of the release's values on every call."""
    canon = pa.concat_arrays(parts) if len(parts) > 1 else parts[0]
    return pc.unique(canon.filter(pc.is_in(canon, value_set=outgoing)))


def leak_guard(
    table: pa.Table,
    dropped_values: Mapping[str, Iterable] | pa.Array | pa.ChunkedArray | Iterable[str] | None = None,
    allow: Mapping[str, Iterable[str]] | None = None,
) -> dict:
    """Raise LeakError on the first suspicious column; return a small report when clean.

    ``dropped_values``: {dropped column name: its values} (or one array/list of values) that must
    not appear in any outgoing string column — an array, a list, or an iterable of array chunks; ``allow``: {column: pattern names} — explicit,
    reviewed exemptions from the policy (e.g. an id format that happens to look like a passport).

    Both checks work on distinct values: an outgoing release is mostly codes and vocabularies, so
    hashing to distinct values first is far cheaper than a regex per row, and the dropped columns
    (all rows of the month, often more than the release) are probed against the release's small
    value set instead of being turned into one large hash set.
    """
    if dropped_values is None:
        dropped: Mapping = {}
    elif isinstance(dropped_values, Mapping):
        dropped = dropped_values
    else:
        dropped = {"dropped": dropped_values}
    allow = {k: set(v) for k, v in (allow or {}).items()}
    scanned, candidates = [], []
    for name in table.column_names:
        col = table.column(name)
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            continue
        scanned.append(name)
        if col.null_count == len(col):
            continue
        distinct = pc.unique(col.combine_chunks()).drop_null()
        active = {p: rx for p, rx in PATTERNS.items() if p not in allow.get(name, ())}
        if active:  # one combined pass; per pattern only to name a hit (and count its rows)
            combined = "|".join(f"(?:{rx})" for rx in active.values())
            if pc.any(pc.match_substring_regex(distinct, combined)).as_py():
                for pname, rx in active.items():
                    n = pc.sum(pc.cast(pc.match_substring_regex(col, rx), pa.int64())).as_py() or 0
                    if n:
                        raise LeakError(name, pname, n)
        if dropped and DROPPED_VALUES not in allow.get(name, ()):
            candidates.append((name, _canon_long(distinct)))
    value_sets = []
    outgoing = pc.unique(pa.concat_arrays([c for _, c in candidates])) if candidates else None
    probe = outgoing is not None and len(outgoing) > 0
    for source, values in dropped.items():
        has_values, hits, pending, pending_n = False, [], [], 0
        for arr in _as_arrays(values):
            canon = _canon_long(arr)
            has_values = has_values or len(canon) > 0
            if probe and len(canon):
                pending.append(canon)
                pending_n += len(canon)
                if pending_n >= PROBE_BATCH:
                    hits.append(_in_release(pending, outgoing))
                    pending, pending_n = [], 0
        if pending:
            hits.append(_in_release(pending, outgoing))
        hits = [h for h in hits if len(h)]
        if has_values:
            value_sets.append(source)
        if hits:
            hit_values = pc.unique(pa.concat_arrays(hits))
            for name, _ in candidates:  # name the column (and count its rows) only on a hit
                col = _canon(table.column(name).combine_chunks().cast(pa.string()))
                n = pc.sum(pc.cast(pc.is_in(col, value_set=hit_values), pa.int64())).as_py() or 0
                if n:
                    raise LeakError(name, f"value of dropped column {source}", n)
    return {"passed": True, "columns_scanned": scanned, "patterns": sorted(PATTERNS),
            "dropped_value_sets": sorted(value_sets)}


# --- k-anonymity -----------------------------------------------------------------------------


def class_ids(table: pa.Table, columns: list[str]) -> pa.Array:
    """Dense int64 id of each row's combination of ``columns`` (nulls are a value)."""
    key = None
    for c in columns:
        enc = pc.dictionary_encode(table.column(c).combine_chunks(), null_encoding="encode")
        idx = enc.indices.cast(pa.int64())
        if key is None:
            key = idx
        else:  # combine, then re-densify so the mixed-radix key never overflows
            key = pc.add(pc.multiply(key, len(enc.dictionary)), idx)
            key = pc.dictionary_encode(key).indices.cast(pa.int64())
    return key if key is not None else pa.array([0] * table.num_rows, pa.int64())


def class_sizes(ids: pa.Array) -> tuple[pa.Array, int]:
    """Per-row size of the row's class, and the number of classes (Arrow group_by)."""
    if len(ids) == 0:
        return pa.array([], pa.int64()), 0
    g = pa.table({"id": ids}).group_by("id").aggregate([("id", "count")])
    counts = pc.take(g.column("id_count"), pc.sort_indices(g.column("id")))  # ids are dense 0..m-1
    return pc.take(counts, ids).combine_chunks(), g.num_rows


def _band_bounds(col: pa.Array) -> tuple[pa.Array, pa.Array]:
    parts = pc.split_pattern(col, "-", max_splits=1)
    lo = pc.cast(pc.list_element(parts, 0), pa.int64())
    hi = pc.cast(pc.list_element(parts, 1), pa.int64())
    return lo, hi


def widen_band(col: pa.Array, width: int) -> pa.Array:
    """'25-29' -> '20-29' for width 10 (bands are '<lo>-<hi>' strings; wider bands stay as they are)."""
    lo, hi = _band_bounds(col)
    new_lo = pc.multiply(pc.divide(lo, width), width)
    new = pc.binary_join_element_wise(
        pc.cast(new_lo, pa.string()), pc.cast(pc.add(new_lo, width - 1), pa.string()), "-"
    )
    narrower = pc.less(pc.add(pc.subtract(hi, lo), 1), width)
    return pc.if_else(pc.fill_null(narrower, False), new, col)


def k_anonymise(
    table: pa.Table,
    quasi_identifiers: list[str],
    k: int = 5,
    steps: list[Step | str] | None = None,
    bands: Mapping[str, int] | None = None,
) -> tuple[pa.Table, dict]:
    """Return (table with every QI class >= k rows, report). See the module docstring."""
    qis = [c for c in quasi_identifiers if c in table.column_names]
    missing = [c for c in quasi_identifiers if c not in table.column_names]
    if missing:
        raise ValueError(f"quasi-identifier column(s) not in table: {missing}")
    steps = [parse_step(s) if isinstance(s, str) else s
             for s in (steps if steps is not None else default_steps(qis, bands))]
    for s in steps:
        for c in s.columns:
            if c not in qis:
                raise ValueError(f"generalisation step {s.label!r}: {c!r} is not a quasi-identifier of the release")
    report = {
        "k_requested": k, "quasi_identifiers": qis, "rows_in": table.num_rows, "applicable": bool(qis) and k > 1,
        "steps": [], "rows_suppressed": 0, "suppressed_reason": SUPPRESSION_REASON,
    }
    if not report["applicable"] or table.num_rows == 0:
        # Nothing to generalise: no quasi-identifiers (e.g. registers of companies), k <= 1 or no rows.
        sizes, n_classes = class_sizes(class_ids(table, qis)) if qis else (None, 1 if table.num_rows else 0)
        report.update(
            classes=n_classes, rows_below_k_before=0, rows_out=table.num_rows,
            k_achieved=(pc.min(sizes).as_py() if sizes is not None and len(sizes) else None),
        )
        return table, report

    sizes, n_classes = class_sizes(class_ids(table, qis))
    small = pc.less(sizes, k)
    report["classes_before"] = n_classes
    report["k_before"] = pc.min(sizes).as_py()
    report["rows_below_k_before"] = pc.sum(pc.cast(small, pa.int64())).as_py() or 0
    for step in steps:
        if not pc.any(small).as_py():
            break
        changed = None
        for name in step.columns:
            col = table.column(name).combine_chunks()
            if step.action == "widen":
                if not pa.types.is_string(col.type):
                    raise ValueError(f"step {step.label!r}: {name!r} is not an age-band string column")
                new = pc.if_else(small, widen_band(col, step.width), col)
            else:
                new = pc.if_else(small, pa.nulls(len(col), col.type), col)
            diff = pc.fill_null(pc.not_equal(new, col), pc.is_valid(col))
            changed = diff if changed is None else pc.or_(changed, diff)
            table = table.set_column(table.schema.get_field_index(name), table.schema.field(name), new)
        changed = pc.sum(pc.cast(changed, pa.int64())).as_py() or 0
        sizes, n_classes = class_sizes(class_ids(table, qis))
        small = pc.less(sizes, k)
        report["steps"].append({"step": step.label, "rows_generalised": changed,
                                "rows_below_k_after": pc.sum(pc.cast(small, pa.int64())).as_py() or 0})
    n_small = pc.sum(pc.cast(small, pa.int64())).as_py() or 0
    if n_small:
        table = table.filter(pc.invert(small))
        sizes = sizes.filter(pc.invert(small))
        n_classes = class_sizes(class_ids(table, qis))[1]
    report["rows_suppressed"] = n_small
    report["classes"] = n_classes
    report["k_achieved"] = pc.min(sizes).as_py() if len(sizes) else None
    report["rows_out"] = table.num_rows
    return table, report
