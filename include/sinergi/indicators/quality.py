"""Data quality and timeliness of the months a party received, for the reports.

Read from what the pipeline already records, never recomputed: each dataset-month's committed run
manifest in the party's bucket (``counts``: extracted, valid, quarantined, ``by_rule``,
``warnings_by_rule`` — the latter from the validation's warnings, when present — and the
``sources`` it read), and the landing zone's pointer of each source (``landed_at``: when the month's
source, as last changed, was received). The agreed delivery day of each source system comes from
``config/deadlines.yaml`` (``sinergi.deadlines.source_due``).

The producer feedback workbook of a source system and month (``s3://sinergi-quarantine/_feedback/
<system>/<YYYY-MM>/feedback_<system>_<YYYY-MM>.xlsx``) is in the owner-only quarantine zone: the
reports name it as an operator reference (with the per-rule counts), never as a link a party could
follow.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

from sinergi import deadlines, registry
from sinergi.errors import ConfigError
from sinergi.layout import LANDING_BUCKET, QUARANTINE_BUCKET, feedback_key, landing_pointer_key
from sinergi.months import JAKARTA, Month, parse_instant
from sinergi.objectstore import ObjectNotFound, ObjectStore, StoreError


def _json(store: ObjectStore, bucket: str, key: str) -> dict | None:
    try:
        return json.loads(store.get_bytes(bucket, key))
    except (ObjectNotFound, ValueError):
        return None


def manifest(store: ObjectStore, bucket: str, dataset: str, month: Month | str) -> dict | None:
    """The committed run manifest of a dataset-month in a party's bucket (None if unpublished)."""
    from sinergi.publish import read_pointer

    pointer = read_pointer(store, bucket, dataset, month)
    return _json(store, bucket, pointer["manifest_key"]) if pointer and pointer.get("manifest_key") else None


def arrival(store: ObjectStore, dataset: str, month: Month | str, sources: list[dict]) -> dt.datetime | None:
    """When the month's source of ``dataset`` was received: a ``landed_at`` the source record carries,
    else the landing zone's pointer of the month (the last time a changed source was landed)."""
    times = [parse_instant(s.get("landed_at") or s.get("arrived_at")) for s in sources or []]
    times = [t for t in times if t]
    if times:
        return max(times)
    system = registry.get(dataset).source.system
    try:
        pointer = _json(store, LANDING_BUCKET, landing_pointer_key(system, dataset, month))
    except StoreError:
        return None
    return parse_instant((pointer or {}).get("landed_at"))


def month_quality(store: ObjectStore, bucket: str, datasets: Iterable[str], months: Iterable[str]) -> list[dict]:
    """One entry per dataset and month that the party's bucket has a committed manifest for."""
    out = []
    for month in months:
        for ds in datasets:
            doc = manifest(store, bucket, ds, month)
            if doc is None:
                continue
            counts = doc.get("counts") or {}
            system = registry.get(ds).source.system
            # the source's data rows: parsed + malformed lines (quarantined counts both)
            extracted = int(counts.get("source_rows", counts.get("extracted")) or 0)
            valid = int(counts.get("valid") or 0)
            quarantined = int(counts.get("quarantined") or 0)
            warnings_by_rule = {str(k): int(v) for k, v in (counts.get("warnings_by_rule") or {}).items()}
            flagged = counts.get("flagged", counts.get("warned"))
            arrived = arrival(store, ds, month, doc.get("sources") or [])
            try:
                due = deadlines.source_due(system, month)
            except ConfigError:
                due = None
            out.append({
                "dataset": ds, "system": system, "month": str(Month.of(month)),
                "extracted": extracted, "valid": valid, "quarantined": quarantined,
                "by_rule": {str(k): int(v) for k, v in (counts.get("by_rule") or {}).items()},
                "warnings_by_rule": warnings_by_rule,
                "warnings_recorded": "warnings_by_rule" in counts,
                "quarantine_share": quarantined / extracted if extracted else None,
                # rows with a warning when the validation counts them; else flags (a row may carry two)
                "warning_share": (int(flagged) / valid if flagged is not None and valid else
                                  (sum(warnings_by_rule.values()) / valid if valid else None)),
                "warning_share_is_rows": flagged is not None,
                "arrived": arrived.astimezone(JAKARTA) if arrived else None,
                "due": due,
                "late": (arrived > due) if arrived and due else None,
                "days_late": ((arrived - due).total_seconds() / 86400 if arrived and due else None),
            })
    return out


def feedback_refs(store: ObjectStore, quality: list[dict], month: Month | str) -> list[dict]:
    """Per source system of ``month``: the feedback workbook's key in the quarantine zone, whether it
    exists, and the quarantined / flagged rows per rule that it explains (summed over the system's
    datasets the party received)."""
    month = str(Month.of(month))
    systems: dict[str, dict] = {}
    for q in quality:
        if q["month"] != month:
            continue
        s = systems.setdefault(q["system"], {"system": q["system"], "datasets": [], "by_rule": {}, "warnings_by_rule": {},
                                             "quarantined": 0, "extracted": 0})
        s["datasets"].append(q["dataset"])
        s["quarantined"] += q["quarantined"]
        s["extracted"] += q["extracted"]
        for name, target in (("by_rule", s["by_rule"]), ("warnings_by_rule", s["warnings_by_rule"])):
            for rule, n in q[name].items():
                target[f"{q['dataset']}: {rule}"] = target.get(f"{q['dataset']}: {rule}", 0) + n
    out = []
    for system in sorted(systems):
        s = systems[system]
        key = feedback_key(system, month)
        try:
            exists = store.head(QUARANTINE_BUCKET, key) is not None
        except StoreError:
            exists = False
        out.append({**s, "key": key, "uri": f"s3://{QUARANTINE_BUCKET}/{key}", "exists": exists,
                    "by_rule": dict(sorted(s["by_rule"].items(), key=lambda kv: (-kv[1], kv[0]))),
                    "warnings_by_rule": dict(sorted(s["warnings_by_rule"].items(), key=lambda kv: (-kv[1], kv[0])))})
    return out
