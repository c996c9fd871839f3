"""sinergi.chunks: a month read in chunks of a fixed size, from memory or from a Parquet file."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from sinergi.chunks import ParquetSource, TableSource, chunks, column, column_chunks


def _table(n: int) -> pa.Table:
    return pa.table({"id": pa.array([f"id{i}" for i in range(n)]), "x": pa.array(range(n), pa.int64())})


def test_chunks_have_the_chunk_size_whatever_the_row_groups(tmp_path):
    t = _table(53)
    path = tmp_path / "t.parquet"
    pq.write_table(t, path, row_group_size=7)
    for source in (TableSource(t, rows=10), ParquetSource(path, rows=10)):
        parts = list(chunks(source))
        assert [p.num_rows for p in parts] == [10, 10, 10, 10, 10, 3]
        assert pa.concat_tables(parts).equals(t)
        assert [p.column_names for p in chunks(source, ["x"])][0] == ["x"]
        assert column(source, "id").to_pylist() == t["id"].to_pylist()
        assert sum(len(c) for c in column_chunks(source, "x")) == 53
    assert ParquetSource(path, rows=10).num_rows == 53


def test_an_empty_month_is_one_empty_chunk(tmp_path):
    t = _table(0)
    path = tmp_path / "e.parquet"
    pq.write_table(t, path)
    for source in (TableSource(t), ParquetSource(path)):
        parts = list(chunks(source))
        assert len(parts) == 1 and parts[0].num_rows == 0 and parts[0].schema.equals(t.schema)
