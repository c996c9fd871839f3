"""The rejects-and-warnings workbook for the people who can fix the data (issue 14, section 4).

Per source system (SISKOP2MI, Disnaker, Dinkes, Dinsos) and month, one XLSX in the owner-only
quarantine zone, ``s3://sinergi-quarantine/_feedback/<system>/<YYYY-MM>/feedback_<system>_<YYYY-MM>.xlsx``
(``sinergi.layout.feedback_key``), headers and texts in Bahasa Indonesia and English:

- ``masalah - problems``: one line per problem — dataset, file, data row, column (as the export
  names it), observed value, rule, severity (rejected or warning), what is wrong and how to fix it
  (``config/feedback.yaml``);
- ``ringkasan - summary``: rows per dataset and rule;
- ``nilai asing - unknown values``: values outside a list, with their row counts;
- ``rekonsiliasi``: per dataset, source rows = valid + quarantined (incl. malformed lines).

Each dataset's validation stores its problems of the month (``layout.feedback_problems_key``; the
latest run of the dataset wins) and rebuilds its system's workbook from all of them, so the
workbook always covers every dataset of the system validated so far that month. The workbook holds
observed values (a NIK the producer must correct): it lives next to the quarantined rows, never in a
party bucket, a log or XCom.
"""

from __future__ import annotations

import io
import json
from functools import cache
from importlib import resources

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from sinergi import registry
from sinergi.layout import QUARANTINE_BUCKET, feedback_key, feedback_prefix, feedback_problems_key
from sinergi.months import Month
from sinergi.objectstore import ObjectStore
from sinergi.publish.xlsx import MAX_ROWS, write_sheets

#: problem lines kept per dataset and month (the summary still counts every row)
MAX_LINES_PER_DATASET = 100_000
#: characters of an observed value (a raw malformed line can be long)
MAX_VALUE_CHARS = 1_000
PROBLEMS_SCHEMA = pa.schema([("dataset", pa.string()), ("file", pa.string()), ("row", pa.int64()),
                             ("column", pa.string()), ("value", pa.string()), ("rule", pa.string()),
                             ("severity", pa.string())])
_META = b"sinergi.feedback"


@cache
def texts() -> dict:
    """config/feedback.yaml."""
    raw = resources.files("sinergi.config").joinpath("feedback.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(raw)


def rule_text(rule: str) -> dict:
    """``{problem: {id, en}, fix: {id, en}}`` of a rule (by its family, the part before ``:``)."""
    entry = texts()["rules"].get(rule.split(":", 1)[0])
    if entry is None:
        return {"problem": {"id": rule, "en": rule}, "fix": {"id": "", "en": ""}}
    return entry


class Flagged:
    """Published rows that carry a warning (``data_quality_flags``), gathered chunk by chunk from the
    validation's valid sink (at most MAX_LINES_PER_DATASET rows)."""

    def __init__(self, dataset: str):
        self.dataset, self.parts, self.rows = dataset, [], 0

    def add(self, table: pa.Table) -> None:
        from sinergi.validate.engine import DATA_QUALITY_FLAGS

        if self.rows >= MAX_LINES_PER_DATASET or DATA_QUALITY_FLAGS not in table.column_names:
            return
        part = table.filter(pc.is_valid(table.column(DATA_QUALITY_FLAGS)))
        if part.num_rows:
            part = part.slice(0, MAX_LINES_PER_DATASET - self.rows)
            self.parts.append(part)
            self.rows += part.num_rows

    def table(self) -> pa.Table | None:
        return pa.concat_tables(self.parts) if self.parts else None


def _columns_of(dataset: str) -> dict[str, list[str]]:
    """Rule -> the dataset columns it looks at (helper columns resolved to the columns they derive from)."""
    from sinergi.validate import suites

    ds = registry.get(dataset)
    names = {c.name for c in ds.columns}
    spec = suites.load(dataset)
    derived = {d["name"]: [v for v in d.get("args", {}).values() if isinstance(v, str) and v in names]
               for d in spec.derived}
    out: dict[str, list[str]] = {}
    for r in spec.rules:
        cols: list[str] = []
        for key in ("column", "column_A", "column_B"):
            c = r.kwargs.get(key)
            if isinstance(c, str):
                cols.extend([c] if c in names else derived.get(c, []))
        out[r.rule] = list(dict.fromkeys(cols))
    return out


def _header(ds: registry.Dataset, column: str) -> str:
    try:
        col = ds.column(column)
    except KeyError:
        return column
    return f"{col.headers[0]} ({column})" if getattr(col, "headers", None) else column


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text[:MAX_VALUE_CHARS]


def problem_lines(dataset: str, quarantined: pa.Table, flagged: pa.Table | None) -> pa.Table:
    """One line per (row, rule) of the quarantined rows and of the published rows with a warning."""
    from sinergi.validate.engine import DATA_QUALITY_FLAGS, FAILED_RULES
    from sinergi.validate.quarantine import RAW_LINE

    ds = registry.get(dataset)
    by_rule = _columns_of(dataset)
    whole = texts()["whole_row"]
    lines: dict[str, list] = {f.name: [] for f in PROBLEMS_SCHEMA}

    def emit(rec: dict, rule: str, severity: str) -> None:
        if rule == "malformed_line":
            column, value = whole, rec.get(RAW_LINE)
        elif rule.split(":", 1)[0] == "values_parse":
            column, value = whole, rec.get("_extract_issues")
            named = [p.split(":", 1)[0].strip() for p in (value or "").split("; ") if ":" in p]
            column = ", ".join(_header(ds, c) for c in named) or whole
        else:
            cols = by_rule.get(rule, [])
            if not cols:
                column, value = whole, None
            elif len(cols) == 1:
                column, value = _header(ds, cols[0]), _text(rec.get(cols[0]))
            else:
                column = ", ".join(_header(ds, c) for c in cols)
                value = "; ".join(f"{c}={_text(rec.get(c))}" for c in cols)
        for k, v in (("dataset", dataset), ("file", rec.get("_source_file")), ("row", rec.get("_source_row")),
                     ("column", column), ("value", _text(value)), ("rule", rule), ("severity", severity)):
            lines[k].append(v)

    wanted = sorted({c for cols in by_rule.values() for c in cols})
    bookkeeping = ["_source_file", "_source_row", "_extract_issues"]
    n = 0
    if quarantined.num_rows:
        cols = [c for c in [*wanted, *bookkeeping, FAILED_RULES, RAW_LINE] if c in quarantined.column_names]
        for rec in quarantined.slice(0, MAX_LINES_PER_DATASET).select(cols).to_pylist():
            for rule in rec.get(FAILED_RULES) or []:
                emit(rec, rule, "quarantine")
                n += 1
    if flagged is not None and flagged.num_rows:
        cols = [c for c in [*wanted, *bookkeeping, DATA_QUALITY_FLAGS] if c in flagged.column_names]
        for rec in flagged.select(cols).to_pylist():
            if n >= MAX_LINES_PER_DATASET:
                break
            for rule in (rec.get(DATA_QUALITY_FLAGS) or "").split(";"):
                if rule:
                    emit(rec, rule, "warning")
                    n += 1
    return pa.table(lines, schema=PROBLEMS_SCHEMA)


def store_problems(store: ObjectStore, dataset: str, month: Month | str, run_id: str, res,
                   flagged: pa.Table | None) -> str:
    """Write one dataset's problems of the month (with its counts) to the quarantine zone."""
    system = registry.get(dataset).source.system
    table = problem_lines(dataset, res.quarantined, flagged)
    counts = {k: res.counts.get(k) for k in ("source_rows", "extracted", "valid", "quarantined", "malformed",
                                              "by_rule", "warnings_by_rule", "unknown_values")}
    table = table.replace_schema_metadata({_META: json.dumps({"dataset": dataset, "run_id": run_id, "counts": counts,
                                                              "stopped": bool(res.stopped)}, default=str).encode()})
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    key = feedback_problems_key(system, month, dataset)
    store.ensure_bucket(QUARANTINE_BUCKET)
    store.put_bytes(QUARANTINE_BUCKET, key, buf.getvalue(), content_type="application/vnd.apache.parquet")
    return key


def _problems_of(store: ObjectStore, system: str, month: Month | str) -> list[tuple[pa.Table, dict]]:
    prefix = feedback_prefix(system, month) + "problems/"
    out = []
    for obj in sorted(store.list(QUARANTINE_BUCKET, prefix), key=lambda o: o.key):
        if obj.key.endswith(".parquet"):
            table = pq.read_table(io.BytesIO(store.get_bytes(QUARANTINE_BUCKET, obj.key)))
            out.append((table, json.loads((table.schema.metadata or {}).get(_META, b"{}"))))
    return out


def build_workbook(system: str, month: Month | str, parts: list[tuple[str, pa.Table, dict]]) -> bytes:
    """The workbook from each dataset's (name, problem lines, meta)."""
    t = texts()
    head, sev = t["columns"], t["severity"]
    problems = pa.concat_tables([p for _, p, _ in parts]) if parts else PROBLEMS_SCHEMA.empty_table()
    truncated = problems.num_rows > MAX_ROWS - 1
    problems = problems.slice(0, MAX_ROWS - 1)
    rules = problems.column("rule").to_pylist()
    text = [rule_text(r) for r in rules]
    sheet = pa.table({
        head["dataset"]: problems.column("dataset"), head["file"]: problems.column("file"),
        head["row"]: problems.column("row"), head["column"]: problems.column("column"),
        head["value"]: problems.column("value"), head["rule"]: problems.column("rule"),
        head["severity"]: pa.array([sev.get(s, s) for s in problems.column("severity").to_pylist()], pa.string()),
        head["problem_id"]: pa.array([x["problem"]["id"] for x in text], pa.string()),
        head["problem_en"]: pa.array([x["problem"]["en"] for x in text], pa.string()),
        head["fix_id"]: pa.array([x["fix"]["id"] for x in text], pa.string()),
        head["fix_en"]: pa.array([x["fix"]["en"] for x in text], pa.string()),
    })
    summary: dict[str, list] = {"Dataset / Dataset": [], "Aturan / Rule": [], head["severity"]: [],
                                "Jumlah baris / Rows": [], head["problem_id"]: [], head["problem_en"]: []}
    unknown: dict[str, list] = {"Dataset / Dataset": [], "Kolom / Column": [], "Nilai / Value": [],
                                "Jumlah baris / Rows": []}
    recon: dict[str, list] = {"Dataset / Dataset": [], "Baris sumber / Source rows": [], "Valid / Valid": [],
                              "Ditolak / Quarantined": [], "Baris rusak / Malformed lines": [],
                              "Dihentikan / Stopped": []}
    for dataset, _, meta in parts:
        counts = meta.get("counts") or {}
        for severity, key in (("quarantine", "by_rule"), ("warning", "warnings_by_rule")):
            for rule, rows in sorted((counts.get(key) or {}).items()):
                x = rule_text(rule)
                for k, v in zip(summary, (dataset, rule, sev[severity], int(rows), x["problem"]["id"],
                                          x["problem"]["en"]), strict=True):
                    summary[k].append(v)
        for column, values in sorted((counts.get("unknown_values") or {}).items()):
            for value, rows in values.items():
                for k, v in zip(unknown, (dataset, column, value, int(rows)), strict=True):
                    unknown[k].append(v)
        for k, v in zip(recon, (dataset, counts.get("source_rows"), counts.get("valid"), counts.get("quarantined"),
                                counts.get("malformed"), "ya / yes" if meta.get("stopped") else "tidak / no"),
                        strict=True):
            recon[k].append(v)
    month = Month.of(month)
    about = [
        ("Sistem sumber / Source system", system),
        ("Bulan / Month", str(month)),
        ("Isi / Contents", "Baris yang ditolak dan peringatan dari ekspor bulan ini, satu baris per masalah. / "
                           "Rows rejected and warnings from this month's exports, one line per problem."),
        ("Baris data / Data row", "Nomor baris data di berkas, dihitung setelah baris judul kolom. / "
                                  "The data row number in the file, counted after the header row."),
        ("Kerahasiaan / Confidentiality", "Berisi data pribadi: hanya untuk petugas data sistem sumber. / "
                                          "Contains personal data: for the source system's data officers only."),
    ]
    if truncated:
        about.append(("Terpotong / Truncated", f"Hanya {MAX_ROWS - 1} baris pertama. / Only the first {MAX_ROWS - 1} lines."))
    return write_sheets([("masalah - problems", sheet), ("ringkasan - summary", pa.table(summary)),
                         ("nilai asing - unknown values", pa.table(unknown)),
                         ("rekonsiliasi", pa.table(recon))], about=about)


def write_workbook(store: ObjectStore, system: str, month: Month | str) -> str:
    """Rebuild the system's workbook of the month from every dataset's stored problems; its key."""
    parts = [(meta["dataset"], table, meta) for table, meta in _problems_of(store, system, month)]
    key = feedback_key(system, month)
    store.ensure_bucket(QUARANTINE_BUCKET)
    store.put_bytes(QUARANTINE_BUCKET, key, build_workbook(system, month, parts),
                    content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return key

