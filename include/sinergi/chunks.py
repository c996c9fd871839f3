"""A month of rows read in chunks, so a step's memory holds one chunk instead of the month.

``TableSource`` wraps a table already in memory (tests, small months); ``ParquetSource`` reads a
local Parquet file (a staging object downloaded by the pipeline) row group by row group. Both can be
read more than once, column subsets included: a step that needs a month-wide fact (duplicate ids, the
values a release must not contain) reads the narrow columns it needs first.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

#: Rows per chunk (SINERGI_CHUNK_ROWS overrides). About 0.5 GB of working memory in validation
#: (pandas + GX) per 200k rows of a wide dataset.
CHUNK_ROWS = 200_000


def chunk_rows() -> int:
    return int(os.environ.get("SINERGI_CHUNK_ROWS") or CHUNK_ROWS)


class TableSource:
    """A month held in memory, read in chunks of exactly ``rows`` rows (the last one shorter)."""

    def __init__(self, table: pa.Table, rows: int | None = None):
        self.table, self.rows = table, rows or chunk_rows()
        self.schema, self.num_rows = table.schema, table.num_rows

    def read(self, columns: list[str] | None = None) -> Iterator[pa.Table]:
        t = self.table.select(columns) if columns is not None else self.table
        for start in range(0, t.num_rows, self.rows):
            yield t.slice(start, self.rows)


class ParquetSource:
    """A month in a local Parquet file, read in chunks (the file is opened again for each pass)."""

    def __init__(self, path: str | Path, rows: int | None = None):
        self.path, self.rows = str(path), rows or chunk_rows()
        meta = pq.ParquetFile(self.path)
        self.schema, self.num_rows = meta.schema_arrow, meta.metadata.num_rows

    def read(self, columns: list[str] | None = None) -> Iterator[pa.Table]:
        # pre_buffer (the default) keeps every row group's raw bytes until the file is closed, so
        # memory would grow with the month; a local file reads fast enough without it.
        pf = pq.ParquetFile(self.path, pre_buffer=False, buffer_size=1 << 20)
        # Batches stop at row-group boundaries; regroup them so every chunk but the last has exactly
        # `rows` rows (a month of at most `rows` rows is then exactly one chunk).
        pending = None
        for batch in pf.iter_batches(batch_size=self.rows, columns=columns):
            part = pa.Table.from_batches([batch])
            pending = part if pending is None else pa.concat_tables([pending, part])
            while pending.num_rows >= self.rows:
                yield pending.slice(0, self.rows)
                pending = pending.slice(self.rows)
        if pending is not None and pending.num_rows:
            yield pending


def as_source(data: pa.Table | TableSource | ParquetSource) -> TableSource | ParquetSource:
    return data if hasattr(data, "read") else TableSource(data)


def chunks(source, columns: list[str] | None = None) -> Iterator[pa.Table]:
    """At least one chunk (an empty month is processed too)."""
    empty = True
    for chunk in source.read(columns):
        empty = False
        yield chunk
    if empty:
        schema = source.schema if columns is None else pa.schema([source.schema.field(c) for c in columns])
        yield schema.empty_table()


def column(source, name: str) -> pa.ChunkedArray:
    """One column of the whole month (a narrow read)."""
    arrays = [a for part in column_chunks(source, name) for a in part.chunks]
    return pa.chunked_array(arrays, type=source.schema.field(name).type)


def column_chunks(source, name: str) -> Iterator[pa.ChunkedArray]:
    """One column of the month, chunk by chunk (lazily: nothing is read until iterated)."""
    for chunk in chunks(source, [name]):
        yield chunk.column(name)
