"""Figures 1 and 4: bare pyarrow baseline vs the full pipeline on one placements CSV, time per stage.

    .venv/bin/python benchmarks/bench_pipeline.py [--rows 1000000] [--profile]

The CSV comes from the simulator's vectorised generator (``write_placements_csv``, 3 % defects).
Both runs are child processes against a real ``weed mini`` started here:

- baseline: ``pyarrow.csv.read_csv`` → ``pyarrow.dataset.write_dataset`` (hive ``year=/month=``,
  zstd), once to local disk and once to the store through pyarrow's S3FileSystem;
- pipeline: the DAG's steps in one process (``sinergi.pipeline``): extract (landing + staging
  Parquet) → validate (GX, quarantine, Data Docs) → share per receiving party (tokens,
  k-anonymity, leak guard) → publish per party (manifest, catalog). Heavy modules are imported
  before the clock starts (their one-off cost is reported separately as ``imports_s``): the goal
  is about the data path, which is what grows with volume.

Stage times are the pipeline's own stage marks (``sinergi.timing``: the steps, staging, landing,
GX, tokens, …), recorded with ``timing.recording()``; the table prints whatever stages were
recorded. ``--profile`` also writes a cProfile of the pipeline child.

The pipeline child (``run_months``) is shared with bench_backfill_memory.py: a backfill worker is
the same loop over several months.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

#: The steps (the contract with the DAG layer); their inner stages are printed under them.
STEPS = ("extract", "validate", "share", "publish")


def warm_imports() -> float:
    """Import what the steps import lazily; returns the seconds it took (the one-off cost)."""
    t0 = time.perf_counter()
    import boto3  # noqa: F401
    import duckdb  # noqa: F401
    import pyarrow.csv  # noqa: F401
    import pyarrow.dataset  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import sinergi.disclosure  # noqa: F401
    import sinergi.extract  # noqa: F401
    import sinergi.pipeline  # noqa: F401
    import sinergi.policy  # noqa: F401
    import sinergi.publish  # noqa: F401
    import sinergi.validate  # noqa: F401
    from sinergi.validate import gx

    gx.load()
    return time.perf_counter() - t0


def run_months(months: list[str], profile: Path | None = None, run_prefix: str = "bench") -> dict:
    """The backfill worker: every month through every step, in this process. Returns timings/RSS."""
    common.quiet_logs()
    imports_s = warm_imports()
    from sinergi import pipeline, timing

    ctx = pipeline.RunContext.from_env()
    _ = ctx.policy, ctx.keyring  # load once, outside the clock (a worker has them cached as well)
    prof = None
    if profile is not None:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    per_month = []
    t_all, cpu_all = time.perf_counter(), time.process_time()
    with timing.recording() as recorder:
        _months(pipeline, ctx, months, run_prefix, per_month)
    total, cpu = time.perf_counter() - t_all, time.process_time() - cpu_all
    if prof is not None:
        import pstats

        prof.disable()
        prof.dump_stats(str(profile))
        pstats.Stats(str(profile)).sort_stats("cumulative").print_stats(40)
    return {
        "months": per_month, "pipeline_s": round(total, 3), "pipeline_cpu_s": round(cpu, 3), "imports_s": round(imports_s, 3),
        "stages": {k: round(v, 3) for k, v in recorder.seconds.items()}, "calls": dict(recorder.calls),
    }


def _months(pipeline, ctx, months: list[str], run_prefix: str, per_month: list[dict]) -> None:
    for month in months:
        t0 = time.perf_counter()
        run_id = f"{run_prefix}-{month}"
        peaks = {}  # the cumulative high-water mark after each step shows which step set it

        def peak(step: str, peaks: dict = peaks) -> None:
            peaks[step] = round(common.own_peak_rss_kb() / 1024, 1)

        ref = pipeline.extract_step("placements", month, run_id, ctx)
        peak("extract")
        ref = pipeline.validate_step(ref, ctx)
        peak("validate")
        published = {}
        for party in pipeline.recipients("placements", ctx):
            shared = pipeline.share_step(ref, party, ctx)
            peak(f"share {party}")
            published[party] = pipeline.publish_step(shared, ctx).get("rows")
            peak(f"publish {party}")
        per_month.append({
            "month": month, "seconds": round(time.perf_counter() - t0, 3), "rss_after_mb": round(common.rss_mb(), 1),
            "peak_rss_so_far_mb": round(common.own_peak_rss_kb() / 1024, 1),
            "peak_after_step_mb": peaks, "extracted": ref["counts"]["extracted"], "valid": ref["counts"]["valid"],
            "quarantined": ref["counts"]["quarantined"], "published": published,
        })
        print(f"month {month}: {per_month[-1]}", flush=True)


def child_pipeline(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--months", required=True)
    ap.add_argument("--profile")
    ap.add_argument("--run-prefix", default="bench")
    a = ap.parse_args(argv)
    common.emit(run_months(a.months.split(","), Path(a.profile) if a.profile else None, a.run_prefix))


def child_baseline(argv: list[str]) -> None:
    """Bare pyarrow: read the CSV, write hive-partitioned zstd Parquet (local dir or s3://bucket/prefix)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("dest")
    ap.add_argument("--month", default=common.MONTH)
    a = ap.parse_args(argv)
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.dataset as pads
    import pyarrow.fs as pafs

    fs, base = None, a.dest
    if a.dest.startswith("s3://"):
        from sinergi.settings import Settings

        s3 = Settings().pipeline_s3()
        fs = pafs.S3FileSystem(access_key=s3.access_key, secret_key=s3.secret_key, endpoint_override=s3.endpoint,
                               scheme="http", region=s3.region)
        base = a.dest.removeprefix("s3://")
    t0, cpu0 = time.perf_counter(), time.process_time()
    table = pacsv.read_csv(a.csv, parse_options=pacsv.ParseOptions(delimiter=";"))
    t_read = time.perf_counter() - t0
    y, m = a.month.split("-")
    table = table.append_column("year", pa.array([y] * table.num_rows, pa.string()).dictionary_encode())
    table = table.append_column("month", pa.array([m] * table.num_rows, pa.string()).dictionary_encode())
    opts = pads.ParquetFileFormat().make_write_options(compression="zstd")
    pads.write_dataset(table, base, format="parquet", filesystem=fs, file_options=opts,
                       partitioning=pads.partitioning(pa.schema([("year", pa.string()), ("month", pa.string())]),
                                                      flavor="hive"),
                       existing_data_behavior="overwrite_or_ignore")
    total = time.perf_counter() - t0
    common.emit({"rows": table.num_rows, "read_s": round(t_read, 3), "write_s": round(total - t_read, 3),
                 "total_s": round(total, 3), "cpu_s": round(time.process_time() - cpu0, 3)})


# -- parent ----------------------------------------------------------------------------------------
def seed_references(store, csv: Path, month: str) -> None:
    """The reference datasets (P3MI register, job orders) 'validated' for the month: every id the file
    uses, so the reference rules pass as they would after the national DAG's p3mi/job_orders groups."""
    import pyarrow.csv as pacsv

    from sinergi import registry
    from sinergi.pipeline import ledger

    ds = registry.get("placements")
    want = {ds.column(col).headers[0]: ref for col, ref in ds.references.items()}
    t = pacsv.read_csv(csv, parse_options=pacsv.ParseOptions(delimiter=";"),
                       convert_options=pacsv.ConvertOptions(include_columns=list(want)))
    for header, ref in want.items():
        ids = sorted(set(t.column(header).drop_null().cast("string").to_pylist()))
        ledger.record_ids(store, ref, month, "bench-seed", ids)


def run(rows: int, work: Path, profile: bool = False) -> dict:
    """Generate, start a store, run baseline and pipeline children; returns figures 1 and 4."""
    exports = work / "sources"
    t0 = time.perf_counter()
    csv = common.generate_placements(exports, common.MONTH, rows)
    gen_s = time.perf_counter() - t0
    out: dict = {"rows": rows, "generate_s": round(gen_s, 2), "csv_mb": round(csv.stat().st_size / 1e6, 1)}
    home = work / "home"
    with common.Store(home) as store:
        seed_references(store.pipeline_store(), csv, common.MONTH)
        env = common.child_env(home, exports)
        me = str(Path(__file__).resolve())
        for name, dest in (("baseline_local", str(work / "baseline")), ("baseline_store", "s3://sinergi-staging/_bench/baseline")):
            res = common.run_child([me, "--child", "baseline", str(csv), dest], env=env, log=work / "logs" / f"{name}.log")
            if res.returncode:
                raise common.NotAvailable(f"{name} failed (exit {res.returncode}): {res.tail(800)}")
            out[name] = {**res.data, "peak_rss_mb": round(res.peak_rss_mb, 1)}
        args = [me, "--child", "pipeline", "--months", common.MONTH]
        res = common.run_child(args, env=env, log=work / "logs" / "pipeline.log")
        if res.returncode or "pipeline_s" not in res.data:
            raise common.NotAvailable(f"pipeline failed (exit {res.returncode}); log {res.log}:\n{res.tail(1500)}")
        out["pipeline"] = {**res.data, "peak_rss_mb": round(res.peak_rss_mb, 1), "child_wall_s": round(res.wall_s, 2)}
        out["pipeline_log"] = str(res.log)
        if profile:  # a separate run: cProfile's overhead must not leak into the figures
            prof = common.run_child([*args, "--run-prefix", "profile", "--profile", str(work / "pipeline.prof")], env=env,
                                    log=work / "logs" / "pipeline-profile.log")
            out["profile_log"] = str(prof.log) if prof.returncode == 0 else f"profiled run failed (exit {prof.returncode})"
    base = out["baseline_store"]["total_s"]
    out["ratio"] = round(out["pipeline"]["pipeline_s"] / base, 2)
    out["ratio_vs_local"] = round(out["pipeline"]["pipeline_s"] / out["baseline_local"]["total_s"], 2)
    out["ratio_cpu"] = round(out["pipeline"]["pipeline_cpu_s"] / out["baseline_store"]["cpu_s"], 2)
    return out


def stage_rows(stages: dict[str, float], total: float) -> list[list[object]]:
    """Figure 4 as rows: each step, then its measured parts and the unattributed rest."""
    rows: list[list[object]] = []
    for step in STEPS:
        t = stages.get(step)
        if t is None:
            continue
        rows.append([step, f"{t:.2f} s", f"{100 * t / total:.0f} %"])
        inner = sorted(((k.split("/", 1)[1], v) for k, v in stages.items() if k.startswith(step + "/")),
                       key=lambda kv: -kv[1])
        # nested stages (landing and canonicalise run inside extract, GX inside validate), as recorded
        for name, v in inner:
            rows.append([f"  {name}", f"{v:.2f} s", f"{100 * v / total:.0f} %"])
    return rows


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        {"pipeline": child_pipeline, "baseline": child_baseline}[sys.argv[2]](sys.argv[3:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args()
    with common.workdir("sinergi-bench-pipeline-") as tmp:
        out = run(a.rows, Path(tmp), a.profile)
        stages = out["pipeline"].pop("stages")
        print(json.dumps(out, indent=1))
        print(common.text_table(["stage", "time", "share"], stage_rows(stages, out["pipeline"]["pipeline_s"])))


if __name__ == "__main__":
    main()
