"""The staging zone: the hand-off between the steps of one run (``sinergi-staging``, owner-only).

Objects are written from a local temporary Parquet file (uploaded with ``put_file``, in parts when
large) and read back through one (``get_file``), so memory holds one row group, not the month.
Staging objects live for one run: fast to write and read matters more than size (snappy).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sinergi.layout import STAGING_BUCKET
from sinergi.objectstore import ObjectStore
from sinergi.private import temp_file
from sinergi.timing import stage

STAGING_COMPRESSION = "snappy"
STAGING_ROW_GROUP = 256 * 1024


def _temp_path() -> Path:
    """A local file for raw rows: in this process's private (0700) temp folder, never bare in /tmp."""
    return temp_file("staging-", ".parquet")


def put_table(store: ObjectStore, key: str, table: pa.Table) -> str:
    """Write a (small) table as one staging object; returns its ETag."""
    with stage("staging write"):
        buf = io.BytesIO()
        pq.write_table(table, buf, compression=STAGING_COMPRESSION, row_group_size=STAGING_ROW_GROUP)
        return store.put_bytes(STAGING_BUCKET, key, buf.getvalue())


def get_table(store: ObjectStore, key: str) -> pa.Table:
    """A whole staging object as a table."""
    with staged_file(store, key) as path, stage("staging read"):
        return pq.read_table(path)


@contextmanager
def staged_file(store: ObjectStore, key: str) -> Iterator[Path]:
    """A staging object as a local temp file (read it in chunks); removed afterwards."""
    path = _temp_path()
    try:
        with stage("staging read"):
            store.get_file(STAGING_BUCKET, key, str(path))
        yield path
    finally:
        path.unlink(missing_ok=True)


class StagingWriter:
    """Row chunks written to a local Parquet file, uploaded as one staging object on a clean exit.
    Memory holds one row group (small chunks are gathered into row groups of STAGING_ROW_GROUP)."""

    def __init__(self, store: ObjectStore, key: str, schema: pa.Schema | None = None):
        self.store, self.key, self.schema = store, key, schema
        self.path, self.writer, self.rows, self.upload = _temp_path(), None, 0, True
        self.pending: list[pa.Table] = []
        self.pending_rows = 0

    def write(self, table: pa.Table | pa.RecordBatch) -> None:
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        self.schema = self.schema or table.schema
        self.pending.append(table)
        self.pending_rows += table.num_rows
        self.rows += table.num_rows
        if self.pending_rows >= STAGING_ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        with stage("staging write"):
            if self.writer is None:
                self.writer = pq.ParquetWriter(self.path, self.schema, compression=STAGING_COMPRESSION)
            if self.pending_rows or not self.rows:
                self.writer.write_table(pa.concat_tables(self.pending) if self.pending else self.schema.empty_table(),
                                        row_group_size=STAGING_ROW_GROUP)
            self.pending, self.pending_rows = [], 0

    def discard(self) -> None:
        """Do not upload (a stopped dataset leaves no valid rows behind)."""
        self.upload = False

    def close(self, ok: bool) -> None:
        try:
            if ok and self.upload:
                if self.schema is None:
                    raise ValueError(f"nothing was written for staging object {self.key}")
                self._flush()
                self.writer.close()
                with stage("staging write"):
                    self.store.put_file(STAGING_BUCKET, self.key, str(self.path))
            elif self.writer is not None:
                self.writer.close()
        finally:
            self.path.unlink(missing_ok=True)


@contextmanager
def staging_writer(store: ObjectStore, key: str, schema: pa.Schema | None = None) -> Iterator[StagingWriter]:
    """A StagingWriter that uploads when the block ends cleanly and leaves nothing behind otherwise."""
    w = StagingWriter(store, key, schema)
    try:
        yield w
    except BaseException:
        w.close(ok=False)
        raise
    w.close(ok=True)
