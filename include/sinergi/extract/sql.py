"""SQL sources (the Disnaker database) via SQLAlchemy 2: monthly pulls, streamed.

Which rows make a month is decided by dates that do not change when a record is corrected, so a
re-run of a month gives the same rows as the first run however often they were updated since
(``updated_at`` is not used: a September correction would move a July record out of July):

- a table of events (registrations, trainings, programme activities) declares its business date in
  datasets.yaml ``month_by`` (``tgl_daftar``, ``tgl_mulai``, ``tgl_kegiatan``). A row belongs to the
  later of the month of that date and the month it was entered (``created_at``): a July registration
  entered in July is July's; one entered in August for a July date is August's (the July run had
  already happened: like a late record in a file export, it is counted when it arrives, once); a
  training entered in June to start in July is July's. A date more than one month after the entry
  is taken as a typo (2027 for 2025), not as a plan: the row stays in its entry month, where
  validation rejects the future date and the producer hears of it, instead of vanishing until 2027.
  A row without the date goes by its entry. Without ``created_at`` the business date alone decides;
- a register (``snapshot: true``: training institutions) is every row entered by the month end, in
  its current state: the register as known at month end, every month whole, so references to it
  resolve and an update never drops an institution from a month.

Month bounds are [month start, next month start) in Asia/Jakarta. Timestamp columns without a time
zone (MariaDB DATETIME, SQLite text) are taken as Jakarta wall-clock time, as the dinas applications
write them; ``timestamptz`` columns are compared as instants; DATE columns as dates.

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


def _bounds(column: sa.Column, month: Month) -> tuple:
    """[start, end) of the month in the column's terms: dates for a DATE, Jakarta datetimes
    (aware for a column with a time zone) for a timestamp."""
    if isinstance(column.type, sa.DateTime):
        return month.interval(bool(getattr(column.type, "timezone", False)))
    if isinstance(column.type, sa.Date):
        return month.first_day, month.add(1).first_day
    raise UnreadableSourceError(f"db:{column.table.name}: column {column.name!r} must be a DATE or TIMESTAMP column "
                                f"to pick the month's rows by it, found {column.type}")


def month_filter(dataset: Dataset, table: sa.Table, month: Month, source: str):
    """The WHERE clause of the month's rows (see the module docstring) and its description."""
    cols = {c.name.lower(): c for c in table.columns}
    created = cols.get("created_at")
    if dataset.snapshot:
        if created is None:
            return sa.true(), "the whole register (no created_at column)"
        _, end = _bounds(created, month)
        return created < end, f"created_at < {end.isoformat()} (the register at month end)"
    header = dataset.column(dataset.month_by).headers[0]
    business = cols.get(header.lower())
    if business is None:
        raise MissingColumnError(
            f"{source}: the month's rows are picked by {header!r} ({dataset.name}.{dataset.month_by}, "
            f"datasets.yaml month_by), which the table lacks; columns found: {', '.join(table.columns.keys())}",
            source=source, columns=(dataset.month_by,))
    b_start, b_end = _bounds(business, month)
    if created is None:
        return sa.and_(business >= b_start, business < b_end), \
            f"{business.name} in [{b_start.isoformat()}, {b_end.isoformat()})"
    c_start, c_end = _bounds(created, month)
    c_before, _ = _bounds(created, month.add(-1))
    _, b_after = _bounds(business, month.add(1))
    where = sa.or_(
        # entered this month, dated this month or before (late), undated, or a typo far ahead
        sa.and_(created >= c_start, created < c_end,
                sa.or_(business.is_(None), business < b_end, business >= b_after)),
        # entered the month before, for a date in this month (planned one month ahead)
        sa.and_(business >= b_start, business < b_end, created >= c_before, created < c_start),
    )
    return where, (f"the later of {business.name} and created_at falls in [{b_start.isoformat()}, "
                   f"{b_end.isoformat()}) ({business.name} more than a month after created_at: by created_at)")


def pull_month(
    dataset: Dataset,
    month: Month | str,
    url: str | sa.Engine,
    out_path: Path,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    schema: str | None = None,
) -> dict:
    """Stream the month's rows of ``dataset``'s table (see the module docstring) into a Parquet file
    at ``out_path`` (all columns of the table, as text). Returns ``{rows, columns, source, filter}``.

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
        where, described = month_filter(dataset, table, month, source)
        order = list(table.primary_key.columns) or [table.columns[0]]
        stmt = sa.select(table).where(where).order_by(*order)
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
        return {"rows": rows, "columns": names, "source": source, "filter": described}
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
