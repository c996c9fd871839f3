"""Malformed exports (issue 14, section 1): what district offices' files really look like at their
worst, written over a clean export with a ledger entry each (``simulate(..., malformed_files=True)``).

- ``trailing_delimiter`` (a batch event: every row stays valid) — the header line and the rows end
  with ``;``, as a spreadsheet saved with an empty last column writes them;
- ``malformed_line`` (a row defect: the line must be quarantined on its own, the lines after it read
  normally) — a stray ``"`` at the start of a value, or a line with a field missing;
- ``understated_dimension`` (a batch event) — an XLSX whose ``<dimension>`` claims a few rows and
  columns only (a reader that trusts it loses the rest).

Only a file of at least MIN_ROWS_FOR_A_BAD_LINE rows gets a malformed line, so one bad line never
pushes a month over the reject_share gate on its own. Same seed, same bytes.
"""

from __future__ import annotations

import collections
import io
import re
import zipfile
from pathlib import Path

from . import model as M

MIN_ROWS_FOR_A_BAD_LINE = 200
P_TRAILING = 0.25
P_BAD_LINE = 0.5
P_DIMENSION = 0.5


def _entry(month, dataset, path, kind, detail, record_id=None, source_row=None) -> dict:
    return {"month": month, "dataset": dataset, "record_id": record_id, "kind": kind, "column": None,
            "detail": detail, "file": path.name, "source_row": source_row}


def malform_csv(path: Path, encoding: str, dataset: str, month: str, seed: int, record_ids: list,
                spoiled: set[int]) -> list[dict]:
    """Damage a CSV written by ``writers.write_csv`` (header on line 1, one line per row);
    ``record_ids`` are the rows' ids in order, ``spoiled`` the (1-based) rows that already carry a
    defect (never chosen for a bad line). Returns the ledger entries."""
    r = M.rng(seed, "malformed-csv", dataset, month)
    u_trailing, u_bad, u_pick, u_how = r.random(4)
    text = path.read_bytes().decode(encoding)
    bom = text.startswith("\ufeff")
    lines = text.lstrip("\ufeff").split("\r\n")
    ledger: list[dict] = []
    n = len(record_ids)
    if u_bad < P_BAD_LINE and n >= MIN_ROWS_FOR_A_BAD_LINE:
        times = collections.Counter(record_ids)
        candidates = [i for i in range(1, n + 1)
                      if i not in spoiled and times[record_ids[i - 1]] == 1 and '"' not in lines[i]]
        if candidates:
            row = candidates[int(u_pick * len(candidates))]
            fields = lines[row].split(";")
            if u_how < 0.5:
                fields[1] = '"' + fields[1]
                detail = "a stray quote at the start of the second value"
            else:
                fields = fields[:-1]
                detail = "the last field is missing"
            lines[row] = ";".join(fields)
            ledger.append(_entry(month, dataset, path, "malformed_line", detail, record_ids[row - 1], row))
    if u_trailing < P_TRAILING:
        lines = [line + ";" if line else line for line in lines]
        ledger.append(_entry(month, dataset, path, "trailing_delimiter", "header and rows end with ';'"))
    out = ("\ufeff" if bom else "") + "\r\n".join(lines)
    path.write_bytes(out.encode(encoding, errors="replace"))
    return ledger


def understate_dimension(path: Path, dataset: str, month: str, seed: int) -> list[dict]:
    """Make the sheet's ``<dimension>`` claim A1:C3 (zip entries keep their fixed timestamps)."""
    if M.rng(seed, "malformed-xlsx", dataset, month).random() >= P_DIMENSION:
        return []
    src = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    out = io.BytesIO()
    with src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:C3"/>', data, count=1)
            z.writestr(info, data)
    path.write_bytes(out.getvalue())
    return [_entry(month, dataset, path, "understated_dimension", "<dimension> says A1:C3")]
