"""Suite parameters and batch gates: what the suite's ``$PARAMETER``s resolve to for one run, which
expectations are skipped (and why), and the readable outcome of each batch-level rule.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import asdict, dataclass, field

from sinergi import regions, registry, vocab
from sinergi.months import Month
from sinergi.validate.suites import BOOKKEEPING, Rule, SuiteError, SuiteSpec

EARLIEST_DATE = dt.date(1990, 1, 1)


@dataclass
class GateOutcome:
    rule: str
    severity: str
    status: str  # passed | failed | skipped
    message: str
    expectation: str = ""
    observed: object = None
    expected: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def volume_bounds(rule: Rule, history: list[int] | None) -> tuple[int, int] | str:
    """(min, max) row count from the trailing months, or the reason the volume gate is skipped."""
    need = int(rule.meta.get("min_history", 3))
    hist = [int(h) for h in (history or []) if h is not None]
    if len(hist) < need:
        return f"volume gate skipped: {len(hist)} month(s) of history, at least {need} needed"
    trailing = hist[-int(rule.meta.get("trailing_months", 6)):]
    med = statistics.median(trailing)
    tol = float(rule.meta.get("tolerance", 0.5))
    slack = int(rule.meta.get("slack", 0))
    return max(0, math.floor(med * (1 - tol)) - slack), math.ceil(med * (1 + tol)) + slack


def resolve(
    spec: SuiteSpec,
    month: Month | str,
    references: dict[str, set[str]] | None,
    history: list[int] | None,
    rows: int | None = None,
) -> tuple[dict, dict[str, str]]:
    """Values of every parameter the suite uses, and the rules to skip this run with the reason.

    A rule with ``meta.min_rows`` is skipped when the month has fewer rows (a ratio over a handful of
    rows says nothing about the source).
    """
    ds = registry.get(spec.dataset)
    month = Month.of(month)
    first, last = month.bounds
    prev_first = month.add(-1).first_day
    params: dict = {}
    skip: dict[str, str] = {}
    for rule in spec.rules:
        if rows is not None and rows < int(rule.meta.get("min_rows", 0)):
            skip[rule.rule] = f"{rule.rule} skipped: {rows} rows, fewer than min_rows={rule.meta['min_rows']}"
        elif rows == 0 and rule.type in ("expect_column_max_to_be_between", "expect_column_min_to_be_between"):
            # the max of no rows is no date: whether an empty month may publish is the empty_month gate's call
            skip[rule.rule] = f"{rule.rule} skipped: no rows (the empty_month gate decides)"
        for p in rule.parameters():
            if p == "expected_columns":
                params[p] = [*ds.column_names, *BOOKKEEPING, *spec.helper_columns]
            elif p.startswith("vocab_"):
                params[p] = vocab.values(p.removeprefix("vocab_"))
            elif p == "kabkota_codes":
                params[p] = [r.kemendagri_code for r in regions.regions()]
            elif p == "country_codes":
                params[p] = list(vocab.countries())
            elif p == "month_start":
                params[p] = first
            elif p == "month_end":
                params[p] = last
            elif p == "previous_month_start":
                params[p] = prev_first
            elif p == "earliest_date":
                params[p] = EARLIEST_DATE
            elif p.startswith("ref_"):
                ref = p.removeprefix("ref_")
                ids = (references or {}).get(ref)
                if ids is None:
                    skip[rule.rule] = f"{rule.rule} skipped: no valid {ref} ids passed in references"
                else:
                    params[p] = sorted(ids)
            elif p in ("volume_min", "volume_max"):
                bounds = volume_bounds(rule, history)
                if isinstance(bounds, str):
                    skip[rule.rule] = bounds
                else:
                    params["volume_min"], params["volume_max"] = bounds
            else:
                raise SuiteError(f"suite {spec.name}: unknown parameter {p!r} in rule {rule.rule}")
    return params, skip


def describe(rule: Rule, result: dict, params: dict) -> tuple[str, object, dict]:
    """A one-line, non-personal message for a batch-level expectation result."""
    kw = {k: (params.get(v["$PARAMETER"]) if isinstance(v, dict) and "$PARAMETER" in v else v) for k, v in rule.kwargs.items()}
    col = kw.get("column")
    where = f"{rule.type}({col})" if col else rule.type
    if "observed_value" in result:
        observed = result["observed_value"]
        expected = {k: kw[k] for k in ("min_value", "max_value") if k in kw}
        if rule.type == "expect_table_columns_to_match_ordered_list":
            want = list(kw.get("column_list") or [])
            got = list(observed or [])
            missing = [c for c in want if c not in got]
            extra = [c for c in got if c not in want]
            detail = f"missing {missing}, unexpected {extra}" if missing or extra else "columns out of order"
            return f"{rule.rule}: {where}: {detail}", {"missing": missing, "unexpected": extra}, {}
        return f"{rule.rule}: {where}: observed {_jsonable(observed)}, expected {_jsonable(expected)}", observed, expected
    if "unexpected_count" in result:
        pct = result.get("unexpected_percent_total", result.get("unexpected_percent"))
        mostly = kw.get("mostly")
        bound = f" (ceiling {round((1 - mostly) * 100, 2)}%)" if mostly is not None else ""
        pct_s = f"{pct:.2f}%" if isinstance(pct, (int, float)) else "?"
        return (f"{rule.rule}: {where}: {result['unexpected_count']} unexpected rows = {pct_s}{bound}",
                {"unexpected_count": result["unexpected_count"], "unexpected_percent": pct}, {"mostly": mostly})
    return f"{rule.rule}: {where}: failed", None, {}
