"""Checks on a source file before anything reads or parses it: an export is untrusted input, and a
crafted one must fail with an error naming the file — never take a worker down or read outside the
exports folder.

- :func:`check_path` (before the file is read or landed): the file, after following every link, is a
  regular file inside the exports folder. A link to ``/proc/self/environ`` in the exports folder once
  landed the worker's environment — the master secret with it — in the landing zone.
- :func:`check_content` (before the parser): XLSX decompression bombs (total uncompressed size,
  compression ratio per member, cells per sheet, the shared-strings table), XML that is malformed or
  carries a DTD (entity expansion), JSON nested deeper than any export is.

The limits below are far above any real monthly export (the largest XLSX source is a few MB) and far
below what exhausts a worker.
"""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
import zlib
from pathlib import Path
from xml.parsers import expat

import numpy as np

from sinergi.extract.errors import UnreadableSourceError

#: XLSX: total uncompressed bytes of all members
MAX_XLSX_UNCOMPRESSED = 1024 * 1024 * 1024
#: XLSX: uncompressed / compressed size of one member (Apache POI's default minimum inflate ratio is
#: 1/100); only members larger than RATIO_FLOOR uncompressed are judged (tiny parts compress oddly)
MAX_XLSX_RATIO = 100
RATIO_FLOOR = 1024 * 1024
#: XLSX: cells in one worksheet (openpyxl touches each one)
MAX_XLSX_CELLS_PER_SHEET = 10_000_000
#: XLSX: the shared-strings table is loaded into memory whole
MAX_XLSX_SHARED_STRINGS = 128 * 1024 * 1024
MAX_XLSX_MEMBERS = 10_000
#: JSON: an export is an array of flat records (depth 2, 3 with a wrapping object)
MAX_JSON_DEPTH = 32

_CHUNK = 1024 * 1024
_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)


class UnsafeSourceError(UnreadableSourceError):
    """The export is refused before parsing: it leaves the exports folder, is not a regular file, or is
    built to exhaust the worker (decompression bomb, entity expansion, nesting bomb)."""


# -- where the file is ------------------------------------------------------------------------------
def check_path(path: Path, exports_dir: Path) -> Path:
    """``path`` resolved (every symlink followed); refused unless it is a regular file inside the
    (resolved) exports folder."""
    root = Path(exports_dir).resolve()
    try:
        real = Path(path).resolve(strict=True)
    except (OSError, RuntimeError) as e:  # a dangling link, a loop
        raise UnsafeSourceError(f"{path}: cannot be resolved ({type(e).__name__}); not read") from None
    if real != root and root not in real.parents:
        raise UnsafeSourceError(f"{path}: is a link that leaves the exports folder {root} (it points to {real}); "
                                "exports must be files inside that folder — not read, not landed")
    mode = os.stat(real).st_mode
    if not stat.S_ISREG(mode):
        raise UnsafeSourceError(f"{path}: is not a regular file (a device, pipe or socket); not read")
    return real


# -- what is in it ----------------------------------------------------------------------------------
def check_content(source: str, *, data: bytes | None = None, path: Path | None = None,
                  kind: str | None = None) -> None:
    """Refuse a crafted XLSX or JSON before its parser sees it (``source`` names the file in errors;
    ``kind``: the format the file will be read as, by default the one its name says)."""
    suffix = "." + kind if kind else Path(source).suffix.lower()
    if suffix == ".xlsx":
        check_xlsx(source, data=data, path=path)
    elif suffix == ".json":
        check_json(source, data if data is not None else Path(path).read_bytes())  # type: ignore[arg-type]


def _xml_parser(source: str, member: str):
    parser = expat.ParserCreate()

    def refuse(*_):
        raise UnsafeSourceError(f"{source}: part {member} declares a DTD/entities (entity expansion); "
                                "XLSX parts never do — not read")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    return parser


def check_xlsx(source: str, *, data: bytes | None = None, path: Path | None = None) -> None:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data) if data is not None else path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise UnreadableSourceError(f"{source}: not a readable XLSX workbook (not a zip archive: {e})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_XLSX_MEMBERS:
            raise UnsafeSourceError(f"{source}: {len(infos)} parts in the workbook (limit {MAX_XLSX_MEMBERS}); not read")
        declared = sum(i.file_size for i in infos)
        if declared > MAX_XLSX_UNCOMPRESSED:
            raise UnsafeSourceError(f"{source}: expands to {declared:,} bytes (limit {MAX_XLSX_UNCOMPRESSED:,}): "
                                    "a decompression bomb, or split the export; not read")
        for info in infos:
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > RATIO_FLOOR and ratio > MAX_XLSX_RATIO:
                raise UnsafeSourceError(f"{source}: part {info.filename} expands {ratio:,.0f}x ({info.compress_size:,} -> "
                                        f"{info.file_size:,} bytes; limit {MAX_XLSX_RATIO}x): a decompression bomb; not read")
            if info.filename.lower().endswith("sharedstrings.xml") and info.file_size > MAX_XLSX_SHARED_STRINGS:
                raise UnsafeSourceError(f"{source}: shared strings of {info.file_size:,} bytes (limit "
                                        f"{MAX_XLSX_SHARED_STRINGS:,}); not read")
        total = 0
        for info in infos:
            name = info.filename.lower()
            if not name.endswith((".xml", ".rels", ".vml")):
                continue
            total += _scan_part(zf, info, source, total, is_sheet=name.startswith("xl/worksheets/"))


def _scan_part(zf: zipfile.ZipFile, info: zipfile.ZipInfo, source: str, before: int, *, is_sheet: bool) -> int:
    """Stream one XML part: actual size within the limits, well-formed, no DTD, cells counted."""
    parser = _xml_parser(source, info.filename)
    size = cells = 0
    tail = b""
    try:
        with zf.open(info) as f:
            while chunk := f.read(_CHUNK):
                size += len(chunk)
                if before + size > MAX_XLSX_UNCOMPRESSED:
                    raise UnsafeSourceError(f"{source}: expands beyond {MAX_XLSX_UNCOMPRESSED:,} bytes; not read")
                parser.Parse(chunk, False)
                if is_sheet:
                    window = tail + chunk
                    cells += len(_CELL.findall(window)) - len(_CELL.findall(tail))
                    tail = window[-64:]
                    if cells > MAX_XLSX_CELLS_PER_SHEET:
                        raise UnsafeSourceError(f"{source}: sheet part {info.filename} has more than "
                                                f"{MAX_XLSX_CELLS_PER_SHEET:,} cells; not read")
            parser.Parse(b"", True)
    except expat.ExpatError as e:
        raise UnreadableSourceError(f"{source}: part {info.filename} is not well-formed XML "
                                    f"({expat.ErrorString(e.code)} at line {e.lineno}, column {e.offset}); "
                                    "re-export the workbook") from None
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise UnreadableSourceError(f"{source}: part {info.filename} cannot be decompressed ({e})") from None
    return size


def check_json(source: str, raw: bytes) -> None:
    """Refuse JSON nested deeper than MAX_JSON_DEPTH (Python's parser would die of recursion) — computed
    without parsing: strings blanked, then the running depth of brackets."""
    body = _JSON_STRING.sub(b'""', raw)
    buf = np.frombuffer(body, dtype=np.uint8)
    opening = (buf == ord("[")) | (buf == ord("{"))
    closing = (buf == ord("]")) | (buf == ord("}"))
    steps = opening.astype(np.int8)[opening | closing] * 2 - 1
    depth = int(np.cumsum(steps, dtype=np.int64).max()) if len(steps) else 0
    if depth > MAX_JSON_DEPTH:
        raise UnsafeSourceError(f"{source}: JSON nested {depth} levels deep (limit {MAX_JSON_DEPTH}; an export is an "
                                "array of flat records): a nesting bomb; not read")
