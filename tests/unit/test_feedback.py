"""The data producer's feedback workbook (sinergi.feedback): one line per problem with file, data row,
column, observed value, rule and how to fix it (Bahasa Indonesia and English), a summary per rule,
the unknown vocabulary values, and the reconciliation per dataset — built by the real extract and
validate steps on an in-memory store."""

from __future__ import annotations

import io

import openpyxl
import pyarrow as pa
from test_malformed_sources import DS, HEADERS, csv_lines, rows, write

from sinergi import feedback, layout, registry
from sinergi.layout import QUARANTINE_BUCKET
from sinergi.pipeline import RunContext, extract_step, validate_step
from sinergi.settings import Settings
from sinergi.validate import suites
from support import MemoryStore

MONTH = "2025-07"


def sheets(data: bytes) -> dict[str, list[dict]]:
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    try:
        out = {}
        for ws in wb.worksheets:
            values = [list(r) for r in ws.iter_rows(values_only=True)]
            out[ws.title] = [dict(zip(values[0], r, strict=False)) for r in values[1:]] if values else []
        return out
    finally:
        wb.close()


def test_every_rule_of_every_suite_has_texts_in_both_languages():
    families = {"malformed_line"}
    for name in registry.datasets():
        families |= {r.rule.split(":", 1)[0] for r in suites.load(name).rules if r.severity in ("quarantine", "warn")}
    entries = feedback.texts()["rules"]
    assert families <= set(entries), sorted(families - set(entries))
    for family in families:
        for part in ("problem", "fix"):
            assert entries[family][part]["id"].strip() and entries[family][part]["en"].strip(), (family, part)


def test_workbook_names_every_problem_row(tmp_path):
    data = rows()
    col = {c.name: HEADERS.index(c.headers[0]) for c in DS.source_columns}
    data[4][col["full_name"]] = '"' + data[4][col["full_name"]]  # data row 5: a stray quote
    data[9][col["nik"]] = data[9][col["nik"]][:15] + "0.0"  # data row 10: precision lost
    data[14][col["job_title"]] = "Tukang Las Kapal"  # data row 15: a job title outside the list (warning)
    lines = csv_lines(data)
    write(tmp_path, "\r\n".join(lines).encode())
    env = {"SINERGI_HOME": str(tmp_path / "home"), "SINERGI_EXPORTS_DIR": str(tmp_path / "exports"),
           "SINERGI_MASTER_SECRET": "hex:" + "5a" * 32}
    ctx = RunContext(store=MemoryStore(), home=tmp_path / "home", settings=Settings(environ=env))
    ref = validate_step(extract_step("placements", MONTH, "run-1", ctx), ctx)

    assert ref["feedback_key"] == layout.feedback_key("siskop2mi", MONTH) == \
        "_feedback/siskop2mi/2025-07/feedback_siskop2mi_2025-07.xlsx"
    book = sheets(ctx.store.get_bytes(QUARANTINE_BUCKET, ref["feedback_key"]))
    assert list(book) == ["masalah - problems", "ringkasan - summary", "nilai asing - unknown values",
                          "rekonsiliasi", "about"]
    head = feedback.texts()["columns"]
    by_row = {}
    for line in book["masalah - problems"]:
        by_row.setdefault(line[head["row"]], []).append(line)
    assert set(by_row) == {5, 10, 15}
    [bad] = by_row[5]
    assert bad[head["file"]] == "PENEMPATAN_PMI_202507.csv" and bad[head["rule"]] == "malformed_line"
    assert bad[head["value"]] == lines[5]  # the raw line, for the producer to find and fix
    assert bad[head["severity"]].startswith("Ditolak") and "tanda kutip" in bad[head["fix_id"]]
    assert "quote" in bad[head["fix_en"]]
    nik = next(x for x in by_row[10] if x[head["rule"]] == "nik_precision_lost")
    assert nik[head["column"]] == "NIK (nik)" and nik[head["value"]] == data[9][col["nik"]]
    assert "Teks" in nik[head["fix_id"]] and "Text" in nik[head["fix_en"]]
    [warn] = by_row[15]
    assert warn[head["rule"]] == "vocab:job_title" and warn[head["value"]].lower() == "tukang las kapal"
    assert warn[head["column"]] == f"{DS.column('job_title').headers[0]} (job_title)"
    assert warn[head["severity"]].startswith("Peringatan")

    summary = {(r["Aturan / Rule"]): r["Jumlah baris / Rows"] for r in book["ringkasan - summary"]}
    assert summary["malformed_line"] == 1 and summary["nik_precision_lost"] == 1 and summary["vocab:job_title"] == 1
    [unknown] = book["nilai asing - unknown values"]
    assert unknown["Kolom / Column"] == "job_title" and unknown["Nilai / Value"].lower() == "tukang las kapal"
    assert unknown["Jumlah baris / Rows"] == 1
    [recon] = book["rekonsiliasi"]
    assert (recon["Baris sumber / Source rows"], recon["Valid / Valid"], recon["Ditolak / Quarantined"],
            recon["Baris rusak / Malformed lines"]) == (60, 58, 2, 1)


def test_workbook_merges_the_datasets_of_a_system_and_keeps_the_latest_run():
    store = MemoryStore()
    empty_q = pa.table({"_source_file": pa.array([], pa.string())})

    class Res:
        def __init__(self, by_rule):
            self.quarantined, self.stopped = empty_q, False
            self.counts = {"source_rows": 3, "extracted": 3, "valid": 3, "quarantined": 0, "malformed": 0,
                           "by_rule": by_rule, "warnings_by_rule": {}, "unknown_values": {}}

    feedback.store_problems(store, "p3mi", MONTH, "r1", Res({"required:p3mi_id": 9}), None)
    feedback.store_problems(store, "p3mi", MONTH, "r2", Res({}), None)  # the re-run replaces r1
    feedback.store_problems(store, "complaints", MONTH, "r2", Res({"required:nik": 1}), None)
    key = feedback.write_workbook(store, "siskop2mi", MONTH)
    book = sheets(store.get_bytes(QUARANTINE_BUCKET, key))
    assert [r["Dataset / Dataset"] for r in book["rekonsiliasi"]] == ["complaints", "p3mi"]
    assert [(r["Dataset / Dataset"], r["Aturan / Rule"]) for r in book["ringkasan - summary"]] == \
        [("complaints", "required:nik")]
