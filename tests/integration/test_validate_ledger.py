"""Validation against the simulator's ground-truth defect ledger: simulate -> extract -> validate.

Measures (and prints) the share of injected row-level defects that end up in quarantine with a
matching reason, and the share of clean rows quarantined.

Counting conventions (documented decisions, see sinergi.validate.suites):
- a defect is matched by (source file, source row), or by record id for database sources;
- rows sharing a record id with a ``duplicate_id_conflict`` defect are not "clean": by design ALL rows
  of a conflicting id are quarantined;
- every reference declared in datasets.yaml is checked (P3MI, job order, facility, institution);
  the ids passed are those recorded up to the month: the parent's valid ids of this and the
  earlier months; for a Disnaker table, which is extracted as a monthly delta, the register known
  so far (all ids minus the month's rejects);
- rows referencing a parent that was itself quarantined (and not recorded before) fail
  ``reference:*`` by design (references are checked against the parent's *valid* ids); they are
  counted separately as cascades, not as clean rows;
- ``bps_code_as_kemendagri`` in a dataset without a NIK cannot be seen: 1801-1808 are valid
  Kemendagri codes too, and only the NIK prefix tells which was meant. Reported, not counted.
"""

from __future__ import annotations

import collections
import os

import pytest

import sinergi.extract as extract_mod  # noqa: E402
import sinergi.simulate as simulate_mod  # noqa: E402
from sinergi import registry
from sinergi.validate import validate

MONTHS = ["2025-07", "2025-08"]
#: SINERGI_LEDGER_SCALE=lampung runs the same check on a realistic Lampung month (slower).
SCALE = os.environ.get("SINERGI_LEDGER_SCALE", "demo")
#: Every dataset another one references (datasets.yaml ``references``).
REF_DATASETS = {target for ds in registry.datasets().values() for target in ds.references.values()}
#: defect kind -> rule names (or rule prefixes ending in ':') that count as a matching reason
EXPECTED = {
    "nik_scientific": {"nik_shape", "values_parse"},
    "nik_lost_digits": {"nik_shape"},
    "nik_wrong_length": {"nik_shape"},
    "nik_birthdate_mismatch": {"nik_birth_date_sex"},
    "bps_code_as_kemendagri": {"kabkota_matches_nik", "kabkota_known:", "nik_kabkota"},
    "duplicate_row": {"duplicate_row"},
    "duplicate_id_conflict": {"record_id_unique"},
    "future_date": {"date_plausible:"},
    "impossible_date": {"values_parse"},
    "events_out_of_order": {"date_order:"},
    "unknown_country": {"country_known:"},
    "missing_mandatory": {"required:"},
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
                                defect_rate=0.05)
    ledger = simulate_mod.read_ledger(sim.ledger_path)
    cfg = extract_mod.SourceConfig(exports_dir=tmp_path / "src", disnaker_db_url=sim.dinas_db_url)

    caught = missed = unseeable = 0
    clean_total = clean_quarantined = cascades = 0
    missed_kinds: collections.Counter = collections.Counter()
    stops: list[str] = []
    fp_rules: collections.Counter = collections.Counter()
    refs: dict[str, set[str]] = collections.defaultdict(set)  # ids recorded up to the month
    assert "job_orders" in REF_DATASETS  # placements.job_order_id is checked too
    for month in MONTHS:
        quarantined_parents: dict[str, set[str]] = {}
        known = {k: set(v) for k, v in refs.items()}  # before this month
        for name in registry.names():  # referenced datasets first
            ds = registry.get(name)
            table = extract_mod.extract(name, month, cfg, run_id="ledger").table
            res = validate(table, name, month, "ledger", references=dict(refs))
            # every declared reference is checked (none skipped for want of ids)
            assert not any(w.startswith("reference:") for w in res.warnings), res.warnings
            assert res.counts["extracted"] == res.counts["valid"] + res.counts["quarantined"] == table.num_rows
            if res.stopped:
                stops.append(f"{name} {month}: {'; '.join(res.stop_reasons)}")
            if name in REF_DATASETS:
                refs[name] |= set(res.valid[ds.record_id].drop_null().to_pylist())
                quarantined_parents[name] = set(res.quarantined[ds.record_id].drop_null().to_pylist())
                if ds.source.kind == "sql":
                    # a Disnaker table is extracted as a monthly delta (rows updated in the month), so
                    # the pipeline passes the register known so far: every id minus this month's rejects
                    refs[name] |= _all_ids(sim.dinas_db_url, ds) - quarantined_parents[name]

            entries = [e for e in ledger if e["dataset"] == name and e["month"] == month
                       and e["kind"] in simulate_mod.ROW_DEFECTS]
            sql = ds.source.kind == "sql"
            q = res.quarantined.select([ds.record_id, "_source_file", "_source_row", "_failed_rules"]).to_pylist()
            by_pos = {(r["_source_file"], r["_source_row"]): r["_failed_rules"] for r in q}
            by_id = collections.defaultdict(list)
            for r in q:
                by_id[r[ds.record_id]].extend(r["_failed_rules"])
            defect_pos, defect_ids, conflict_ids = set(), set(), set()
            for e in entries:
                if e["kind"] == "bps_code_as_kemendagri" and "nik" not in ds.column_names:
                    unseeable += 1
                    defect_pos.add((e.get("file"), e.get("source_row")))
                    defect_ids.add(e["record_id"])
                    continue
                if e["kind"] == "duplicate_id_conflict":
                    conflict_ids.add(e["record_id"])
                if sql or e.get("source_row") is None:
                    rules = by_id.get(e["record_id"], [])
                    defect_ids.add(e["record_id"])
                else:
                    rules = by_pos.get((e.get("file"), e.get("source_row")), [])
                    defect_pos.add((e.get("file"), e.get("source_row")))
                if rules and _matches(e["kind"], rules):
                    caught += 1
                else:
                    missed += 1
                    missed_kinds[(name, e["kind"])] += 1

            # clean rows: not a ledger row defect, not a conflicting id, not a reference cascade
            cols = [ds.record_id, "_source_file", "_source_row"]
            ref_cols = list(ds.references)
            for part, is_q in ((res.valid, False), (res.quarantined, True)):
                rows = part.select(cols + ref_cols + (["_failed_rules"] if is_q else [])).to_pylist()
                for r in rows:
                    if (r["_source_file"], r["_source_row"]) in defect_pos or r[ds.record_id] in conflict_ids:
                        continue
                    if sql and r[ds.record_id] in defect_ids:
                        continue
                    if any(r[c] in quarantined_parents.get(t, set()) and r[c] not in known.get(t, set())
                           for c, t in ds.references.items()):
                        cascades += 1
                        continue
                    clean_total += 1
                    if is_q:
                        clean_quarantined += 1
                        fp_rules.update(r["_failed_rules"])
    detectable = caught + missed
    detection = caught / detectable if detectable else 0.0
    fp_rate = clean_quarantined / clean_total if clean_total else 0.0
    print(f"\nrow-level defects: {caught}/{detectable} quarantined with a matching reason = {detection:.2%}"
          f" (missed by kind: {dict(missed_kinds)}; unseeable BPS-code defects without NIK: {unseeable})")
    print(f"clean rows quarantined: {clean_quarantined}/{clean_total} = {fp_rate:.3%} "
          f"(by rule: {dict(fp_rules)}); reference cascades: {cascades}")
    print(f"datasets stopped by batch gates: {stops or 'none'}")
    assert detectable >= 50, "the simulation injected too few defects to measure"
    assert detection >= 0.99
    assert fp_rate <= 0.001


def test_ledger_kinds_are_classified():
    # the simulator classifies every kind; validation must know what each row-level kind means
    assert set(EXPECTED) == set(simulate_mod.ROW_DEFECTS)
    assert not set(EXPECTED) & set(simulate_mod.REPAIRABLE_DEFECTS)
