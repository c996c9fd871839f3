"""The benchmark harness (``make bench``) must not rot: its table logic, its per-process peak-RSS
measurement, and one real ``run_all.py --quick`` run printing all five figures."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))

import common  # noqa: E402
import run_all  # noqa: E402

SIZES = dict(run_all.FULL)
FIGURE_ROWS = ("1", "2a", "2b", "3", "4", "5")


def _result_rows(markdown: str) -> dict[str, list[list[str]]]:
    """Figure number -> its table rows (cells), from the five-figure Markdown table."""
    out: dict[str, list[list[str]]] = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells and cells[0] in FIGURE_ROWS:
            out.setdefault(cells[0], []).append(cells)
    return out


def _fake_results(ratio_pipeline_s: float, large_rss: float, month_s: float, parse_s: float) -> dict:
    stages = {"extract": 3.0, "extract/landing": 1.0, "validate": 5.0, "validate/GX (incl. Data Docs)": 4.0,
              "share": 1.0, "share/tokens": 0.4, "share/k-anonymity": 0.2, "publish": 1.0, "publish/encode Parquet": 0.5}
    return {
        "parse": {"files": [{"file": "a.py", "cold_s": parse_s, "warm_s": 0.05, "tasks": 30},
                            {"file": "b.py", "error": "ImportError: boom"}]},
        "pipeline": {
            "baseline_store": {"total_s": 2.0, "read_s": 1.0, "write_s": 1.0, "peak_rss_mb": 900},
            "baseline_local": {"total_s": 1.5, "read_s": 0.8, "write_s": 0.7, "peak_rss_mb": 900},
            "pipeline": {"pipeline_s": ratio_pipeline_s, "imports_s": 5.0, "peak_rss_mb": 3000, "stages": stages,
                         "months": [{"extracted": 10, "valid": 9, "published": {"lampung": 3}}]},
            "ratio": round(ratio_pipeline_s / 2.0, 2), "ratio_vs_local": round(ratio_pipeline_s / 1.5, 2),
        },
        "backfill": {
            "small": {"rows": 1_000_000, "months": {"2025-07": 500_000, "2025-08": 500_000}, "peak_rss_mb": 1000.0,
                      "per_month": [{"month": "2025-07", "extracted": 500_000, "rss_after_mb": 900}], "pipeline_s": 10.0, "stream_peak_rss_mb": 200},
            "large": {"rows": 10_000_000, "months": {"2025-07": 5_000_000, "2025-08": 5_000_000}, "peak_rss_mb": large_rss,
                      "per_month": [], "pipeline_s": 100.0, "stream_peak_rss_mb": 210},
            "ratio": round(large_rss / 1000.0, 2),
        },
        "month": {"scale": "national", "rows_total": 100_000, "rows": {"placements": 25_000}, "migrate_s": 4.0,
                  "month_s": month_s, "failures": [], "airflow_peak_rss_mb": 700,
                  "dags": {"sinergi_national_monthly": {"seconds": month_s / 2, "state": "success"},
                           "sinergi_provincial_monthly": {"seconds": month_s / 2, "state": "success"}}},
    }


def test_verdicts_follow_the_goals():
    rows, _ = run_all.summarise(_fake_results(6.0, 1200.0, 50.0, 0.3), SIZES)
    by = {r[0]: r for r in rows}
    assert by["1"][-1] == "PASS"  # 6 s / 2 s = 3x <= 4x
    assert by["2a"][-1] == "PASS" and by["2b"][-1] == "PASS"  # 1200 MB, 1.2
    assert by["3"][-1] == "PASS" and by["4"][-1] == "info"
    rows, _ = run_all.summarise(_fake_results(10.0, 3000.0, 61.0, 0.7), SIZES)
    by = {r[0]: r for r in rows}
    assert by["1"][-1] == "MISS" and "5.0×" in by["1"][2]
    assert by["2a"][-1] == "MISS" and by["2b"][-1] == "MISS"  # 3000 MB > 1536, 3.0 > 1.5
    assert by["3"][-1] == "MISS"
    fives = [r for r in rows if r[0] == "5"]
    assert [r[-1] for r in fives] == ["MISS", "n/a"]
    assert "not available: ImportError: boom" in fives[1][2]


def test_every_figure_degrades_to_not_available():
    res = {k: {"error": f"{k} module missing"} for k in ("parse", "pipeline", "backfill", "month")}
    text = run_all.render(res, SIZES, False, common.machine(), "now", 1.0)
    rows = _result_rows(text)
    assert sorted(rows) == sorted(FIGURE_ROWS)
    for fig, cells in rows.items():
        assert all("not available: " in c[2] for c in cells), (fig, cells)


def test_child_peak_rss_is_the_childs_own(tmp_path):
    """The child's own high-water mark: a 300 MB allocation shows, the (large, forking) parent does not."""
    code = "import sys; sys.path.insert(0, {!r}); import common; b = bytearray({} * 1024 * 1024); common.emit({{'n': len(b)}})"
    big = common.run_child(["-c", code.format(str(BENCH), 300)], log=tmp_path / "big.log")
    small = common.run_child(["-c", code.format(str(BENCH), 1)], log=tmp_path / "small.log")
    assert big.returncode == 0 and big.data["n"] == 300 * 1024 * 1024
    assert big.peak_rss_mb >= 300 > small.peak_rss_mb
    assert big.sampled_peak_rss_mb <= big.peak_rss_mb + 5  # polling can miss the peak, never exceed it


def test_child_above_the_ceiling_is_killed(tmp_path):
    code = "import time; b = bytearray(400 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); time.sleep(30)"
    res = common.run_child(["-c", code], log=tmp_path / "hog.log", rss_ceiling_mb=200)
    assert res.killed_for_memory and res.returncode != 0 and res.wall_s < 25


@pytest.mark.slow
def test_quick_run_prints_all_five_figures(tmp_path):
    """The real harness end to end on tiny inputs: simulator, weed, pipeline, Airflow, parse."""
    env = dict(__import__("os").environ, SINERGI_HOME=str(tmp_path / "home"), SINERGI_BENCH_TMP=str(tmp_path))
    proc = subprocess.run([sys.executable, str(BENCH / "run_all.py"), "--quick", "--out", str(tmp_path / "out")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    md = (tmp_path / "out" / "results.md").read_text()
    assert md in proc.stdout  # the same table on stdout
    rows = _result_rows(md)
    assert sorted(rows) == sorted(FIGURE_ROWS)
    missing = {fig: c[2] for fig, cells in rows.items() for c in cells if "not available" in c[2]}
    assert not missing, missing
    for fig in ("1", "2a", "2b", "3", "5"):
        assert all(c[-1] in ("PASS", "MISS") for c in rows[fig]), rows[fig]
    assert re.search(r"\d+\.\d×", rows["1"][0][2])
    results = json.loads((tmp_path / "out" / "results.json").read_text())["results"]
    assert results["backfill"]["large"]["peak_rss_mb"] > 0
    assert "quick" in md
