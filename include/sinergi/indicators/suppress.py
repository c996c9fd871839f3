"""Disclosure control for the indicators mart: small-cell (primary) and secondary suppression.

Primary: a count cell with a value from 1 to ``threshold - 1`` (default 1..4) is suppressed: its
value becomes null and ``suppressed`` true (reason ``small_cell``). Zero is published (a true zero
discloses nobody).

Secondary: the cells of one indicator and period form additive groups — a *row* group (one area:
the breakdown cells of a dimension + the area's total) and *column* groups (one dimension value:
the kab/kota cells of a province + the province cell; the province cells + the grand total). If a
group has exactly one suppressed member, the published members would reveal it by subtraction, so
the smallest other member with a value > 0 is suppressed too (reason ``secondary``); repeated until
no group has a lone suppressed member. Groups of distinct-person counts are not exactly additive;
treating them as if they were is conservative.

Derived cells (rates, medians, sums, aliases) are decided in ``compute`` from these flags: a rate
is suppressed when its numerator or denominator cell is, or its denominator is below the threshold.

Known limit (documented in the report): differencing *across releases* (e.g. year-to-date of this
month minus year-to-date of last month) is not protected by cell suppression within one release.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

Key = tuple[str, str | None, str, str]  # (area_level, code, dimension, dimension_value)


def is_small(value: float | int | None, threshold: int) -> bool:
    return value is not None and 0 < value < threshold


def groups_for(cells: dict[Key, dict]) -> list[list[Key]]:
    """The additive groups among the cells of one indicator and period (see module doc)."""
    groups: list[list[Key]] = []
    by_area: dict[tuple[str, str | None], dict[str, list[Key]]] = defaultdict(lambda: defaultdict(list))
    for key in cells:
        level, code, dim, _ = key
        by_area[(level, code)][dim].append(key)
    for (level, code), dims in by_area.items():
        total = (level, code, "total", "total")
        for dim, keys in dims.items():
            if dim != "total":
                groups.append(sorted(keys, key=_order) + ([total] if total in cells else []))
    by_value: dict[tuple[str, str], dict[str, list[Key]]] = defaultdict(lambda: defaultdict(list))
    for key, cell in cells.items():
        level, code, dim, val = key
        if level == "kabkota":
            by_value[(dim, val)][f"province:{cell.get('parent')}"].append(key)
        elif level == "province":
            by_value[(dim, val)]["total"].append(key)
    for (dim, val), parents in by_value.items():
        for parent, keys in parents.items():
            if parent == "total":
                head: Key = ("total", None, dim, val)
            else:
                head = ("province", _none(parent.split(":", 1)[1]), dim, val)
            groups.append(sorted(keys, key=_order) + ([head] if head in cells else []))
    return [g for g in groups if len(g) > 1]


def _none(text: str) -> str | None:
    return None if text == "None" else text


def _order(key: Key) -> tuple:
    return tuple("" if k is None else str(k) for k in key)


def suppress_cells(cells: dict[Key, dict], threshold: int) -> dict[str, int]:
    """Apply primary then secondary suppression in place to the count cells of ONE indicator and
    period (``cell["value"]`` numbers; ``cell["parent"]`` = province code of a kab/kota cell).
    Sets ``suppressed``/``suppression`` and nulls the value of suppressed cells. Returns counts."""
    for cell in cells.values():  # cells may arrive pre-flagged (a sum with a suppressed part)
        if not cell.get("suppressed") and is_small(cell["value"], threshold):
            cell["suppressed"], cell["suppression"] = True, "small_cell"
    primary = sum(1 for c in cells.values() if c.get("suppressed"))
    secondary = 0
    if primary:
        groups = groups_for(cells)
        changed = True
        while changed:
            changed = False
            for group in groups:
                hidden = [k for k in group if cells[k].get("suppressed")]
                if len(hidden) != 1:
                    continue
                candidates = [k for k in group if not cells[k].get("suppressed") and (cells[k]["value"] or 0) > 0]
                if not candidates:
                    continue
                pick = min(candidates, key=lambda k: (cells[k]["value"], _order(k)))
                cells[pick]["suppressed"], cells[pick]["suppression"] = True, "secondary"
                secondary += 1
                changed = True
    for cell in cells.values():
        if cell.get("suppressed"):
            cell["hidden_value"] = cell["value"]  # kept in memory for derived cells, never published
            cell["value"] = None
    return {"primary": primary, "secondary": secondary}


def lone_suppressed_groups(cells: dict[Key, dict]) -> list[list[Key]]:
    """Groups that still have exactly one suppressed member (must be empty after ``suppress_cells``;
    used by tests and as a self-check before publishing)."""
    return [g for g in groups_for(cells) if sum(1 for k in g if cells[k].get("suppressed")) == 1
            and any((cells[k].get("value") or 0) > 0 for k in g if not cells[k].get("suppressed"))]


def check_release(rows: Iterable[dict], threshold: int, exempt_units: frozenset[str] = frozenset({"facilities"})) -> None:
    """Fail closed: no published count in 1..threshold-1 (except organisation counts)."""
    for r in rows:
        if r["unit"] in ("records", "persons") and not r["suppressed"] and is_small(r["value"], threshold):
            raise AssertionError(f"indicator {r['indicator_id']} publishes a small cell ({r['area_level']})")
        if r["unit"] not in exempt_units and r["suppressed"] and r["value"] is not None:
            raise AssertionError(f"indicator {r['indicator_id']}: suppressed cell carries a value")
