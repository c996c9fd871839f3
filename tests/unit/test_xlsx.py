"""The spreadsheet extracts' XLSX writer: what openpyxl and pandas read back, byte-for-byte determinism."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import openpyxl
import pandas as pd
import pyarrow as pa
import pytest

from sinergi.publish import xlsx
from sinergi.publish.kit import extract_table
from sinergi.publish.xlsx import write_xlsx

TABLE = pa.table({
    "code": pa.array(["0101", "1871", None, " 18 "]),
    "formula": pa.array(['=HYPERLINK("http://x","y")', "+62 812", "a<b & c>d", "ctl\x01\x1f end"]),
    "when": pa.array([dt.date(2025, 7, 1), None, dt.date(1970, 1, 1), dt.date(2025, 12, 31)], pa.date32()),
    "n": pa.array([0, -5, None, 2**40], pa.int64()),
    "x": pa.array([0.5, float("nan"), None, float("inf")], pa.float64()),
    "flag": pa.array([True, False, None, True]),
    "cat": pa.array(["L", "P", "L", None]).dictionary_encode(),
})


def _rows(data: bytes, sheet: int = 0) -> list[tuple]:
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    try:
        return [tuple(r) for r in wb.worksheets[sheet].iter_rows(values_only=True)]
    finally:
        wb.close()


def test_values_come_back_as_written():
    data = write_xlsx(TABLE, sheet="placements 2025-07", about=[("dataset", "placements"), ("a&b", "<x>")])
    rows = _rows(data)
    assert rows[0] == tuple(TABLE.column_names)
    assert [r[0] for r in rows[1:]] == ["0101", "1871", None, " 18 "]  # codes stay text, spaces kept
    assert [r[1] for r in rows[1:]] == ['=HYPERLINK("http://x","y")', "+62 812", "a<b & c>d", "ctl end"]
    assert [r[2] for r in rows[1:]] == [dt.datetime(2025, 7, 1), None, dt.datetime(1970, 1, 1), dt.datetime(2025, 12, 31)]
    assert [r[3] for r in rows[1:]] == [0, -5, None, 2**40]
    assert [r[4] for r in rows[1:]] == [0.5, None, None, None]  # NaN/inf/null: empty cells
    assert [r[5] for r in rows[1:]] == [True, False, None, True]
    assert [r[6] for r in rows[1:]] == ["L", "P", "L", None]
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["placements 2025-07", "about"]
    ws = wb.worksheets[0]
    assert ws["A2"].data_type == "s" and ws["B2"].data_type == "s"  # a leading '=' is text, never a formula
    assert ws["C2"].number_format == "yyyy\\-mm\\-dd" and ws.freeze_panes == "A2"
    assert _rows(data, 1) == [("about / tentang", "text / keterangan"), ("dataset", "placements"), ("a&b", "<x>")]
    df = pd.read_excel(io.BytesIO(data), dtype={"code": str})  # pandas would parse numeric-looking text
    assert len(df) == 4 and df["code"].iloc[0] == "0101" and str(df["when"].dtype).startswith("datetime64")


def test_same_table_same_bytes_and_a_valid_package():
    a, b = write_xlsx(TABLE), write_xlsx(TABLE)
    assert a == b
    with zipfile.ZipFile(io.BytesIO(a)) as z:
        assert z.testzip() is None
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert "[Content_Types].xml" in z.namelist() and "xl/worksheets/sheet1.xml" in z.namelist()
    assert write_xlsx(TABLE.slice(0, 3)) != a


def test_empty_table_and_extract_columns():
    empty = write_xlsx(TABLE.slice(0, 0))
    assert _rows(empty) == [tuple(TABLE.column_names)]
    t = extract_table(TABLE, "2025-07")
    assert t.column_names[-2:] == ["year", "month"] and t.schema.field("month").type == pa.int32()
    assert [r[-2:] for r in _rows(write_xlsx(t))[1:]] == [(2025, 7)] * 4


def test_over_the_spreadsheet_limit_is_refused(monkeypatch):
    monkeypatch.setattr(xlsx, "MAX_ROWS", 4)
    with pytest.raises(ValueError, match="do not fit in a spreadsheet"):
        write_xlsx(TABLE)
