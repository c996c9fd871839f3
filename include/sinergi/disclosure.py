"""Disclosure control before a release: k-anonymity over persons and l-diversity (generalise, then
suppress), and the leak guard.

k-anonymity and l-diversity (``k_anonymise``; measured by ``evaluate``)
    Equivalence classes are the distinct combinations of the release's quasi-identifiers — every
    published column an outsider, a neighbour or the other party could know (after the party's
    transforms: age band, sex, kab/kota, kecamatan, education, destination, job, P3MI, dates
    generalised to the month, ...; a null is a value of its own). A class's size is the number of
    distinct **persons** in it (the pipeline's internal person key, given per row as ``persons``),
    not rows: five rows of one person are one person. A class fails k when it holds fewer than k
    persons, and fails l when it holds a harmful value of a sensitive column (health result,
    complaint type, ...; by default every value, or the policy's ``sensitive_values``) but fewer
    than l distinct values of that column (nulls do not count), so a neighbour who places a person
    in the class cannot tell which value is hers.

    Rows in failing classes are generalised further *locally* (only those rows), one step at a
    time — by default age band 5 -> 10 years, kecamatan dropped, dates other than the event date
    dropped, age band -> 20 years, the remaining specific columns dropped (job order, P3MI, scheme,
    ..., education), the event date dropped, kab/kota dropped (province stays) — re-measuring
    after each step; rows still in failing classes are then suppressed (removed, counted by reason
    ``k_anonymity`` / ``l_diversity``). Generalisation only ever merges classes, so the set of rows
    at risk shrinks monotonically and suppression removes whole classes: every published class
    holds >= k persons (and >= l values where it holds a harmful one). Local recoding keeps the
    detail of every row that is already safe; column types never change, so the published schema
    stays deterministic. The report gives the information lost: rows suppressed, cells generalised
    and cells withheld (blanked) per column, and the share of persons unique on the
    quasi-identifiers before and after. Counting is Arrow ``group_by`` on a dense class id
    (dictionary codes of each QI combined), no pandas.

    Limits (stated in the record of processing): classes are per release and month — a party that
    links its own releases over months by token can narrow them (composition); the owner of a
    source system knows every column of its own records, including attributes that are not
    quasi-identifiers; k and l are floors, not guarantees.

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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sinergi.errors import PermanentError
from sinergi.safeguards import DROPPED_VALUES, PATTERNS, REGION_COLUMNS, Step, default_steps, parse_step

# The step grammar and the patterns are defined (pure Python) in sinergi.safeguards, where the policy
# model checks names against them; they are re-exported here with the engines that apply them.
__all__ = [
    "MIN_FORBIDDEN_LEN", "PATTERNS", "PROBE_BATCH", "REGION_COLUMNS", "SUPPRESSION_REASON", "LeakError", "Step",
    "class_ids", "class_sizes", "default_steps", "evaluate", "k_anonymise", "leak_guard", "parse_step", "widen_band",
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


def _codes(col: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, int]:
    """(int64 dictionary code of each value, number of distinct values); null is a value of its own."""
    enc = pc.dictionary_encode(col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col,
                               null_encoding="encode")
    return enc.indices.cast(pa.int64()), max(len(enc.dictionary), 1)


def _combine(codes: list[tuple[pa.Array, int]], n: int) -> pa.Array:
    """Dense int64 class id from per-column codes: a mixed-radix key, re-densified only when the
    radix product could overflow int64 (most combinations of a release fit without it)."""
    if not codes:
        return pa.array(np.zeros(n, dtype=np.int64))
    key, bound = codes[0]
    for idx, size in codes[1:]:
        if bound * size >= 2**62:
            enc = pc.dictionary_encode(key)
            key, bound = enc.indices.cast(pa.int64()), max(len(enc.dictionary), 1)
        key, bound = pc.add(pc.multiply(key, size), idx), bound * size
    return pc.dictionary_encode(key).indices.cast(pa.int64()) if len(codes) > 1 else key


def class_ids(table: pa.Table, columns: list[str]) -> pa.Array:
    """Dense int64 id of each row's combination of ``columns`` (nulls are a value)."""
    return _combine([_codes(table.column(c)) for c in columns], table.num_rows)


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


def _persons(persons, n: int) -> pa.Array:
    """int64 person key per row; a row without a person (null) counts as a person of its own."""
    if persons is None:
        return pa.array(np.arange(n, dtype=np.int64))
    arr = persons.combine_chunks() if isinstance(persons, pa.ChunkedArray) else pa.array(persons)
    if len(arr) != n:
        raise ValueError(f"persons has {len(arr)} values for {n} rows")
    enc = pc.dictionary_encode(arr)  # dense 0..m-1 per distinct person; null stays null
    codes = enc.indices.cast(pa.int64())
    if codes.null_count:
        surrogate = pa.array(len(enc.dictionary) + np.arange(n, dtype=np.int64))  # past every real code
        codes = pc.if_else(pc.is_valid(codes), codes, surrogate)
    return codes


def _flags(col: pa.Array, values: Iterable[str] | None) -> pa.Array:
    """Rows holding a harmful value of a sensitive column (every non-null value when none are listed)."""
    if values is None:
        return pc.is_valid(col)
    return pc.fill_null(pc.is_in(col, value_set=pa.array(list(values), col.type)), False)


def evaluate(
    table: pa.Table,
    quasi_identifiers: list[str],
    persons=None,
    k: int = 1,
    sensitive: Iterable[str] = (),
    l: int = 1,  # noqa: E741 - l-diversity's own name
    sensitive_values: Mapping[str, Iterable[str]] | None = None,
) -> dict:
    """Measure a table as it would be published: per row, the distinct persons of its class and whether
    the class fails k (fewer than k persons) or l (it holds a harmful value of a sensitive column but
    fewer than l distinct values of it); and the summary (classes, k, l, share of unique persons).

    ``persons``: one key per row (None: every row is a person of its own). Classes are the distinct
    combinations of the quasi-identifiers, a null being a value of its own.
    """
    return _measure(table, class_ids(table, quasi_identifiers), _persons(persons, table.num_rows), k,
                    list(sensitive), l, dict(sensitive_values or {}))


def _measure(table: pa.Table, ids: pa.Array, persons: pa.Array, k: int, sensitive: list[str], l: int,  # noqa: E741
             values: Mapping[str, Iterable[str]]) -> dict:
    """``evaluate`` on precomputed class ids and dense person codes."""
    n = table.num_rows
    out = {"classes": 0, "k": None, "l": None, "persons": 0, "persons_unique": None,
           "row_persons": pa.array([], pa.int64()), "k_fail": pa.array([], pa.bool_()),
           "l_fail": pa.array([], pa.bool_())}
    if n == 0:
        return out
    cols: dict[str, pa.Array] = {"id": ids, "p": persons}
    aggs = [("p", "count_distinct")]
    for i, c in enumerate(sensitive):
        col = table.column(c).combine_chunks()
        cols[f"v{i}"], cols[f"f{i}"] = col, _flags(col, values.get(c))
        aggs += [(f"v{i}", "count_distinct"), (f"f{i}", "any")]
    g = pa.table(cols).group_by("id", use_threads=False).aggregate(aggs)
    order = pc.sort_indices(g.column("id"))  # ids are dense 0..m-1
    class_p = pc.take(g.column("p_count_distinct"), order).combine_chunks()
    row_p = pc.take(class_p, ids)
    k_fail = pc.less(row_p, k)
    l_fail, l_min = pa.array(np.zeros(n, dtype=bool)), None
    for i in range(len(sensitive)):
        distinct = pc.take(g.column(f"v{i}_count_distinct"), order).combine_chunks()
        harmful = pc.take(g.column(f"f{i}_any"), order).combine_chunks()
        l_fail = pc.or_(l_fail, pc.take(pc.and_(harmful, pc.less(distinct, l)), ids))
        at = distinct.filter(harmful)
        if len(at):
            m = pc.min(at).as_py()
            l_min = m if l_min is None else min(l_min, m)
    total = pc.count_distinct(persons).as_py()
    unique = pc.count_distinct(persons.filter(pc.equal(row_p, 1))).as_py()
    out.update(classes=g.num_rows, k=pc.min(class_p).as_py(), l=l_min, persons=total,
               persons_unique=round(unique / total, 4) if total else None,
               row_persons=row_p, k_fail=k_fail, l_fail=l_fail)
    return out


def _changed(old: pa.Array, new: pa.Array) -> tuple[int, int]:
    """(cells that differ, cells blanked) between two versions of a column (null-aware)."""
    differ = pc.fill_null(pc.not_equal(old, new), True)
    differ = pc.and_(differ, pc.or_(pc.is_valid(old), pc.is_valid(new)))
    blanked = pc.and_(pc.is_valid(old), pc.is_null(new))
    count = lambda m: pc.sum(pc.cast(m, pa.int64())).as_py() or 0  # noqa: E731
    return count(differ), count(blanked)


def k_anonymise(
    table: pa.Table,
    quasi_identifiers: list[str],
    k: int = 5,
    steps: list[Step | str] | None = None,
    bands: Mapping[str, int] | None = None,
    *,
    persons=None,
    sensitive: Iterable[str] = (),
    l: int = 1,  # noqa: E741 - l-diversity's own name
    sensitive_values: Mapping[str, Iterable[str]] | None = None,
) -> tuple[pa.Table, dict]:
    """Return (table in which every class of the quasi-identifiers holds >= k persons and, where it
    holds a harmful value of a sensitive column, >= l distinct values of it; report). ``persons``:
    one person key per row (None: rows are counted). See the module docstring."""
    qis = [c for c in quasi_identifiers if c in table.column_names]
    missing = [c for c in quasi_identifiers if c not in table.column_names]
    sensitive = list(sensitive)
    missing += [c for c in sensitive if c not in table.column_names]
    if missing:
        raise ValueError(f"quasi-identifier or sensitive column(s) not in table: {missing}")
    steps = [parse_step(s) if isinstance(s, str) else s
             for s in (steps if steps is not None else default_steps(qis, bands))]
    for s in steps:
        for c in s.columns:
            if c not in qis:
                raise ValueError(f"generalisation step {s.label!r}: {c!r} is not a quasi-identifier of the release")
    n_in = table.num_rows
    persons = _persons(persons, n_in)
    values = {c: list(v) for c, v in (sensitive_values or {}).items() if c in sensitive}
    applicable = bool(qis) and (k > 1 or (l > 1 and bool(sensitive)))
    report = {
        "k_requested": k, "l_requested": l if sensitive else None, "quasi_identifiers": qis,
        "sensitive": sensitive, "sensitive_values": values, "rows_in": n_in, "applicable": applicable,
        "steps": [], "rows_suppressed": 0, "rows_suppressed_by": {"k_anonymity": 0, "l_diversity": 0},
        "suppressed_reason": SUPPRESSION_REASON, "cells_generalised": {}, "withheld": {},
    }
    codes = {c: _codes(table.column(c)) for c in qis}  # re-encoded only for the columns a step changes

    def measure() -> dict:
        return _measure(table, _combine([codes[c] for c in qis], table.num_rows), persons, k, sensitive, l, values)

    ev = measure()
    report.update(classes_before=ev["classes"], k_before=ev["k"], l_before=ev["l"], persons_in=ev["persons"],
                  persons_unique_before=ev["persons_unique"])
    if not applicable or n_in == 0:
        # Nothing to enforce: no quasi-identifiers (registers of organisations), k <= 1 and l <= 1, or no rows.
        report.update(classes=ev["classes"], rows_below_k_before=0, rows_at_risk_before=0, rows_out=n_in,
                      k_achieved=ev["k"] if qis else None, l_achieved=ev["l"], persons_out=ev["persons"],
                      persons_unique_after=ev["persons_unique"])
        return table, report

    original = {c: table.column(c).combine_chunks() for c in qis}
    count = lambda m: pc.sum(pc.cast(m, pa.int64())).as_py() or 0  # noqa: E731
    at_risk = pc.or_(ev["k_fail"], ev["l_fail"])
    report["rows_below_k_before"] = count(ev["k_fail"])
    report["rows_at_risk_before"] = count(at_risk)
    for step in steps:
        if not pc.any(at_risk).as_py():
            break
        changed = None
        for name in step.columns:
            col = table.column(name).combine_chunks()
            if step.action == "widen":
                if not pa.types.is_string(col.type):
                    raise ValueError(f"step {step.label!r}: {name!r} is not an age-band string column")
                new = pc.if_else(at_risk, widen_band(col, step.width), col)
            else:
                new = pc.if_else(at_risk, pa.nulls(len(col), col.type), col)
            diff = pc.fill_null(pc.not_equal(new, col), pc.is_valid(col))
            changed = diff if changed is None else pc.or_(changed, diff)
            table = table.set_column(table.schema.get_field_index(name), table.schema.field(name), new)
            codes[name] = _codes(new)
        ev = measure()
        at_risk = pc.or_(ev["k_fail"], ev["l_fail"])
        report["steps"].append({"step": step.label, "rows_generalised": count(changed),
                                "rows_at_risk_after": count(at_risk)})
    if pc.any(at_risk).as_py():
        report["rows_suppressed_by"] = {"k_anonymity": count(ev["k_fail"]),
                                        "l_diversity": count(pc.and_(ev["l_fail"], pc.invert(ev["k_fail"])))}
        keep = pc.invert(at_risk)
        table, persons = table.filter(keep), persons.filter(keep)
        original = {c: v.filter(keep) for c, v in original.items()}
        codes = {c: (idx.filter(keep), size) for c, (idx, size) in codes.items()}
        ev = measure()  # suppression removes whole classes
    for c in qis:
        changed, blanked = _changed(original[c], table.column(c).combine_chunks())
        if changed:
            report["cells_generalised"][c] = changed
        if blanked:
            report["withheld"][c] = blanked
    report["rows_suppressed"] = n_in - table.num_rows
    report.update(classes=ev["classes"], k_achieved=ev["k"], l_achieved=ev["l"], rows_out=table.num_rows,
                  persons_out=ev["persons"], persons_unique_after=ev["persons_unique"])
    return table, report
