"""Benchmark: extract a 1M-row placements CSV (streaming) and report rows/s and peak RSS.

    .venv/bin/python benchmarks/bench_extract.py [--rows 1000000] [--block-size-mb 2] [--landing]

Generates the CSV with ``sinergi.simulate.write_placements_csv`` when available (else a simple inline
generator), then runs ``iter_extract`` batch by batch, keeping only counts (as the pipeline's
staging writer would), in a fresh subprocess so the peak RSS is the extract's own. The CSV's
in-memory size is measured as the Arrow table of all columns as strings; the streaming extract must
stay well below 3x that.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MONTH = "2025-07"


def generate(path: Path, rows: int) -> str:
    try:
        from sinergi.simulate import write_placements_csv  # type: ignore[attr-defined]
    except ImportError:
        write_placements_csv = None
    if write_placements_csv is not None:
        write_placements_csv(path, rows, month=MONTH, seed=42, defect_rate=0.03)
        return "sinergi.simulate.write_placements_csv"
    from sinergi import regions, registry

    ds = registry.get("placements")
    cols = ds.source_columns
    kab = [r.name for r in regions.lampung()]
    r = random.Random(42)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(";".join(c.headers[0] for c in cols) + "\r\n")
        for i in range(rows):
            vals = {
                "placement_id": f"PEN{i:09d}", "registration_id": f"REG{i:09d}",
                "nik": f"{regions.lampung()[i % 15].kemendagri_code}01{i % 28 + 41:02d}0790{i % 9998 + 1:04d}",
                "full_name": f"NAMA {i}", "sex": "P", "birth_date": "05/07/1990", "passport_number": f"C{i:07d}",
                "phone": f"0812{i:08d}", "address": f"Jl. Contoh {i}", "kabkota_code": r.choice(kab),
                "education": "SMA", "destination_country": "Taiwan", "job_title": "PLRT", "sector": "informal",
                "placement_scheme": "P to P", "p3mi_id": "P3MI001", "job_order_id": f"JO{i % 500}",
                "registration_date": "01/05/2025", "opp_date": "2025-06-28", "epmi_number": f"E{i}",
                "departure_date": "03/07/2025",
            }
            f.write(";".join(vals.get(c.name, "") for c in cols) + "\r\n")
    return "inline generator"


def child(exports: str, block_mb: float, landing_dir: str | None) -> None:
    import resource

    from sinergi.extract import SourceConfig, iter_extract

    u0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = u0.ru_utime + u0.ru_stime
    store = None
    if landing_dir:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))
        from test_extract_landing import DirStore  # the in-test ObjectStore over a directory

        store = DirStore(Path(landing_dir))
    t0 = time.perf_counter()
    batches, result = iter_extract("placements", MONTH, SourceConfig(Path(exports), "sqlite://"), landing=store,
                                   run_id="bench", block_size=int(block_mb * 1024 * 1024))
    n = issues = 0
    for b in batches:
        n += b.num_rows
        issues += b.num_rows - b.column("_extract_issues").null_count
    secs = time.perf_counter() - t0
    use = resource.getrusage(resource.RUSAGE_SELF)
    cpu = use.ru_utime + use.ru_stime - cpu0
    print(json.dumps({"what": "extract" + (" + landing" if landing_dir else ""), "rows": n, "wall_s": round(secs, 2),
                      "cpu_s": round(cpu, 2), "rows_per_s_wall": int(n / secs), "rows_per_s_cpu": int(n / cpu),
                      "peak_rss_mb": round(use.ru_maxrss / 1024, 1), "rows_with_issues": issues,
                      "rows_skipped": len(result.rows_skipped)}))


def baseline(exports: str, block_mb: float) -> None:
    """Bare pyarrow streaming read of the same file, all columns as strings (the floor)."""
    import resource

    import pyarrow as pa
    import pyarrow.csv as pcsv

    path = next(Path(exports).rglob("*.csv"))
    u0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = u0.ru_utime + u0.ru_stime
    t0 = time.perf_counter()
    head = path.open(encoding="utf-8").readline().rstrip("\r\n").split(";")
    reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=int(block_mb * 1024 * 1024), use_threads=False),
                           parse_options=pcsv.ParseOptions(delimiter=";", invalid_row_handler=lambda r: "skip"),
                           convert_options=pcsv.ConvertOptions(column_types={h: pa.string() for h in head}))
    n = sum(b.num_rows for b in reader)
    secs = time.perf_counter() - t0
    use = resource.getrusage(resource.RUSAGE_SELF)
    cpu = use.ru_utime + use.ru_stime - cpu0
    print(json.dumps({"what": "bare pyarrow CSV read", "rows": n, "wall_s": round(secs, 2), "cpu_s": round(cpu, 2),
                      "rows_per_s_wall": int(n / secs), "rows_per_s_cpu": int(n / cpu),
                      "peak_rss_mb": round(use.ru_maxrss / 1024, 1)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--block-size-mb", type=float, default=2)
    ap.add_argument("--landing", action="store_true", help="also land the file (in-test directory store)")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        step, sources, *rest = args.child
        if step == "generate":
            generate_child(sources, int(rest[0]))
        elif step == "measure":
            measure_child(sources)
        elif rest[1] == "baseline":
            baseline(sources, float(rest[0]))
        else:
            child(sources, float(rest[0]), rest[1] if rest[1] != "-" else None)
        return
    # Every heavy step runs in its own subprocess, and this parent stays small: Linux keeps a
    # process's ru_maxrss across fork+exec, so a big parent would inflate the children's peaks.
    with tempfile.TemporaryDirectory(prefix="sinergi-bench-") as tmp:
        sources = Path(tmp) / "sources"
        print(_run("generate", str(sources), str(args.rows))["message"])
        in_memory_mb = _run("measure", str(sources), "0")["in_memory_mb"]
        print(f"in-memory size (Arrow, all strings): {in_memory_mb:.0f} MB; 3x = {3 * in_memory_mb:.0f} MB")
        for ldir in ["baseline", "-"] + ([str(Path(tmp) / "landing")] if args.landing else []):
            res = _run("extract", str(sources), str(args.block_size_mb), ldir)
            res["peak_rss_vs_in_memory"] = round(res["peak_rss_mb"] / in_memory_mb, 2)
            print(json.dumps(res))


def _run(*argv: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *argv], capture_output=True, text=True,
                         env=os.environ.copy())
    if out.returncode:
        sys.exit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def generate_child(sources: str, rows: int) -> None:
    from sinergi import registry

    ds = registry.get("placements")
    path = Path(sources) / ds.source.system / MONTH / f"{ds.source.file_stem}_{MONTH.replace('-', '')}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    how = generate(path, rows)
    print(json.dumps({"message": f"generated {rows:,} rows with {how} in {time.perf_counter() - t:.1f}s: "
                                 f"{path.stat().st_size / 1e6:.0f} MB on disk"}))


def measure_child(sources: str) -> None:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    path = next(Path(sources).rglob("*.csv"))
    head = path.open(encoding="utf-8").readline().rstrip("\r\n").split(";")
    table = pcsv.read_csv(path, parse_options=pcsv.ParseOptions(delimiter=";", invalid_row_handler=lambda r: "skip"),
                          convert_options=pcsv.ConvertOptions(column_types={h: pa.string() for h in head}))
    print(json.dumps({"in_memory_mb": table.nbytes / 1e6}))


if __name__ == "__main__":
    main()
