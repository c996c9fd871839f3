"""Disclosure risk and information loss of every release, on a simulated month (issue 16).

    .venv/bin/python benchmarks/bench_disclosure.py [--scale lampung] [--scale national] [--month 2025-07]

For each scale it simulates one month (no defects: every row is valid, as after validation),
extracts every dataset and runs the real ``share()`` for every party x dataset of the default
policy. Per release it prints

* risk: persons in the release; the share of persons unique on the quasi-identifiers: every
  knowable column of the registry published with exact dates and no disclosure control (roughly
  the exposure before issue 16), the release's own columns with exact dates, after the policy's
  generalisation (month, age band) and after disclosure control (k over persons, l); k and l achieved;
* information loss: rows suppressed (k / l), and per quasi-identifier the share of published cells
  withheld (blanked) or generalised (age band widened) by disclosure control; the share of
  published date cells coarser than the exact day (policy generalisation plus withheld cells).

Everything is printed as Markdown tables, ready for the README. Registers of organisations are
listed as exempt (no natural person). Synthetic data only, generated here.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from sinergi import registry
from sinergi.disclosure import evaluate
from sinergi.policy import load_policy, release_plan, share
from sinergi.policy.apply import row_mask
from sinergi.tokens import Keyring, link_keys

MASTER = b"benchmark master secret - not a real one"


def simulate_month(scale: str, month: str, out: Path) -> dict[str, pa.Table]:
    import sinergi.extract.core as extract_core
    import sinergi.extract.sources as sources
    import sinergi.simulate.core as simulate_core

    simulate_core.simulate(out, month=month, months=1, scale=scale, seed=42, defect_rate=0.0)
    cfg = sources.SourceConfig(exports_dir=out, disnaker_db_url=f"sqlite:///{out / 'disnaker.sqlite'}")
    return {name: extract_core.extract(name, month, cfg).table for name in registry.names()}


def exact_dates_policy(policy):
    """The same policy with every date published to the day and no disclosure control (k = l = 1):
    what a release with exact dates would expose."""
    bare = policy.model_copy(deep=True)
    for party in bare.parties.values():
        for e in party.datasets.values():
            e.k = e.l = 1
            e.k_steps = []
            for name, spec in list(e.columns.items()):
                if spec.transform == "generalise" and spec.to in ("month", "iso_week", "year"):
                    e.columns[name] = spec.model_copy(update={"transform": "keep", "to": None,
                                                              "justification": "benchmark baseline"})
    return bare


def all_knowable_policy(policy):
    """Every knowable (quasi-identifier) column of the registry published, dates to the day, no disclosure
    control: roughly what the releases exposed before issue 16 (which published all of them, with
    k = 5 counted over rows on sex, age band, kab/kota, kecamatan and education only)."""
    from sinergi.policy.model import ColumnSpec

    bare = exact_dates_policy(policy)
    for party in bare.parties.values():
        for name, e in party.datasets.items():
            for col in registry.get(name).columns:
                spec = e.columns.get(col.name)
                if col.role != "quasi_identifier" or (spec is not None and spec.transform == "generalise"):
                    continue
                e.columns[col.name] = ColumnSpec(transform="keep", justification="benchmark baseline")
    return bare


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def measure(tables: dict[str, pa.Table], policy, keyring) -> list[dict]:
    bare, before = exact_dates_policy(policy), all_knowable_policy(policy)
    rows = []
    for ds, table in tables.items():
        for party in policy.recipients(ds):
            plan = release_plan(policy, ds, party)
            t0 = time.process_time()
            out, rep = share(table, ds, party, policy, keyring)
            cpu = time.process_time() - t0
            d = rep["disclosure"]
            row = {"dataset": ds, "party": party, "rows_source": table.num_rows,
                   "rows_release": rep["rows_in"] - rep["rows_filtered_out"], "rows_out": out.num_rows,
                   "cpu_s": cpu, "d": d, "plan": plan}
            if plan.counted_over == "persons":
                exact, _ = share(table, ds, party, bare, keyring)
                src = table.filter(row_mask(plan.entry.row_filter, table)) if plan.entry.row_filter else table
                persons = link_keys(src.column(plan.person_key), keyring.internal_key("person"), "nik")
                row["unique_exact"] = evaluate(exact, list(plan.quasi_identifiers), persons)["persons_unique"]
                old, _ = share(table, ds, party, before, keyring)
                old_qis = list(release_plan(before, ds, party).quasi_identifiers)
                row["unique_before16"] = evaluate(old, old_qis, persons)["persons_unique"]
            n = max(out.num_rows, 1)
            row["withheld"] = {c: v / n for c, v in d["withheld"].items()}
            row["widened"] = {c: (d["cells_generalised"].get(c, 0) - d["withheld"].get(c, 0)) / n
                              for c in d["cells_generalised"] if d["cells_generalised"].get(c, 0) > d["withheld"].get(c, 0)}
            cells = sum(len(out.column(c)) for c in plan.date_grains)
            coarse = sum(len(out.column(c)) for c, g in plan.date_grains.items() if g != "day")
            coarse += sum(d["withheld"].get(c, 0) for c, g in plan.date_grains.items() if g == "day")
            row["dates_coarsened"] = coarse / cells if cells else None
            rows.append(row)
    return rows


def render(scale: str, month: str, rows: list[dict]) -> str:
    out = [f"### `--scale {scale}` ({month})", "",
           "| dataset | party | rows (source → release → published) | persons | unique: all knowable columns "
           "exact → published columns exact → policy → published | k / l achieved | rows suppressed (k, l) | "
           "dates coarsened | cells withheld by disclosure control (share of published rows) |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        d, plan = r["d"], r["plan"]
        if plan.counted_over is None:
            out.append(f"| {r['dataset']} | {r['party']} | {r['rows_source']} → {r['rows_release']} → {r['rows_out']} "
                       f"| - | exempt: {d['exempt'] or 'no quasi-identifiers'} | - | - | - | - |")
            continue
        withheld = ", ".join(f"{c} {pct(v)}" for c, v in sorted(r["withheld"].items(), key=lambda kv: -kv[1]))
        widened = ", ".join(f"{c} widened {pct(v)}" for c, v in r["widened"].items())
        loss = "; ".join(x for x in (withheld, widened) if x) or "none"
        l_text = d["l_achieved"] if d["l_required"] else "-"
        sup = d["rows_suppressed_by"]
        out.append(
            f"| {r['dataset']} | {r['party']} | {r['rows_source']} → {r['rows_release']} → {r['rows_out']} "
            f"| {d['persons_in']} | {pct(r.get('unique_before16'))} → {pct(r.get('unique_exact'))} → "
            f"{pct(d['persons_unique_before'])} → "
            f"{pct(d['persons_unique_after'])} | {d['k_achieved']} / {l_text} | {d['rows_suppressed']} "
            f"({sup['k_anonymity']}, {sup['l_diversity']}) | {pct(r['dates_coarsened'])} | {loss} |")
    total_in = sum(r["rows_release"] for r in rows if r["plan"].counted_over)
    total_sup = sum(r["d"]["rows_suppressed"] for r in rows if r["plan"].counted_over)
    cpu = sum(r["cpu_s"] for r in rows)
    out += ["", f"Person releases: {total_sup} of {total_in} rows suppressed ({pct(total_sup / max(total_in, 1))}); "
            f"share() of all {len(rows)} releases took {cpu:.1f} CPU-s."]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", action="append", help="demo | lampung | national (repeatable; default both "
                                                     "lampung and national)")
    ap.add_argument("--month", default="2025-07")
    args = ap.parse_args()
    scales = args.scale or ["lampung", "national"]
    policy, keyring = load_policy(), Keyring.from_master(MASTER)
    print(f"bench_disclosure on {platform.machine()}, Python {platform.python_version()}; policy version "
          f"{policy.version}, default k = {policy.defaults.k}, l = {policy.defaults.l}\n")
    for scale in scales:
        with tempfile.TemporaryDirectory(prefix=f"bench-disclosure-{scale}-") as tmp:
            t0 = time.perf_counter()
            tables = simulate_month(scale, args.month, Path(tmp))
            sim_s = time.perf_counter() - t0
            rows = measure(tables, policy, keyring)
        print(render(scale, args.month, rows))
        print(f"(simulate + extract {sim_s:.1f} s)\n")


if __name__ == "__main__":
    main()
