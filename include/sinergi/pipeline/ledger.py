"""The ledger zone (``sinergi-ledger``, owner-only): small, long-lived facts later runs depend on.

- ``refs/<dataset>/<YYYY-MM>.json`` — the record ids of a dataset that exist as of that month,
  written once the month's validation completed without a stop. Another dataset's references are
  checked against every id recorded for the referenced dataset in that month or earlier (a P3MI
  licensed last year still exists). The ids are all extracted ids of that completed validation, not
  only the valid rows': a P3MI quarantined for a bad licence date still exists, and its placements
  are not wrong because of it (recording only valid ids made one bad register row quarantine every
  placement, return and job order of that P3MI, and stop the month). A stopped, failed or empty
  month of the referenced dataset records nothing, so it never empties the ids its dependents are
  checked against: they use the last good ids, and the warnings (in the manifest) say so.
- ``volume/<dataset>.json`` — rows extracted per month, for the volume gate.

Documents are written with compare-and-swap (sinergi.publish.cas), so two runs never lose each
other's update, and they live apart from staging so a lifecycle rule on staging cannot break the
volume gate or the reference checks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sinergi import registry
from sinergi.layout import LEDGER_BUCKET, refs_key, refs_prefix, volume_key
from sinergi.months import Month, MonthError
from sinergi.objectstore import ObjectStore
from sinergi.publish.cas import cas_update, read_json

log = logging.getLogger(__name__)

#: Months of history the volume gate looks at (its rule reads the trailing months it needs).
VOLUME_MONTHS = 6


def record_ids(store: ObjectStore, dataset: str, month: Month | str, run_id: str, ids: Iterable[str]) -> None:
    """Record the ids of ``dataset`` that exist in ``month`` (replaces an earlier run's record)."""
    month = Month.of(month)
    doc = {"dataset": dataset, "month": str(month), "run_id": run_id, "ids": sorted(set(ids))}
    if not doc["ids"]:  # an empty month adds nothing; an earlier run's record of the month stays
        log.warning("%s %s: no valid ids to record (run %s); the ledger keeps what it had", dataset, month, run_id)
        return
    cas_update(store, LEDGER_BUCKET, refs_key(dataset, month), lambda _current: doc)


def recorded_months(store: ObjectStore, dataset: str) -> list[Month]:
    """The months for which ids of ``dataset`` were recorded, oldest first."""
    out = []
    for obj in store.list(LEDGER_BUCKET, refs_prefix(dataset)):
        try:
            out.append(Month.parse(obj.key.removeprefix(refs_prefix(dataset)).removesuffix(".json")))
        except MonthError:
            log.warning("ignoring unexpected ledger object %s/%s", LEDGER_BUCKET, obj.key)
    return sorted(out)


def referenced_ids(store: ObjectStore, dataset: str, month: Month | str) -> tuple[dict[str, set[str]], list[str]]:
    """The ids ``dataset``'s references resolve against (only the datasets the registry declares it
    references), and warnings for referenced datasets of which no ids were ever recorded up to
    ``month``: those get no entry, so validation skips that reference check (with its own warning)
    instead of rejecting every row."""
    month = Month.of(month)
    refs: dict[str, set[str]] = {}
    warnings: list[str] = []
    for referenced in sorted(set(registry.get(dataset).references.values())):
        ids: set[str] = set()
        last = None
        for m in (m for m in recorded_months(store, referenced) if m <= month):
            doc, _ = read_json(store, LEDGER_BUCKET, refs_key(referenced, m))
            found = (doc or {}).get("ids") or []
            if found:
                ids.update(found)
                last = (m, (doc or {}).get("run_id"))
        if not ids:
            warnings.append(
                f"{dataset} {month}: no {referenced} ids recorded for {month} or before (run {referenced} "
                f"first); {dataset}'s references to {referenced} were not checked"
            )
            continue
        if last[0] != month:
            warnings.append(
                f"{dataset} {month}: {referenced} has no valid ids recorded for {month} (not run yet, stopped, "
                f"failed or empty); {dataset}'s references to {referenced} were checked against the last good "
                f"ids, recorded up to {last[0]} (run {last[1]})"
            )
        refs[referenced] = ids
    return refs, warnings


def is_referenced(dataset: str) -> bool:
    """Whether another dataset's references resolve against ``dataset`` (so its ids are recorded)."""
    return any(dataset in d.references.values() for d in registry.datasets().values())


def record_volume(store: ObjectStore, dataset: str, month: Month | str, rows: int) -> None:
    """Record the month's extracted row count (a re-run replaces the month's figure)."""
    month = str(Month.of(month))

    def update(current: dict | None) -> dict | None:
        doc = current or {"dataset": dataset, "rows": {}}
        if doc["rows"].get(month) == rows:
            return None
        return {**doc, "rows": {**doc["rows"], month: rows}}

    cas_update(store, LEDGER_BUCKET, volume_key(dataset), update)


def volume_history(store: ObjectStore, dataset: str, month: Month | str) -> list[int]:
    """Rows of the months before ``month`` (oldest first, at most VOLUME_MONTHS)."""
    month = str(Month.of(month))
    doc, _ = read_json(store, LEDGER_BUCKET, volume_key(dataset))
    rows = (doc or {}).get("rows") or {}
    return [rows[m] for m in sorted(rows) if m < month][-VOLUME_MONTHS:]
