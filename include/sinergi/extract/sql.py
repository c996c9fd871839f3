"""SQL sources (the Disnaker database) via SQLAlchemy 2: monthly incremental pulls, streamed.

A month's pull is every row whose ``updated_at`` (falling back to ``created_at``) lies in
[month start, next month start) in Asia/Jakarta, so a record re-sent or updated later is pulled
again in the month of each change (once per change: the change moves it into exactly one month).
Timestamp columns without a time zone (MariaDB DATETIME, SQLite text) are taken as Jakarta wall-clock
time, as the dinas applications write them; ``timestamptz`` columns are compared as instants.

Rows are streamed (``stream_results`` + ``yield_per``) in primary-key order and written, as received
(every value as text; timestamps as Jakarta-local ISO text), to a Parquet file that is landed before
normalisation starts. Works on SQLite, PostgreSQL and MariaDB/MySQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from sinergi.extract.errors import (
    MissingColumnError,
    SourceNotFoundError,
    SourceUnavailableError,
    UnreadableSourceError,
)
from sinergi.extract.files import RawStream, cell_text, filter_rows
from sinergi.extract.headers import SQL_BOOKKEEPING, header_key, map_headers
from sinergi.months import JAKARTA, Month
from sinergi.registry import Dataset

DEFAULT_CHUNK_ROWS = 10_000


def _text(value: object) -> str | None:
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(JAKARTA).replace(tzinfo=None)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    if hasattr(value, "is_finite") and not isinstance(value, float):  # Decimal
        return str(int(value)) if value == int(value) else str(value)
    return cell_text(value)


def make_engine(url: str) -> sa.Engine:
    return sa.create_engine(url, pool_pre_ping=True)


def _redact(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "<db>"


def _connection_lost(exc: sa.exc.SQLAlchemyError) -> bool:
    """A database error that says the server went away (not that the query or the data is wrong)."""
    return isinstance(exc, sa.exc.TimeoutError | sa.exc.DisconnectionError) or (
        isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated)


def pull_month(
    dataset: Dataset,
    month: Month | str,
    url: str | sa.Engine,
    out_path: Path,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    schema: str | None = None,
) -> dict:
    """Stream the month's rows of ``dataset``'s table into a Parquet file at ``out_path`` (all
    columns of the table, as text). Returns ``{rows, columns, source, filter}``.

    A database that cannot be reached (or drops the connection) raises the transient
    ``SourceUnavailableError``; a missing table or column, an invalid URL or a refused query raise
    permanent ``ExtractError``s."""
    month = Month.of(month)
    table_name = dataset.source.table
    source = f"db:{table_name}"
    try:
        engine = url if isinstance(url, sa.Engine) else make_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise UnreadableSourceError(f"{source}: invalid Disnaker database URL {_redact(str(url))!r}: {exc}") from exc
    try:
        try:
            table = sa.Table(table_name, sa.MetaData(), schema=schema, autoload_with=engine)
        except sa.exc.NoSuchTableError:
            raise SourceNotFoundError(
                f"{source}: table {table_name!r} not found in {_redact(str(engine.url))}"
                + (f" (schema {schema!r})" if schema else "")
            ) from None
        except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError) as exc:
            raise SourceUnavailableError(f"{source}: cannot connect to {_redact(str(engine.url))} "
                                         f"(retried later): {getattr(exc, 'orig', exc)}") from exc
        cols = {c.name.lower(): c for c in table.columns}
        stamps = [cols[n] for n in ("updated_at", "created_at") if n in cols]
        if not stamps:
            raise MissingColumnError(
                f"{source}: needs an updated_at or created_at column for monthly incremental extraction; "
                f"columns found: {', '.join(table.columns.keys())}",
                source=source, columns=("updated_at",),
            )
        aware = any(getattr(c.type, "timezone", False) for c in stamps)
        start, end = month.interval(aware)
        stamp = sa.func.coalesce(*stamps) if len(stamps) > 1 else stamps[0]
        order = list(table.primary_key.columns) or [table.columns[0]]
        stmt = sa.select(table).where(stamp >= start, stamp < end).order_by(*order)
        names = list(table.columns.keys())
        pa_schema = pa.schema([pa.field(n, pa.string()) for n in names])
        rows = 0
        with pq.ParquetWriter(out_path, pa_schema, compression="zstd") as writer, engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(stmt)
            for part in result.partitions():
                columns = list(zip(*part, strict=True)) if part else [() for _ in names]
                batch = pa.record_batch([pa.array([_text(v) for v in col], pa.string()) for col in columns], schema=pa_schema)
                writer.write_batch(batch)
                rows += len(part)
        return {"rows": rows, "columns": names, "source": source,
                "filter": f"coalesce({', '.join(c.name for c in stamps)}) in [{start.isoformat()}, {end.isoformat()})"}
    except sa.exc.SQLAlchemyError as exc:
        if _connection_lost(exc):
            raise SourceUnavailableError(f"{source}: lost the connection to {_redact(str(engine.url))} "
                                         f"(retried later): {exc}") from exc
        raise UnreadableSourceError(f"{source}: query failed on {_redact(str(engine.url))}: {exc}") from exc
    finally:
        if not isinstance(url, sa.Engine):
            engine.dispose()


def open_pulled(dataset: Dataset, source: str, path: Path, batch_rows: int = 64_000, *,
                remove_after: bool = False) -> RawStream:
    """Read a landed SQL pull back as raw canonical-named batches (``remove_after``: delete the
    local Parquet file once read)."""
    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    header = map_headers(dataset, names, source, ignore=SQL_BOOKKEEPING)
    skipped: list[dict] = []

    def batches() -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
        first = 1
        try:
            for batch in pf.iter_batches(batch_size=batch_rows):
                rows = np.arange(first, first + batch.num_rows, dtype=np.int64)
                first += batch.num_rows
                out = pa.RecordBatch.from_arrays([batch.column(names[p]) for p in header.positions],
                                                 names=list(header.positions.values()))
                yield filter_rows(out, rows, None, source, skipped)
        finally:
            pf.close()
            if remove_after:
                path.unlink(missing_ok=True)

    return RawStream(source, header, batches(), skipped, {"format": "sql"})


def temp_parquet_path(prefix: str) -> Path:
    """The pulled rows' local file: in this process's private (0700) temp folder (sinergi.private)."""
    from sinergi.private import temp_file

    return temp_file(prefix, ".parquet")


__all__ = ["pull_month", "open_pulled", "make_engine", "header_key"]
