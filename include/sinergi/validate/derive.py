"""Derived helper columns that let GX built-ins express Sinergi's row rules.

A suite declares them in ``meta.sinergi.derived`` (name, fn, args, why); each function here takes the
Arrow table and returns one Arrow array aligned with it. They are vectorised (pyarrow.compute), so
deriving them costs a fraction of the GX run, and they never leave validation (the valid and
quarantined outputs drop them).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sinergi import regions
from sinergi.timing import stage
from sinergi.validate.suites import SuiteError

NIK_RE = "^[0-9]{16}$"


def _well_formed_nik(nik: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.fill_null(pc.match_substring_regex(nik, NIK_RE), False)


def nik_part(table: pa.Table, column: str, start: int, length: int) -> pa.Array:
    """Digits [start, start+length) of a well-formed NIK; null when the NIK is missing or malformed."""
    nik = table[column]
    part = pc.utf8_slice_codeunits(nik, start, start + length)
    return pc.if_else(_well_formed_nik(nik), part, pa.scalar(None, pa.string()))


def nik_kabkota_listed(table: pa.Table, column: str) -> pa.Array:
    """Digits 1-4 of a well-formed NIK of a province whose every kab/kota sinergi.regions lists
    (Lampung); null otherwise: elsewhere the table holds only the main sending regencies, so an
    unlisted prefix there says nothing about the NIK."""
    nik = table[column]
    listed = pc.is_in(pc.utf8_slice_codeunits(nik, 0, 2),
                      value_set=pa.array(sorted(regions.COMPLETE_PROVINCES), pa.string()))
    keep = pc.and_(_well_formed_nik(nik), pc.fill_null(listed, False))
    return pc.if_else(keep, pc.utf8_slice_codeunits(nik, 0, 4), pa.scalar(None, pa.string()))


def _nik_birth_year(nik, month_end) -> pa.Array:
    """Four-digit birth year from NIK digits 11-12 (a year after the month's is of the 1900s)."""
    yy = pc.cast(pc.utf8_slice_codeunits(nik, 10, 12), pa.int64())
    pivot = (month_end.year if month_end is not None else dt.date.today().year) % 100
    return pc.add(yy, pc.if_else(pc.greater(yy, pivot), 1900, 2000))


def nik_date_valid(table: pa.Table, column: str) -> pa.Array:
    """True when NIK digits 7-12 are a real date DDMMYY (DD+40 for women); null for a malformed NIK.

    The century does not change whether a date exists except for 29 February of a year ending in
    00, taken as 2000 (a leap year)."""
    nik = table[column]
    ok = _well_formed_nik(nik)
    safe = pc.if_else(ok, nik, pa.scalar("0000000101000000"))
    dd = pc.cast(pc.utf8_slice_codeunits(safe, 6, 8), pa.int64())
    day = pc.if_else(pc.greater(dd, 40), pc.subtract(dd, 40), dd)
    text = pc.binary_join_element_wise(
        pc.cast(pc.add(pc.cast(pc.utf8_slice_codeunits(safe, 10, 12), pa.int64()), 2000), pa.string()),
        pc.utf8_slice_codeunits(safe, 8, 10), pc.utf8_lpad(pc.cast(day, pa.string()), 2, "0"), "-")
    parsed = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
    # strptime accepts 31/02 by rolling over on some platforms: the day must survive
    valid = pc.fill_null(pc.and_(pc.is_valid(parsed), pc.equal(pc.day(parsed), day)), False)
    return pc.if_else(ok, valid, pa.scalar(None, pa.bool_()))


def nik_region_now(table: pa.Table, nik: str, kabkota: str, month_end=None) -> pa.Array:
    """The NIK's kab/kota (digits 1-4) as the person's kab/kota should read today: the row's
    kab/kota itself where the region lineage explains the difference (it was split off from the
    NIK's kab/kota after the person was born, so the NIK predates the split; config/
    region_lineage.csv), else the NIK's own digits. Null for a malformed NIK."""
    prefix = nik_part(table, nik, 0, 4)
    kab = table[kabkota]
    pairs = regions.lineage_pairs()
    if not pairs:
        return prefix
    born = _nik_birth_year(pc.if_else(_well_formed_nik(table[nik]), table[nik], pa.scalar("0" * 16)), month_end)
    explained = pa.array([False] * table.num_rows, pa.bool_())
    for parent, child, year in pairs:
        hit = pc.and_(pc.and_(pc.equal(prefix, parent), pc.equal(kab, child)), pc.less(born, year))
        explained = pc.or_(explained, pc.fill_null(hit, False))
    return pc.if_else(explained, kab, prefix)


def birth_sex_code(table: pa.Table, birth_date: str, sex: str) -> pa.Array:
    """DDMMYY of the birth date with DD+40 for women (sex P), as the NIK encodes it; null if unknown."""
    bd = table[birth_date]
    sx = table[sex]
    day = pc.add(pc.day(bd), pc.if_else(pc.equal(sx, "P"), 40, pc.if_else(pc.equal(sx, "L"), 0, None)))

    def two(x):
        return pc.utf8_lpad(pc.cast(x, pa.string()), 2, "0")

    year = pc.year(bd)
    yy = pc.subtract(year, pc.multiply(pc.divide(year, 100), 100))  # integer division: year % 100
    return pc.binary_join_element_wise(two(day), two(pc.month(bd)), two(yy), "")


def age_years(table: pa.Table, birth_date: str, at: str) -> pa.Array:
    """Completed years between birth_date and the event date ``at`` (null if either is missing)."""
    b, e = table[birth_date], table[at]
    years = pc.subtract(pc.year(e), pc.year(b))
    before_birthday = pc.less(pc.add(pc.multiply(pc.month(e), 100), pc.day(e)), pc.add(pc.multiply(pc.month(b), 100), pc.day(b)))
    return pc.subtract(years, pc.cast(before_birthday, pa.int64()))


def until_month_end(table: pa.Table, column: str, month_end) -> pa.Array:
    """The date column, null where it lies after the month end."""
    col = table[column]
    return pc.if_else(pc.fill_null(pc.less_equal(col, pa.scalar(month_end, col.type)), True), col, pa.scalar(None, col.type))


def canonical_columns(table: pa.Table) -> list[str]:
    return [n for n in table.column_names if not n.startswith("_")]


def duplicate_row(table: pa.Table, record_id: str | None = None, **_) -> pa.Array:
    """True on the 2nd and later copies of a row whose canonical columns are all equal.

    Only rows whose record id repeats can be exact copies, so the row comparison runs on that
    (small) subset; with no record id it compares all rows.
    """
    n = table.num_rows
    out = np.zeros(n, dtype=bool)
    cols = canonical_columns(table)
    if record_id is not None:
        ids = table[record_id]
        counts = pc.value_counts(ids)
        dup_ids = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
        idx = np.flatnonzero(pc.fill_null(pc.is_in(ids, value_set=dup_ids), False).to_numpy(zero_copy_only=False))
    else:
        idx = np.arange(n)
    if len(idx):
        sub = table.select(cols).take(pa.array(idx)).to_pylist()
        seen: set[tuple] = set()
        for i, row in zip(idx, sub, strict=True):
            key = tuple(row.values())
            if key in seen:
                out[i] = True
            else:
                seen.add(key)
    return pa.array(out)


def record_id_dedup(table: pa.Table, column: str, duplicate: pa.Array) -> pa.Array:
    """The record id, null on exact-duplicate copies (so uniqueness sees each distinct row once)."""
    return pc.if_else(duplicate, pa.scalar(None, table.schema.field(column).type), table[column])


def add_helpers(table: pa.Table, derived: tuple[dict, ...], record_id: str, month_end=None,
                duplicate: pa.Array | None = None) -> pa.Table:
    """Append the suite's helper columns (in declaration order) to the table. ``duplicate``: the
    ``duplicate_row`` flags when they were decided on more than this table (the whole month)."""
    with stage("helper columns"):
        for d in derived:
            fn, args = d["fn"], d.get("args", {})
            if fn == "nik_part":
                arr = nik_part(table, **args)
            elif fn == "nik_kabkota_listed":
                arr = nik_kabkota_listed(table, **args)
            elif fn == "nik_date_valid":
                arr = nik_date_valid(table, **args)
            elif fn == "nik_region_now":
                arr = nik_region_now(table, **args, month_end=month_end)
            elif fn == "birth_sex_code":
                arr = birth_sex_code(table, **args)
            elif fn == "age_years":
                arr = age_years(table, **args)
            elif fn == "until_month_end":
                arr = until_month_end(table, args["column"], month_end)
            elif fn == "duplicate_row":
                arr = duplicate if duplicate is not None else duplicate_row(table, record_id=record_id)
            elif fn == "record_id_dedup":
                arr = record_id_dedup(table, args["column"], table["_duplicate_row"])
            else:
                raise SuiteError(f"unknown derived-column function {fn!r} for {d['name']!r}")
            table = table.append_column(d["name"], arr)
        return table
