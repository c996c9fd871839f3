"""Untrusted exports that could take a worker down or read outside the exports folder, through the
real extract (files on disk, landing in the real store): each is refused with an error naming the
file, before the parser or the landing zone sees it; a clean file next to them still extracts."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import xlsxwriter

from sinergi import registry
from sinergi.errors import PermanentError
from sinergi.extract import ExtractError, SourceConfig, extract, guard
from sinergi.extract.guard import UnsafeSourceError
from sinergi.layout import LANDING_BUCKET

MONTH = "2025-07"
DATASET = "health_facilities"  # dinkes, XLSX first
FACILITY_ROWS = [["F-001", "Klinik Sehat", "klinik", "IZ-001", "31/12/2026", "1871"],
                 ["F-002", "RS Umum", "rumah sakit", "IZ-002", "31/12/2027", "1801"]]


def headers() -> list[str]:
    return [c.headers[0] for c in registry.get(DATASET).source_columns]


def folder(root: Path) -> Path:
    d = root / "dinkes" / MONTH
    d.mkdir(parents=True, exist_ok=True)
    return d


def source_path(root: Path, ext: str) -> Path:
    return folder(root) / f"SARANA_KESEHATAN_CPMI_{MONTH.replace('-', '')}.{ext}"


def write_workbook(path: Path, rows: list[list] = FACILITY_ROWS) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Data")
    for i, row in enumerate([headers(), *rows]):
        ws.write_row(i, 0, row)
    wb.close()
    return path


def replace_member(path: Path, member: str, chunks, level: int = 6) -> Path:
    """Rewrite one part of a real workbook (the rest stays as XlsxWriter wrote it)."""
    with zipfile.ZipFile(path) as src:
        parts = {i.filename: src.read(i) for i in src.infolist() if i.filename != member}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as dst:
        for name, body in parts.items():
            dst.writestr(name, body)
        with dst.open(member, "w", force_zip64=True) as f:
            for chunk in chunks:
                f.write(chunk)
    path.write_bytes(out.getvalue())
    return path


def config(root: Path) -> SourceConfig:
    return SourceConfig(exports_dir=root, disnaker_db_url=f"sqlite:///{root / 'disnaker.sqlite'}")


def refused(root: Path, store=None, match: str = "") -> ExtractError:
    with pytest.raises(ExtractError, match=match) as err:
        extract(DATASET, MONTH, config(root), landing=store, run_id="attack")
    assert isinstance(err.value, PermanentError)  # not retried: re-running the same file cannot help
    return err.value


def test_a_clean_workbook_extracts(tmp_path, weed):
    write_workbook(source_path(tmp_path, "xlsx"))
    result = extract(DATASET, MONTH, config(tmp_path), landing=weed.pipeline, run_id="clean")
    assert result.rows_read == 2


def _bomb_rows(total: int):
    row = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>' * 20000
    yield b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    sent = 0
    while sent < total:
        yield row
        sent += len(row)
    yield b"</sheetData></worksheet>"


def test_xlsx_decompression_bomb_is_refused_before_openpyxl_and_in_little_memory(tmp_path):
    path = replace_member(write_workbook(source_path(tmp_path, "xlsx")), "xl/worksheets/sheet1.xml",
                          _bomb_rows(768 * 1024 * 1024))
    assert path.stat().st_size < 4 * 1024 * 1024  # a few MB on disk, 768 MiB of XML inside
    # in a fresh process, so its peak memory is this extract's alone
    code = ("import sys\nfrom pathlib import Path\nfrom sinergi.extract import SourceConfig, extract\n"
            "root = Path(sys.argv[1])\ntry:\n"
            f"    extract({DATASET!r}, {MONTH!r}, SourceConfig(root, 'sqlite://'))\n    print('EXTRACTED')\n"
            "except Exception as e:\n    print(type(e).__name__, e)\n"
            "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
            "print('MAXRSS_KB', hwm.split()[1])\n")  # this process's own peak (ru_maxrss keeps the parent's over exec)
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=300)
    out = r.stdout
    assert "UnsafeSourceError" in out and path.name in out and "decompression bomb" in out, out + r.stderr
    assert int(out.rsplit("MAXRSS_KB", 1)[1].split()[0]) < 300 * 1024, out  # far from the 768 MiB it claims


def test_xlsx_with_too_many_cells_or_too_large_is_refused(tmp_path, monkeypatch):
    write_workbook(source_path(tmp_path, "xlsx"), FACILITY_ROWS * 300)
    monkeypatch.setattr(guard, "MAX_XLSX_CELLS_PER_SHEET", 1000)
    err = refused(tmp_path, match="more than 1,000 cells")
    assert "SARANA_KESEHATAN_CPMI_202507.xlsx" in str(err) and "xl/worksheets/sheet1.xml" in str(err)
    monkeypatch.setattr(guard, "MAX_XLSX_CELLS_PER_SHEET", 10_000_000)
    monkeypatch.setattr(guard, "MAX_XLSX_UNCOMPRESSED", 10_000)
    assert "SARANA_KESEHATAN_CPMI_202507.xlsx" in str(refused(tmp_path, match="expands to"))


def test_xlsx_with_entity_expansion_is_refused(tmp_path):
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                         for i in range(1, 10))
              + b']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
              + b'<row><c t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>')
    replace_member(write_workbook(source_path(tmp_path, "xlsx")), "xl/worksheets/sheet1.xml", [laughs])
    err = refused(tmp_path, match="DTD")
    assert "SARANA_KESEHATAN_CPMI_202507.xlsx" in str(err)


def test_malformed_xml_in_a_workbook_names_the_file_and_part(tmp_path):
    write_workbook(source_path(tmp_path, "xlsx"))
    with zipfile.ZipFile(source_path(tmp_path, "xlsx")) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    replace_member(source_path(tmp_path, "xlsx"), "xl/worksheets/sheet1.xml", [sheet[: len(sheet) // 2]])
    err = refused(tmp_path, match="not well-formed XML")
    assert "SARANA_KESEHATAN_CPMI_202507.xlsx" in str(err) and "xl/worksheets/sheet1.xml" in str(err)


def test_json_nesting_bomb_is_refused_naming_the_file(tmp_path):
    path = source_path(tmp_path, "json")
    path.write_text("[" * 200_000 + "]" * 200_000)
    err = refused(tmp_path, match="nesting bomb")
    assert path.name in str(err)
    # brackets inside strings are data, not nesting
    records = [dict(zip(headers(), row, strict=True)) | {"note": "[[[[" * 50} for row in FACILITY_ROWS]
    path.write_text(json.dumps(records))
    assert extract(DATASET, MONTH, config(tmp_path)).rows_read == 2


def test_malformed_json_names_the_file(tmp_path):
    path = source_path(tmp_path, "json")
    path.write_text('[{"KODE SARANA": "F-1", ')
    assert path.name in str(refused(tmp_path, match="not valid JSON"))


@pytest.mark.parametrize("target", ["/proc/self/environ", "outside-file", "outside-folder"])
def test_a_link_out_of_the_exports_folder_is_neither_read_nor_landed(tmp_path, weed, monkeypatch, target):
    marker = "hex:" + "c0ffee" * 10 + "abcd"
    monkeypatch.setenv("SINERGI_MASTER_SECRET", marker)  # what /proc/self/environ would have leaked
    exports, outside = tmp_path / "exports", tmp_path / "outside"
    outside.mkdir()
    secret_file = outside / "passwd.csv"
    secret_file.write_text(",".join(headers()) + "\n" + marker + ",x,klinik,IZ,31/12/2026,1871\n")
    link = source_path(exports, "csv")
    if target == "outside-folder":  # the month folder itself is a link
        link.parent.rmdir()
        (outside / link.name).symlink_to(secret_file)
        link.parent.symlink_to(outside, target_is_directory=True)
    else:
        link.symlink_to(target if target.startswith("/") else secret_file)
    before = {o.key for o in weed.pipeline.list(LANDING_BUCKET, "dinkes/")}
    err = refused(exports, store=weed.pipeline, match="leaves the exports folder")
    assert link.name in str(err) and marker not in str(err)
    landed = {o.key for o in weed.pipeline.list(LANDING_BUCKET, "dinkes/")} - before
    assert not landed, landed
    # control: a link that stays inside the exports folder is an ordinary export
    inside = exports / "shared" / "facilities.csv"
    inside.parent.mkdir()
    inside.write_text(",".join(headers()) + "\nF-9,Klinik,klinik,IZ-9,31/12/2026,1871\n")
    if link.parent.is_symlink():
        link.parent.unlink()
        folder(exports)
    link.unlink(missing_ok=True)
    link.symlink_to(inside)
    assert extract(DATASET, MONTH, config(exports), landing=weed.pipeline, run_id="inside").rows_read == 1


def test_a_pipe_is_not_read(tmp_path):
    path = source_path(tmp_path, "csv")
    os.mkfifo(path)  # reading it would block the worker forever
    refused(tmp_path, match="no source file")  # only regular files are candidates (guard.check_path re-checks)
    with pytest.raises(UnsafeSourceError, match="not a regular file"):
        guard.check_path(path, tmp_path)
