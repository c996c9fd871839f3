"""Benchmark: validation time per 1M placements rows vs GX alone on the same suite (goal <= 3x).

    .venv/bin/python benchmarks/bench_validate.py [--rows 1000000] [--source sim|synth] [--repeat 1]

Input: the simulator's ``write_placements_csv`` (1M rows with 3% defects) extracted by
``sinergi.extract`` — or, with ``--source synth`` or when those are unavailable, the in-test canonical
generator (tests/unit/test_validate_synth.py) with 1% hand-injected defects.

Measured on the same Arrow table, after a warm-up run on a small table (GX import and first-use
costs excluded from both sides):
- ``validate``: the full ``sinergi.validate.validate`` — helper columns, ``to_pandas``, the GX run
  (BASIC), Arrow row masks checked against GX counts, quarantine split, reconciliation;
- ``gx_alone``: only ``batch.validate(suite, result_format=BASIC)`` (and BOOLEAN_ONLY) on the
  pandas frame that already holds the helper columns — GX itself, no bookkeeping at all.
Reported per 1M rows, wall and CPU seconds, and the ratio validate / gx_alone. The last stdout line
is a JSON object (for benchmarks/run_all.py-style harnesses).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MONTH = "2025-07"
GOAL = 3.0


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def load_sim(rows: int, tmp: Path):
    from sinergi.extract import SourceConfig, extract
    from sinergi.simulate import write_placements_csv

    y, m = MONTH.split("-")
    path = tmp / "siskop2mi" / MONTH / f"PENEMPATAN_PMI_{y}{m}.csv"
    write_placements_csv(path, rows, month=MONTH, seed=42, defect_rate=0.03)
    cfg = SourceConfig(exports_dir=tmp, disnaker_db_url=f"sqlite:///{tmp / 'disnaker.sqlite'}")
    return extract("placements", MONTH, cfg, run_id="bench").table, "simulator write_placements_csv + extract"


def load_synth(rows: int):
    import numpy as np
    import pyarrow as pa

    sys.path.insert(0, str(ROOT / "tests" / "unit"))
    from test_validate_synth import canonical_table

    t = canonical_table("placements", rows, MONTH, seed=42)
    rng = np.random.default_rng(1)
    bad = rng.choice(rows, size=rows // 100, replace=False)
    nik = t["nik"].to_numpy(zero_copy_only=False).astype(object)
    nik[bad[: len(bad) // 2]] = "1.80101E+15"
    sex = t["sex"].to_numpy(zero_copy_only=False).astype(object)
    sex[bad[len(bad) // 2:]] = "X"
    t = t.set_column(t.schema.get_field_index("nik"), t.schema.field("nik"), pa.array(nik, pa.string()))
    t = t.set_column(t.schema.get_field_index("sex"), t.schema.field("sex"), pa.array(sex, pa.string()))
    return t, "in-test canonical generator (1% defects)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--source", choices=["sim", "synth"], default="sim")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()

    from sinergi.months import Month
    from sinergi.validate import derive, gates, gx, suites, validate

    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmpd:
        (table, source), gen_s, _ = _timed(lambda: load_sim(args.rows, Path(tmpd)) if args.source == "sim" else load_synth(args.rows))
    if args.source == "sim" and table.num_rows == 0:
        table, source = load_synth(args.rows)
    n = table.num_rows
    refs = {"p3mi": set(table["p3mi_id"].drop_null().unique().to_pylist())}
    history = [n, n, n]
    print(f"input: {n:,} placements rows from {source} ({gen_s:.1f} s)", flush=True)

    # warm-up: imports GX, builds caches (excluded from both measurements)
    validate(table.slice(0, 2000), "placements", MONTH, "warm", references=refs, history=[2000] * 3)

    spec = suites.load("placements")
    work = derive.add_helpers(table, spec.derived, "placement_id", month_end=Month.parse(MONTH).last_day)
    params, skip = gates.resolve(spec, MONTH, refs, history)
    df = work.to_pandas()
    del work

    best = {}
    for _ in range(args.repeat):
        res, w, c = _timed(lambda: validate(table, "placements", MONTH, "bench", references=refs, history=history))
        best["validate"] = min(best.get("validate", (w, c)), (w, c))
        # BASIC exactly as validate() asks for it (no sample values), and BOOLEAN_ONLY
        for fmt, rf in (("BASIC", gx.RESULT_FORMAT), ("BOOLEAN_ONLY", {"result_format": "BOOLEAN_ONLY"})):
            _, w, c = _timed(lambda rf=rf: gx.run_gx(spec, df, params, set(skip), run_id="gx", month=MONTH,
                                                    result_format=rf))
            best[fmt] = min(best.get(fmt, (w, c)), (w, c))
    per_m = 1_000_000 / n
    v_w, v_c = best["validate"]
    g_w, g_c = best["BASIC"]
    b_w, b_c = best["BOOLEAN_ONLY"]
    out = {
        "rows": n,
        "source": source,
        "expectations": len(spec.rules) - len(skip),
        "validate_s_per_1m": round(v_w * per_m, 2),
        "validate_cpu_s_per_1m": round(v_c * per_m, 2),
        "gx_alone_basic_s_per_1m": round(g_w * per_m, 2),
        "gx_alone_basic_cpu_s_per_1m": round(g_c * per_m, 2),
        "gx_alone_boolean_only_s_per_1m": round(b_w * per_m, 2),
        "ratio_vs_gx_basic": round(v_w / g_w, 2),
        "ratio_vs_gx_basic_cpu": round(v_c / g_c, 2),
        "gx_alone_boolean_only_cpu_s_per_1m": round(b_c * per_m, 2),
        "ratio_vs_gx_boolean_only": round(v_w / b_w, 2),
        "ratio_vs_gx_boolean_only_cpu": round(v_c / b_c, 2),
        "goal_ratio": GOAL,
        "quarantined": res.counts["quarantined"],
        "by_rule": res.counts["by_rule"],
    }
    verdict = "PASS" if out["ratio_vs_gx_basic"] <= GOAL else "MISS"
    print(f"validate (full, with quarantine bookkeeping): {out['validate_s_per_1m']:.2f} s per 1M rows "
          f"(cpu {out['validate_cpu_s_per_1m']:.2f} s)")
    print(f"GX alone, same suite, same data, BASIC:     {out['gx_alone_basic_s_per_1m']:.2f} s per 1M rows "
          f"(cpu {out['gx_alone_basic_cpu_s_per_1m']:.2f} s); BOOLEAN_ONLY {out['gx_alone_boolean_only_s_per_1m']:.2f} s "
          f"(cpu {out['gx_alone_boolean_only_cpu_s_per_1m']:.2f} s)")
    print(f"ratio validate / GX alone: {out['ratio_vs_gx_basic']:.2f}x wall, {out['ratio_vs_gx_basic_cpu']:.2f}x cpu "
          f"(vs BOOLEAN_ONLY {out['ratio_vs_gx_boolean_only']:.2f}x wall, {out['ratio_vs_gx_boolean_only_cpu']:.2f}x cpu); goal <= {GOAL}x: {verdict}")
    print(f"quarantined {res.counts['quarantined']:,} of {n:,} rows")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
