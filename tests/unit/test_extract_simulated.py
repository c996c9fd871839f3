"""Every dataset through extraction from the simulator's output, defects on: the ground-truth
ledger (``_defects.jsonl``) says which rows are damaged and how; extraction must repair the
repairable ones, keep the unrepairable ones visible for validation, and account for every row."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

import sinergi.simulate as simulate_mod  # noqa: E402
from sinergi import regions, registry, vocab
from sinergi.extract import SourceConfig, extract, output_schema

MONTHS = ("2025-07", "2025-08")


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    result = simulate_mod.simulate(out, month=MONTHS[0], months=len(MONTHS), scale="demo", seed=7, defect_rate=0.08)
    ledger = simulate_mod.read_ledger(result.ledger_path)
    cfg = SourceConfig(out, result.dinas_db_url)
    extracted = {(n, m): extract(n, m, cfg) for m in MONTHS for n in registry.names()}
    return result, ledger, extracted


def _rows_for(entry, table):
    """Rows of the extracted table a ledger entry is about (by file row, else by record id)."""
    ds = registry.get(entry["dataset"])
    rows = table.to_pylist()
    if entry.get("source_row") and not str(entry.get("file", "")).startswith("db:"):
        return [r for r in rows if r["_source_row"] == entry["source_row"]]
    return [r for r in rows if r[ds.record_id] == entry["record_id"]]


def test_every_dataset_canonical_and_every_row_accounted_for(sim):
    result, _, extracted = sim
    for (name, month), r in extracted.items():
        assert r.table.schema.equals(output_schema(name), check_metadata=False), name
        assert r.rows_read + len(r.rows_skipped) == result.rows[(name, month)], (name, month, r.rows_skipped[:3])
        assert r.sources[0]["sha256"]
        src = registry.get(name).source
        if src.kind == "file":
            assert r.table.column("_source_row").to_pylist() == sorted(r.table.column("_source_row").to_pylist())
        else:
            assert set(r.table.column("_source_file").to_pylist()) <= {f"db:{src.table}"}


def test_repairable_defects_are_repaired(sim):
    _, ledger, extracted = sim
    checked = defaultdict(int)
    for e in ledger:
        if e["kind"] not in simulate_mod.REPAIRABLE_DEFECTS:
            continue
        table = extracted[(e["dataset"], e["month"])].table
        rows = _rows_for(e, table)
        assert rows, e
        for row in rows:
            value = row[e["column"]]
            if e["kind"] == "kabkota_variant":
                assert value in regions.by_code(), (e, value)
                if "kabkota_bps_code" in row:
                    assert row["kabkota_bps_code"] == regions.bps_code(value)
            elif e["kind"] == "nik_excel_float":
                assert re.fullmatch(r"\d{16}", value), e
            elif e["kind"] == "phone_format":
                assert re.fullmatch(r"\+\d{8,15}", value), (e, value)
            elif e["kind"] == "whitespace_case":
                assert value == " ".join(value.split()), e
                col = registry.get(e["dataset"]).column(e["column"])
                if col.normalise == "name":
                    assert value == value.upper()
                if col.vocabulary:
                    assert value in vocab.values(col.vocabulary)
            assert row["_extract_issues"] is None or e["column"] not in row["_extract_issues"], e
        checked[e["kind"]] += 1
    assert checked["kabkota_variant"] and checked["phone_format"] and checked["nik_excel_float"]


def test_unrepairable_defects_stay_visible(sim):
    _, ledger, extracted = sim
    checked = defaultdict(int)
    for e in ledger:
        table = extracted[(e["dataset"], e["month"])].table
        kind, col = e["kind"], e["column"]
        if kind not in simulate_mod.ROW_DEFECTS or kind in ("duplicate_row", "duplicate_id_conflict"):
            continue
        rows = _rows_for(e, table)
        if not rows:  # the record id itself was damaged (missing_mandatory on the id column)
            assert col == registry.get(e["dataset"]).record_id, e
            continue
        for row in rows:
            v = row[col]
            if kind in ("nik_scientific", "nik_lost_digits", "nik_wrong_length"):
                assert v is not None and not re.fullmatch(r"\d{16}", v), (e, v)  # kept as text, never "repaired"
                assert row.get("kecamatan_code") is None if "kecamatan_code" in row else True
            elif kind == "impossible_date":
                assert v is None and f"{col}: unparseable date" in (row["_extract_issues"] or ""), e
            elif kind == "unknown_country":
                assert v is not None and v not in vocab.countries(), e
            elif kind == "missing_mandatory":
                assert v is None, e
            elif kind == "bps_code_as_kemendagri":
                assert v is not None and re.fullmatch(r"\d{4}", v), e  # kept as written
        checked[kind] += 1
    assert checked["nik_scientific"] and checked["impossible_date"] and checked["unknown_country"]


def test_duplicates_and_late_records_are_extracted(sim):
    _, ledger, extracted = sim
    for e in ledger:
        if e["kind"] in ("duplicate_row", "duplicate_id_conflict"):
            ds = registry.get(e["dataset"])
            ids = extracted[(e["dataset"], e["month"])].table.column(ds.record_id).to_pylist()
            assert ids.count(e["record_id"]) >= 2, e  # validation decides, extraction keeps both


def test_schema_drift_warnings(sim):
    _, ledger, extracted = sim
    drift = [e for e in ledger if e["kind"].startswith("schema_drift")]
    assert drift
    for e in drift:
        r = extracted[(e["dataset"], e["month"])]
        if e["kind"] == "schema_drift_extra_column":
            extra = e["detail"].split("'")[1]
            assert any(f"unknown column {extra!r}" in w and "schema drift" in w for w in r.warnings), (e, r.warnings)
        else:  # a renamed header that is a registered alias: mapped, nothing missing
            assert not any(f"column {e['column']} missing" in w for w in r.warnings)
            assert r.table.column(e["column"]).null_count < r.table.num_rows
