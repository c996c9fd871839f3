"""Synthetic canonical tables for the validation tests and benchmark (generated, never committed data).

``canonical_table(dataset, n, month)`` builds an extraction-shaped Arrow table (registry columns in
registry order + bookkeeping columns) whose rows satisfy every row-level rule, so a test can inject
exactly the defects it wants. NIKs are fabricated from the row's own kab/kota, birth date and sex.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sinergi import regions, registry, vocab
from sinergi.months import Month

#: Id pools of the reference datasets; referencing datasets draw from these.
REF_POOLS = {"p3mi": ("P3MI", 60), "health_facilities": ("FASKES", 25), "training_institutions": ("LPK", 30),
             "job_orders": ("JO", 40)}
_FUTURE_OK = {"valid_until", "license_valid_until"}


def ref_ids(dataset: str) -> set[str]:
    prefix, n = REF_POOLS[dataset]
    return {f"{prefix}-{i:03d}" for i in range(n)}


def _days(base: dt.date, offsets: np.ndarray) -> pa.Array:
    epoch = (base - dt.date(1970, 1, 1)).days
    return pa.array((epoch + offsets).astype("int32"), pa.int32()).cast(pa.date32())


def canonical_table(dataset: str, n: int, month: str = "2026-10", seed: int = 0) -> pa.Table:
    ds = registry.get(dataset)
    rng = np.random.default_rng(seed)
    first, last = Month.parse(month).bounds
    span = (last - first).days
    cols: dict[str, pa.Array] = {}

    # event dates: a chronological chain ending inside the month
    chain = list(ds.date_order)
    event_off = rng.integers(0, span + 1, n)  # offset of the latest chained date within the month
    gaps = rng.integers(0, 20, (len(chain), n))
    for k, col in enumerate(chain):
        if col in _FUTURE_OK:
            cols[col] = _days(first, event_off + rng.integers(30, 365, n))
        else:
            back = gaps[k + 1 :].sum(axis=0) if k + 1 < len(chain) else 0
            if chain[-1] in _FUTURE_OK and k == len(chain) - 2:
                back = 0
            cols[col] = _days(first, event_off - back)
    for c in ds.columns:
        if c.type == "date" and c.name not in cols and c.name != "birth_date":
            if c.name in _FUTURE_OK:
                cols[c.name] = _days(last, rng.integers(30, 700, n))
            elif c.name == "updated_at":
                cols[c.name] = _days(first, rng.integers(0, span + 1, n))
            elif c.name == "license_date":
                cols[c.name] = _days(first, -rng.integers(30, 3000, n))
            else:
                cols[c.name] = _days(first, event_off)
    event = next((cols[c] for c in chain[::-1] if c in cols and c not in _FUTURE_OK), None)
    if event is None:
        event = next((cols[c.name] for c in ds.columns if c.type == "date" and c.name in cols), _days(first, event_off))
    ev_days = np.asarray(event.cast(pa.int32()).to_numpy(zero_copy_only=False), dtype=np.int64)
    ages = rng.integers(20, 46, n)
    birth_days = ev_days - ages * 366 - rng.integers(0, 300, n)
    birth = pa.array(birth_days.astype("int32"), pa.int32()).cast(pa.date32())

    codes = np.array([r.kemendagri_code for r in regions.regions()])
    kab = codes[rng.integers(0, len(codes), n)]
    sex = np.where(rng.random(n) < 0.65, "P", "L")
    cols_sex = pa.array(sex)
    bd = birth.to_pandas()
    dd = np.array([d.day for d in bd]) + np.where(sex == "P", 40, 0)
    ddmmyy = np.char.add(np.char.add(np.char.zfill(dd.astype(str), 2), np.char.zfill(np.array([d.month for d in bd]).astype(str), 2)),
                         np.char.zfill((np.array([d.year for d in bd]) % 100).astype(str), 2))
    kec = np.char.zfill(rng.integers(1, 30, n).astype(str), 2)
    serial = np.char.zfill(rng.integers(1, 9999, n).astype(str), 4)
    nik = np.char.add(np.char.add(np.char.add(kab, kec), ddmmyy), serial)
    countries = np.array(list(vocab.countries()))

    for c in ds.columns:
        name = c.name
        if name in cols:
            continue
        if name == ds.record_id and dataset in REF_POOLS:
            prefix, pool = REF_POOLS[dataset]
            arr = pa.array([f"{prefix}-{i % pool:03d}" if i < pool else f"{prefix}-X{i:06d}" for i in range(n)])
        elif name == ds.record_id:
            tag = dataset[:3].upper()
            arr = pa.array([f"{tag}{month.replace('-', '')}{i:07d}" for i in range(n)])
        elif name in ds.references:
            prefix, pool = REF_POOLS[ds.references[name]]
            arr = pa.array(np.char.add(prefix + "-", np.char.zfill(rng.integers(0, pool, n).astype(str), 3)))
        elif name == "nik":
            arr = pa.array(nik)
        elif name == "sex":
            arr = cols_sex
        elif name == "birth_date":
            arr = birth
        elif name == "kabkota_code":
            arr = pa.array(kab)
        elif c.derive_via == "bps_code":
            arr = pa.array([regions.bps_code(k) for k in kab]) if n < 50_000 else _map(kab, regions.bps_code)
        elif c.derive_via == "province_code":
            arr = pa.array(np.char.ljust(kab, 2).astype("<U2"))
        elif c.derive_via == "kecamatan_code":
            arr = pa.array(np.char.add(kab, kec))
        elif c.normalise == "country":
            arr = pa.array(countries[rng.integers(0, len(countries), n)])
        elif c.derive_via == "country_name":
            arr = None  # filled below
        elif c.vocabulary:
            vals = np.array(vocab.values(c.vocabulary))
            arr = pa.array(vals[rng.integers(0, len(vals), n)])
        elif c.type == "int":
            arr = pa.array(rng.integers(1, 50, n))
        elif c.type == "bool":
            arr = pa.array(rng.random(n) < 0.5)
        elif c.normalise == "phone":
            arr = pa.array(np.char.add("+62812", np.char.zfill(rng.integers(0, 10**7, n).astype(str), 7)))
        elif c.normalise == "email":
            arr = pa.array(np.char.add(np.char.add("user", np.arange(n).astype(str)), "@example.id"))
        elif c.normalise == "passport":
            arr = pa.array(np.char.add("C", np.char.zfill(rng.integers(0, 10**7, n).astype(str), 7)))
        elif c.normalise == "name":
            arr = pa.array(np.char.add("Nama ", np.arange(n).astype(str)))
        else:
            arr = pa.array(np.char.add(name.upper()[:4] + "-", np.arange(n).astype(str)))
        cols[name] = arr
    for c in ds.columns:
        if c.derive_via == "country_name":
            cols[c.name] = _map(np.asarray(cols[c.derive_from].to_pylist()), vocab.country_name)
    table = pa.table([cols[c] for c in ds.column_names], schema=ds.arrow_schema)
    return table.append_column("_source_file", pa.array([f"{dataset}.csv"] * n)).append_column(
        "_source_row", pa.array(np.arange(1, n + 1, dtype=np.int64))
    ).append_column("_extract_issues", pa.nulls(n, pa.string()))


def _map(values: np.ndarray, fn) -> pa.Array:
    uniq, inv = np.unique(values, return_inverse=True)
    mapped = np.array([fn(u) for u in uniq], dtype=object)
    return pa.array(mapped[inv], pa.string())


def set_value(table: pa.Table, column: str, row: int, value) -> pa.Table:
    """Return ``table`` with one cell replaced (for hand-injected defects)."""
    i = table.schema.get_field_index(column)
    vals = table.column(column).to_pylist()
    vals[row] = value
    return table.set_column(i, table.schema.field(i), pa.array(vals, table.schema.field(i).type))


def test_generator_is_consistent():
    t = canonical_table("placements", 500)
    assert t.num_rows == 500
    assert pc.all(pc.equal(pc.utf8_length(t["nik"]), 16)).as_py()
    assert pc.all(pc.less_equal(t["registration_date"], t["departure_date"])).as_py()
