"""File sources (CSV, XLSX, JSON) -> raw string record batches with canonical column names.

Raw means: every value is the source text (or the text rendering of a spreadsheet cell), nothing is
normalised yet. The caller (``sinergi.extract.core``) normalises batch by batch.

CSV: encoding (UTF-8 / cp1252, charset-normalizer as the last resort), delimiter (``;``, ``,``, tab,
``|``) and the header row under a title block are detected from the first lines; the data part is
then streamed with ``pyarrow.csv.open_csv`` (all columns as strings, ``block_size``). Rows with the
wrong number of fields (a footer line, an unquoted delimiter inside a value) are skipped and
reported with their line number; ``_source_row`` still counts them so it points at the real row.
Blank lines are ignored by the CSV parser and not counted.
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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from sinergi.extract.errors import MissingColumnError, SourceEncodingError, UnreadableSourceError
from sinergi.extract.headers import HeaderMap, header_score, map_headers
from sinergi.registry import Dataset

HEADER_SCAN_ROWS = 30
DEFAULT_BLOCK_SIZE = 2 * 1024 * 1024  # ~7k placement rows a batch; peak RSS grows with it
XLSX_BATCH_ROWS = 50_000
_HEAD_BYTES = 256 * 1024
_DELIMITERS = (";", ",", "\t", "|")
FOOTER = re.compile(r"^\s*(GRAND\s+TOTAL|TOTAL|JUMLAH|KETERANGAN|CATATAN|SUMBER)\b", re.IGNORECASE)


@dataclass
class RawStream:
    """A source opened for reading: header mapping done, batches produced lazily."""

    source: str
    header: HeaderMap
    batches: Iterator[tuple[pa.RecordBatch, np.ndarray]]  # (canonical-named string columns, source rows)
    skipped: list[dict] = field(default_factory=list)  # {source, row, reason} (filled while iterating)
    info: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# shared


def _number_rows(n: int, first_ordinal: int, bad: list[int]) -> np.ndarray:
    """1-based source data-row numbers of ``n`` parsed rows, given sorted data-row numbers of rows
    the parser skipped: row k (k-th parsed) is at s = k + #{i : bad_i - i <= k}."""
    k = np.arange(first_ordinal, first_ordinal + n, dtype=np.int64)
    if not bad:
        return k
    thresholds = np.asarray(bad, dtype=np.int64) - np.arange(len(bad), dtype=np.int64)
    return k + np.searchsorted(thresholds, k, side="right")


def filter_rows(
    batch: pa.RecordBatch, rows: np.ndarray, first: pa.Array | None, source: str, skipped: list[dict]
) -> tuple[pa.RecordBatch, np.ndarray]:
    """Drop rows with no value at all and footer rows (TOTAL/JUMLAH ... with few values); report them."""
    if batch.num_rows == 0 or sum(c.null_count == 0 for c in batch.columns) > 3:
        return batch, rows  # >3 columns filled in every row: no row is empty or a sparse footer
    filled = np.zeros(batch.num_rows, dtype=np.int64)
    for col in batch.columns:
        filled += pc.is_valid(col).to_numpy(zero_copy_only=False).astype(np.int64)
    empty = filled == 0
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


def _offset_after_lines(data: bytes | None, path: Path | None, lines: int) -> int:
    pos, seen = 0, 0
    for chunk in _iter_chunks(data, path, 1024 * 1024):
        start = 0
        while seen < lines:
            j = chunk.find(b"\n", start)
            if j < 0:
                break
            seen += 1
            start = j + 1
        if seen >= lines:
            return pos + start
        pos += len(chunk)
    return pos


def open_csv(dataset: Dataset, source: str, *, data: bytes | None = None, path: Path | None = None,
             block_size: int = DEFAULT_BLOCK_SIZE) -> RawStream:
    encoding = detect_encoding(data, path, source)
    if encoding.replace("_", "-").lower() in ("utf-16", "utf-16-le", "utf-16-be"):
        # rare (Excel "Unicode text"): transcode in memory, then treat as UTF-8
        raw = data if data is not None else Path(path).read_bytes()  # type: ignore[arg-type]
        data, path, encoding = raw.decode(encoding).encode("utf-8"), None, "utf-8"
    head = data[:_HEAD_BYTES] if data is not None else Path(path).open("rb").read(_HEAD_BYTES)  # type: ignore[arg-type]
    head_text = head.decode("utf-8-sig" if encoding == "utf-8" else encoding, errors="replace")
    if len(head) == _HEAD_BYTES and "\n" in head_text:
        head_text = head_text[: head_text.rfind("\n") + 1]
    delim, header_cells, header_lines = _sniff(dataset, head_text, source)
    header = map_headers(dataset, header_cells, source)
    offset = _offset_after_lines(data, path, header_lines)
    names = [f"c{i}" for i in range(len(header_cells))]
    wanted = sorted(set(header.positions) | {0})
    skipped: list[dict] = []
    bad_rows: list[int] = []

    def on_invalid(row) -> str:
        n = row.number if row.number is not None else -1
        bad_rows.append(n)
        skipped.append({"source": source, "row": n,
                        "reason": f"expected {row.expected_columns} fields separated by {delim!r}, "
                                  f"found {row.actual_columns}"})
        return "skip"

    def batches() -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
        if data is not None:
            stream = pa.BufferReader(pa.py_buffer(memoryview(data)[offset:]))
        else:
            f = open(path, "rb")  # noqa: SIM115 - closed in finally
            f.seek(offset)
            stream = f
        try:
            reader = pcsv.open_csv(
                stream,
                read_options=pcsv.ReadOptions(column_names=names, block_size=block_size, use_threads=False,
                                              encoding="utf8" if encoding == "utf-8" else encoding),
                parse_options=pcsv.ParseOptions(delimiter=delim, newlines_in_values=True, invalid_row_handler=on_invalid),
                convert_options=pcsv.ConvertOptions(
                    column_types={n: pa.string() for n in names}, include_columns=[names[i] for i in wanted],
                    strings_can_be_null=True, quoted_strings_can_be_null=True, null_values=[""],
                ),
            )
            ordinal = 1
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                    raise UnreadableSourceError(f"{source}: cannot parse the CSV after data row {ordinal - 1}: {exc}") from exc
                rows = _number_rows(batch.num_rows, ordinal, sorted(b for b in bad_rows if b > 0))
                ordinal += batch.num_rows
                out = pa.RecordBatch.from_arrays(
                    [batch.column(names[p]) for p in header.positions], names=list(header.positions.values())
                )
                yield filter_rows(out, rows, batch.column(names[0]), source, skipped)
        except pa.ArrowInvalid as exc:
            raise UnreadableSourceError(f"{source}: cannot read as CSV ({encoding}, delimiter {delim!r}): {exc}") from exc
        finally:
            if data is None:
                stream.close()

    info = {"format": "csv", "encoding": encoding, "delimiter": delim, "header_line": header_lines}
    return RawStream(source, header, batches(), skipped, info)


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
            first = 1
            for values in ws.iter_rows(min_row=hi + 2, values_only=True):
                buf.append(list(values))
                if len(buf) >= batch_rows:
                    yield _xlsx_batch(buf, first, header, nik_cols, source, skipped)
                    first += len(buf)
                    buf = []
            if buf:
                yield _xlsx_batch(buf, first, header, nik_cols, source, skipped)
        finally:
            wb.close()

    info = {"format": "xlsx", "sheet": sheet, "header_row": hi + 1}
    return RawStream(source, header, batches(), skipped, info)


def _xlsx_batch(buf, first, header, nik_cols, source, skipped):
    batch = _rows_to_batch(buf, header, nik_cols)
    rows = np.arange(first, first + len(buf), dtype=np.int64)
    first_col = pa.array([cell_text(r[0]) if r else None for r in buf], pa.string())
    return filter_rows(batch, rows, first_col, source, skipped)


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

    def batches() -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
        for start in range(0, len(doc), batch_rows):
            chunk = doc[start : start + batch_rows]
            rows, numbers = [], []
            for j, rec in enumerate(chunk, start=start + 1):
                if not isinstance(rec, dict):
                    skipped.append({"source": source, "row": j, "reason": f"not a JSON object ({type(rec).__name__})"})
                    continue
                rows.append([rec.get(k) for k in header_cells])
                numbers.append(j)
            batch = _rows_to_batch(rows, header, nik_cols)
            yield filter_rows(batch, np.asarray(numbers, dtype=np.int64), None, source, skipped)

    return RawStream(source, header, batches(), skipped, {"format": "json"})


def open_file(dataset: Dataset, source: str, *, data: bytes | None = None, path: Path | None = None,
              block_size: int = DEFAULT_BLOCK_SIZE) -> RawStream:
    suffix = Path(source).suffix.lower()
    if suffix == ".xlsx":
        return open_xlsx(dataset, source, data=data, path=path)
    if suffix == ".json":
        return open_json(dataset, source, data=data, path=path)
    return open_csv(dataset, source, data=data, path=path, block_size=block_size)
