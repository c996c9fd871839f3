"""Validation against the simulator's ground-truth defect ledger: simulate -> extract -> validate.

Measures (and prints) the share of injected row-level defects that end up in quarantine with a
matching reason, the share of valid-with-warning rows (``WARNING_CASES``: movers, split-regency NIKs,
corrected birth dates, unmapped job titles, rare destinations, BPS codes that only a person can tell
from a move) published with exactly the expected ``data_quality_flags``, and the share of clean rows
quarantined or flagged.

Counting conventions (documented decisions, see sinergi.validate.suites):
- a defect is matched by (source file, source row), or by record id for database sources;
- rows sharing a record id with a ``duplicate_id_conflict`` defect are not "clean": by design ALL rows
  of a conflicting id are quarantined;
- every reference declared in datasets.yaml is checked (P3MI, job order, facility, institution);
  the ids passed are those the pipeline's ledger records up to the month: every extracted id of the
  parent (sinergi.pipeline.ledger), so a parent row quarantined for another reason does not
  cascade onto its dependents (batch gates are not applied to the ids here);
- a snapshot register read from the Disnaker database (training institutions) is the whole register
  every month, so the defects injected into its rows in earlier months are still there: they are
  expected again in every later month.
"""

from __future__ import annotations

import collections
import os

import pytest

import sinergi.extract as extract_mod  # noqa: E402
import sinergi.simulate as simulate_mod  # noqa: E402
from sinergi import registry
from sinergi.registry import DATA_QUALITY_FLAGS
from sinergi.validate import validate
from sinergi.validate.quarantine import add_malformed, malformed_table

MONTHS = ["2025-07", "2025-08"]
#: SINERGI_LEDGER_SCALE=lampung runs the same check on a realistic Lampung month (slower).
SCALE = os.environ.get("SINERGI_LEDGER_SCALE", "demo")
#: Every dataset another one references (datasets.yaml ``references``).
REF_DATASETS = {target for ds in registry.datasets().values() for target in ds.references.values()}
#: defect kind -> rule names (or rule prefixes ending in ':') that count as a matching reason
EXPECTED = {
    "nik_scientific": {"nik_precision_lost"},
    "nik_precision_lost": {"nik_precision_lost"},
    "nik_lost_digits": {"nik_shape"},
    "nik_wrong_length": {"nik_shape"},
    "nik_impossible_date": {"nik_date"},
    "duplicate_row": {"duplicate_row"},
    "duplicate_id_conflict": {"record_id_unique"},
    "future_date": {"date_plausible:"},
    "impossible_date": {"values_parse"},
    "events_out_of_order": {"date_order:"},
    "unknown_country": {"country_known:"},
    "missing_mandatory": {"required:"},
    "malformed_line": {"malformed_line"},  # quarantined by extraction on its own (sinergi.extract.files)
}


def _all_ids(url: str, ds) -> set[str]:
    import sqlalchemy as sa

    col = ds.column(ds.record_id).headers[0]
    with sa.create_engine(url).connect() as conn:
        ids = {str(r[0]).strip() for r in conn.execute(sa.text(f"SELECT {col} FROM {ds.source.table}")) if r[0]}
    return ids


def _matches(kind: str, rules: list[str]) -> bool:
    want = EXPECTED[kind]
    return any(r in want or any(w.endswith(":") and r.startswith(w) for w in want) for r in rules)


@pytest.mark.slow
def test_ledger_defects_are_quarantined_and_clean_rows_pass(tmp_path):
    assert set(EXPECTED) == set(simulate_mod.ROW_DEFECTS), "a new defect kind needs an expected reason"
    sim = simulate_mod.simulate(tmp_path / "src", month=MONTHS[0], months=len(MONTHS), scale=SCALE, seed=11,
                                defect_rate=0.05, malformed_files=True)
    ledger = simulate_mod.read_ledger(sim.ledger_path)
    cfg = extract_mod.SourceConfig(exports_dir=tmp_path / "src", disnaker_db_url=sim.dinas_db_url)

    caught = missed = 0
    clean_total = clean_quarantined = clean_flagged = 0
    warned_total = warned_ok = 0
    warned_by_kind: collections.Counter = collections.Counter()
    flags_by_rule: collections.Counter = collections.Counter()
    missed_kinds: collections.Counter = collections.Counter()
    warn_missed: list = []
    stops: list[str] = []
    fp_rules: collections.Counter = collections.Counter()
    fp_flags: collections.Counter = collections.Counter()
    published_rows = 0
    malformed_lines = 0
    refs: dict[str, set[str]] = collections.defaultdict(set)  # ids recorded up to the month
    assert "job_orders" in REF_DATASETS  # placements.job_order_id is checked too
    for month in MONTHS:
        for name in registry.names():  # referenced datasets first
            ds = registry.get(name)
            extracted = extract_mod.extract(name, month, cfg, run_id="ledger")
            table = extracted.table
            res = validate(table, name, month, "ledger", references=dict(refs), malformed=len(extracted.malformed))
            # every declared reference is checked (none skipped for want of ids)
            assert not any(w.startswith("reference:") for w in res.warnings), res.warnings
            assert res.counts["extracted"] == res.counts["valid"] + res.counts["quarantined"] == table.num_rows
            # the lines extraction could not parse join the quarantine, as validate_step does
            add_malformed(res, malformed_table(extracted.malformed) if extracted.malformed else None, "ledger")
            malformed_lines += len(extracted.malformed)
            for src in extracted.sources:  # source_rows = valid + quarantined, per file
                name_in_rows = src.get("name") or os.path.basename(src.get("path") or "")
                per_file = sum(1 for f in res.valid["_source_file"].to_pylist() if f == name_in_rows) + \
                    sum(1 for f in res.quarantined["_source_file"].to_pylist() if f == name_in_rows)
                assert src["source_rows"] == per_file == res.counts["source_rows"], (name, month, src)
            if res.stopped:
                stops.append(f"{name} {month}: {'; '.join(res.stop_reasons)}")
            if name in REF_DATASETS:  # as the pipeline's ledger: every extracted id (the batch gates
                # are another test's business: a stopped parent must not blur the row verdicts here)
                refs[name] |= set(table[ds.record_id].drop_null().to_pylist())
            published_rows += res.valid.num_rows
            flags_by_rule.update(f for v in res.valid[DATA_QUALITY_FLAGS].drop_null().to_pylist() for f in v.split(";"))

            sql = ds.source.kind == "sql"
            # a register pulled whole every month still carries the defects of earlier months
            months = [m for m in MONTHS if m <= month] if sql and ds.snapshot else [month]
            entries = [e for e in ledger if e["dataset"] == name and e["month"] in months]
            q = res.quarantined.select([ds.record_id, "_source_file", "_source_row", "_failed_rules"]).to_pylist()
            by_pos = {(r["_source_file"], r["_source_row"]): r["_failed_rules"] for r in q}

            by_id = collections.defaultdict(list)
            for r in q:
                by_id[r[ds.record_id]].extend(r["_failed_rules"])
            v = res.valid.select([ds.record_id, "_source_file", "_source_row", DATA_QUALITY_FLAGS]).to_pylist()
            valid_pos = {(r["_source_file"], r["_source_row"]): r[DATA_QUALITY_FLAGS] for r in v}
            valid_id = {r[ds.record_id]: r[DATA_QUALITY_FLAGS] for r in v}
            defect_pos, defect_ids, conflict_ids = set(), set(), set()
            for e in entries:
                pos = (e.get("file"), e.get("source_row"))
                by_record = sql or e.get("source_row") is None
                if e["kind"] == "duplicate_id_conflict":
                    conflict_ids.add(e["record_id"])
                if e["kind"] in simulate_mod.ROW_DEFECTS | set(simulate_mod.WARNING_CASES):
                    defect_ids.add(e["record_id"]) if by_record else defect_pos.add(pos)
                if e["kind"] in simulate_mod.WARNING_CASES:
                    warned_total += 1
                    want = simulate_mod.WARNING_CASES[e["kind"]]
                    found = (e["record_id"] in valid_id, valid_id.get(e["record_id"])) if by_record else \
                        (pos in valid_pos, valid_pos.get(pos))
                    if found == (True, want):
                        warned_ok += 1
                        warned_by_kind[e["kind"]] += 1
                    else:
                        rules = by_id.get(e["record_id"], []) if by_record else by_pos.get(pos, [])
                        warn_missed.append((name, month, e["kind"], found, rules))
                    continue
                if e["kind"] not in simulate_mod.ROW_DEFECTS:
                    continue
                rules = by_id.get(e["record_id"], []) if by_record else by_pos.get(pos, [])
                if rules and _matches(e["kind"], rules):
                    caught += 1
                else:
                    missed += 1
                    missed_kinds[(name, e["kind"])] += 1

            # clean rows: not a ledger row defect or warning case, not a conflicting id
            cols = [ds.record_id, "_source_file", "_source_row"]
            for part, is_q in ((res.valid, False), (res.quarantined, True)):
                rows = part.select(cols + (["_failed_rules"] if is_q else [DATA_QUALITY_FLAGS])).to_pylist()
                for r in rows:
                    if (r["_source_file"], r["_source_row"]) in defect_pos or r[ds.record_id] in conflict_ids:
                        continue
                    if sql and r[ds.record_id] in defect_ids:
                        continue
                    clean_total += 1
                    if is_q:
                        clean_quarantined += 1
                        fp_rules.update(r["_failed_rules"])
                    elif r[DATA_QUALITY_FLAGS]:
                        clean_flagged += 1
                        fp_flags[r[DATA_QUALITY_FLAGS]] += 1
    detectable = caught + missed
    detection = caught / detectable if detectable else 0.0
    fp_rate = clean_quarantined / clean_total if clean_total else 0.0
    print(f"\nrow-level defects: {caught}/{detectable} quarantined with a matching reason = {detection:.2%}"
          f" (missed by kind: {dict(missed_kinds)})")
    print(f"valid-with-warning rows published with the expected flag: {warned_ok}/{warned_total} "
          f"(by kind: {dict(warned_by_kind)}; missed: {warn_missed[:10]})")
    print(f"published rows flagged per rule: {dict(flags_by_rule)} of {published_rows} published rows")
    print(f"clean rows quarantined: {clean_quarantined}/{clean_total} = {fp_rate:.3%} "
          f"(by rule: {dict(fp_rules)}); clean rows flagged: {clean_flagged} ({dict(fp_flags)})")
    print(f"datasets stopped by batch gates: {stops or 'none'}")
    print(f"malformed source lines quarantined by extraction: {malformed_lines}; file events: "
          f"{collections.Counter(e['kind'] for e in ledger if e['kind'] in ('trailing_delimiter', 'understated_dimension'))}")
    assert detectable >= 50, "the simulation injected too few defects to measure"
    kinds = {e["kind"] for e in ledger}
    assert {"malformed_line", "trailing_delimiter", "understated_dimension"} <= kinds, kinds
    assert malformed_lines == sum(1 for e in ledger if e["kind"] == "malformed_line")
    assert detection == 1.0, dict(missed_kinds)
    assert warned_total >= 30 and set(warned_by_kind) == set(simulate_mod.WARNING_CASES), dict(warned_by_kind)
    assert warned_ok == warned_total, warn_missed
    assert clean_quarantined == 0, dict(fp_rules)
    assert clean_flagged == 0, dict(fp_flags)


def test_ledger_kinds_are_classified():
    # the simulator classifies every kind; validation must know what each row-level kind means
    assert set(EXPECTED) == set(simulate_mod.ROW_DEFECTS)
    assert not set(EXPECTED) & set(simulate_mod.REPAIRABLE_DEFECTS)
    assert not set(simulate_mod.WARNING_CASES) & (set(EXPECTED) | set(simulate_mod.REPAIRABLE_DEFECTS))
    from sinergi.validate import suites

    rules = {r.rule: r.severity for n in registry.names() for r in suites.load(n).rules}
    for kind, flag in simulate_mod.WARNING_CASES.items():  # every expected flag is a warning rule
        assert flag is None or rules.get(flag) == "warn", (kind, flag)
