"""Analysts' read path: each party's credentials file → DuckDB / pandas / polars over the hive glob."""

from __future__ import annotations

import datetime as dt
import random

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from sinergi.layout import LANDING_BUCKET, data_glob
from sinergi.publish import publish
from sinergi.publish.readers import (
    duckdb_connection,
    duckdb_source,
    httpfs_extension_path,
    read_duckdb,
    read_pandas,
    read_polars,
    read_snippet,
)
from sinergi.settings import credentials_dir

DATASET = "health_checks"
MONTHS = ("2025-06", "2025-07")

SCHEMA = pa.schema([
    pa.field("check_token", pa.string(), metadata={"description": "Pseudonym of the check", "description_id": "Pseudonim pemeriksaan", "role": "attribute", "transform": "token:record"}),
    pa.field("kabkota_code", pa.string(), metadata={"description": "Regency/city code", "description_id": "Kode kab/kota", "role": "quasi_identifier", "transform": "keep"}),
    pa.field("check_date", pa.date32(), metadata={"description": "Date of the check", "description_id": "Tanggal pemeriksaan", "role": "attribute", "transform": "keep"}),
    pa.field("visits", pa.int64(), metadata={"description": "Number of visits", "description_id": "Jumlah kunjungan", "role": "attribute", "transform": "keep"}),
])


def make_rows(n: int, seed: int, month: str) -> pa.Table:
    rng = random.Random(seed)
    y, m = map(int, month.split("-"))
    return pa.table({
        "check_token": [f"{rng.getrandbits(128):032x}" for _ in range(n)],
        "kabkota_code": [rng.choice(["1801", "1802", "1871", "0101"]) for _ in range(n)],  # "0101": leading zero kept
        "check_date": [dt.date(y, m, rng.randint(1, 28)) for _ in range(n)],
        "visits": [rng.randint(0, 9) for _ in range(n)],
    }, schema=SCHEMA)


@pytest.fixture(scope="module")
def published(weed) -> dict[str, dict]:
    """Per party: bucket, credentials path and the expected rows (different content per party)."""
    out = {}
    for i, (party, bucket) in enumerate(sorted(weed.embedded.parties.items())):
        tables = [make_rows(50 + 10 * j + i, seed=100 * i + j, month=m) for j, m in enumerate(MONTHS)]
        for m, t in zip(MONTHS, tables, strict=True):
            publish(weed.pipeline, bucket=bucket, dataset=DATASET, month=m, run_id=f"readers-{party}", table=t, schema=SCHEMA)
        expected = pa.concat_tables(tables)
        out[party] = {
            "bucket": bucket,
            "creds": credentials_dir(weed.home) / f"{party}.env",
            "tokens": sorted(expected["check_token"].to_pylist()),
            "visits": sum(expected["visits"].to_pylist()),
        }
    return out


PARTIES = ("kp2mi", "lampung")


def test_httpfs_extension_found():
    path = httpfs_extension_path()
    assert path is not None and path.name == "httpfs.duckdb_extension" and path.exists()


@pytest.mark.parametrize("party", PARTIES)
def test_duckdb(published, party):
    p = published[party]
    con = duckdb_connection(p["creds"])
    try:
        rel = con.sql(f"SELECT * FROM read_parquet('{data_glob(p['bucket'], DATASET)}', hive_partitioning = true)")
        types = dict(zip(rel.columns, [str(t) for t in rel.types], strict=True))
        assert types["check_date"] == "DATE" and types["kabkota_code"] == "VARCHAR" and types["visits"] == "BIGINT"
        tokens = sorted(r[0] for r in con.sql(f"SELECT check_token FROM read_parquet('{data_glob(p['bucket'], DATASET)}')").fetchall())
        assert tokens == p["tokens"]
        by_month = con.sql(
            f"SELECT month, count(*) FROM {duckdb_source(p['bucket'], DATASET)} WHERE year = 2025 GROUP BY month ORDER BY month"
        ).fetchall()
        assert [m for m, _ in by_month] == [6, 7]
        # the party's key cannot read the other party's bucket, nor the owner zones
        other = published[next(x for x in PARTIES if x != party)]["bucket"]
        for bucket in (other, LANDING_BUCKET):
            with pytest.raises(duckdb.Error, match="403|Forbidden|Access"):
                con.sql(f"SELECT count(*) FROM read_parquet('s3://{bucket}/{DATASET}/**/*.parquet')").fetchall()
    finally:
        con.close()
    t = read_duckdb(p["creds"], p["bucket"], DATASET)
    assert t.schema.field("check_date").type == pa.date32() and t.num_rows == len(p["tokens"])
    assert t.schema.field("year").type == t.schema.field("month").type == pa.int32()


@pytest.mark.parametrize("party", PARTIES)
def test_pandas(published, party):
    p = published[party]
    df = read_pandas(p["creds"], p["bucket"], DATASET)
    assert sorted(df["check_token"]) == p["tokens"]
    assert df["check_date"].dtype == pd.ArrowDtype(pa.date32())
    assert df["kabkota_code"].dtype == pd.ArrowDtype(pa.string()) and "0101" in set(df["kabkota_code"])
    assert df["visits"].dtype == pd.ArrowDtype(pa.int64()) and int(df["visits"].sum()) == p["visits"]
    assert set(df["month"]) == {6, 7}  # integers, as in every engine
    assert df["year"].dtype == df["month"].dtype == pd.ArrowDtype(pa.int32())


@pytest.mark.parametrize("party", PARTIES)
def test_polars(published, party):
    p = published[party]
    df = read_polars(p["creds"], p["bucket"], DATASET)
    assert sorted(df["check_token"].to_list()) == p["tokens"]
    assert df.schema["check_date"] == pl.Date and df.schema["kabkota_code"] == pl.String and df.schema["visits"] == pl.Int64
    assert df["visits"].sum() == p["visits"]
    assert sorted(df["month"].unique().to_list()) == [6, 7]
    assert df.schema["year"] == df.schema["month"] == pl.Int32  # kept (polars drops them without hive_partitioning)


@pytest.mark.parametrize("engine", ["duckdb", "pandas", "polars"])
def test_snippets_run_standalone(published, engine):
    """The pasted snippet (no sinergi import) loads the dataset with the party's credentials file."""
    p = published["lampung"]
    code = read_snippet("lampung", p["bucket"], DATASET, engine=engine, credentials_path=str(p["creds"]))
    assert "sinergi" not in code.replace(p["bucket"], "").replace(str(p["creds"]), "")
    assert p["bucket"] in code
    ns: dict = {}
    exec(compile(code, f"<{engine} snippet>", "exec"), ns)  # noqa: S102 - our generated snippet
    df = ns["df"]
    tokens = df["check_token"].to_list() if engine == "polars" else list(df["check_token"])
    assert sorted(tokens) == p["tokens"]
