"""Publishing throughput: encode + full publication protocol + party read, on a throw-away store.

    .venv/bin/python benchmarks/bench_publish.py [--rows 1000000]

Starts its own ``weed mini`` (free ports, temp dir) through ``sinergi.local.store.EmbeddedStore`` and
stops it afterwards. Prints one JSON object with the timings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from sinergi.local.store import EmbeddedStore
from sinergi.publish import encode, publish, update_catalog
from sinergi.publish.readers import duckdb_connection, duckdb_source
from sinergi.s3 import S3ObjectStore
from sinergi.settings import credentials_dir


def synthetic(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64)
    kab = np.array(["1801", "1802", "1803", "1804", "1805", "1806", "1807", "1808", "1871", "1872"])
    base = dt.date(2025, 7, 1).toordinal() - dt.date(1970, 1, 1).toordinal()
    return pa.table({
        "record_token": pa.array([f"{a:016x}{b:016x}" for a, b in tokens]),
        "kabkota_code": pa.array(kab[rng.integers(0, len(kab), n)]),
        "sex": pa.array(np.where(rng.random(n) < 0.6, "P", "L")),
        "birth_year": pa.array(rng.integers(1965, 2006, n), pa.int64()),
        "destination_country": pa.array(np.array(["MY", "TW", "HK", "SG", "KR", "JP", "SA"])[rng.integers(0, 7, n)]),
        "departure_date": pa.array(base + rng.integers(0, 31, n).astype(np.int32), pa.date32()),
        "dependants": pa.array(rng.integers(0, 5, n), pa.int64()),
    })


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    table = synthetic(args.rows)
    out: dict = {"rows": args.rows}
    t = time.perf_counter()
    part = encode(table, dataset="placements", month="2025-07")
    out["encode_s"] = round(time.perf_counter() - t, 2)
    out["parquet_mb"] = round(part.size / 1e6, 2)
    out["row_groups"] = part.row_groups
    with tempfile.TemporaryDirectory() as home:
        embedded = EmbeddedStore(home=Path(home), s3_port=EmbeddedStore._free_port())
        embedded.up()
        try:
            store = S3ObjectStore(embedded.credentials("pipeline"))
            bucket = embedded.parties["kp2mi"]
            t = time.perf_counter()
            r1 = publish(store, bucket=bucket, dataset="placements", month="2025-07", run_id="bench-1", table=table)
            out["publish_s"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            update_catalog(store, bucket, "kp2mi", r1)
            out["catalog_update_s"] = round(time.perf_counter() - t, 3)
            t = time.perf_counter()
            r2 = publish(store, bucket=bucket, dataset="placements", month="2025-07", run_id="bench-2", table=table)
            out["republish_s"] = round(time.perf_counter() - t, 2)
            out["republish_same_sha256"] = r1["sha256"] == r2["sha256"]
            con = duckdb_connection(credentials_dir(Path(home)) / "kp2mi.env")
            t = time.perf_counter()
            n = con.sql(f"SELECT count(*) FROM {duckdb_source(bucket, 'placements')} WHERE kabkota_code = '1871'").fetchone()[0]
            out["duckdb_filtered_count_s"] = round(time.perf_counter() - t, 3)
            out["duckdb_filtered_rows"] = n
            con.close()
        finally:
            embedded.down()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
