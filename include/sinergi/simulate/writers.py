"""Writers shaped like the real systems: `;` CSV (utf-8 / cp1252), XLSX with a title block, SQL.

All output is deterministic: XLSX core properties carry a fixed timestamp, rows are written in a
fixed order, the SQLite file is recreated from scratch.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import sqlalchemy as sa

from sinergi import registry

from . import model as M

FIXED_TIMESTAMP = dt.datetime(2025, 1, 1, 0, 0, 0)
EXCEL_EPOCH = dt.date(1899, 12, 30)
SYSTEM_TITLE = {
    "siskop2mi": "KEMENTERIAN PELINDUNGAN PEKERJA MIGRAN INDONESIA / BP2MI",
    "dinkes": "DINAS KESEHATAN PROVINSI LAMPUNG",
    "dinsos": "DINAS SOSIAL PROVINSI LAMPUNG",
}
XLSX_SHARE = {"siskop2mi": 0.35, "dinkes": 0.85, "dinsos": 0.15}


@dataclass(frozen=True)
class FileFormat:
    ext: str  # csv | xlsx
    encoding: str = "utf-8"  # csv only: utf-8, utf-8-sig or cp1252
    date_style: str = "text"  # xlsx only: text (dd/mm/yyyy), date (date cells) or serial (plain numbers)
    title_lines: int = 0  # xlsx only: lines above the header row


def choose_format(seed: int, dataset: str, month: str, force: str | None = None) -> FileFormat:
    """The file format of one (dataset, month): a pure function of seed, dataset and month."""
    system = registry.get(dataset).source.system
    r = M.rng(seed, "format-v2", dataset, month)
    u, v, w, x = r.random(4)
    ext = force or ("xlsx" if u < XLSX_SHARE[system] else "csv")
    if ext not in ("csv", "xlsx"):
        raise ValueError(f"{dataset}: format must be csv or xlsx, got {ext!r}")
    if ext == "csv":
        return FileFormat("csv", encoding="cp1252" if v < 0.25 else ("utf-8-sig" if w < 0.3 else "utf-8"))
    return FileFormat("xlsx", date_style=("text", "date", "serial")[int(v * 3)], title_lines=2 + int(w * 3))


_DATE_TEXT: dict[dt.date, str] = {}


def date_text(v: dt.date) -> str:
    """dd/mm/yyyy, memoised (strftime dominates writing otherwise)."""
    t = _DATE_TEXT.get(v)
    if t is None:
        t = _DATE_TEXT[v] = v.strftime("%d/%m/%Y")
    return t


def csv_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, dt.datetime):
        return v.strftime("%d/%m/%Y %H:%M:%S")
    if isinstance(v, dt.date):
        return date_text(v)
    if isinstance(v, float):
        return f"{v:.1f}"  # how a float-typed NIK column is exported
    return str(v)


def write_csv(path: Path, headers: list[str], rows: list[list], encoding: str) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(headers)
    for row in rows:
        w.writerow([csv_text(v) for v in row])
    path.write_bytes(buf.getvalue().encode(encoding, errors="replace"))


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
    '</Types>')
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/>'
    '</Relationships>')
_WB_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    '</Relationships>')
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>')
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>')
_APP = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    '<Application>Microsoft Excel</Application></Properties>')
BOLD = ' s="1"'
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _col_letters(n: int) -> list[str]:
    out = []
    for i in range(n):
        s, k = "", i + 1
        while k:
            k, rem = divmod(k - 1, 26)
            s = chr(65 + rem) + s
        out.append(s)
    return out


def _core(title: list[str]) -> str:
    ts = FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(title[1])}</dc:title><dc:creator>{escape(title[0])}</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{ts}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{ts}</dcterms:modified></cp:coreProperties>')


def write_xlsx(path: Path, headers: list[str], rows: list[list], fmt: FileFormat, title: list[str]) -> None:
    """A minimal SpreadsheetML writer (inline strings): ~20x faster than a general XLSX library for
    national-scale months, byte-reproducible (fixed zip and document timestamps)."""
    letters = _col_letters(max(len(headers), 1))
    last = f"{letters[-1]}{fmt.title_lines + 1 + len(rows)}"
    parts = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f'<dimension ref="A1:{last}"/><sheetData>']

    def text(ref: str, v: str, style: str = "") -> str:
        if "&" in v or "<" in v or ">" in v:
            v = escape(v)
        if not v.isprintable():
            v = _ILLEGAL_XML.sub("", v)
        return f'<c r="{ref}" t="inlineStr"{style}><is><t xml:space="preserve">{v}</t></is></c>'

    n = 0
    for line in title[: fmt.title_lines]:
        n += 1
        cell = text(f"A{n}", line, BOLD) if line else ""
        parts.append(f'<row r="{n}">{cell}</row>')
    n += 1
    parts.append(f'<row r="{n}">' + "".join(text(f"{letters[j]}{n}", h, BOLD) for j, h in enumerate(headers)) + "</row>")
    date_style = fmt.date_style
    for row in rows:
        n += 1
        cells = []
        for j, v in enumerate(row):
            if v is None:
                continue
            ref = f"{letters[j]}{n}"
            if isinstance(v, str):
                cells.append(text(ref, v))
            elif isinstance(v, dt.datetime):
                cells.append(text(ref, v.strftime("%d/%m/%Y %H:%M:%S")))
            elif isinstance(v, dt.date):
                if date_style == "text":
                    cells.append(text(ref, date_text(v)))
                else:
                    serial = (v - EXCEL_EPOCH).days
                    cells.append(f'<c r="{ref}" s="2"><v>{serial}</v></c>' if date_style == "date"
                                 else f'<c r="{ref}"><v>{serial}</v></c>')
            elif isinstance(v, bool):
                cells.append(text(ref, "YA" if v else "TIDAK"))
            elif isinstance(v, float):
                cells.append(f'<c r="{ref}"><v>{int(v) if v.is_integer() else v}</v></c>')
            else:
                cells.append(f'<c r="{ref}"><v>{v}</v></c>')
        parts.append(f'<row r="{n}">{"".join(cells)}</row>')
    parts.append("</sheetData></worksheet>")
    files = {
        "[Content_Types].xml": _CONTENT_TYPES, "_rels/.rels": _RELS, "docProps/app.xml": _APP,
        "docProps/core.xml": _core(title), "xl/workbook.xml": _WORKBOOK, "xl/_rels/workbook.xml.rels": _WB_RELS,
        "xl/styles.xml": _STYLES, "xl/worksheets/sheet1.xml": "".join(parts),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, body in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, body.encode("utf-8"), compresslevel=1)


def title_block(dataset: str, month: str) -> list[str]:
    ds = registry.get(dataset)
    y, m = M.parse_month(month)
    return [SYSTEM_TITLE[ds.source.system], f"DATA {ds.id.split(',')[0].upper()}",
            f"PERIODE: {M.MONTHS_ID[m - 1]} {y}", ""]


# ---------------------------------------------------------------------------------- SQL (Disnaker)

_SQL_TYPES = {"string": sa.String(255), "date": sa.Date(), "int": sa.Integer(), "bool": sa.Boolean()}


def disnaker_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """The Disnaker tables: registry headers as columns, record id as primary key, plus timestamps."""
    out = {}
    for name in registry.names():
        ds = registry.get(name)
        if ds.source.kind != "sql":
            continue
        cols = []
        for c in ds.source_columns:
            if c.name == "updated_at":
                continue
            typ = sa.String(64) if c.name in (ds.record_id, "nik") else _SQL_TYPES[c.type]
            cols.append(sa.Column(c.headers[0], typ, primary_key=c.name == ds.record_id, nullable=c.name != ds.record_id))
        cols += [sa.Column("created_at", sa.DateTime(), nullable=False), sa.Column("updated_at", sa.DateTime(), nullable=False)]
        out[name] = sa.Table(ds.source.table, metadata, *cols, mysql_charset="utf8mb4")
    return out


def write_sql(url: str, rows: dict[str, list[dict]]) -> None:
    """Replace the Disnaker tables at ``url`` with ``rows`` (dataset -> rendered records)."""
    engine = sa.create_engine(url)
    try:
        md = sa.MetaData()
        tables = disnaker_tables(md)
        md.drop_all(engine, checkfirst=True)
        md.create_all(engine)
        with engine.begin() as conn:
            for name, table in tables.items():
                ds = registry.get(name)
                header = {c.name: c.headers[0] for c in ds.source_columns}
                batch = []
                for rec in sorted(rows.get(name, []), key=lambda x: x[ds.record_id]):
                    out = {}
                    for col, h in header.items():
                        v = rec.get(col)
                        out[h] = f"{v:.1f}" if isinstance(v, float) else v
                    out["created_at"] = rec["_created_at"]
                    out["updated_at"] = rec["updated_at"]
                    batch.append(out)
                for i in range(0, len(batch), 5000):
                    conn.execute(table.insert(), batch[i:i + 5000])
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------- reading back (tests)


def read_back(path: Path) -> tuple[list[str], list[list]]:
    """Read a simulator file back as (header, rows of raw values). A helper for tests and debugging:
    the pipeline's extraction has its own reader."""
    path = Path(path)
    if path.suffix == ".csv":
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252")
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
        return rows[0], rows[1:]
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    ws = wb.worksheets[0]
    all_rows = [list(r) for r in ws.iter_rows(values_only=True)]
    wb.close()
    k = next(i for i, r in enumerate(all_rows) if sum(v is not None for v in r) >= 3)
    width = len(all_rows[k])
    return [str(h) for h in all_rows[k]], [r + [None] * (width - len(r)) for r in all_rows[k + 1:]]
