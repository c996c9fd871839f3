"""Tokenisation throughput: 1M rows x the policy's token columns (one core), plus share() end to end.

    .venv/bin/python benchmarks/bench_tokens.py [--rows 1000000] [--unique 1.0] [--threads 2] [--share]

For each (party, dataset, token column) of the default policy it tokenises ``--rows`` synthetic
NIK-shaped values (generated here; no real data) and prints rows/s. Figures are given per CPU-second
of this process (= per core; robust when other jobs share the machine) and per wall-clock second.
``--threads N`` (N > 1) also times the DuckDB engine on N threads. ``--share`` times the whole
``share()`` (filter, transforms, tokens, k-anonymity, leak guard) on a ``--rows`` placements table.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import platform
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sinergi.policy import load_policy, output_columns
from sinergi.tokens import Keyring, tokenise

MASTER = b"benchmark master secret - not a real one"


def nik_like(n: int, unique_fraction: float, seed: int = 1) -> pa.Array:
    rng = np.random.default_rng(seed)
    pool = max(1, int(n * unique_fraction))
    serial = rng.integers(0, 10**12, pool)
    kab = rng.integers(1, 14, pool)
    ids = rng.integers(0, pool, n) if unique_fraction < 1 else np.arange(n)
    strings = pc.binary_join_element_wise(
        pc.utf8_lpad(pa.array((1800 + kab[ids]).astype(str)), 4, "0"),
        pc.utf8_lpad(pa.array(serial[ids].astype(str)), 12, "0"),
        "",
    )
    return strings


def timed(fn, repeat: int = 3) -> tuple[float, float, object]:
    """(best CPU seconds of this process, best wall seconds, result)."""
    cpu, wall, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        out = fn()
        cpu, wall = min(cpu, time.process_time() - c), min(wall, time.perf_counter() - w)
    return cpu, wall, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--unique", type=float, default=1.0, help="fraction of distinct values (1.0 = all distinct)")
    ap.add_argument("--threads", type=int, default=1, help="also time the DuckDB engine on this many threads")
    ap.add_argument("--share", action="store_true", help="also time share() on a 1M-row placements table")
    args = ap.parse_args()

    policy = load_policy()
    keyring = Keyring.from_master(MASTER, policy.key_version)
    values = nik_like(args.rows, args.unique)
    n_unique = len(pc.unique(values))
    print(f"# {platform.python_implementation()} {platform.python_version()} on {platform.machine()}; "
          f"{args.rows:,} rows, {n_unique:,} distinct")

    key = keyring.key("lampung", "person")
    # Machine reference: a plain hmac.digest loop (STACK.md: ~2.0 s per 1M values, 0.5M/s, on an idle
    # core of this machine class), so figures taken on a busy machine can be scaled.
    sample = [v.encode() for v in values.slice(0, min(200_000, args.rows)).to_pylist()]
    cpu, _, _ = timed(lambda: [hmac.digest(key, v, "sha256") for v in sample], repeat=1)
    ref_rate = len(sample) / cpu
    print(f"reference hmac.digest loop:  {ref_rate:>12,.0f} values/cpu-s (idle reference ~500,000)")
    cpu, wall, out = timed(lambda: tokenise(values, key, "nik"))
    print(f"tokenise (python engine):    {args.rows / cpu:>12,.0f} tokens/cpu-s {args.rows / wall:>12,.0f} tokens/s wall")
    print(f"  = {args.rows / cpu / ref_rate:.2f}x the reference "
          f"(~{args.rows / cpu / ref_rate * 500_000:,.0f} tokens/s on an idle core)")
    letters = str.maketrans("0123456789abcdef", "abcdefghijklmnop")  # tokens spell hex digits as letters a-p
    check = [hmac.new(key, v.encode(), hashlib.sha256).hexdigest()[:32].translate(letters)
             for v in values.slice(0, 1000).to_pylist()]
    assert [t[2:] for t in out.slice(0, 1000).to_pylist()] == check, "tokens differ from hmac.new"
    if args.threads > 1:
        cpu, wall, _ = timed(lambda: tokenise(values, key, "nik", engine="duckdb", threads=args.threads))
        print(f"tokenise (duckdb, {args.threads} threads): {args.rows / wall:>12,.0f} tokens/s wall "
              f"({args.rows / cpu:,.0f} tokens/cpu-s)")

    print("\nper policy token column (distinct values hashed once):")
    total_rows, total_cpu, total_wall = 0, 0.0, 0.0
    for pname, party in policy.parties.items():
        for dname, entry in party.datasets.items():
            for o in output_columns(dname, entry, party.owns):
                if not o.is_token:
                    continue
                k = keyring.key(pname, o.field)
                cpu, wall, _ = timed(lambda k=k, o=o: tokenise(values, k, o.normaliser), repeat=1)
                total_rows, total_cpu, total_wall = total_rows + args.rows, total_cpu + cpu, total_wall + wall
                print(f"  {pname:>8} {dname:<22} {o.name:<10} field={o.field:<7} "
                      f"{args.rows / cpu:>12,.0f} rows/cpu-s {args.rows / wall:>12,.0f} rows/s wall")
    print(f"  all token columns: {total_rows:,} tokens, {total_rows / total_cpu:,.0f} tokens/cpu-s, "
          f"{total_rows / total_wall:,.0f} tokens/s wall")

    if args.share:
        from sinergi import registry
        from sinergi.policy import share

        ds = registry.get("placements")
        n = args.rows
        rng = np.random.default_rng(2)
        kab = pa.array(np.char.add("18", np.char.zfill(rng.integers(1, 14, n).astype(str), 2)))
        cols = {}
        for c in ds.columns:
            if c.name == "nik":
                cols[c.name] = pc.binary_join_element_wise(kab, pc.utf8_slice_codeunits(values, 4, 16), "")
            elif c.name == "kabkota_code" or c.name == "kabkota_bps_code":
                cols[c.name] = kab
            elif c.name == "province_code":
                cols[c.name] = pa.array(["18"] * n)
            elif c.name == "kecamatan_code":
                cols[c.name] = pc.utf8_slice_codeunits(cols["nik"], 0, 6)
            elif c.name == "sex":
                cols[c.name] = pa.array(np.where(rng.random(n) < 0.7, "P", "L"))
            elif c.name == "education":
                cols[c.name] = pa.array(rng.choice(["SD", "SMP", "SMA/SMK", "Diploma", "S1"], n, p=[.22, .31, .44, .02, .01]))
            elif c.type == "date":
                base = np.datetime64("1975-01-01") if c.name == "birth_date" else np.datetime64("2025-07-01")
                span = 365 * 30 if c.name == "birth_date" else 28
                cols[c.name] = pa.array(base + rng.integers(0, span, n).astype("timedelta64[D]")).cast(pa.date32())
            elif c.name in ("full_name", "address"):
                cols[c.name] = pc.binary_join_element_wise(pa.array(["NAMA"] * n), pc.cast(pa.array(np.arange(n)), pa.string()), " ")
            elif c.name == "passport_number":
                cols[c.name] = pc.binary_join_element_wise(pa.array(["C"] * n), pc.cast(pa.array(np.arange(n) + 10**6), pa.string()), "")
            elif c.name == "phone":
                cols[c.name] = pc.binary_join_element_wise(pa.array(["+62812"] * n), pc.cast(pa.array(np.arange(n) + 10**7), pa.string()), "")
            else:
                cols[c.name] = pc.binary_join_element_wise(pa.array([f"{c.name[:3].upper()}-2507"] * n),
                                                           pc.cast(pa.array(np.arange(n)), pa.string()), "-")
        table = pa.table(cols).cast(ds.arrow_schema)
        cpu, wall, (out, rep) = timed(lambda: share(table, "placements", "lampung", policy, keyring), repeat=1)
        print(f"\nshare(placements -> lampung) on {n:,} rows: {cpu:.2f} cpu-s, {wall:.2f} s wall "
              f"= {n / cpu:,.0f} rows/cpu-s; "
              f"{rep['rows_out']:,} published, {sum(rep['rows_suppressed'].values()):,} suppressed, "
              f"k achieved {rep['disclosure']['k_achieved']}")


if __name__ == "__main__":
    main()
