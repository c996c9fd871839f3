"""File sources (CSV, XLSX, JSON) -> raw string record batches with canonical column names.

Raw means: every value is the source text (or the text rendering of a spreadsheet cell), nothing is
normalised yet. The caller (``sinergi.extract.core``) normalises batch by batch.

Every physical data row of a file is accounted for, independently of any parser's idea of a record:
it is delivered (``_source_row`` is its data-row number, counted after the header), or reported as
malformed (``RawStream.malformed``: the raw line and the reason; quarantined as ``malformed_line``),
or it is no data row at all (an empty line, a ``TOTAL``/``JUMLAH`` footer: ``RawStream.skipped``).

CSV: encoding (UTF-8 / UTF-16 / cp1252, charset-normalizer as the last resort), delimiter (``;``,
``,``, tab, ``|``) and the header row under a title block are detected from the first lines. The
data part is then split into physical lines and each line is parsed on its own (Python's csv,
strict quoting), so one stray quote cannot swallow the lines after it: a value may span lines only
when its quote closes within MAX_JOINED_LINES lines and the joined record has the header's width.
Trailing empty fields (a trailing delimiter, on the header or the rows) are dropped; a line with too
few or too many fields, broken quoting or NUL bytes is malformed. Blank lines are no rows.

XLSX: ``<dimension>`` is never trusted (every row and column is read), and the rows read are
reconciled with a count of the sheet's XML rows that carry a value (ReconciliationError otherwise).
A file whose first bytes say XLSX is read as XLSX whatever its name; a gzip file is refused.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from xml.parsers import expat

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from sinergi.errors import ReconciliationError
from sinergi.extract.errors import MissingColumnError, SourceEncodingError, UnreadableSourceError
from sinergi.extract.headers import HeaderMap, header_score, map_headers
from sinergi.registry import Dataset

HEADER_SCAN_ROWS = 30
DEFAULT_BLOCK_SIZE = 2 * 1024 * 1024  # ~7k placement rows a batch; peak RSS grows with it
XLSX_BATCH_ROWS = 50_000
_HEAD_BYTES = 256 * 1024
_DELIMITERS = (";", ",", "\t", "|")
#: the quarantine reason of a source line that cannot be parsed into a row
MALFORMED_RULE = "malformed_line"
#: a quoted value spans at most this many lines (an address with line breaks); beyond, a stray quote
MAX_JOINED_LINES = 20
FOOTER = re.compile(r"^\s*(GRAND\s+TOTAL|TOTAL|JUMLAH|KETERANGAN|CATATAN|SUMBER)\b", re.IGNORECASE)


@dataclass
class RawStream:
    """A source opened for reading: header mapping done, batches produced lazily."""

    source: str
    header: HeaderMap
    batches: Iterator[tuple[pa.RecordBatch, np.ndarray]]  # (canonical-named string columns, source rows)
    skipped: list[dict] = field(default_factory=list)  # {source, row, reason} (filled while iterating)
    info: dict = field(default_factory=dict)
    #: source data rows that could not be parsed: {source, row, line (raw text), reason, rule}; the raw
    #: line goes only to the quarantine zone (never to a log, XCom or manifest)
    malformed: list[dict] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# shared


def filter_rows(
    batch: pa.RecordBatch, rows: np.ndarray, first: pa.Array | None, source: str, skipped: list[dict],
    any_value: np.ndarray | None = None,
) -> tuple[pa.RecordBatch, np.ndarray]:
    """Drop rows with no value at all and footer rows (TOTAL/JUMLAH ... with few values); report them.
    ``any_value``: rows with a value in some cell, mapped or not (such a row is never dropped as empty)."""
    if batch.num_rows == 0 or sum(c.null_count == 0 for c in batch.columns) > 3:
        return batch, rows  # >3 columns filled in every row: no row is empty or a sparse footer
    filled = np.zeros(batch.num_rows, dtype=np.int64)
    for col in batch.columns:
        filled += pc.is_valid(col).to_numpy(zero_copy_only=False).astype(np.int64)
    empty = filled == 0
    if any_value is not None:
        empty &= ~any_value
    footer = np.zeros(batch.num_rows, dtype=bool)
    few = np.flatnonzero((filled > 0) & (filled <= 3))
    if first is not None and len(few):  # the footer regex runs on the few sparse rows only
        looks = pc.match_substring_regex(first.take(pa.array(few)), FOOTER.pattern, ignore_case=True)
        footer[few] = pc.fill_null(looks, False).to_numpy(zero_copy_only=False)
    drop = empty | footer
    if not drop.any():
        return batch, rows
    for i in np.flatnonzero(drop):
        skipped.append({"source": source, "row": int(rows[i]),
                        "reason": "empty row" if empty[i] else "footer/summary row (TOTAL, JUMLAH, ...)"})
    keep = pa.array(~drop)
    return batch.filter(keep), rows[~drop]


def cell_text(value: object, float_marker: bool = False) -> str | None:
    """Text of a spreadsheet/JSON cell. Integral numbers render without ``.0`` except in NIK columns
    (``float_marker``): there the ``.0`` tells the NIK normaliser the value went through a number
    (Excel keeps 15 significant digits), so its repair rule (16 digits, serial not 0000) applies."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return f"{value}.0" if float_marker else str(value)
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        if value.is_integer() and abs(value) < 1e16:
            return f"{int(value)}.0" if float_marker else str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _nik_columns(dataset: Dataset) -> set[str]:
    return {c.name for c in dataset.source_columns if c.precision_sensitive}  # NIKs and flagged long ids


def _rows_to_batch(rows: list[list[object]], header: HeaderMap, nik_cols: set[str]) -> pa.RecordBatch:
    arrays, names = [], []
    for pos, col in header.positions.items():
        marker = col in nik_cols
        arrays.append(pa.array([cell_text(r[pos] if pos < len(r) else None, marker) for r in rows], pa.string()))
        names.append(col)
    return pa.RecordBatch.from_arrays(arrays, names=names) if arrays else pa.record_batch([])


def _find_header(dataset: Dataset, rows: list[list[object]]) -> tuple[int, int]:
    """(index, score) of the best header row among the first rows (first best wins)."""
    best, best_i = 0, -1
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        s = header_score(dataset, row)
        if s > best:
            best, best_i = s, i
    return best_i, best


def _min_score(dataset: Dataset) -> int:
    return min(2, len(dataset.source_columns))


def _no_header(dataset: Dataset, source: str, what: str) -> MissingColumnError:
    expected = ", ".join(repr(c.headers[0]) for c in dataset.source_columns if c.required)
    return MissingColumnError(
        f"{source}: no header row found in the first {HEADER_SCAN_ROWS} {what}; expected headers such as {expected}",
        source=source, columns=tuple(c.name for c in dataset.source_columns if c.required),
    )


# ---------------------------------------------------------------------------------------------
# CSV


def _iter_chunks(data: bytes | None, path: Path | None, size: int = 4 * 1024 * 1024) -> Iterator[bytes]:
    if data is not None:
        mv = memoryview(data)
        for i in range(0, len(mv), size):
            yield bytes(mv[i : i + size])
        return
    with open(path, "rb") as f:  # type: ignore[arg-type]
        while chunk := f.read(size):
            yield chunk


def _decodes(encoding: str, data: bytes | None, path: Path | None) -> bool:
    if encoding == "utf-8":
        return _valid_utf8(data, path)
    dec = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        for chunk in _iter_chunks(data, path):
            dec.decode(chunk)
        dec.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _valid_utf8(data: bytes | None, path: Path | None) -> bool:
    """Whole-file UTF-8 check with Arrow's validator (2x faster than decoding to str). Chunks are
    cut after their last newline (ASCII, never inside a multi-byte character)."""
    carry = b""
    for chunk in _iter_chunks(data, path):
        chunk = carry + chunk
        cut = chunk.rfind(b"\n") + 1
        part, carry = (chunk[:cut], chunk[cut:]) if cut else (b"", chunk)
        if part and not _utf8_ok(part):
            return False
    return not carry or _utf8_ok(carry)


def _utf8_ok(part: bytes) -> bool:
    binary = pa.array([part], pa.binary())
    try:
        pa.Array.from_buffers(pa.string(), 1, binary.buffers()).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def detect_encoding(data: bytes | None, path: Path | None, source: str) -> str:
    """UTF-8 (checked over the whole file), else cp1252, else charset-normalizer's best guess."""
    head = data[:_HEAD_BYTES] if data is not None else Path(path).open("rb").read(_HEAD_BYTES)  # type: ignore[arg-type]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:4096]
    if len(sample) >= 4 and sample.count(0) * 3 > len(sample):  # text with a NUL every other byte: UTF-16
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        return "utf-16-le" if odd > even else "utf-16-be"
    if _decodes("utf-8", data, path):
        return "utf-8"
    if _decodes("cp1252", data, path):
        return "cp1252"
    from charset_normalizer import from_bytes

    best = from_bytes(head).best()
    if best is None or not _decodes(best.encoding, data, path):
        raise SourceEncodingError(
            f"{source}: cannot determine the text encoding (not UTF-8, not cp1252, no reliable guess); "
            "re-export the file as UTF-8 CSV"
        )
    return best.encoding


def _sniff(dataset: Dataset, head_text: str, source: str) -> tuple[str, list[str], int]:
    """(delimiter, header cells, number of physical lines up to and including the header)."""
    best: tuple[int, int, str, list[str], int] | None = None
    for delim in _DELIMITERS:
        reader = csv.reader(io.StringIO(head_text), delimiter=delim)
        try:
            for i, row in enumerate(reader):
                if i >= HEADER_SCAN_ROWS:
                    break
                score = header_score(dataset, row)
                cand = (score, len(row), delim, row, reader.line_num)
                if score and (best is None or (score, len(row)) > (best[0], best[1])):
                    best = cand
        except csv.Error:
            continue
    if best is None or best[0] < _min_score(dataset):
        raise _no_header(dataset, source, "lines")
    return best[2], best[3], best[4]


def open_csv(dataset: Dataset, source: str, *, data: bytes | None = None, path: Path | None = None,
             block_size: int = DEFAULT_BLOCK_SIZE) -> RawStream:
    encoding = detect_encoding(data, path, source)
    if encoding.replace("_", "-").lower() in ("utf-16", "utf-16-le", "utf-16-be"):
        # rare (Excel "Unicode text"): transcode in memory, then treat as UTF-8
        raw = data if data is not None else Path(path).read_bytes()  # type: ignore[arg-type]
        data, path, encoding = raw.decode(encoding).encode("utf-8"), None, "utf-8"
    head = data[:_HEAD_BYTES] if data is not None else Path(path).open("rb").read(_HEAD_BYTES)  # type: ignore[arg-type]
    text_encoding = "utf-8-sig" if encoding == "utf-8" else encoding
    head_text = head.decode(text_encoding, errors="replace")
    if not head_text.replace("\x00", "").strip():
        raise UnreadableSourceError(f"{source}: the file is empty (no header row, no data); re-export the month")
    if len(head) == _HEAD_BYTES and "\n" in head_text:
        head_text = head_text[: head_text.rfind("\n") + 1]
    delim, header_cells, header_lines = _sniff(dataset, head_text, source)
    while header_cells and not str(header_cells[-1]).strip():  # a trailing delimiter on the header line
        header_cells = header_cells[:-1]
    header = map_headers(dataset, header_cells, source)
    width = len(header_cells)
    positions = list(header.positions)
    skipped: list[dict] = []
    malformed: list[dict] = []
    counted = {"lines": 0, "accounted": 0}  # non-blank physical lines below the header, and their fate

    def text_lines() -> Iterator[str]:
        if data is not None:
            f = io.TextIOWrapper(io.BytesIO(data), encoding=text_encoding, newline="\n")
        else:
            f = open(path, encoding=text_encoding, newline="\n")  # noqa: SIM115 - closed below
        try:
            for i, line in enumerate(f):
                if i >= header_lines:
                    counted["lines"] += 1
                    yield line
        except UnicodeDecodeError as exc:
            raise UnreadableSourceError(f"{source}: cannot decode the CSV as {encoding}: {exc}") from exc
        finally:
            f.close()

    def batches() -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
        good: list[str | list[str]] = []  # a line of exactly the header's width without quotes, or its fields
        numbers: list[int] = []
        size = 0
        ordinal = 0
        lines = _Lookahead(text_lines())
        footer = FOOTER.match
        for line in lines:
            body = line.rstrip("\r\n")
            if not body.strip() or ("\x00" in body and not body.replace("\x00", "").strip()):
                counted["accounted"] += 1
                continue  # a blank line (or NUL padding) is no row (as in every CSV reader)
            ordinal += 1
            if '"' not in body and "\x00" not in body and "\r" not in body:  # the common line: no quoting
                n = body.count(delim) + 1
                if n > width and body.endswith(delim * (n - width)):  # trailing empty fields
                    body, n = body[: width - n], width
                if n == width:
                    counted["accounted"] += 1
                    if footer(body) and sum(1 for v in body.split(delim) if v) <= 3:
                        skipped.append({"source": source, "row": ordinal,
                                        "reason": "footer/summary row (TOTAL, JUMLAH, ...)"})
                    elif len(body) == width - 1:  # nothing but delimiters
                        skipped.append({"source": source, "row": ordinal, "reason": "empty row"})
                    else:
                        good.append(body)  # parsed in bulk by Arrow (_csv_batch)
                        numbers.append(ordinal)
                        size += len(body) + 1
                        if size >= block_size:
                            yield _csv_batch(good, numbers, positions, header, delim)
                            good, numbers, size = [], [], 0
                    continue
            fields, used, problem = _parse_line(body, lines, delim, width)
            counted["accounted"] += used
            cells = fields if fields is not None else body.split(delim)
            if footer(cells[0]) and sum(1 for v in cells if v) <= 3:
                skipped.append({"source": source, "row": ordinal, "reason": "footer/summary row (TOTAL, JUMLAH, ...)"})
                continue
            if problem is not None:
                malformed.append({"source": source, "row": ordinal, "line": body, "reason": problem,
                                  "rule": MALFORMED_RULE})
                continue
            if not any(fields):
                skipped.append({"source": source, "row": ordinal, "reason": "empty row"})
                continue
            good.append(fields)
            numbers.append(ordinal)
            size += len(body) + 1
            if size >= block_size:
                yield _csv_batch(good, numbers, positions, header, delim)
                good, numbers, size = [], [], 0
        if good:
            yield _csv_batch(good, numbers, positions, header, delim)
        if counted["accounted"] != counted["lines"]:
            raise ReconciliationError(f"{source}: {counted['lines']} lines below the header but "
                                      f"{counted['accounted']} were read")

    info = {"format": "csv", "encoding": encoding, "delimiter": delim, "header_line": header_lines}
    return RawStream(source, header, batches(), skipped, info, malformed)


class _Lookahead:
    """An iterator of lines that can give lines back (a multi-line quoted value that turned out not
    to be one)."""

    def __init__(self, it: Iterator[str]):
        self.it, self.back = it, []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        return self.back.pop() if self.back else next(self.it)

    def push(self, lines: list[str]) -> None:
        self.back.extend(reversed(lines))


def _split(text: str, delim: str) -> list[str]:
    """One CSV record (quotes as Excel writes them); csv.Error when the quoting is broken."""
    if '"' not in text:
        return text.split(delim)
    return next(csv.reader([text], delimiter=delim, strict=True))


def _fit(fields: list[str], width: int) -> tuple[list[str] | None, str | None]:
    """The fields trimmed of trailing empty ones (a trailing delimiter); a problem when the count is wrong."""
    if len(fields) > width and not any(v.strip() for v in fields[width:]):
        fields = fields[:width]
    if len(fields) == width:
        return fields, None
    return None, (f"{len(fields)} fields where the header has {width} "
                  f"({'too few' if len(fields) < width else 'too many'}: a missing or unquoted delimiter)")


def _parse_line(body: str, lines: _Lookahead, delim: str, width: int) -> tuple[list[str] | None, int, str | None]:
    """(fields, physical lines used, problem). A quoted value may legitimately span lines: the next
    lines are joined (up to MAX_JOINED_LINES) only when that gives a well-formed record of the header's
    width; otherwise this line alone is malformed and the lines after it are read on their own."""
    if "\x00" in body:
        return None, 1, "contains NUL bytes (a damaged or binary export)"
    try:
        fields = _split(body, delim)
    except csv.Error as exc:
        if "unexpected end of data" not in str(exc):
            return None, 1, f"broken quoting: {exc} (a stray '\"' in a value)"
        taken: list[str] = []
        text = body
        for nxt in lines:
            taken.append(nxt)
            text += "\n" + nxt.rstrip("\r\n")
            try:
                fields = _split(text, delim)
            except csv.Error as again:
                if "unexpected end of data" in str(again) and len(taken) < MAX_JOINED_LINES:
                    continue
                break
            fitted, problem = _fit(fields, width)
            if problem is None and "\x00" not in text:
                return fitted, 1 + len(taken), None
            break
        lines.push(taken)
        return None, 1, "a quote '\"' opens a value that never closes (a stray '\"' at the start of a value)"
    fitted, problem = _fit(fields, width)
    return fitted, 1, problem


def _csv_batch(rows: list[str | list[str]], numbers: list[int], positions: list[int], header: HeaderMap,
               delim: str) -> tuple[pa.RecordBatch, np.ndarray]:
    """The delivered rows as string columns ("" is a null). Plain lines (str: no quote, no CR, the
    header's width) are parsed by Arrow in bulk; a batch with a quoted line goes through Python."""
    names = [header.positions[p] for p in positions]
    if not positions:
        return pa.record_batch([]), np.asarray(numbers, dtype=np.int64)
    if rows and all(isinstance(r, str) for r in rows):
        width = rows[0].count(delim) + 1
        cols = [f"c{i}" for i in range(width)]
        table = pcsv.read_csv(
            io.BytesIO("\n".join(rows).encode("utf-8")),
            read_options=pcsv.ReadOptions(column_names=cols, use_threads=False, block_size=1 << 30),
            parse_options=pcsv.ParseOptions(delimiter=delim, quote_char=False, ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(column_types={c: pa.string() for c in cols},
                                                include_columns=[cols[p] for p in positions],
                                                strings_can_be_null=True, null_values=[""]),
        )
        if table.num_rows != len(rows):
            raise ReconciliationError(f"{len(rows)} lines gave {table.num_rows} rows")
        arrays = [table.column(cols[p]).combine_chunks() for p in positions]
    else:
        fields = [r.split(delim) if isinstance(r, str) else r for r in rows]
        columns = list(zip(*fields, strict=True)) if fields else []
        arrays = []
        for p in positions:
            arr = pa.array(columns[p] if columns else [], pa.string())
            arrays.append(pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr))  # "" is a null
    return pa.RecordBatch.from_arrays(arrays, names=names), np.asarray(numbers, dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# XLSX


def open_xlsx(dataset: Dataset, source: str, *, data: bytes | None = None, path: Path | None = None,
              batch_rows: int = XLSX_BATCH_ROWS) -> RawStream:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data) if data is not None else path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise UnreadableSourceError(f"{source}: not a readable XLSX workbook ({type(exc).__name__}: {exc})") from exc
    best: tuple[int, int, str] | None = None  # (score, header row index, sheet)
    heads: dict[str, list[list[object]]] = {}
    for ws in wb.worksheets:
        ws.reset_dimensions()  # never trust <dimension>: an understated one hides rows and columns
        head = [list(r) for r in ws.iter_rows(max_row=HEADER_SCAN_ROWS, values_only=True)]
        heads[ws.title] = head
        i, score = _find_header(dataset, head)
        if score and (best is None or score > best[0]):
            best = (score, i, ws.title)
    if best is None or best[0] < _min_score(dataset):
        wb.close()
        raise _no_header(dataset, source, "rows of any sheet")
    _, hi, sheet = best
    header = map_headers(dataset, heads[sheet][hi], source)
    nik_cols = _nik_columns(dataset)
    skipped: list[dict] = []
    warnings = [f"{source}: read sheet {sheet!r}"] if len(wb.worksheets) > 1 else []
    header.warnings[:0] = warnings

    def batches() -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
        try:
            ws = wb[sheet]
            buf: list[list[object]] = []
            first, delivered = 1, 0
            for values in ws.iter_rows(min_row=hi + 2, values_only=True):
                buf.append(list(values))
                if len(buf) >= batch_rows:
                    batch, rows = _xlsx_batch(buf, first, header, nik_cols, source, skipped)
                    delivered += batch.num_rows
                    yield batch, rows
                    first += len(buf)
                    buf = []
            if buf:
                batch, rows = _xlsx_batch(buf, first, header, nik_cols, source, skipped)
                delivered += batch.num_rows
                yield batch, rows
            # reconcile with an independent count of the sheet's XML: every row below the header
            # with a value was delivered or reported as a footer
            footers = sum(1 for s in skipped if s["reason"].startswith("footer"))
            in_xml = _xlsx_rows_with_values(wb, ws, hi + 1)
            if in_xml != delivered + footers:
                raise ReconciliationError(f"{source}: sheet {sheet!r} has {in_xml} rows with values below the "
                                          f"header but {delivered} were read and {footers} are footers")
        finally:
            wb.close()

    info = {"format": "xlsx", "sheet": sheet, "header_row": hi + 1}
    return RawStream(source, header, batches(), skipped, info)


def _has_value(v: object) -> bool:
    return v is not None and v != ""


def _xlsx_batch(buf, first, header, nik_cols, source, skipped):
    batch = _rows_to_batch(buf, header, nik_cols)
    rows = np.arange(first, first + len(buf), dtype=np.int64)
    first_col = pa.array([cell_text(r[0]) if r else None for r in buf], pa.string())
    any_value = np.fromiter((any(_has_value(v) for v in r) for r in buf), dtype=bool, count=len(buf))
    return filter_rows(batch, rows, first_col, source, skipped, any_value)


def _xlsx_rows_with_values(wb, ws, header_row: int) -> int:
    """Rows below ``header_row`` with a non-empty cell value, counted from the sheet's XML with expat
    (independently of openpyxl's reader and of the sheet's ``<dimension>``)."""
    state = {"row": 0, "has": False, "type": None, "count": 0}
    buf: list[str] | None = None
    shared = wb.shared_strings

    def local(name: str) -> str:
        return name.rsplit(":", 1)[-1]

    def start(name, attrs):
        nonlocal buf
        tag = local(name)
        if tag == "row":
            r = attrs.get("r")
            state["row"] = int(r) if r and r.isdigit() else state["row"] + 1
            state["has"] = False
        elif tag == "c":
            state["type"] = attrs.get("t")
        elif tag in ("v", "t"):
            buf = []

    def end(name):
        nonlocal buf
        tag = local(name)
        if tag in ("v", "t") and buf is not None:
            value = "".join(buf)
            if tag == "v" and state["type"] == "s" and value.strip().isdigit():
                value = shared[int(value)] if int(value) < len(shared) else value
            state["has"] = state["has"] or bool(value)
            buf = None
        elif tag == "row" and state["has"] and state["row"] > header_row:
            state["count"] += 1

    def text(data):
        if buf is not None:
            buf.append(data)

    parser = expat.ParserCreate()
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
    with wb._archive.open(ws._worksheet_path) as f:  # openpyxl's read-only sheet: its zip member
        parser.ParseFile(f)
    return state["count"]


# ---------------------------------------------------------------------------------------------
# JSON


def open_json(dataset: Dataset, source: str, *, data: bytes | None = None, path: Path | None = None,
              batch_rows: int = XLSX_BATCH_ROWS) -> RawStream:
    """A JSON array of objects, an object holding one (``data``/``records``/``rows``), or JSON lines."""
    raw = data if data is not None else Path(path).read_bytes()  # type: ignore[arg-type]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceEncodingError(f"{source}: JSON must be UTF-8 ({exc})") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        try:
            doc = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise UnreadableSourceError(f"{source}: not valid JSON or JSON lines ({exc})") from exc
    if isinstance(doc, dict):
        doc = next((doc[k] for k in ("data", "records", "rows", "items") if isinstance(doc.get(k), list)), None)
    if not isinstance(doc, list):
        raise UnreadableSourceError(f"{source}: expected a JSON array of records (or an object with 'data')")
    keys: dict[str, None] = {}
    for rec in doc:
        if isinstance(rec, dict):
            keys.update(dict.fromkeys(rec))
    header_cells = list(keys)
    if header_score(dataset, header_cells) < _min_score(dataset):
        raise _no_header(dataset, source, "record keys")
    header = map_headers(dataset, header_cells, source)
    nik_cols = _nik_columns(dataset)
    skipped: list[dict] = []
    malformed: list[dict] = []

    def batches() -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
        for start in range(0, len(doc), batch_rows):
            chunk = doc[start : start + batch_rows]
            rows, numbers = [], []
            for j, rec in enumerate(chunk, start=start + 1):
                if not isinstance(rec, dict):
                    malformed.append({"source": source, "row": j, "line": json.dumps(rec, ensure_ascii=False)[:4000],
                                      "reason": f"not a JSON object ({type(rec).__name__})", "rule": MALFORMED_RULE})
                    continue
                rows.append([rec.get(k) for k in header_cells])
                numbers.append(j)
            batch = _rows_to_batch(rows, header, nik_cols)
            yield filter_rows(batch, np.asarray(numbers, dtype=np.int64), None, source, skipped)

    return RawStream(source, header, batches(), skipped, {"format": "json"}, malformed)


_ZIP_MAGIC = b"PK\x03\x04"
_GZIP_MAGIC = b"\x1f\x8b"


def file_kind(source: str, *, data: bytes | None = None, path: Path | None = None) -> str:
    """``xlsx``, ``json`` or ``csv``: by the name, corrected by the first bytes (an XLSX workbook
    saved under a ``.csv`` name is read as the workbook it is). A compressed file is refused with an
    error naming it: it is not an export."""
    suffix = Path(source).suffix.lower()
    head = data[:4] if data is not None else Path(path).open("rb").read(4)  # type: ignore[arg-type]
    if head.startswith(_GZIP_MAGIC):
        raise UnreadableSourceError(f"{source}: is a gzip-compressed file, not a {suffix or 'CSV'} export; "
                                    "decompress it and deliver the file itself")
    if head.startswith(_ZIP_MAGIC):
        return "xlsx"
    return {".xlsx": "xlsx", ".json": "json"}.get(suffix, "csv")


def open_file(dataset: Dataset, source: str, *, data: bytes | None = None, path: Path | None = None,
              block_size: int = DEFAULT_BLOCK_SIZE, kind: str | None = None) -> RawStream:
    kind = kind or file_kind(source, data=data, path=path)
    if kind == "xlsx":
        stream = open_xlsx(dataset, source, data=data, path=path)
        if Path(source).suffix.lower() != ".xlsx":
            stream.header.warnings.insert(0, f"{source}: is an XLSX workbook under another name; read as XLSX "
                                             "(deliver it as .xlsx)")
        return stream
    if kind == "json":
        return open_json(dataset, source, data=data, path=path)
    return open_csv(dataset, source, data=data, path=path, block_size=block_size)
