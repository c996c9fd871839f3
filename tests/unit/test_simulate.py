"""The source simulator: determinism, NIK structure, lifecycle, references, distributions, ledger."""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from stdnum.id import nik as stdnum_nik

from sinergi import regions, registry, vocab
from sinergi.simulate import (
    BATCH_EVENTS,
    DEFECT_KINDS,
    REPAIRABLE_DEFECTS,
    ROW_DEFECTS,
    WARNING_CASES,
    read_ledger,
    simulate,
    write_placements_csv,
)
from sinergi.simulate import cli as sim_cli
from sinergi.simulate import model as M
from sinergi.simulate.defects import ORDERED_DATES
from sinergi.simulate.sources import kabkota_spelling
from sinergi.simulate.writers import read_back

EXCEL_EPOCH = dt.date(1899, 12, 30)
DOMAIN_KABKOTA = M.LAMPUNG_KABKOTA_WEIGHTS


# ---------------------------------------------------------------------------------- reading helpers


class Bad(str):
    """A value that does not parse as a date."""


def as_date(v):
    if v is None or v == "":
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, int | float):
        return EXCEL_EPOCH + dt.timedelta(days=int(v))
    try:
        return dt.datetime.strptime(str(v).split(" ")[0], "%d/%m/%Y").date()
    except ValueError:
        return Bad(v)


def header_map(dataset: str, header: list[str]) -> dict[int, str]:
    """Column position -> canonical name, accepting every registered header spelling."""
    ds = registry.get(dataset)
    spelled = {h.upper(): c.name for c in ds.source_columns for h in c.headers}
    return {i: spelled[h.upper()] for i, h in enumerate(header) if h.upper() in spelled}


@functools.cache
def _read_cached(path: str, stamp: tuple) -> tuple[list[str], list[list]]:
    return read_back(Path(path))


def read_file(path: Path) -> tuple[list[str], list[list]]:
    """``read_back`` memoised per file version (tests read the same fixture files many times)."""
    st = Path(path).stat()
    return _read_cached(str(path), (st.st_mtime_ns, st.st_size))


def load_file(path: Path, dataset: str) -> list[dict]:
    st = Path(path).stat()
    return _load_file(str(path), dataset, (st.st_mtime_ns, st.st_size))


@functools.cache
def _load_file(path: str, dataset: str, stamp: tuple) -> list[dict]:
    header, rows = read_file(Path(path))
    hm = header_map(dataset, header)
    out = []
    for row in rows:
        rec = {name: (row[i] if i < len(row) else None) for i, name in hm.items()}
        out.append({k: (None if v == "" else v) for k, v in rec.items()})
    return out


def load_sql(url: str, dataset: str, month: str | None = None) -> list[dict]:
    stamp = None
    if url.startswith("sqlite:///"):
        st = Path(url[len("sqlite:///"):]).stat()
        stamp = (st.st_mtime_ns, st.st_size)
    return _load_sql(url, dataset, month, stamp)


@functools.cache
def _load_sql(url: str, dataset: str, month: str | None, stamp) -> list[dict]:
    ds = registry.get(dataset)
    names = {c.headers[0]: c.name for c in ds.source_columns}
    eng = sa.create_engine(url)
    table = sa.Table(ds.source.table, sa.MetaData(), autoload_with=eng)
    stmt = sa.select(table)
    if month:  # the month's rows as the pipeline pulls them (business date and entry month, or the register)
        from sinergi.extract.sql import month_filter
        from sinergi.months import Month

        stmt = stmt.where(month_filter(ds, table, Month.parse(month), f"db:{ds.source.table}")[0])
    with eng.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
    eng.dispose()
    return [{names.get(k, k): v for k, v in r.items()} for r in rows]


def load(result, dataset: str, month: str) -> list[dict]:
    if registry.get(dataset).source.kind == "sql":
        return load_sql(result.dinas_db_url, dataset, month)
    return load_file(result.files[(dataset, month)], dataset)


def nik_digits(v) -> str | None:
    return v if isinstance(v, str) and re.fullmatch(r"\d{16}", v) else None


def _nik_date_ok(nik: str) -> bool:
    dd, mm, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    try:
        dt.date(2000 + yy, mm, dd - 40 if dd > 40 else dd)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def clean6(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean6")
    return simulate(out, month="2025-03", months=6, scale="demo", seed=7, defect_rate=0.0)


@pytest.fixture(scope="module")
def dirty3(tmp_path_factory):
    out = tmp_path_factory.mktemp("dirty3")
    return simulate(out, month="2025-06", months=3, scale="demo", seed=11, defect_rate=0.08)


@pytest.fixture(scope="module")
def lampung_clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("lampung")
    return simulate(out, month="2025-07", months=1, scale="lampung", seed=3, defect_rate=0.0,
                    formats={n: "csv" for n in registry.names() if registry.get(n).source.kind == "file"})


# ---------------------------------------------------------------------------------- contract basics


def test_defect_classes_partition_the_kinds():
    assert ROW_DEFECTS.isdisjoint(REPAIRABLE_DEFECTS) and ROW_DEFECTS.isdisjoint(BATCH_EVENTS)
    warn = set(WARNING_CASES)
    assert warn.isdisjoint(ROW_DEFECTS | REPAIRABLE_DEFECTS | BATCH_EVENTS)
    assert REPAIRABLE_DEFECTS >= {"kabkota_variant", "whitespace_case", "phone_format", "nik_excel_float"}
    assert BATCH_EVENTS == {"late_record", "schema_drift_rename", "schema_drift_extra_column",
                            "trailing_delimiter", "understated_dimension"}
    assert {"nik_scientific", "nik_precision_lost", "nik_lost_digits", "nik_wrong_length", "nik_impossible_date",
            "duplicate_row", "duplicate_id_conflict", "future_date",
            "impossible_date", "events_out_of_order", "unknown_country", "missing_mandatory"} <= ROW_DEFECTS
    assert {"nik_mover", "nik_split_regency", "birth_date_corrected", "job_title_unmapped", "destination_rare",
            "bps_code_as_kemendagri"} == warn
    assert DEFECT_KINDS == ROW_DEFECTS | REPAIRABLE_DEFECTS | warn | BATCH_EVENTS


def test_layout_one_file_per_dataset_month_and_headers(clean6):
    months = clean6.months
    assert months == ["2025-03", "2025-04", "2025-05", "2025-06", "2025-07", "2025-08"]
    file_sets = [n for n in registry.names() if registry.get(n).source.kind == "file"]
    for m in months:
        for name in file_sets:
            src = registry.get(name).source
            p = clean6.files[(name, m)]
            assert p.parent == clean6.out_dir / src.system / m
            assert p.name == f"{src.file_stem}_{m.replace('-', '')}.{p.suffix[1:]}"
            assert len(list(p.parent.glob(f"{src.file_stem}_*"))) == 1
            header, _ = read_back(p)
            assert header == [c.headers[0] for c in registry.get(name).source_columns]  # clean: no drift
    assert clean6.ledger_path == clean6.out_dir / "_defects.jsonl"
    assert clean6.ledger_path.read_text() == ""  # defect rate 0 -> clean data, empty ledger
    exts = Counter(p.suffix for p in clean6.files.values())
    assert exts[".csv"] > 0 and exts[".xlsx"] > 0


def test_sql_tables_have_registry_columns_and_timestamps(clean6):
    eng = sa.create_engine(clean6.dinas_db_url)
    insp = sa.inspect(eng)
    for name in registry.names():
        ds = registry.get(name)
        if ds.source.kind != "sql":
            continue
        cols = [c["name"] for c in insp.get_columns(ds.source.table)]
        expected = [c.headers[0] for c in ds.source_columns if c.name != "updated_at"] + ["created_at", "updated_at"]
        assert cols == expected
        assert insp.get_pk_constraint(ds.source.table)["constrained_columns"] == [ds.column(ds.record_id).headers[0]]
    eng.dispose()
    assert clean6.dinas_db_url == f"sqlite:///{(clean6.out_dir / 'disnaker.sqlite').resolve()}"


def test_demo_month_placements_is_csv_and_fast(tmp_path):
    t = time.process_time()
    res = simulate(tmp_path, month="2025-07", scale="demo", seed=42)
    cpu = time.process_time() - t
    assert res.files[("placements", "2025-07")].suffix == ".csv"
    assert cpu < 5.0, f"demo month took {cpu:.1f} s CPU"
    assert 200 <= res.rows[("placements", "2025-07")] <= 400
    assert all(res.rows[(n, "2025-07")] > 0 for n in registry.names())


def test_formats_can_be_forced_and_replace_the_other_format(tmp_path):
    a = simulate(tmp_path, month="2025-07", scale="demo", seed=42, formats={"placements": "xlsx"})
    p = a.files[("placements", "2025-07")]
    assert p.suffix == ".xlsx" and not p.with_suffix(".csv").exists()
    header, rows = read_back(p)
    assert header[0] == "ID PENEMPATAN" and len(rows) == a.rows[("placements", "2025-07")]
    import openpyxl

    ws = openpyxl.load_workbook(p, read_only=True).worksheets[0]
    first = next(ws.iter_rows(values_only=True))
    assert first[0] and "BP2MI" in first[0]  # a title block above the header row
    b = simulate(tmp_path, month="2025-07", scale="demo", seed=42, formats={"placements": "csv"})
    assert b.files[("placements", "2025-07")].suffix == ".csv" and not p.exists()
    with pytest.raises(ValueError):
        simulate(tmp_path, month="2025-07", scale="demo", formats={"placements": "parquet"})


# ---------------------------------------------------------------------------------- determinism


def _snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    args = dict(month="2025-07", months=2, scale="demo", seed=5, defect_rate=0.05)
    a = _snapshot(simulate(tmp_path / "a", **args).out_dir)
    b = _snapshot(simulate(tmp_path / "b", **args).out_dir)
    assert a.keys() == b.keys() and len(a) == 2 * 9 + 2
    assert all(a[k] == b[k] for k in a), [k for k in a if a[k] != b[k]]
    again = _snapshot(simulate(tmp_path / "a", **args).out_dir)  # re-run into the same directory
    assert again == a
    c = _snapshot(simulate(tmp_path / "c", **{**args, "seed": 6}).out_dir)
    placements = next(k for k in a if "PENEMPATAN_PMI_202507" in k)
    other = next(k for k in c if "PENEMPATAN_PMI_202507" in k)
    assert c[other] != a[placements] and c["_defects.jsonl"] != a["_defects.jsonl"]


# ---------------------------------------------------------------------------------- clean data: structure


def _person_datasets():
    return [n for n in registry.names() if registry.get(n).person_key]


def test_nik_agrees_with_kabkota_birth_date_and_sex(clean6):
    checked = 0
    for m in clean6.months:
        for name in _person_datasets():
            for rec in load(clean6, name, m):
                nik = nik_digits(rec["nik"])
                assert nik, (name, "NIK not 16 digits")
                assert stdnum_nik.is_valid(nik)
                if "kabkota_code" in rec and name not in ("initial_registrations", "trainings"):
                    assert regions.kabkota_code(rec["kabkota_code"]) == nik[:4], name
                sex = vocab.canonical("sex", rec.get("sex")) if rec.get("sex") else None
                dd = int(nik[6:8])
                if sex:
                    assert (dd > 40) == (sex == "P"), name
                if rec.get("birth_date") is not None:
                    b = as_date(rec["birth_date"])
                    assert (dd - 40 if dd > 40 else dd, int(nik[8:10]), int(nik[10:12])) == (b.day, b.month, b.year % 100)
                checked += 1
    assert checked > 3000


def test_one_nik_is_one_person_everywhere(clean6):
    names: dict[str, str] = {}
    births: dict[str, dt.date] = {}
    for m in clean6.months:
        for name in _person_datasets():
            for rec in load(clean6, name, m):
                assert names.setdefault(rec["nik"], rec["full_name"]) == rec["full_name"], "one NIK, two names"
                if rec.get("birth_date") is not None:
                    b = as_date(rec["birth_date"])
                    assert births.setdefault(rec["nik"], b) == b, "one NIK, two birth dates"
    assert len(names) > 2000


def test_clean_values_map_with_regions_and_vocab(clean6):
    for m in clean6.months[:3]:
        for name in registry.names():
            ds = registry.get(name)
            recs = load(clean6, name, m)
            for c in ds.source_columns:
                for rec in recs:
                    v = rec.get(c.name)
                    if v is None:
                        assert not c.required, (name, c.name)
                        continue
                    if c.normalise == "kabkota":
                        assert regions.kabkota_code(v), (name, v)
                    elif c.normalise == "country":
                        assert vocab.country_code(v), (name, v)
                    elif c.vocabulary:
                        assert vocab.canonical(c.vocabulary, v), (name, c.name, v)
                    elif c.type == "date":
                        assert not isinstance(as_date(v), Bad), (name, c.name, v)
                    elif c.normalise == "phone":
                        assert re.fullmatch(r"08\d{8,11}|\+(886|852|60|65)\d{7,10}", v), (name, v)


def test_references_resolve(clean6):
    url = clean6.dinas_db_url
    institutions = {r["institution_id"] for r in load_sql(url, "training_institutions")}
    for m in clean6.months:
        p3mi = {r["p3mi_id"] for r in load(clean6, "p3mi", m)}
        orders = {r["job_order_id"]: r for r in load(clean6, "job_orders", m)}
        facilities = {r["facility_id"] for r in load(clean6, "health_facilities", m)}
        placements = load(clean6, "placements", m)
        assert placements
        for pl in placements:
            assert pl["p3mi_id"] in p3mi and pl["job_order_id"] in orders
            o = orders[pl["job_order_id"]]
            assert (o["p3mi_id"], vocab.country_code(o["destination_country"])) == \
                (pl["p3mi_id"], vocab.country_code(pl["destination_country"]))
        assert all(r["p3mi_id"] in p3mi for r in load(clean6, "returns", m))
        assert all(r["p3mi_id"] in p3mi for r in load(clean6, "complaints", m) if r["p3mi_id"])
        assert all(o["p3mi_id"] in p3mi for o in orders.values())
        assert all(r["facility_id"] in facilities for r in load(clean6, "health_checks", m))
        assert all(r["institution_id"] in institutions for r in load_sql(url, "trainings", m))


def test_events_keep_their_order(clean6):
    for m in clean6.months:
        for pl in load(clean6, "placements", m):
            reg, opp, dep = (as_date(pl[k]) for k in ("registration_date", "opp_date", "departure_date"))
            assert reg < opp <= dep
            assert dep.strftime("%Y-%m") == m  # clean: no late records
        for r in load(clean6, "returns", m):
            assert as_date(r["departure_date"]) < as_date(r["return_date"])
        for c in load(clean6, "complaints", m):
            if c["resolved_date"]:
                assert as_date(c["complaint_date"]) <= as_date(c["resolved_date"])
        for t in load(clean6, "trainings", m):
            assert t["start_date"] < t["end_date"]
        for reg in load(clean6, "cpmi_registrations", m):
            if reg["verification_date"]:
                assert as_date(reg["registration_date"]) <= as_date(reg["verification_date"])


def test_a_person_can_be_followed_through_the_lifecycle(clean6):
    url = clean6.dinas_db_url
    every = {name: {} for name in _person_datasets()}
    for name in every:
        if registry.get(name).source.kind == "sql":
            every[name] = {r["nik"]: r for r in load_sql(url, name)}
        else:
            for m in clean6.months:
                for r in load(clean6, name, m):
                    every[name].setdefault(r["nik"], r)
    last = clean6.months[-1]
    lampung = [p for p in load(clean6, "placements", last) if p["nik"].startswith("18")]
    assert len(lampung) > 100
    full = [p for p in lampung if p["nik"] in every["cpmi_registrations"] and p["nik"] in every["health_checks"]
            and p["nik"] in every["initial_registrations"]]
    assert len(full) / len(lampung) > 0.8
    trained = [p for p in full if p["nik"] in every["trainings"]]
    assert len(trained) / len(full) > 0.5
    for p in full[:50]:
        reg = every["cpmi_registrations"][p["nik"]]
        assert reg["registration_id"] == p["registration_id"]
        assert as_date(every["health_checks"][p["nik"]]["check_date"]) < as_date(p["departure_date"])
        assert every["initial_registrations"][p["nik"]]["registration_date"] <= as_date(p["registration_date"])
    # After placement: some workers placed in the window return, complain, join empowerment or reach Dinsos.
    placed = set().union(*({r["nik"] for r in load(clean6, "placements", m)} for m in clean6.months))
    assert placed & set(every["returns"])
    assert placed & set(every["complaints"])
    returned = set(every["returns"])
    assert returned & set(every["empowerment"])
    assert set(every["stranded_returnees"]) <= returned


# ---------------------------------------------------------------------------------- distributions


def test_distributions_follow_domain(lampung_clean):
    m = "2025-07"
    pl = load(lampung_clean, "placements", m)
    lam = [p for p in pl if p["nik"].startswith("18")]
    n = len(lam)
    assert 1700 <= n <= 2300  # ~2,000 Lampung placements a month
    share = lambda pred, rows=lam: sum(1 for p in rows if pred(p)) / len(rows)  # noqa: E731
    assert share(lambda p: p["sex"] == "P") == pytest.approx(0.72, abs=0.03)
    assert share(lambda p: vocab.canonical("sector", p["sector"]) == "informal") == pytest.approx(0.60, abs=0.04)
    countries = Counter(vocab.country_code(p["destination_country"]) for p in lam)
    assert countries["TW"] / n == pytest.approx(0.55, abs=0.04)
    top = [c for c, _ in countries.most_common(5)]
    assert top[:3] == ["TW", "HK", "MY"] and set(top) == {"TW", "HK", "MY", "JP", "SG"}
    total = sum(DOMAIN_KABKOTA.values())
    kab = Counter(regions.kabkota_code(p["kabkota_code"]) for p in lam)
    for code, w in DOMAIN_KABKOTA.items():
        assert kab[code] / n == pytest.approx(w / total, abs=0.03), code
    edu = Counter(vocab.canonical("education", p["education"]) for p in lam)
    for level, w in M.EDUCATION_WEIGHTS.items():
        assert edu[level] / n == pytest.approx(w, abs=0.03), level
    regs = load(lampung_clean, "cpmi_registrations", m)
    assert 1.2 <= len(regs) / len(pl) <= 1.5
    ages = [(as_date(p["departure_date"]) - as_date(p["birth_date"])).days / 365.25 for p in lam]
    assert min(ages) >= 18 and max(ages) < 47
    assert 0.8 <= len(lam) / len(pl) <= 0.9  # lampung scale: mostly Lampung origin


# ---------------------------------------------------------------------------------- defects and ledger


LENGTH = {"nik_lost_digits": "nik_length", "nik_wrong_length": "nik_length"}


def _detect(dataset: str, rec: dict, month: str, system_kab: str | None) -> set[str]:
    """Defects visible in one row, found independently of the ledger."""
    found = set()
    nik = rec.get("nik")
    if "nik" in rec:
        if isinstance(nik, int | float) or (isinstance(nik, str) and nik.endswith(".0")):
            digits = str(int(float(nik))) if not isinstance(nik, str) else nik[:-2]
            found.add("nik_precision_lost" if digits.endswith("0") else "nik_excel_float")
        elif isinstance(nik, str) and "E+" in nik:
            found.add("nik_scientific")
        elif isinstance(nik, str) and nik.isdigit() and len(nik) != 16:
            found.add("nik_length")  # lost leading digits and a wrong length look alike
        elif nik_digits(nik) and not _nik_date_ok(nik):
            found.add("nik_impossible_date")
        elif nik_digits(nik) and rec.get("birth_date") not in (None, "") and not isinstance(as_date(rec["birth_date"]), Bad):
            b = as_date(rec["birth_date"])
            dd = int(nik[6:8])
            if (dd - 40 if dd > 40 else dd, int(nik[8:10])) != (b.day, b.month):
                found.add("birth_date_corrected")
    kab = rec.get("kabkota_code")
    if isinstance(kab, str):
        lives = regions.kabkota_code(kab)
        if kab.isdigit():
            found.add("bps_code_as_kemendagri")
        elif nik_digits(nik) and lives and lives != nik[:4]:
            explained = any(p == nik[:4] and c == lives for p, c, _ in regions.lineage_pairs())
            found.add("nik_split_regency" if explained else "nik_mover")
            if kab != kabkota_spelling(registry.get(dataset).source.system, lives):
                found.add("kabkota_variant")
        elif kab != system_kab:
            found.add("kabkota_variant")
    job = rec.get("job_title")
    if isinstance(job, str) and vocab.canonical("job_title", job) is None:
        found.add("job_title_unmapped")
    dest = rec.get("destination_country")
    if isinstance(dest, str) and vocab.country_code(dest) and vocab.country_code(dest) not in M.COUNTRY_WEIGHTS:
        found.add("destination_rare")
    for col in ("full_name", "company_name", "institution_name", "facility_name"):
        v = rec.get(col)
        if isinstance(v, str) and (v != v.strip() or "  " in v or v == v.lower()):
            found.add("whitespace_case")
    for col in ("phone", "reporter_phone"):
        v = rec.get(col)
        if isinstance(v, str) and not re.fullmatch(r"08\d{8,11}|\+(886|852|60|65)\d{7,10}", v):
            found.add("phone_format")
    for col in ("destination_country", "country_from"):
        if isinstance(rec.get(col), str) and vocab.country_code(rec[col]) is None:
            found.add("unknown_country")
    pair = ORDERED_DATES.get(dataset)
    if pair and rec.get(pair[0]) not in (None, "") and rec.get(pair[1]) not in (None, ""):
        a, b = as_date(rec[pair[0]]), as_date(rec[pair[1]])
        if not isinstance(a, Bad) and not isinstance(b, Bad) and a > b:
            found.add("events_out_of_order")
    ds = registry.get(dataset)
    for c in ds.source_columns:
        if c.required and c.name != ds.record_id and rec.get(c.name) in (None, ""):
            found.add("missing_mandatory")
        if c.type == "date" and c.name != "updated_at" and rec.get(c.name) not in (None, ""):
            d = as_date(rec[c.name])
            if isinstance(d, Bad):
                found.add("impossible_date")
            elif not c.future_allowed and d > M.to_date(M.month_end(month)):
                found.add("future_date")
    return found


def test_ledger_matches_what_was_injected(dirty3):
    ledger = read_ledger(dirty3.ledger_path)
    assert ledger and all(set(e) >= {"month", "dataset", "record_id", "kind", "column", "detail"} for e in ledger)
    kinds = Counter(e["kind"] for e in ledger)
    assert set(kinds) <= DEFECT_KINDS
    assert len(set(kinds)) >= 15, kinds
    by_row = {}
    for e in ledger:
        if e["source_row"] is not None:
            by_row.setdefault((e["dataset"], e["month"], e["source_row"]), set()).add(e["kind"])
        else:
            by_row.setdefault((e["dataset"], e["month"], e["record_id"]), set()).add(e["kind"])
    for m in dirty3.months:
        for name in registry.names():
            ds = registry.get(name)
            sql = ds.source.kind == "sql"
            recs = load(dirty3, name, m)
            assert len(recs) == dirty3.rows[(name, m)]
            seen_ids: dict[str, dict] = {}
            for i, rec in enumerate(recs, 1):
                if sql and ds.snapshot:  # a register is pulled whole: its rows carry every month's defects
                    row_kinds = set().union(*(by_row.get((name, mm, rec[ds.record_id]), set())
                                          for mm in dirty3.months if mm <= m))
                else:
                    row_kinds = by_row.get((name, m, rec[ds.record_id] if sql else i), set())
                logged = {LENGTH.get(k, k) for k in row_kinds}
                kab_code = None
                nik = rec.get("nik")
                if nik_digits(nik) and "kabkota_code" in rec and name not in ("initial_registrations", "trainings"):
                    kab_code = nik[:4]
                elif isinstance(rec.get("kabkota_code"), str) and regions.kabkota_code(rec["kabkota_code"]):
                    kab_code = regions.kabkota_code(rec["kabkota_code"])
                clean_kab = kabkota_spelling(ds.source.system, kab_code) if kab_code else None
                found = _detect(name, rec, m, clean_kab)
                rid = rec[ds.record_id]
                if rid in seen_ids:
                    found.add("duplicate_row" if seen_ids[rid] == rec else "duplicate_id_conflict")
                seen_ids.setdefault(rid, rec)
                # every visible defect is in the ledger (the ledger is complete) ...
                visible = found - {"kabkota_variant"} if "bps_code_as_kemendagri" in logged else found
                missing = visible - logged
                if logged & {"missing_mandatory", "nik_excel_float", "nik_precision_lost"}:
                    missing -= {"kabkota_variant", "birth_date_corrected", "nik_mover"}
                if "events_out_of_order" in logged:  # a departure moved after a return may land in the future
                    missing -= {"future_date"}
                if "future_date" in logged or "duplicate_id_conflict" in logged:  # and vice versa
                    missing -= {"events_out_of_order"}
                assert not missing, (name, m, i, missing, logged)
                # ... and every logged row defect is visible in the row (the ledger is true).
                for kind in logged - BATCH_EVENTS:
                    assert kind in found, (name, m, i, kind)
                if "late_record" in logged:
                    event = {"placements": "departure_date", "cpmi_registrations": "registration_date",
                             "returns": "return_date", "health_checks": "check_date"}[name]
                    d = as_date(rec[event])
                    if not isinstance(d, Bad) and d is not None and "future_date" not in logged:
                        assert d.strftime("%Y-%m") == M.month_add(m, -1)
    # ledger lines per kind are one per injected defect: re-counting rows never exceeds the ledger
    assert sum(kinds.values()) == len(ledger)


def test_defect_rate_is_roughly_honoured(dirty3):
    ledger = read_ledger(dirty3.ledger_path)
    rows = sum(dirty3.rows.values())
    row_level = [e for e in ledger if e["kind"] not in BATCH_EVENTS]
    assert 0.05 <= len(row_level) / rows <= 0.11
    drift = [e for e in ledger if e["kind"].startswith("schema_drift")]
    for e in drift:
        p = dirty3.files[(e["dataset"], e["month"])]
        header, _ = read_back(p)
        assert header != [c.headers[0] for c in registry.get(e["dataset"]).source_columns]
        assert e["file"] == p.name


def test_schema_drift_renames_only_to_registered_aliases(tmp_path):
    res = simulate(tmp_path, month="2025-01", months=3, scale="demo", seed=2, defect_rate=0.15)
    ledger = read_ledger(res.ledger_path)
    drifted = [e for e in ledger if e["kind"].startswith("schema_drift")]
    assert drifted
    for e in drifted:
        header, _ = read_back(res.files[(e["dataset"], e["month"])])
        mapped = header_map(e["dataset"], header)
        n_source = len(registry.get(e["dataset"]).source_columns)
        assert len(mapped) == n_source  # every source column still found through the registry
        assert len(header) == n_source + (e["kind"] == "schema_drift_extra_column")


def test_specific_defect_shapes(dirty3):
    ledger = read_ledger(dirty3.ledger_path)
    rows = {}
    for e in ledger:
        if e["source_row"] and e["kind"] in ("nik_scientific", "bps_code_as_kemendagri", "kabkota_variant",
                                             "events_out_of_order"):
            rows.setdefault(e["kind"], []).append(e)
    for e in rows.get("nik_scientific", []):
        rec = load(dirty3, e["dataset"], e["month"])[e["source_row"] - 1]
        assert re.fullmatch(r"\d\.\d{5}E\+15", rec["nik"])
    for e in rows.get("bps_code_as_kemendagri", []):
        rec = load(dirty3, e["dataset"], e["month"])[e["source_row"] - 1]
        if nik_digits(rec.get("nik")):
            assert regions.kabkota_code(rec["kabkota_code"]) != rec["nik"][:4]  # it names another regency
    for e in rows.get("kabkota_variant", []):
        rec = load(dirty3, e["dataset"], e["month"])[e["source_row"] - 1]
        assert regions.kabkota_code(rec["kabkota_code"])  # repairable: still maps
    for e in rows.get("events_out_of_order", []):
        if e["dataset"] == "placements":
            rec = load(dirty3, e["dataset"], e["month"])[e["source_row"] - 1]
            assert as_date(rec["registration_date"]) > as_date(rec["departure_date"])
    assert rows, "expected some of these kinds in 3 months at 8 %"


# ---------------------------------------------------------------------------------- encodings and XLSX shapes


def test_exports_mix_encodings_and_xlsx_date_styles(clean6):
    encodings, date_cells = set(), set()
    for (name, _m), p in clean6.files.items():
        if p.suffix == ".csv":
            raw = p.read_bytes()
            try:
                raw.decode("utf-8")
                encodings.add("utf-8")
            except UnicodeDecodeError:
                raw.decode("cp1252")
                encodings.add("cp1252")
            assert b";" in raw.splitlines()[0]
        else:
            header, rows = read_file(p)
            ds = registry.get(name)
            hm = header_map(name, header)
            dcols = [i for i, c in hm.items() if ds.column(c).type == "date"]
            for row in rows[:5]:
                for i in dcols:
                    if row[i] is not None:
                        date_cells.add(type(row[i]).__name__)
    assert encodings == {"utf-8", "cp1252"}
    assert {"str", "int"} <= date_cells or {"str", "datetime"} <= date_cells


# ---------------------------------------------------------------------------------- bulk writer and CLI


def test_bulk_placements_csv(tmp_path):
    p = tmp_path / "bulk" / "PENEMPATAN_PMI_202507.csv"
    info = write_placements_csv(p, 20000, month="2025-07", seed=1)
    assert info["rows"] == 20000 and info["defects"] == 0
    recs = load_file(p, "placements")
    assert len(recs) == 20000
    assert len({r["nik"] for r in recs}) == 20000
    for r in recs[:2000]:
        nik = r["nik"]
        assert stdnum_nik.is_valid(nik) and regions.kabkota_code(r["kabkota_code"]) == nik[:4]
        b = as_date(r["birth_date"])
        assert int(nik[6:8]) == b.day + (40 if r["sex"] == "P" else 0)
        assert as_date(r["departure_date"]).strftime("%Y-%m") == "2025-07"
        assert vocab.country_code(r["destination_country"]) and vocab.canonical("job_title", r["job_title"])
    lam = sum(r["nik"].startswith("18") for r in recs) / len(recs)
    assert lam == pytest.approx(0.085, abs=0.01)
    again = tmp_path / "again.csv"
    write_placements_csv(again, 20000, month="2025-07", seed=1)
    assert again.read_bytes() == p.read_bytes()
    dirty = tmp_path / "dirty" / "p.csv"
    info = write_placements_csv(dirty, 20000, month="2025-07", seed=1, defect_rate=0.05)
    ledger = read_ledger(dirty.parent / "_defects.jsonl")
    assert len(ledger) == info["defects"] and 700 < len(ledger) < 1300
    recs = load_file(dirty, "placements")
    for e in ledger[:200]:
        rec = recs[e["source_row"] - 1]
        assert rec["placement_id"] == e["record_id"]
        assert LENGTH.get(e["kind"], e["kind"]) in _detect("placements", rec, "2025-07", None) | {"kabkota_variant"}


def test_cli_help_and_run(tmp_path):
    out = subprocess.run([sys.executable, "-m", "sinergi.simulate.cli", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and "--defect-rate" in out.stdout and "--dinas-db" in out.stdout
    parser = argparse.ArgumentParser(prog="sinergi")
    sub = parser.add_subparsers(dest="command")
    sim_cli.register(sub)
    args = parser.parse_args(["simulate", "--month", "2025-07", "--scale", "demo", "--seed", "4", "--out",
                              str(tmp_path), "--defect-rate", "0", "--format", "returns=xlsx"])
    assert args.func(args) == 0
    assert (tmp_path / "siskop2mi" / "2025-07" / "KEPULANGAN_PMI_202507.xlsx").exists()
    assert (tmp_path / "disnaker.sqlite").exists() and (tmp_path / "_defects.jsonl").read_text() == ""
    with pytest.raises(SystemExit):
        parser.parse_args(["simulate", "--month", "2025-13", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        parser.parse_args(["simulate", "--month", "2025-07", "--out", str(tmp_path), "--scale", "huge"])


def test_bad_arguments_are_rejected(tmp_path):
    with pytest.raises(ValueError):
        simulate(tmp_path, month="2025/07")
    with pytest.raises(ValueError):
        simulate(tmp_path, month="2025-07", scale="galactic")
    with pytest.raises(ValueError):
        simulate(tmp_path, month="2025-07", defect_rate=1.5)


def test_integer_scale_sets_placement_rows(tmp_path):
    res = simulate(tmp_path, month="2025-07", scale=1500, seed=9, defect_rate=0.0)
    assert 1350 <= res.rows[("placements", "2025-07")] <= 1650
    assert json.loads(json.dumps(M.get_scale("1500").name)) == "rows:1500"
