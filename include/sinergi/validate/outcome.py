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
        if tc["rule"] != "column_types":
            raise SuiteError(f"{spec.name}: unknown table check {tc['rule']!r}")
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
