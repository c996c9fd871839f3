"""What the results mean: each expectation's severity turned into batch gates, warnings and a stop,
and the JSON-able summary for the run manifest (counts and percentages, never row values).

Severity comes from each rule's meta: ``quarantine`` rows leave the valid set (their rows are found
by the Arrow masks; here only the month-wide uniqueness count is checked against GX), ``warn`` is
reported, ``stop`` marks the dataset as not publishable this month.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sinergi.validate import gates, masks
from sinergi.validate.gates import GateOutcome
from sinergi.validate.gx import raise_if_raised, result_by_rule
from sinergi.validate.suites import SuiteError, SuiteSpec

#: The suite's table checks (``meta.sinergi.table_checks``) and their defaults: a suite that does
#: not declare reject_share or empty_month gets them with these settings.
TABLE_CHECKS = {
    "column_types": {"severity": "stop"},
    "reject_share": {"severity": "stop", "max_share": 0.05, "min_rows": 50},
    "empty_month": {"severity": "stop"},
}


@dataclass
class Verdict:
    """The batch-level outcome as it builds up through the phases of a validation."""

    gates: list[GateOutcome] = field(default_factory=list)
    stop_reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def stopped(self) -> bool:
        return bool(self.stop_reasons)


def column_types(spec: SuiteSpec, problems: list[str], verdict: Verdict) -> None:
    """The suite's table checks (``column_types``) on the Arrow schema's problems. Types cannot be
    waived: with any problem the rows cannot be checked, so the dataset stops whatever the severity."""
    for tc in spec.table_checks:
        if tc["rule"] not in TABLE_CHECKS:
            raise SuiteError(f"{spec.name}: unknown table check {tc['rule']!r}; known: {list(TABLE_CHECKS)}")
        if tc["rule"] != "column_types":
            continue
        msg = (f"column_types: {'; '.join(problems)}" if problems
               else "column_types: all registry columns have their canonical types")
        status = "failed" if problems else "passed"
        verdict.gates.append(GateOutcome("column_types", tc["severity"], status, msg, "arrow schema"))
        if problems and tc["severity"] == "stop":
            verdict.stop_reasons.append(msg)
        elif problems:
            verdict.warnings.append(msg)
    if problems and not verdict.stop_reasons:
        verdict.stop_reasons.append(f"column_types: {'; '.join(problems)}")


def skipped(skip: dict[str, str], verdict: Verdict) -> None:
    """Rules skipped this run are reported (a null rate skipped on a small month is not news)."""
    verdict.warnings.extend(v for k, v in skip.items() if not k.startswith("null_rate:"))


def judge(spec: SuiteSpec, result, params: dict, skip: dict[str, str], unique_failing: dict[str, np.ndarray],
          verdict: Verdict) -> None:
    """Each expectation's result by its severity, in suite order."""
    by_rule = result_by_rule(result)
    for rule in spec.rules:
        if rule.rule in skip:
            if rule.severity == "stop":
                verdict.gates.append(
                    GateOutcome(rule.rule, rule.severity, "skipped", skip[rule.rule], rule.type))
            continue
        r = by_rule[rule.rule]
        raise_if_raised(spec, rule, r)
        res = r.result or {}
        if rule.severity == "quarantine":
            if rule.rule in unique_failing:  # the month-wide mask against GX's month-wide count
                gx_count, count = res.get("unexpected_count"), len(unique_failing[rule.rule])
                if gx_count is not None and gx_count != count:
                    raise masks.EngineMismatchError(f"{spec.name}: rule {rule.rule}: GX counts {gx_count} "
                                                    f"unexpected rows, Arrow mask {count}")
        elif not r.success:
            msg, observed, expected = gates.describe(rule, res, params)
            if rule.severity == "stop":
                verdict.stop_reasons.append(msg)
                verdict.gates.append(
                    GateOutcome(rule.rule, "stop", "failed", msg, rule.type, observed, expected))
            else:
                verdict.warnings.append(msg)
        elif rule.severity == "stop":
            msg, observed, expected = gates.describe(rule, res, params)
            verdict.gates.append(GateOutcome(rule.rule, "stop", "passed", msg, rule.type, observed, expected))


def summary(spec: SuiteSpec, result, params: dict, skip: dict[str, str]) -> dict:
    per = []
    for r in result.results:
        meta = r.expectation_config.meta
        kw = r.expectation_config.kwargs
        entry = {
            "rule": meta["rule"],
            "severity": meta["severity"],
            "expectation": r.expectation_config.type,
            "column": kw.get("column")
            or (f"{kw.get('column_A')},{kw.get('column_B')}" if "column_A" in kw else None),
            "success": bool(r.success),
        }
        res = r.result or {}
        for k in ("unexpected_count", "unexpected_percent", "missing_count", "element_count"):
            if k in res:
                # percentages rounded: a long float's digits are noise in the manifest (and look like ids)
                entry[k] = round(res[k], 4) if isinstance(res[k], float) else res[k]
        column_list = r.expectation_config.type == "expect_table_columns_to_match_ordered_list"
        if "observed_value" in res and not column_list:
            entry["observed_value"] = gates._jsonable(res["observed_value"])
        per.append(entry)
    stats = dict(result.statistics)
    return {
        "suite": spec.name,
        "success": bool(result.success),
        "statistics": gates._jsonable(stats),
        "expectations": per,
        "skipped": [{"rule": k, "reason": v} for k, v in skip.items()],
    }


def types_summary(spec: SuiteSpec) -> dict:
    """The summary of a run stopped by column types (GX did not run)."""
    return {"suite": spec.name, "success": False, "statistics": {}, "expectations": [], "skipped": [],
            "error": "column types do not match the registry; GX not run"}


def _table_check(spec: SuiteSpec, rule: str) -> dict:
    declared = next((tc for tc in spec.table_checks if tc["rule"] == rule), {})
    return {**TABLE_CHECKS[rule], **declared}


def _gate(verdict: Verdict, rule: str, severity: str, failed: bool, msg: str, observed=None,
          expected: dict | None = None) -> None:
    verdict.gates.append(GateOutcome(rule, severity, "failed" if failed else "passed", msg, "month gate",
                                     observed, expected or {}))
    if failed and severity == "stop":
        verdict.stop_reasons.append(msg)
    elif failed:
        verdict.warnings.append(msg)


def month_gates(spec: SuiteSpec, verdict: Verdict, *, rows: int, quarantined: int, malformed: int, valid: int,
                history: list[int] | None, allow_empty: bool) -> None:
    """The month-level gates on the split: too many rejected rows (``reject_share``), and a month
    with nothing to publish after months with rows (``empty_month``, unless the operator allows it).

    ``rows`` are the rows validated; ``malformed`` the source lines extraction could not parse (they
    never reached validation, but they are rejected rows of the month all the same)."""
    tc = _table_check(spec, "reject_share")
    source_rows, rejected = rows + malformed, quarantined + malformed
    max_share, min_rows = float(tc["max_share"]), int(tc.get("min_rows", 0))
    share = rejected / source_rows if source_rows else 0.0
    expected = {"max_share": max_share, "min_rows": min_rows}
    if source_rows < min_rows:
        verdict.gates.append(GateOutcome(
            "reject_share", tc["severity"], "skipped",
            f"reject_share skipped: {source_rows} source rows, fewer than min_rows={min_rows}", "month gate",
            {"rejected": rejected, "source_rows": source_rows}, expected))
    else:
        _gate(verdict, "reject_share", tc["severity"], share > max_share,
              f"reject_share: {rejected} of {source_rows} source rows rejected ({quarantined} quarantined, "
              f"{malformed} malformed) = {share:.2%}, ceiling {max_share:.0%}",
              {"rejected": rejected, "source_rows": source_rows, "share": round(share, 4)}, expected)
    tc = _table_check(spec, "empty_month")
    before = [h for h in (history or []) if h]
    if valid:
        return
    if not before:
        _gate(verdict, "empty_month", tc["severity"], False,
              "empty_month: no row to publish, and no earlier month had rows either", {"valid": 0})
    elif allow_empty:
        _gate(verdict, "empty_month", tc["severity"], False,
              f"empty_month: no row to publish after months with rows ({before[-1]} in the last); published "
              "empty because the operator allowed it (allow_empty)", {"valid": 0, "allow_empty": True})
    else:
        _gate(verdict, "empty_month", tc["severity"], True,
              f"empty_month: no row to publish although the trailing months had rows ({before[-1]} in the "
              "last): a missing or broken export? Fix the source, or re-run with allow_empty=true if the "
              "month really had none", {"valid": 0, "allow_empty": False})
