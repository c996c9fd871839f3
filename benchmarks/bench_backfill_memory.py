"""Figure 2: peak RSS of a placements backfill (several months, one worker process), 1M vs 10M rows.

    .venv/bin/python benchmarks/bench_backfill_memory.py [--total 10000000] [--small 1000000] [--months 3]

A backfill worker processes month after month through the pipeline steps (extract → validate →
share per party → publish) in ONE process, as ``bench_pipeline.run_months`` does. Two backfills
with the same number of months are measured, each in its own child process: ``--small`` rows in
total and ``--total`` rows in total (e.g. 3 months of ~0.33M vs 3 months of ~3.3M). The peak RSS
is the child's own high-water mark (``wait4``); goals: ≤ 1.5 GB at 10M, and peak(10M)/peak(1M) ≤ 1.5
(memory must not grow because a month is larger).

For comparison, the same months also go through the streaming extractor alone (``iter_extract``,
batches counted and dropped): the floor a batch-streaming pipeline could reach.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_pipeline  # noqa: E402
import common  # noqa: E402

GB = 1024.0
FIRST_MONTH = "2025-07"


def split(total: int, months: int) -> list[int]:
    base = total // months
    return [base + (1 if i < total - base * months else 0) for i in range(months)]


def child_stream(argv: list[str]) -> None:
    """The streaming floor: iter_extract over every month, batches dropped after counting."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--months", required=True)
    a = ap.parse_args(argv)
    from sinergi.extract import SourceConfig, iter_extract

    cfg = SourceConfig.from_env()
    t0 = time.perf_counter()
    rows = 0
    for month in a.months.split(","):
        batches, _ = iter_extract("placements", month, cfg, landing=None, run_id=f"stream-{month}")
        for b in batches:
            rows += b.num_rows
    common.emit({"rows": rows, "seconds": round(time.perf_counter() - t0, 2)})


def run_backfill(total: int, months: int, work: Path, label: str) -> dict:
    """Generate ``months`` months with ``total`` rows and run the backfill child (inputs are kept)."""
    exports = work / f"sources-{label}"
    month_names = common.months_from(FIRST_MONTH, months)
    sizes = split(total, months)
    t0 = time.perf_counter()
    csvs = [common.generate_placements(exports, m, n, seed=42 + i) for i, (m, n) in enumerate(zip(month_names, sizes, strict=True))]
    out: dict = {"rows": total, "months": dict(zip(month_names, sizes, strict=True)), "generate_s": round(time.perf_counter() - t0, 1),
                 "csv_mb": round(sum(c.stat().st_size for c in csvs) / 1e6, 1), "exports": str(exports)}
    home = work / f"home-{label}"
    me = str(Path(bench_pipeline.__file__).resolve())
    with common.Store(home) as store:
        for month, csv in zip(month_names, csvs, strict=True):
            bench_pipeline.seed_references(store.pipeline_store(), csv, month)
        env = common.child_env(home, exports)
        res = common.run_child([me, "--child", "pipeline", "--months", ",".join(month_names), "--run-prefix", "backfill"],
                               env=env, log=work / "logs" / f"backfill-{label}.log")
        out["pipeline_log"] = str(res.log)
        if res.killed_for_memory:
            out["killed"] = f"killed above the {common.DEFAULT_RSS_CEILING_MB} MB ceiling"
        elif res.returncode or "pipeline_s" not in res.data:
            raise common.NotAvailable(f"backfill {label} failed (exit {res.returncode}); log {res.log}:\n{res.tail(1500)}")
        out["peak_rss_mb"] = round(res.peak_rss_mb, 1)
        out["sampled_peak_rss_mb"] = round(res.sampled_peak_rss_mb, 1)
        out["wall_s"] = round(res.wall_s, 1)
        out["cpu_s"] = round(res.cpu_s, 1)
        out["per_month"] = res.data.get("months", [])
        out["pipeline_s"] = res.data.get("pipeline_s")
        out["stages"] = res.data.get("stages", {})
    return out


def stream_floor(d: dict, work: Path, label: str) -> None:
    """The streaming extractor alone over the same months (no store needed); then drop the inputs."""
    exports = Path(d["exports"])
    s = common.run_child([str(Path(__file__).resolve()), "--child", "stream", "--months", ",".join(d["months"])],
                         env=common.child_env(work / f"home-{label}", exports), log=work / "logs" / f"stream-{label}.log")
    d["stream_peak_rss_mb"] = round(s.peak_rss_mb, 1) if s.returncode == 0 else None
    d["stream_s"] = s.data.get("seconds")


def run(total: int, small: int, months: int, work: Path, stream: bool = True) -> dict:
    res: dict = {}
    progress = work / "backfill-progress.json"  # read it if the run is stopped half-way
    for label, rows in (("small", small), ("large", total)):
        res[label] = run_backfill(rows, months, work, label)
        progress.write_text(json.dumps(res, indent=1, default=str))
    if stream:
        for label in ("small", "large"):
            stream_floor(res[label], work, label)
            progress.write_text(json.dumps(res, indent=1, default=str))
    for label in ("small", "large"):  # the 10M inputs are several GB
        shutil.rmtree(res[label]["exports"], ignore_errors=True)
    lo, hi = res["small"].get("peak_rss_mb"), res["large"].get("peak_rss_mb")
    res["ratio"] = round(hi / lo, 2) if lo and hi and "killed" not in res["large"] else None
    return res


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        {"stream": child_stream}[sys.argv[2]](sys.argv[3:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--total", type=int, default=10_000_000)
    ap.add_argument("--small", type=int, default=1_000_000)
    ap.add_argument("--months", type=int, default=3)
    ap.add_argument("--size", choices=["small", "large"], help="only one of the two backfills (run them apart)")
    ap.add_argument("--json-out", help="also write the result here")
    a = ap.parse_args()
    with common.workdir("sinergi-bench-backfill-") as tmp:
        if a.size:
            out = {a.size: run_backfill(a.small if a.size == "small" else a.total, a.months, Path(tmp), a.size)}
            shutil.rmtree(out[a.size].pop("exports"), ignore_errors=True)
        else:
            out = run(a.total, a.small, a.months, Path(tmp))
        if a.json_out:
            Path(a.json_out).write_text(json.dumps(out, indent=1, default=str))
        for k in ("small", "large"):
            if k in out:
                out[k].pop("stages", None)
        print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
