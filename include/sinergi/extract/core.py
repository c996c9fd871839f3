"""extract / iter_extract: one dataset, one month -> canonical Arrow data (+ landing, warnings).

Order of work: locate the source -> land it as received (bytes for files, Parquet for SQL pulls,
with its sha256) -> detect encoding/delimiter/header row and map headers (errors raise here, before
any batch) -> stream batches: normalise each column with the registry's normaliser, compute
derived columns, add ``_source_file`` / ``_source_row`` / ``_extract_issues``.
"""

from __future__ import annotations

import contextvars
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sinergi import normalise, registry
from sinergi.extract import files, guard, landing, sql
from sinergi.extract.files import RawStream
from sinergi.extract.sources import SourceConfig
from sinergi.months import Month
from sinergi.objectstore import ObjectStore
from sinergi.registry import Dataset
from sinergi.timing import stage

BOOKKEEPING = (
    pa.field("_source_file", pa.string()),
    pa.field("_source_row", pa.int64()),
    pa.field("_extract_issues", pa.string()),
)


def output_schema(dataset: Dataset | str) -> pa.Schema:
    """The canonical extracted schema: registry columns (registry order and types) + bookkeeping."""
    ds = registry.get(dataset) if isinstance(dataset, str) else dataset
    schema = ds.arrow_schema
    for f in BOOKKEEPING:
        schema = schema.append(f)
    return schema


@dataclass
class ExtractResult:
    dataset: str
    month: str
    run_id: str
    table: pa.Table | None = None
    sources: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows_read: int = 0  # rows delivered in the canonical output
    rows_skipped: list[dict] = field(default_factory=list)  # empty and footer lines (no data row), with a reason
    #: source data rows that could not be parsed (quarantined as ``malformed_line``), with the raw line
    malformed: list[dict] = field(default_factory=list, repr=False)
    rows_with_issues: int = 0  # delivered rows with a note in _extract_issues
    info: dict = field(default_factory=dict)  # encoding, delimiter, header row, SQL filter ...
    complete: bool = False  # True once every batch has been produced
    pending_landings: list = field(default_factory=list, repr=False)  # (source record, future) in flight

    @property
    def rows_in_source(self) -> int:
        """Every line below the header that is not blank: delivered, malformed or skipped (empty, footer)."""
        return self.rows_read + len(self.malformed) + len(self.rows_skipped)

    @property
    def source_rows(self) -> int:
        """The source's data rows: delivered (to be validated) or malformed (quarantined)."""
        return self.rows_read + len(self.malformed)

    def summary(self) -> dict:
        """Small, JSON-able summary for XCom / the run manifest (no personal values)."""
        return {
            "dataset": self.dataset, "month": self.month, "run_id": self.run_id,
            "rows_read": self.rows_read, "rows_skipped": len(self.rows_skipped),
            "source_rows": self.source_rows, "malformed": len(self.malformed),
            "malformed_rows": [{k: m[k] for k in ("source", "row", "reason")} for m in self.malformed[:100]],
            "rows_with_issues": self.rows_with_issues, "sources": self.sources,
            "warnings": self.warnings, "skipped": self.rows_skipped[:100], "info": self.info,
        }


def canonicalise(dataset: Dataset, raw: pa.RecordBatch, rows: np.ndarray, source: str) -> pa.RecordBatch:
    """Raw string columns (canonical names; absent ones become null) -> the canonical batch."""
    with stage("parse+normalise (canonicalise)"):
        return _canonicalise(dataset, raw, rows, source)


def _canonicalise(dataset: Dataset, raw: pa.RecordBatch, rows: np.ndarray, source: str) -> pa.RecordBatch:
    n = raw.num_rows
    values: dict[str, pa.Array] = {}
    issues: list[tuple[str, pa.Array]] = []
    names = set(raw.schema.names)
    for col in dataset.source_columns:
        arr = raw.column(col.name) if col.name in names else pa.nulls(n, pa.string())
        v, iss = normalise.normalise(col.normalise, arr, col.arrow_type)
        values[col.name] = v
        issues.append((col.name, iss))
    for col in dataset.columns:
        if col.is_derived:
            values[col.name] = normalise.derive(col.derive_via, values[col.derive_from]).cast(col.arrow_type)
    arrays = [values[c.name] for c in dataset.columns]
    arrays.append(pa.repeat(pa.scalar(source, pa.string()), n))
    arrays.append(pa.array(rows, pa.int64()))
    arrays.append(normalise.join_issues(issues, n))
    return pa.RecordBatch.from_arrays(arrays, schema=output_schema(dataset))


def _open_source(
    ds: Dataset, month: str, config: SourceConfig, store: ObjectStore | None, run_id: str,
    result: ExtractResult, block_size: int, sql_chunk_rows: int,
) -> RawStream:
    src = ds.source
    if src.kind == "file":
        path, warnings = config.locate_file(ds, month)
        guard.check_path(path, config.exports_dir)  # a link out of the exports folder is neither read nor landed
        result.warnings.extend(warnings)
        size = path.stat().st_size
        data = path.read_bytes() if store is not None and size <= landing.IN_MEMORY_LIMIT else None
        record = {"path": str(path), "bytes": size, "rows": None}  # rows: data rows, set when read
        if store is not None and data is None:
            # A large file is landed (hashed, uploaded in parts) while it is parsed from disk; the
            # stream waits for the landing before it reports complete, and fails if the landing failed.
            pool = ThreadPoolExecutor(1, thread_name_prefix="sinergi-landing")
            # the landing thread runs in this context: a timing recorder (sinergi.timing) sees it too
            result.pending_landings.append((record, pool.submit(
                contextvars.copy_context().run, landing.land, store, system=src.system, dataset=ds.name,
                month=month, run_id=run_id, filename=path.name, path=path, source=path.name)))
            pool.shutdown(wait=False)
        elif store is not None:
            record |= landing.land(store, system=src.system, dataset=ds.name, month=month, run_id=run_id,
                                   filename=path.name, data=data, source=path.name)
        else:
            record["sha256"], _ = landing.sha256_file(path)
            record["landing_key"] = None
        result.sources.append(record)
        # parse exactly the bytes that were landed (when they fit in memory)
        try:
            on_disk = None if data is not None else path
            kind = files.file_kind(path.name, data=data, path=on_disk)  # by name, corrected by the first bytes
            guard.check_content(path.name, data=data, path=on_disk, kind=kind)  # bombs, bad XML
            return files.open_file(ds, path.name, data=data, path=on_disk, block_size=block_size, kind=kind)
        except Exception:
            for _, landed in result.pending_landings:  # a file that cannot be read is still received evidence
                landed.exception()
            raise
    if src.kind == "sql":
        tmp = sql.temp_parquet_path(f"sinergi-{ds.name}-")
        weakref.finalize(result, tmp.unlink, missing_ok=True)
        pulled = sql.pull_month(ds, month, config.disnaker_db_url, tmp, chunk_rows=sql_chunk_rows)
        filename = f"{src.table}_{Month.of(month).compact}.parquet"
        record = {"table": src.table, "rows": pulled["rows"], "rows_pulled": pulled["rows"], "filter": pulled["filter"]}
        if store is not None:
            record |= landing.land(store, system=src.system, dataset=ds.name, month=month, run_id=run_id,
                                   filename=filename, path=tmp, source=pulled["source"])
        else:
            sha, size = landing.sha256_file(tmp)
            record |= {"sha256": sha, "bytes": size, "landing_key": None}
        result.sources.append(record)
        result.info["sql_filter"] = pulled["filter"]
        return sql.open_pulled(ds, pulled["source"], tmp, remove_after=True)
    raise ValueError(f"{ds.name}: unknown source kind {src.kind!r}")


def iter_extract(
    dataset: str,
    month: str,
    config: SourceConfig,
    landing: ObjectStore | None = None,  # noqa: F811 - the public keyword is `landing`
    run_id: str = "manual",
    *,
    block_size: int = files.DEFAULT_BLOCK_SIZE,
    sql_chunk_rows: int = sql.DEFAULT_CHUNK_ROWS,
) -> tuple[Iterator[pa.RecordBatch], ExtractResult]:
    """Streaming extract. Locating, landing and header mapping happen now (errors raise here); the
    returned iterator normalises batch by batch and fills ``result`` as it goes."""
    ds = registry.get(dataset)
    month = str(Month.of(month))  # strict YYYY-MM, before anything is located or landed
    result = ExtractResult(dataset=ds.name, month=month, run_id=run_id)
    stream = _open_source(ds, month, config, landing, run_id, result, block_size, sql_chunk_rows)
    result.warnings.extend(stream.header.warnings)
    result.info |= stream.info
    result.info["columns"] = {c: stream.header.headers[i] for i, c in stream.header.positions.items()}

    def batches() -> Iterator[pa.RecordBatch]:
        for raw, rows in stream.batches:
            out = canonicalise(ds, raw, rows, stream.source)
            result.rows_read += out.num_rows
            result.rows_with_issues += out.num_rows - out.column("_extract_issues").null_count
            result.rows_skipped = stream.skipped
            yield out
        result.rows_skipped = stream.skipped
        result.malformed = stream.malformed
        while result.pending_landings:
            record, landed = result.pending_landings.pop()
            record |= landed.result()
        if result.sources:
            record = result.sources[-1]
            if record.get("rows") is None:
                record["rows"] = result.rows_in_source
            # reconciliation starts here: every data row is delivered or quarantined as malformed
            record["source_rows"], record["malformed"] = result.source_rows, len(result.malformed)
            if Path(record.get("path") or "").name != stream.source:
                record["name"] = stream.source  # the source's name in _source_file, when not the file's
        if stream.skipped:
            result.warnings.append(f"{stream.source}: {len(stream.skipped)} empty or footer line(s) skipped "
                                   f"(see rows_skipped)")
        if stream.malformed:
            rows = ", ".join(str(m["row"]) for m in stream.malformed[:10])
            result.warnings.append(f"{stream.source}: {len(stream.malformed)} malformed line(s) quarantined as "
                                   f"{files.MALFORMED_RULE} (data rows {rows}{' ...' if len(stream.malformed) > 10 else ''})")
        result.complete = True

    return batches(), result


def extract(
    dataset: str,
    month: str,
    config: SourceConfig,
    landing: ObjectStore | None = None,
    run_id: str = "manual",
    **kwargs,
) -> ExtractResult:
    """Extract one dataset and month into ``result.table`` (canonical schema + bookkeeping)."""
    batches, result = iter_extract(dataset, month, config, landing, run_id, **kwargs)
    collected = list(batches)
    schema = output_schema(dataset)
    result.table = pa.Table.from_batches(collected, schema=schema) if collected else schema.empty_table()
    return result


def issues_table(result_table: pa.Table) -> pa.Table:
    """Rows that carry extraction notes (for a quick look in tests / the CLI)."""
    return result_table.filter(pc.is_valid(result_table.column("_extract_issues")))


__all__ = ["extract", "iter_extract", "ExtractResult", "output_schema", "canonicalise", "issues_table"]
