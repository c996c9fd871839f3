"""A corpus of malformed sources (issue 14): one test per case, each asserting the exact outcome —
every physical data row of the file ends up valid or quarantined with a reason
(``source_rows = valid + quarantined``, per file and for the month), or the run fails with an error
naming the file. Files are generated here from synthetic rows (no NIK-like data is committed).

Most cases run the real extract and validate steps on an in-memory store, so the quarantine
object (with ``_raw_line`` and ``_failed_rules``) and the reconciliation are the pipeline's own.
"""

from __future__ import annotations

import codecs
import gzip
import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest
from test_validate_synth import canonical_table

from sinergi.extract import UnreadableSourceError
from sinergi.layout import QUARANTINE_BUCKET
from sinergi.pipeline import RunContext, extract_step, validate_step
from sinergi.registry import get as dataset
from sinergi.settings import Settings
from sinergi.simulate.writers import csv_text
from support import MemoryStore

MONTH = "2025-07"
N = 60  # above reject_share's min_rows (50); one or two bad lines stay under its 5 %
DS = dataset("placements")
HEADERS = [c.headers[0] for c in DS.source_columns]


def rows(n: int = N, seed: int = 11) -> list[list[str]]:
    table = canonical_table("placements", n, MONTH, seed=seed).to_pylist()
    return [[csv_text(r.get(c.name)) for c in DS.source_columns] for r in table]


def csv_lines(data: list[list[str]], *, header_suffix: str = "", row_suffix: str = "") -> list[str]:
    """``;`` lines as SISKOP2MI writes them (no quoting needed: synthetic values hold no ``;``)."""
    return [";".join(HEADERS) + header_suffix] + [";".join(r) + row_suffix for r in data]


def write(root: Path, content: bytes, name: str = "PENEMPATAN_PMI_202507.csv") -> Path:
    folder = root / "exports" / "siskop2mi" / MONTH
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def run(root: Path) -> tuple[dict, list[dict]]:
    """extract + validate the month; (the validate reference, the quarantined rows)."""
    env = {"SINERGI_HOME": str(root / "home"), "SINERGI_EXPORTS_DIR": str(root / "exports"),
           "SINERGI_MASTER_SECRET": "hex:" + "5a" * 32}
    ctx = RunContext(store=MemoryStore(), home=root / "home", settings=Settings(environ=env))
    ref = validate_step(extract_step("placements", MONTH, "run-1", ctx), ctx)
    q = pq.read_table(io.BytesIO(ctx.store.get_bytes(QUARANTINE_BUCKET, ref["quarantine_key"])))
    return ref, q.select(["_source_file", "_source_row", "_failed_rules", "_raw_line", "_extract_issues"]).to_pylist()


def assert_reconciled(ref: dict, source_rows: int, valid: int, quarantined: int, malformed: int = 0) -> None:
    c = ref["counts"]
    assert (c["source_rows"], c["valid"], c["quarantined"], c["malformed"]) == (source_rows, valid, quarantined,
                                                                                malformed), c
    [src] = ref["sources"]
    assert (src["source_rows"], src["valid"], src["quarantined"], src["malformed"]) == (source_rows, valid,
                                                                                        quarantined, malformed)


def malformed_rows(q: list[dict]) -> dict[int, dict]:
    return {r["_source_row"]: r for r in q if r["_failed_rules"] == ["malformed_line"]}


# -- trailing delimiters ------------------------------------------------------------------------------
def test_trailing_delimiter_in_the_header(tmp_path):
    write(tmp_path, "\r\n".join(csv_lines(rows(), header_suffix=";")).encode())
    ref, q = run(tmp_path)
    assert_reconciled(ref, N, N, 0)


def test_trailing_delimiter_in_the_rows(tmp_path):
    write(tmp_path, "\r\n".join(csv_lines(rows(), row_suffix=";")).encode())
    ref, _ = run(tmp_path)
    assert_reconciled(ref, N, N, 0)


def test_trailing_delimiters_in_header_and_rows(tmp_path):
    write(tmp_path, "\n".join(csv_lines(rows(), header_suffix=";;", row_suffix=";")).encode())
    ref, _ = run(tmp_path)
    assert_reconciled(ref, N, N, 0)


# -- stray quotes -------------------------------------------------------------------------------------
def test_stray_quote_at_field_start_quarantines_that_line_only(tmp_path):
    data = rows()
    name = HEADERS.index(DS.column("full_name").headers[0])
    data[19][name] = '"' + data[19][name]  # data row 20 of 60: an unclosed quote
    lines = csv_lines(data)
    write(tmp_path, "\r\n".join(lines).encode())
    ref, q = run(tmp_path)
    assert_reconciled(ref, N, N - 1, 1, malformed=1)
    bad = malformed_rows(q)
    assert set(bad) == {20}
    assert bad[20]["_raw_line"] == lines[20] and "never closes" in bad[20]["_extract_issues"]
    assert bad[20]["_source_file"] == "PENEMPATAN_PMI_202507.csv"


def test_quote_closed_then_more_text_is_malformed(tmp_path):
    data = rows()
    data[4][3] = '"Siti" Aminah'  # quoted, then text after the closing quote
    write(tmp_path, "\r\n".join(csv_lines(data)).encode())
    ref, q = run(tmp_path)
    assert_reconciled(ref, N, N - 1, 1, malformed=1)
    assert set(malformed_rows(q)) == {5} and "broken quoting" in malformed_rows(q)[5]["_extract_issues"]


def test_stray_quote_mid_field_is_kept_as_text(tmp_path):
    data = rows()
    name = HEADERS.index(DS.column("full_name").headers[0])
    data[7][name] = data[7][name][:3] + '"' + data[7][name][3:]  # as Excel reads it: a literal quote
    write(tmp_path, "\r\n".join(csv_lines(data)).encode())
    ref, _ = run(tmp_path)
    assert_reconciled(ref, N, N, 0)


def test_quoted_value_with_delimiter_and_line_break_is_one_row(tmp_path):
    data = rows()
    addr = HEADERS.index(DS.column("address").headers[0])
    data[9][addr] = '"Jl. Contoh; No. 5\nRT 02"'  # legitimately quoted: one record over two lines
    write(tmp_path, "\r\n".join(csv_lines(data)).encode())
    ref, _ = run(tmp_path)
    assert_reconciled(ref, N, N, 0)


# -- ragged rows --------------------------------------------------------------------------------------
def test_ragged_rows_too_few_and_too_many_fields(tmp_path):
    data = rows()
    lines = csv_lines(data)
    lines[3] = ";".join(data[2][:-2])  # data row 3: two fields short
    lines[41] = ";".join(data[40] + ["x"])  # data row 41: one non-empty field too many
    write(tmp_path, "\r\n".join(lines).encode())
    ref, q = run(tmp_path)
    assert_reconciled(ref, N, N - 2, 2, malformed=2)
    bad = malformed_rows(q)
    assert set(bad) == {3, 41}
    assert "too few" in bad[3]["_extract_issues"] and "too many" in bad[41]["_extract_issues"]
    assert bad[41]["_raw_line"] == lines[41]


# -- XLSX ---------------------------------------------------------------------------------------------
def _xlsx_bytes(data: list[list[str]]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["BP2MI"])
    ws.append(HEADERS)
    for r in data:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_understated_xlsx_dimension_reads_every_row(tmp_path):
    raw = _xlsx_bytes(rows())
    src, out = zipfile.ZipFile(io.BytesIO(raw)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            part = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                part, n = re.subn(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:C12"', part)
                assert n == 1
            z.writestr(info, part)
    write(tmp_path, out.getvalue(), "PENEMPATAN_PMI_202507.xlsx")
    ref, _ = run(tmp_path)
    assert_reconciled(ref, N, N, 0)


def test_xlsx_named_csv_is_read_as_xlsx(tmp_path):
    write(tmp_path, _xlsx_bytes(rows()))
    ref, _ = run(tmp_path)
    assert_reconciled(ref, N, N, 0)
    assert any("is an XLSX workbook under another name" in w for w in ref["warnings"])


def test_gzip_named_csv_is_an_error_naming_the_file(tmp_path):
    write(tmp_path, gzip.compress("\r\n".join(csv_lines(rows())).encode()))
    with pytest.raises(UnreadableSourceError, match=r"PENEMPATAN_PMI_202507\.csv: is a gzip-compressed file"):
        run(tmp_path)


# -- NIKs that went through a number ---------------------------------------------------------------------
def test_float_text_niks_ending_in_0_are_quarantined_the_others_kept(tmp_path):
    data = rows()
    nik = HEADERS.index(DS.column("nik").headers[0])
    intact = next(i for i, r in enumerate(data) if r[nik][-1] != "0")
    data[intact][nik] += ".0"  # a float rendering that kept every digit
    data[1][nik] = data[1][nik][:15] + "0.0"  # Excel rounded the 16th digit
    data[2][nik] = f"{float(data[2][nik][:15] + '0'):.14E}".replace("E+015", "E+15")  # scientific notation
    write(tmp_path, "\r\n".join(csv_lines(data)).encode())
    ref, q = run(tmp_path)
    lost = {r["_source_row"] for r in q if "nik_precision_lost" in r["_failed_rules"]}
    assert lost == {2, 3}
    assert intact + 1 not in {r["_source_row"] for r in q}
    assert_reconciled(ref, N, N - 2, 2)


# -- encodings, NULs ----------------------------------------------------------------------------------
def test_utf8_bom(tmp_path):
    write(tmp_path, codecs.BOM_UTF8 + "\r\n".join(csv_lines(rows())).encode())
    ref, _ = run(tmp_path)
    assert_reconciled(ref, N, N, 0)


def test_utf16_with_bom(tmp_path):
    write(tmp_path, "\r\n".join(csv_lines(rows())).encode("utf-16"))
    ref, _ = run(tmp_path)
    assert_reconciled(ref, N, N, 0)


def test_utf16_without_bom(tmp_path):
    write(tmp_path, "\r\n".join(csv_lines(rows())).encode("utf-16-le"))
    ref, _ = run(tmp_path)
    assert_reconciled(ref, N, N, 0)


def test_nul_bytes_in_a_line_and_as_padding(tmp_path):
    lines = csv_lines(rows())
    lines[10] = lines[10][:20] + "\x00\x00" + lines[10][20:]  # data row 10 damaged
    write(tmp_path, ("\r\n".join(lines) + "\r\n").encode() + b"\x00" * 512)  # a NUL-padded tail is no row
    ref, q = run(tmp_path)
    assert_reconciled(ref, N, N - 1, 1, malformed=1)
    bad = malformed_rows(q)
    assert set(bad) == {10} and "NUL" in bad[10]["_extract_issues"]


# -- empty and header-only files ----------------------------------------------------------------------
def test_header_only_file_has_no_rows(tmp_path):
    write(tmp_path, (";".join(HEADERS) + "\r\n").encode())
    ref, q = run(tmp_path)  # no earlier month had rows: an empty month is not a stop
    assert_reconciled(ref, 0, 0, 0)
    assert q == []


def test_empty_file_is_an_error_naming_the_file(tmp_path):
    write(tmp_path, b"")
    with pytest.raises(UnreadableSourceError, match=r"PENEMPATAN_PMI_202507\.csv: the file is empty"):
        run(tmp_path)


# -- duplicated header names --------------------------------------------------------------------------
def test_duplicated_header_names_use_the_first_and_warn(tmp_path):
    data = rows()
    name = DS.column("full_name").headers[0]
    lines = [";".join(HEADERS + [name])] + [";".join(r + ["OTHER NAME"]) for r in data]
    write(tmp_path, "\r\n".join(lines).encode())
    ref, _ = run(tmp_path)
    assert_reconciled(ref, N, N, 0)
    assert any(f"column {name!r} duplicates {name!r}" in w and "the first is used" in w for w in ref["warnings"])


# -- the simulator's malformed exports ----------------------------------------------------------------
def test_simulated_malformed_exports_are_caught_line_for_line(tmp_path):
    """``simulate(malformed_files=True)``: every ``malformed_line`` of the ledger is exactly a
    malformed row of the extract, and files with trailing delimiters or an understated dimension
    lose nothing (source_rows = the simulator's rows)."""
    from sinergi.extract import SourceConfig, extract
    from sinergi.simulate import read_ledger, simulate

    sim = simulate(tmp_path, month=MONTH, months=1, scale="demo", seed=11, defect_rate=0.05, malformed_files=True)
    ledger = read_ledger(sim.ledger_path)
    events = {(e["dataset"], e["kind"]): e for e in ledger
              if e["kind"] in ("malformed_line", "trailing_delimiter", "understated_dimension")}
    assert {k for _, k in events} == {"malformed_line", "trailing_delimiter", "understated_dimension"}
    cfg = SourceConfig(tmp_path, sim.dinas_db_url)
    for name in {d for d, _ in events}:
        result = extract(name, MONTH, cfg)
        expected = sorted(e["source_row"] for e in ledger if e["dataset"] == name and e["kind"] == "malformed_line")
        assert sorted(m["row"] for m in result.malformed) == expected, name
        assert result.source_rows == sim.rows[(name, MONTH)], name
