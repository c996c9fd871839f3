"""``make bench``: the five performance figures of issue 10, with goals and PASS/MISS, in one run.

    .venv/bin/python benchmarks/run_all.py [--quick] [--only 1,2,3,4,5] [--profile]

1. pipeline vs bare pyarrow on a 1M-row placements CSV (goal ≤ 4×)            bench_pipeline.py
2. peak RSS of a 10M-row placements backfill, and 10M/1M (≤ 1.5 GB, ≤ 1.5)     bench_backfill_memory.py
3. a realistic month (all datasets) through ``airflow dags test`` (≤ 60 s)    bench_month_airflow.py
4. time per stage (extract, validate, tokens, k-anonymity, write)             bench_pipeline.py
5. DAG file parse time (≤ 0.5 s each)                                         bench_month_airflow.py

Inputs come from the simulator; every measured thing runs in its own child process (peak RSS of
that process only) against a ``weed mini`` started in a temp dir and stopped afterwards. A figure
that cannot be measured prints ``not available: <reason>`` and the others still run. The Markdown
table goes to stdout and to ``<SINERGI_HOME or .local>/bench/results.md`` (+ ``results.json``).
``--quick`` shrinks every input (smoke test; verdicts are then indicative only).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

GOAL_RATIO = 4.0
GOAL_RSS_MB = 1.5 * 1024
GOAL_RSS_RATIO = 1.5
GOAL_MONTH_S = 60.0
GOAL_PARSE_S = 0.5

FULL = {"rows": 1_000_000, "backfill_small": 1_000_000, "backfill_total": 10_000_000, "months": 3, "scale": "national"}
QUICK = {"rows": 20_000, "backfill_small": 10_000, "backfill_total": 40_000, "months": 2, "scale": "demo", "quick": True}


def _reason(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text if isinstance(e, common.NotAvailable) else f"{type(e).__name__}: {text}"


def measure(figures: set[int], sizes: dict, work: Path, profile: bool, save=None) -> dict:
    """Run the benchmarks; each result is a dict or {"error": reason}. ``save(res)`` after each."""
    res: dict = {}

    def attempt(key: str, fn) -> None:
        t0 = time.perf_counter()
        print(f"[bench] {key} ...", flush=True)
        try:
            res[key] = fn()
        except Exception as e:  # one broken module must not hide the other figures
            res[key] = {"error": _reason(e)}
            (work / "logs").mkdir(parents=True, exist_ok=True)
            (work / "logs" / f"{key}.traceback").write_text(traceback.format_exc())
        print(f"[bench] {key}: {time.perf_counter() - t0:.0f} s{' — ' + res[key]['error'][:300] if 'error' in res[key] else ''}",
              flush=True)
        if save is not None:
            save(res)

    if 5 in figures:
        import bench_month_airflow

        attempt("parse", lambda: {"files": bench_month_airflow.parse_times(work / "parse", repeat=1 if sizes.get("quick") else 3)})
    if figures & {1, 4}:
        import bench_pipeline

        attempt("pipeline", lambda: bench_pipeline.run(sizes["rows"], _mk(work / "pipeline"), profile=profile))
    if 2 in figures:
        import bench_backfill_memory

        attempt("backfill", lambda: bench_backfill_memory.run(sizes["backfill_total"], sizes["backfill_small"],
                                                              sizes["months"], _mk(work / "backfill")))
    if 3 in figures:
        import bench_month_airflow

        attempt("month", lambda: bench_month_airflow.run_month(_mk(work / "month"), sizes["scale"]))
    return res


def _mk(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def _rows_label(n: int) -> str:
    return f"{n / 1e6:g}M" if n >= 1_000_000 else f"{n / 1e3:g}k"


def summarise(res: dict, sizes: dict) -> tuple[list[list[object]], list[str]]:
    """The five-figure table (rows) and detail sections (Markdown strings)."""
    rows: list[list[object]] = []
    details: list[str] = []
    na = "not available: "

    # 1 + 4
    p = res.get("pipeline")
    label = _rows_label(sizes["rows"])
    if p is None:
        rows.append(["1", f"pipeline / pyarrow baseline ({label} rows)", "not measured (--only)", f"≤ {GOAL_RATIO:g}×", "n/a"])
    elif "error" in p:
        rows.append(["1", f"pipeline / pyarrow baseline ({label} rows)", na + p["error"], f"≤ {GOAL_RATIO:g}×", "n/a"])
    else:
        pl, bs, bl = p["pipeline"], p["baseline_store"], p["baseline_local"]
        rows.append(["1", f"pipeline / pyarrow baseline ({label} rows)",
                     f"{p['ratio']:.1f}× (pipeline {pl['pipeline_s']:.1f} s vs baseline {bs['total_s']:.2f} s; "
                     f"vs local-disk baseline {p['ratio_vs_local']:.1f}×)", f"≤ {GOAL_RATIO:g}×",
                     common.verdict(p["ratio"] <= GOAL_RATIO)])
        details.append(common.markdown_table(
            ["run (figure 1)", "wall", "detail", "peak RSS"],
            [["pyarrow baseline → store (S3)", common.fmt_s(bs["total_s"]), f"read {bs['read_s']:.2f} s + write {bs['write_s']:.2f} s", common.fmt_mb(bs["peak_rss_mb"])],
             ["pyarrow baseline → local disk", common.fmt_s(bl["total_s"]), f"read {bl['read_s']:.2f} s + write {bl['write_s']:.2f} s", common.fmt_mb(bl["peak_rss_mb"])],
             ["pipeline (warm imports)", common.fmt_s(pl["pipeline_s"]) + f" (CPU {pl.get('pipeline_cpu_s', 0):.1f} s)",
              f"{pl['months'][0]['extracted']:,} extracted, {pl['months'][0]['valid']:,} valid, "
              f"published {pl['months'][0]['published']}", common.fmt_mb(pl["peak_rss_mb"])],
             ["pipeline one-off imports (GX, DuckDB, boto3)", common.fmt_s(pl["imports_s"]), "not in the ratio", ""]]))
        if p.get("ratio_cpu"):
            details.append(f"CPU-time ratio (less sensitive to a busy machine): pipeline {pl.get('pipeline_cpu_s', 0):.1f} s / "
                           f"baseline {bs.get('cpu_s', 0):.1f} s = {p['ratio_cpu']:.1f}× (pyarrow's CSV reader uses every core).")
    if p is None:
        rows.append(["4", "time per stage", "not measured (--only)", "—", "info"])
    elif "error" in p:
        rows.append(["4", "time per stage", na + p["error"], "—", "n/a"])
    else:
        import bench_pipeline

        stages, total = p["pipeline"]["stages"], p["pipeline"]["pipeline_s"]
        top = sorted(((k, v) for k, v in stages.items() if "/" in k), key=lambda kv: -kv[1])[:3]
        main = {k: stages.get(k, 0.0) for k in ("extract", "validate", "share", "publish")}
        tokens = sum(v for k, v in stages.items() if k.endswith("/tokens"))
        kanon = sum(v for k, v in stages.items() if k.endswith("/k-anonymity"))
        rows.append(["4", "time per stage",
                     f"extract {main['extract']:.1f} s, validate {main['validate']:.1f} s, tokens {tokens:.2f} s, "
                     f"k-anonymity {kanon:.2f} s, write (publish) {main['publish']:.1f} s; share total {main['share']:.1f} s. "
                     "Largest parts: " + ", ".join(f"{k} {v:.1f} s ({100 * v / total:.0f} %)" for k, v in top),
                     "—", "info"])
        details.append(common.markdown_table(["stage (figure 4)", "time", "share of pipeline"],
                                             bench_pipeline.stage_rows(stages, total)))

    # 2
    b = res.get("backfill")
    small, large = _rows_label(sizes["backfill_small"]), _rows_label(sizes["backfill_total"])
    rss_goal = f"≤ {GOAL_RSS_MB:,.0f} MB"
    if b is None or "error" in b:
        why = "not measured (--only)" if b is None else na + b["error"]
        rows.append(["2a", f"peak RSS, {large}-row backfill", why, rss_goal, "n/a"])
        rows.append(["2b", f"peak RSS {large} / {small}", why, f"≤ {GOAL_RSS_RATIO:g}", "n/a"])
    else:
        lg, sm = b["large"], b["small"]
        months = len(lg["months"])
        if "killed" in lg:
            rows.append(["2a", f"peak RSS, {large}-row backfill ({months} months)", f"> {lg['peak_rss_mb']:,.0f} MB ({lg['killed']})",
                         rss_goal, "MISS"])
        else:
            rows.append(["2a", f"peak RSS, {large}-row backfill ({months} months, one process)", common.fmt_mb(lg["peak_rss_mb"]),
                         rss_goal, common.verdict(lg["peak_rss_mb"] <= GOAL_RSS_MB)])
        ratio = b.get("ratio")
        rows.append(["2b", f"peak RSS {large} / {small} (same {months} months)",
                     f"{ratio:.2f} ({common.fmt_mb(lg['peak_rss_mb'])} / {common.fmt_mb(sm['peak_rss_mb'])})" if ratio else "—",
                     f"≤ {GOAL_RSS_RATIO:g}", common.verdict(None if ratio is None else ratio <= GOAL_RSS_RATIO)])
        drows = []

        def peak_step(d: dict) -> str:
            """The step after which the cumulative peak first reached its final value."""
            final, prev = d.get("peak_rss_mb") or 0, 0.0
            for m in d.get("per_month", []):
                for step, v in (m.get("peak_after_step_mb") or {}).items():
                    if v >= final - 1 and prev < final - 1:
                        return f"{m['month']} {step} (+{v - prev:,.0f} MB)"
                    prev = v
            return "—"

        for d in (sm, lg):
            sizes_txt = " + ".join(_rows_label(n) for n in d["months"].values())
            drows.append([f"{_rows_label(d['rows'])} ({sizes_txt})", common.fmt_mb(d.get("peak_rss_mb")),
                          ", ".join(f"{m['month']} ({m['extracted'] / 1e6:.2f}M rows): {m['rss_after_mb']:,.0f} / "
                                    f"{m.get('peak_rss_so_far_mb', 0):,.0f}" for m in d.get("per_month", [])),
                          peak_step(d), common.fmt_s(d.get("pipeline_s")), common.fmt_mb(d.get("stream_peak_rss_mb"))])
        details.append(common.markdown_table(
            ["backfill (figure 2)", "peak RSS", "after each month: RSS / peak so far (MB)", "step that set the peak",
             "pipeline time", "streaming-extract floor (peak RSS)"], drows))

    # 3
    m = res.get("month")
    if m is None or "error" in m:
        why = "not measured (--only)" if m is None else na + m["error"]
        rows.append(["3", f"realistic month through `airflow dags test` ({sizes['scale']} scale)", why, f"≤ {GOAL_MONTH_S:g} s", "n/a"])
    else:
        ok = not m["failures"]
        parts = ", ".join(f"{k.removeprefix('sinergi_')} {v['seconds']:.0f} s{'' if v['state'] == 'success' else ' FAILED'}"
                          for k, v in m["dags"].items())
        rows.append(["3", f"realistic month through `airflow dags test` ({m['scale']} scale, {m['rows_total']:,} source rows)",
                     f"{m['month_s']:.1f} s ({parts}; db migrate {m['migrate_s']:.0f} s not counted)", f"≤ {GOAL_MONTH_S:g} s",
                     common.verdict(ok and m["month_s"] <= GOAL_MONTH_S) if ok else "MISS (a DAG failed)"])
        details.append("Figure 3 source rows: " + ", ".join(f"{k} {v:,}" for k, v in m["rows"].items())
                       + f"; largest Airflow process peak RSS {common.fmt_mb(m.get('airflow_peak_rss_mb'))}"
                       + f", Airflow CPU {m.get('airflow_cpu_s', 0):.0f} s.")
        if m["failures"]:
            first = next((ln for ln in m["failures"][0].splitlines() if "SINERGI FAILURE dataset=" in ln), m["failures"][0][-400:])
            details.append("Figure 3 failure: " + first.split("[sinergi.failures]")[0].strip()[-600:])

    # 5
    pr = res.get("parse")
    if pr is None or "error" in pr:
        why = "not measured (--only)" if pr is None else na + pr["error"]
        rows.append(["5", "DAG file parse time", why, f"≤ {GOAL_PARSE_S:g} s each", "n/a"])
    else:
        for f in pr["files"]:
            if "error" in f:
                rows.append(["5", f"DAG parse `{f['file']}`", na + f["error"], f"≤ {GOAL_PARSE_S:g} s", "n/a"])
            else:
                rows.append(["5", f"DAG parse `{f['file']}` ({f['tasks']} tasks)",
                             f"{f['cold_s']:.2f} s first parse, best of {len(f.get('runs', [1]))} (CPU {f.get('cold_cpu_s', 0):.2f} s; "
                             f"warm re-parse {f['warm_s']:.2f} s)", f"≤ {GOAL_PARSE_S:g} s",
                             common.verdict(f["cold_s"] <= GOAL_PARSE_S)])
    rows.sort(key=lambda r: r[0])  # 1, 2a, 2b, 3, 4, 5 (stable: parse rows keep file order)
    return rows, details


def render(res: dict, sizes: dict, quick: bool, mach: dict, started: str, elapsed: float) -> str:
    rows, details = summarise(res, sizes)
    head = (f"Measured {started} on {mach['cpu']}, {mach['cores']} cores, {mach['ram_gb']} GB RAM, {mach['os']}, "
            f"Python {mach['python']}, pyarrow {mach['pyarrow']}; load average at start {mach['load_avg_at_start']}; "
            f"harness wall {elapsed / 60:.1f} min.")
    if quick:
        head += " **--quick run: inputs shrunk, verdicts indicative only.**"
    parts = ["## Benchmark results (`make bench`)", "", head, "",
             common.markdown_table(["#", "figure", "measured", "goal", "result"], rows)]
    for d in details:
        parts += ["", d]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny inputs (smoke test)")
    ap.add_argument("--only", default="1,2,3,4,5", help="comma-separated figure numbers")
    ap.add_argument("--rows", type=int, help="rows for figures 1 and 4")
    ap.add_argument("--backfill-total", type=int)
    ap.add_argument("--backfill-small", type=int)
    ap.add_argument("--months", type=int, help="months in each backfill")
    ap.add_argument("--scale", help="simulator scale of the Airflow month (figure 3)")
    ap.add_argument("--profile", action="store_true", help="also cProfile the pipeline child (figure 1)")
    ap.add_argument("--out", help="results directory (default <SINERGI_HOME or .local>/bench)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (inputs, logs, store)")
    ap.add_argument("--render-from", nargs="+", metavar="RESULTS_JSON",
                    help="measure nothing: merge these results.json files (later ones win per figure) into one table")
    a = ap.parse_args(argv)
    if a.render_from:
        return render_from([Path(p) for p in a.render_from], Path(a.out) if a.out else None)
    sizes = dict(QUICK if a.quick else FULL)
    for k in ("rows", "backfill_total", "backfill_small", "months", "scale"):
        if getattr(a, k) is not None:
            sizes[k] = getattr(a, k)
    figures = {int(x) for x in a.only.split(",") if x.strip()}
    from sinergi import settings

    out_dir = Path(a.out) if a.out else settings.home() / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    mach = common.machine()
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.perf_counter()
    tmp = common.workdir("sinergi-bench-")
    work = Path(tmp.name)
    print(f"[bench] work dir {work}; sizes {sizes}", flush=True)

    def save(partial: dict) -> None:  # a killed run still leaves the figures measured so far
        (out_dir / "results.json").write_text(json.dumps(
            {"sizes": sizes, "machine": mach, "started": started, "quick": a.quick, "partial": True, "results": partial},
            indent=1, default=str), encoding="utf-8")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop the stores, kill the child
    try:
        res = measure(figures, sizes, work, a.profile, save)
    finally:
        if a.keep:
            print(f"[bench] kept {work}")
            tmp._finalizer.detach()  # type: ignore[attr-defined]
        else:
            _keep_logs(work, out_dir)
            tmp.cleanup()
    text = render(res, sizes, a.quick, mach, started, time.perf_counter() - t0)
    (out_dir / "results.md").write_text(text, encoding="utf-8")
    (out_dir / "results.json").write_text(json.dumps({"sizes": sizes, "machine": mach, "started": started, "quick": a.quick,
                                                      "elapsed_s": round(time.perf_counter() - t0), "results": res},
                                                     indent=1, default=str), encoding="utf-8")
    print()
    print(text)
    print(f"[bench] written {out_dir / 'results.md'} and results.json; logs in {out_dir / 'logs'}")
    return 0


def render_from(paths: list[Path], out: Path | None) -> int:
    """One table from several runs (e.g. figure 3 measured in a separate run)."""
    from sinergi import settings

    docs = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    res: dict = {}
    sizes: dict = {}
    for d in docs:
        res.update(d["results"])
        sizes.update(d["sizes"])
    first = docs[0]
    elapsed = sum(d.get("elapsed_s", 0) for d in docs)
    text = render(res, sizes, any(d.get("quick") for d in docs), first["machine"], first["started"], elapsed)
    out_dir = out or settings.home() / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.md").write_text(text, encoding="utf-8")
    (out_dir / "results.json").write_text(json.dumps({"sizes": sizes, "machine": first["machine"], "started": first["started"],
                                                      "merged_from": [str(p) for p in paths], "results": res},
                                                     indent=1, default=str), encoding="utf-8")
    print(text)
    return 0


def _keep_logs(work: Path, out_dir: Path) -> None:
    """Child logs (and the cProfile dump) survive the temp dir, for the bottleneck analysis."""
    import shutil

    dest = out_dir / "logs"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for p in work.rglob("*"):
        wanted = p.suffix in (".traceback", ".prof") or (p.suffix == ".log" and p.parent.name == "logs")
        if p.is_file() and wanted and p.stat().st_size < 50e6:
            rel = p.relative_to(work)
            target = dest / "__".join(rel.parts)
            shutil.copyfile(p, target)


if __name__ == "__main__":
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    sys.exit(main())
