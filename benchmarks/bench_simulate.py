"""Simulator throughput: a realistic Lampung month (all datasets) and a 1M-row placements CSV.

    .venv/bin/python benchmarks/bench_simulate.py [--rows 1000000] [--months 1] [--out DIR]

Prints wall and CPU time and rows per second. Wall time on a shared machine includes waiting for
the CPU; CPU time is the stable figure.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sinergi.simulate import simulate, write_placements_csv


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows of the bulk placements CSV")
    p.add_argument("--months", type=int, default=1, help="Lampung months to simulate")
    p.add_argument("--scale", default="lampung", help="scale of the simulated month(s)")
    p.add_argument("--out", default=None, help="output directory (default: a temporary one)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        res, wall, cpu = _timed(lambda: simulate(out / "month", month="2025-07", months=args.months,
                                                 scale=args.scale, seed=42, defect_rate=0.03))
        n = res.total_rows
        print(f"simulate scale={args.scale} months={args.months}: {n:,} rows in all 13 datasets "
              f"({res.rows[('placements', '2025-07')]:,} placements), {res.defects} ledger entries")
        print(f"  wall {wall:6.2f} s  cpu {cpu:6.2f} s  -> {n / wall:,.0f} rows/s wall, {n / cpu:,.0f} rows/s cpu")
        info, wall, cpu = _timed(lambda: write_placements_csv(out / "bulk" / "PENEMPATAN_PMI_202507.csv",
                                                              args.rows, month="2025-07", seed=42,
                                                              defect_rate=0.03))
        size = Path(info["path"]).stat().st_size / 1e6
        print(f"write_placements_csv rows={args.rows:,}: {size:,.0f} MB, {info['defects']:,} defects")
        print(f"  wall {wall:6.2f} s  cpu {cpu:6.2f} s  -> {args.rows / wall:,.0f} rows/s wall, "
              f"{args.rows / cpu:,.0f} rows/s cpu")


if __name__ == "__main__":
    main()
