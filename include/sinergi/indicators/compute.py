"""Compute the MoU indicators from the validated months in the trusted zone, as one party may see them.

Pure functions: Arrow tables in (``{dataset: {"YYYY-MM": table}}``: the trusted months of the
datasets the party receives, already restricted to the rows its row filter allows —
``sinergi.indicators.run.party_view``) → one long/tidy Arrow table out (``INDICATORS_SCHEMA``).
The rows are *all* validated records (before any party's transforms and k-anonymity), so no record
is lost to a release's protection; disclosure control is applied here, to the aggregates
(``sinergi.indicators.suppress``). Persons are linked only through the trusted zone's internal
``person_key`` (never a party's token), so two parties entitled to the same rows get the same values.

Periods for reporting month M: ``month`` (M), ``ytd`` (January of M's year .. M) and ``year`` (the
12 months ending at M, for the yearly evaluation of MoU Art. 7). A period uses the months available
in the trusted zone (``months_covered``); months after M are never used, so re-running M gives the
same result. Records that appear in several months (sources that send "created or updated in the
month") are counted once per period, in their latest state (deduplicated by the dataset's record id).

Areas: every kab/kota present (Kemendagri code; name from ``sinergi.regions``; a row without a
kab/kota — every dataset requires one today, so this is a safeguard — forms a "not recorded" kab/kota
of its province), each province, and the total. The 15 Lampung kab/kota always appear (zero if
nothing happened) for every indicator whose datasets the party receives.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from sinergi import regions, registry
from sinergi.indicators.definitions import (
    BY_ID,
    DEFAULT_THRESHOLD,
    INDICATORS,
    PERSON_KEY,
    PLACED_WITHIN_DAYS,
    SNAPSHOT_DATASETS,
    Indicator,
    needed_datasets,
)
from sinergi.indicators.suppress import check_release, is_small, lone_suppressed_groups, suppress_cells
from sinergi.months import Month

UNKNOWN = "(tidak diketahui)"
#: The area of records without a kab/kota (a safeguard: every dataset requires one today). Not a
#: privacy measure: indicators count every validated record, so no kab/kota is ever withheld here.
NOT_RECORDED = "Kab/kota tidak tercatat / kab/kota not recorded"
TOTAL = "total"

_F = [
    ("ref_month", pa.string(), "Reporting month (YYYY-MM) of this release", "Bulan pelaporan (YYYY-MM) rilis ini"),
    ("period", pa.string(), "month | ytd (January to the reporting month) | year (12 months ending at the reporting month)",
     "month | ytd (Januari s.d. bulan pelaporan) | year (12 bulan sampai bulan pelaporan)"),
    ("period_start", pa.string(), "First month of the period (YYYY-MM)", "Bulan pertama periode (YYYY-MM)"),
    ("period_end", pa.string(), "Last month of the period (YYYY-MM)", "Bulan terakhir periode (YYYY-MM)"),
    ("months_covered", pa.int64(), "Months of the source dataset validated (trusted zone) within the period",
     "Jumlah bulan data sumber yang tervalidasi (zona terpercaya) dalam periode"),
    ("area_level", pa.string(), "kabkota | province | total", "kabkota | province (provinsi) | total"),
    ("province_code", pa.string(), "Province (Kemendagri code) of the area", "Provinsi (kode Kemendagri) wilayah"),
    ("kabkota_code", pa.string(), "Regency/city (Kemendagri code); the province code on province rows; empty for the "
     "total and for records without a kab/kota", "Kabupaten/kota (kode Kemendagri); kode provinsi pada baris "
     "provinsi; kosong untuk total dan untuk rekaman tanpa kab/kota"),
    ("kabkota_name", pa.string(), "Area name", "Nama wilayah"),
    ("indicator_id", pa.string(), "Indicator id (see the report's definitions table)", "Kode indikator"),
    ("indicator_name", pa.string(), "Indicator name (Bahasa Indonesia)", "Nama indikator"),
    ("dimension", pa.string(), "Breakdown column, or 'total'", "Kolom rincian, atau 'total'"),
    ("dimension_value", pa.string(), "Breakdown value, or 'total'", "Nilai rincian, atau 'total'"),
    ("value", pa.float64(), "Value (count, ratio 0-1 or days); null when suppressed or undefined",
     "Nilai (jumlah, rasio 0-1 atau hari); kosong bila disamarkan atau tidak terdefinisi"),
    ("suppressed", pa.bool_(), "True when the value is withheld for disclosure control",
     "Benar bila nilai disamarkan (pengendalian pengungkapan)"),
    ("suppression", pa.string(), "Why: small_cell (1-4) | secondary | base (rate/median from a small or suppressed base)",
     "Alasan: small_cell (1-4) | secondary | base (rasio/median dari basis kecil atau disamarkan)"),
    ("workplan_row", pa.string(), "MoU annex work-plan row the indicator serves (e.g. 4d, 5.2d)",
     "Baris Rencana Kerja Lampiran MoU yang dilayani (mis. 4d, 5.2d)"),
    ("unit", pa.string(), "records | persons | ratio | days | facilities", "records | persons | ratio | days | facilities"),
    ("source_dataset", pa.string(), "Dataset the indicator is computed from (its validated months)", "Dataset sumber"),
]
INDICATORS_SCHEMA = pa.schema(
    [pa.field(n, t, nullable=True, metadata={"description": en, "description_id": id_, "role": "attribute",
                                             "transform": "aggregate"}) for n, t, en, id_ in _F],
    metadata={"dataset": "indicators",
              "description": "MoU indicators per month and kab/kota, counted over all validated records of the rows the "
                             "party may see; small and revealing cells suppressed",
              "description_id": "Indikator MoU per bulan dan kab/kota, dihitung dari semua rekaman tervalidasi pada baris "
                                "yang boleh dilihat pihak; sel kecil dan sel yang dapat membukanya disamarkan"},
)


# -- periods --------------------------------------------------------------------------------------
def periods(month: Month | str) -> dict[str, tuple[str, str]]:
    """First and last month (``YYYY-MM``) of each period of reporting month M."""
    m = Month.of(month)
    return {"month": (str(m), str(m)), "ytd": (str(Month(m.year, 1)), str(m)), "year": (str(m - 11), str(m))}


# -- period tables ---------------------------------------------------------------------------------
def period_table(by_month: Mapping[str, pa.Table], dataset: str, start: str, end: str) -> tuple[pa.Table | None, int]:
    """Rows of the months in [start, end] available, one per record id (latest month wins); for
    register snapshots the latest available month only. Returns (table with ``_month``, months)."""
    months = sorted(m for m in by_month if start <= m <= end)
    if not months:
        return None, 0
    if dataset in SNAPSHOT_DATASETS:
        months_used = months[-1:]
    else:
        months_used = months
    parts = [by_month[m].append_column("_month", pa.array([m] * by_month[m].num_rows, pa.string())) for m in months_used]
    t = pa.concat_tables(parts, promote_options="permissive") if len(parts) > 1 else parts[0]
    rid = _record_id(dataset)
    if (rid and rid in t.column_names and t.num_rows
            and pc.count_distinct(t.column(rid)).as_py() < t.num_rows):
        t = t.take(pc.sort_indices(t, [("_month", "descending"), (rid, "ascending")]))
        t = t.append_column("_idx", pa.array(range(t.num_rows), pa.int64()))
        first = t.group_by([rid], use_threads=False).aggregate([("_idx", "min")]).column("_idx_min").to_pylist()
        t = t.take(pa.array(sorted(first), pa.int64())).drop_columns(["_idx"])
    return _with_areas(t, dataset), len(months)


def _record_id(dataset: str) -> str | None:
    try:
        return registry.get(dataset).record_id
    except KeyError:
        return None


def _with_areas(t: pa.Table, dataset: str) -> pa.Table:
    """Add ``_kab`` (kab/kota code, or ``?<province>`` when the record has none) and ``_prov``
    (province: the kab/kota prefix, else the row's province_code, else Lampung for provincial datasets)."""
    n = t.num_rows
    nulls = pa.nulls(n, pa.string())
    kab = t.column("kabkota_code").combine_chunks() if "kabkota_code" in t.column_names else nulls
    prov_col = t.column("province_code").combine_chunks() if "province_code" in t.column_names else nulls
    try:
        provincial = registry.get(dataset).scope == "provincial"
    except KeyError:
        provincial = False
    prov = pc.coalesce(pc.utf8_slice_codeunits(kab, 0, 2), prov_col)
    if provincial:
        prov = pc.coalesce(prov, pa.scalar(regions.LAMPUNG_PROVINCE_CODE))
    kabs = pc.coalesce(kab, pc.binary_join_element_wise(pa.scalar("?"), prov, ""))
    return t.append_column("_kab", kabs).append_column("_prov", prov)


# -- cells ------------------------------------------------------------------------------------------
def _cell(level: str, code: str | None, parent: str | None, dim: str, val: str, value) -> dict:
    return {"area_level": level, "code": code, "parent": parent, "dimension": dim, "dimension_value": val,
            "value": value, "suppressed": False, "suppression": None}


def _key(level, code, dim, val):
    return (level, code, dim, val)


def count_cells(t: pa.Table, ind: Indicator, lampung_codes: list[str]) -> dict:
    """Count cells of one indicator on a period table (areas x total + each dimension)."""
    cells: dict = {}
    t = t.append_column("_all", pa.array([TOTAL] * t.num_rows, pa.string()))
    agg = [(ind.distinct, "count_distinct")] if ind.distinct else [([], "count_all")]
    out_col = f"{ind.distinct}_count_distinct" if ind.distinct else "count_all"
    dims = [d for d in ind.dimensions if d in t.column_names]
    for d in dims:
        t = t.set_column(t.column_names.index(d), d, pc.fill_null(t.column(d).cast(pa.string()), UNKNOWN))
    for level, keys in (("kabkota", ["_kab", "_prov"]), ("province", ["_prov"]), (TOTAL, ["_all"])):
        for dim in (TOTAL, *dims):
            gkeys = keys + ([dim] if dim != TOTAL else [])
            if t.num_rows == 0:
                continue
            for row in t.group_by(gkeys, use_threads=False).aggregate(agg).to_pylist():
                code = None if level == TOTAL else row[keys[0]]
                parent = row["_prov"] if level == "kabkota" else None
                val = row[dim] if dim != TOTAL else TOTAL
                cells[_key(level, code, dim, val)] = _cell(level, code, parent, dim, val, row[out_col])
    # Explicit zeros for the totals of every Lampung kab/kota, the province and the grand total.
    for code in lampung_codes:
        cells.setdefault(_key("kabkota", code, TOTAL, TOTAL), _cell("kabkota", code, code[:2], TOTAL, TOTAL, 0))
    cells.setdefault(_key("province", regions.LAMPUNG_PROVINCE_CODE, TOTAL, TOTAL),
                     _cell("province", regions.LAMPUNG_PROVINCE_CODE, None, TOTAL, TOTAL, 0))
    cells.setdefault(_key(TOTAL, None, TOTAL, TOTAL), _cell(TOTAL, None, None, TOTAL, TOTAL, 0))
    return cells


def _filter(t: pa.Table, ind: Indicator, start: str, end: str) -> pa.Table:
    """The rows an indicator counts: its ``where``, ``date_in_period`` and ``valid_at_period_end``
    filters (config/indicators.yaml); a null never matches, except an empty validity end (no expiry)."""
    for col, allowed in ind.where.items():
        t = t.filter(pc.fill_null(pc.is_in(t.column(col), pa.array(list(allowed), pa.string())), False))
    last_day = pa.scalar(Month.of(end).last_day, pa.date32())
    if ind.date_in_period:
        d = t.column(ind.date_in_period)
        first_day = pa.scalar(Month.of(start).first_day, pa.date32())
        t = t.filter(pc.fill_null(pc.and_(pc.greater_equal(d, first_day), pc.less_equal(d, last_day)), False))
    if ind.valid_at_period_end:
        vu = t.column(ind.valid_at_period_end)
        t = t.filter(pc.fill_null(pc.or_kleene(pc.is_null(vu), pc.greater_equal(vu, last_day)), False))
    return t


def _area_keys(cells: dict) -> list[tuple]:
    return sorted({(k[0], k[1]) for k in cells}, key=lambda a: ("" if a[1] is None else a[1], a[0]))


def _parent_of(cells: dict, level: str, code) -> str | None:
    c = cells.get(_key(level, code, TOTAL, TOTAL))
    return c["parent"] if c else None


def _raw(c: dict | None):
    if c is None:
        return 0
    return c["hidden_value"] if c.get("suppressed") else c["value"]


def derived_cells(ind: Indicator, done: dict[str, dict], threshold: int, extra: dict | None = None) -> dict:
    """Cells of alias / sum / rate / median indicators from already-suppressed count cells."""
    cells: dict = {}
    if ind.kind in ("alias", "sum"):
        parts = [p.split("|") for p in ind.parts]
        src = done[parts[0][0]]
        for level, code in _area_keys(src):
            comps = [src.get(_key(level, code, d, v)) for _, d, v in parts]
            value = sum(_raw(c) or 0 for c in comps)
            cell = _cell(level, code, _parent_of(src, level, code), TOTAL, TOTAL, value)
            hidden = sum(1 for c in comps if c is not None and c.get("suppressed"))
            if ind.kind == "alias" and hidden:
                cell["suppressed"], cell["suppression"] = True, comps[0]["suppression"]
            elif hidden == 1:
                # sum - the published parts would reveal the one hidden part; with two or more hidden
                # parts only their combined value shows (as with any pair of suppressed cells)
                cell["suppressed"], cell["suppression"] = True, "secondary"
            elif is_small(value, threshold):
                cell["suppressed"], cell["suppression"] = True, "small_cell"
            cells[_key(level, code, TOTAL, TOTAL)] = cell
    elif ind.kind == "rate":
        num, den = done[ind.numerator], done[ind.denominator]
        for level, code in _area_keys(den):
            n_cell, d_cell = num.get(_key(level, code, TOTAL, TOTAL)), den.get(_key(level, code, TOTAL, TOTAL))
            d, n = _raw(d_cell) or 0, _raw(n_cell) or 0
            cell = _cell(level, code, _parent_of(den, level, code), TOTAL, TOTAL, (n / d) if d else None)
            if d and ((d_cell and d_cell.get("suppressed")) or (n_cell and n_cell.get("suppressed")) or d < threshold):
                cell["suppressed"], cell["suppression"] = True, "base"
            cells[_key(level, code, TOTAL, TOTAL)] = cell
    elif ind.kind == "median":
        base = done[ind.denominator]
        for level, code in _area_keys(base):
            days = (extra or {}).get((level, code), [])
            b_cell = base.get(_key(level, code, TOTAL, TOTAL))
            b = _raw(b_cell) or 0
            cell = _cell(level, code, _parent_of(base, level, code), TOTAL, TOTAL, float(statistics.median(days)) if days else None)
            if b and ((b_cell and b_cell.get("suppressed")) or b < threshold):
                cell["suppressed"], cell["suppression"] = True, "base"
            cells[_key(level, code, TOTAL, TOTAL)] = cell
    if ind.kind == "sum":
        # A sum is additive across areas too: protect its own row/column groups (this also nulls).
        suppress_cells(cells, threshold)
        return cells
    for cell in cells.values():
        if cell["suppressed"]:
            cell["hidden_value"], cell["value"] = cell["value"], None
    return cells


def resolution_days(t: pa.Table) -> dict[tuple, list[int]]:
    """Days from complaint_date to resolved_date per area (rows already filtered to resolved)."""
    out: dict[tuple, list[int]] = defaultdict(list)
    for kab, prov, cd, rd in zip(*(t.column(c).to_pylist() for c in ("_kab", "_prov", "complaint_date", "resolved_date")), strict=True):
        if cd is None or rd is None:
            continue
        d = (rd - cd).days
        for area in (("kabkota", kab), ("province", prov), (TOTAL, None)):
            out[area].append(d)
    return out


def cohort_cells(trainings: pa.Table, placements: pa.Table | None, end: str, lampung_codes: list[str]) -> tuple[dict, dict]:
    """(trained_cohort, trained_placed_6m) count cells: per person (``person_key``) the first training
    end_date in the period; placed if a placement of the same person departs 0..PLACED_WITHIN_DAYS
    days later."""
    first: dict[str, tuple] = {}
    last_day = Month.of(end).last_day
    for tok, ed, kab, prov in zip(*(trainings.column(c).to_pylist() for c in (PERSON_KEY, "end_date", "_kab", "_prov")), strict=True):
        if tok is None or ed is None or ed > last_day:
            continue
        if tok not in first or (ed, kab) < (first[tok][0], first[tok][1]):
            first[tok] = (ed, kab, prov)
    departures: dict[str, list[date]] = defaultdict(list)
    if placements is not None and first:
        placements = placements.filter(pc.is_in(placements.column(PERSON_KEY), pa.array(list(first), pa.string())))
        for tok, dep in zip(placements.column(PERSON_KEY).to_pylist(), placements.column("departure_date").to_pylist(), strict=True):
            if tok is not None and dep is not None:
                departures[tok].append(dep)
    rows = []
    for tok, (ed, kab, prov) in first.items():
        placed = any(0 <= (dep - ed).days <= PLACED_WITHIN_DAYS for dep in departures.get(tok, ()))
        rows.append((kab, prov, placed))
    out = []
    for want_placed in (False, True):
        cells: dict = {}
        counts: dict[tuple, int] = defaultdict(int)
        parents: dict[str, str | None] = {}
        for kab, prov, placed in rows:
            if want_placed and not placed:
                continue
            counts[("kabkota", kab)] += 1
            parents[kab] = prov
            counts[("province", prov)] += 1
            counts[(TOTAL, None)] += 1
        for (level, code), v in counts.items():
            cells[_key(level, code, TOTAL, TOTAL)] = _cell(level, code, parents.get(code) if level == "kabkota" else None,
                                                          TOTAL, TOTAL, v)
        for code in lampung_codes:
            cells.setdefault(_key("kabkota", code, TOTAL, TOTAL), _cell("kabkota", code, code[:2], TOTAL, TOTAL, 0))
        cells.setdefault(_key("province", regions.LAMPUNG_PROVINCE_CODE, TOTAL, TOTAL),
                         _cell("province", regions.LAMPUNG_PROVINCE_CODE, None, TOTAL, TOTAL, 0))
        cells.setdefault(_key(TOTAL, None, TOTAL, TOTAL), _cell(TOTAL, None, None, TOTAL, TOTAL, 0))
        out.append(cells)
    return out[0], out[1]


# -- main entry -------------------------------------------------------------------------------------
def available(tables: Mapping[str, Mapping[str, pa.Table]], ind: Indicator) -> bool:
    return all(tables.get(ds) for ds in needed_datasets(ind))


def compute_indicators(
    tables: Mapping[str, Mapping[str, pa.Table]],
    month: Month | str,
    *,
    threshold: int = DEFAULT_THRESHOLD,
    period_names: tuple[str, ...] = ("month", "ytd", "year"),
) -> pa.Table:
    """The indicators release for ``month`` from the party's view of the trusted zone (see module
    doc). Indicators whose source dataset is absent are omitted (``missing_indicators`` lists them)."""
    month = str(Month.of(month))
    lampung_codes = [r.kemendagri_code for r in regions.lampung()]
    rows: list[dict] = []
    all_placements: dict[str, pa.Table] = {}
    for period in period_names:
        start, end = periods(month)[period]
        ptables: dict[str, tuple[pa.Table | None, int]] = {
            ds: period_table(tables[ds], ds, start, end) for ds in {d for i in INDICATORS for d in needed_datasets(i)} if tables.get(ds)
        }
        done: dict[str, dict] = {}
        months_of: dict[str, int] = {}
        for ind in INDICATORS:
            if not available(tables, ind):
                continue
            t, n_months = ptables.get(ind.dataset, (None, 0))
            months_of[ind.id] = n_months
            if t is None:
                continue  # no month of this dataset within the period
            if ind.kind == "count":
                cells = count_cells(_filter(t, ind, start, end), ind, lampung_codes)
                if ind.small_cell:
                    suppress_cells(cells, threshold)
                    assert not lone_suppressed_groups(cells), ind.id
            elif ind.kind == "cohort":
                if "trained_cohort" not in done:
                    # placements of every available month up to M (not only the period's): a cohort
                    # member may depart after the period ends.
                    if "placements" not in all_placements and tables.get("placements"):
                        all_placements["placements"] = period_table(tables["placements"], "placements", "0000-01", month)[0]
                    pl = all_placements.get("placements")
                    c_cells, p_cells = cohort_cells(t, pl, end, lampung_codes)
                    for c in (c_cells, p_cells):
                        suppress_cells(c, threshold)
                    done["trained_cohort"], done["trained_placed_6m"] = c_cells, p_cells
                    months_of["trained_cohort"] = months_of["trained_placed_6m"] = n_months
                continue
            elif ind.kind == "median":
                resolved = _filter(t, BY_ID[ind.denominator], start, end)
                cells = derived_cells(ind, done, threshold, resolution_days(resolved))
            else:
                cells = derived_cells(ind, done, threshold)
            done[ind.id] = cells
        for ind in INDICATORS:
            if ind.id not in done or not available(tables, ind):
                continue
            for cell in done[ind.id].values():
                rows.append(_row(month, period, start, end, months_of.get(ind.id, 0), ind, cell))
    check_release(rows, threshold)
    return pa.Table.from_pylist(rows, schema=INDICATORS_SCHEMA)


def _area_name(level: str, code: str | None, parent: str | None) -> str:
    if level == TOTAL:
        return "Total semua wilayah"
    if level == "province":
        names = {r.province_code: r.province_name for r in regions.regions()}
        return f"Provinsi {names.get(code, code)}" if code else "Provinsi tidak diketahui"
    if code is None or code.startswith("?"):
        return NOT_RECORDED
    return regions.name_of(code) or f"Kab/kota {code}"


def _row(month, period, start, end, months_covered, ind: Indicator, cell: dict) -> dict:
    level, code = cell["area_level"], cell["code"]
    no_kab = level == "kabkota" and (code is None or code.startswith("?"))
    province = cell["parent"] if level == "kabkota" else (code if level == "province" else None)
    value = cell["value"]
    return {
        "ref_month": month, "period": period, "period_start": start, "period_end": end,
        "months_covered": months_covered, "area_level": level, "province_code": province,
        "kabkota_code": None if no_kab or level == TOTAL else code,
        "kabkota_name": _area_name(level, None if no_kab else code, province),
        "indicator_id": ind.id, "indicator_name": ind.name_id,
        "dimension": cell["dimension"], "dimension_value": cell["dimension_value"],
        "value": None if value is None else float(value), "suppressed": bool(cell["suppressed"]),
        "suppression": cell["suppression"], "workplan_row": ind.workplan_row, "unit": ind.unit,
        "source_dataset": ind.dataset,
    }


def missing_indicators(tables: Mapping[str, Mapping[str, pa.Table]]) -> dict[str, list[str]]:
    """indicator id -> the datasets it needs that the party's bucket does not have."""
    return {i.id: [d for d in needed_datasets(i) if not tables.get(d)] for i in INDICATORS if not available(tables, i)}
