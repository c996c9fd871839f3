"""Compute a party's indicators from the trusted zone, publish them and the monthly report.

Reads the validated months of the 12 months ending at the reporting month (the window of every
period) from the trusted zone (``sinergi.pipeline.trusted``: all valid rows, no direct identifiers,
persons as the internal ``person_key``), keeps the datasets the sharing policy gives the party and,
of each, the rows its row filter allows (``party_view``), then computes and protects the aggregates
(``compute``). Publishes the ``indicators`` dataset through the publisher (atomic, idempotent,
manifest + catalog) and the HTML report to ``_reports/<YYYY-MM>/laporan-<party>-<YYYY-MM>.html`` in
the party's bucket (one PUT: atomic; same input → same bytes), and writes it to
``<home>/reports/<party>/<YYYY-MM>.html`` (both keys: ``sinergi.layout``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa

from sinergi.disclosure import leak_guard
from sinergi.indicators.compute import INDICATORS_SCHEMA, compute_indicators, missing_indicators
from sinergi.indicators.definitions import DEFAULT_THRESHOLD, INDICATORS, needed_datasets
from sinergi.layout import local_report_path, report_key
from sinergi.months import Month
from sinergi.objectstore import ObjectStore
from sinergi.pipeline.trusted import read_trusted, trusted_months

log = logging.getLogger(__name__)

DATASET = "indicators"
Tables = dict[str, dict[str, pa.Table]]


def source_datasets() -> list[str]:
    return sorted({d for i in INDICATORS for d in needed_datasets(i)})


def read_trusted_tables(store: ObjectStore, month: Month | str, datasets: list[str] | None = None, *,
                        months: int = 12) -> Tables:
    """``{dataset: {"YYYY-MM": table}}``: the trusted months in [month - (months-1), month]."""
    last = Month.of(month)
    first = last - (months - 1)
    out: Tables = {}
    for ds in datasets or source_datasets():
        for m in trusted_months(store, ds):
            if str(first) <= m <= str(last):
                table = read_trusted(store, ds, m)
                if table is not None:
                    out.setdefault(ds, {})[m] = table
    return out


def party_view(trusted: Mapping[str, Mapping[str, pa.Table]], party: str, policy) -> Tables:
    """What the party's indicators may count: the datasets the policy gives it, and of each only the
    rows its row filter allows (``sinergi.policy.apply.row_mask``, the filter ``share`` applies)."""
    from sinergi.policy.apply import row_mask

    entries = policy.parties[party].datasets
    out: Tables = {}
    for ds, by_month in trusted.items():
        if ds not in entries:
            continue
        cond = entries[ds].row_filter
        out[ds] = {m: (t.filter(row_mask(cond, t)) if cond is not None else t) for m, t in by_month.items()}
    return out


def compute_for_party(trusted: Mapping[str, Mapping[str, pa.Table]], party: str, month: Month | str, policy, *,
                      threshold: int = DEFAULT_THRESHOLD, period_names: tuple[str, ...] = ("month", "ytd", "year")):
    """(indicators table, the party's view) for ``month`` — the one way a party's values are made."""
    tables = party_view(trusted, party, policy)
    return compute_indicators(tables, month, threshold=threshold, period_names=period_names), tables


def run_for_party(
    store: ObjectStore,
    party: str,
    month: Month | str,
    policy,
    home: str | Path,
    *,
    run_id: str | None = None,
    threshold: int = DEFAULT_THRESHOLD,
    trusted: Mapping[str, Mapping[str, pa.Table]] | None = None,
) -> dict:
    """Compute, publish and write the indicators and report of ``party`` for ``month``.

    ``store`` is the pipeline identity (reads the trusted zone, writes the party's bucket);
    ``trusted`` may pass the trusted months already read (several parties, one read). Returns a
    small JSON-able dict: ``report_path`` (local), ``report_key``, ``rows``, ``bucket``,
    ``datasets_used``, ``missing`` (indicator → missing datasets), ``publish`` (publisher result).
    """
    from sinergi.indicators.quality import feedback_refs, month_quality
    from sinergi.indicators.report import render_report
    from sinergi.publish import publish, update_catalog
    from sinergi.publish.kit import write_party_kit

    month = str(Month.of(month))
    bucket = policy.parties[party].bucket
    run_id = run_id or f"indicators-{month}"
    if trusted is None:
        trusted = read_trusted_tables(store, month)
    table, tables = compute_for_party(trusted, party, month, policy, threshold=threshold)
    leak = leak_guard(table)  # aggregates only: fail closed if anything identifier-like slipped in
    missing = missing_indicators(tables)
    months_seen = {ds: sorted(t) for ds, t in tables.items()}
    result = publish(
        store, bucket=bucket, dataset=DATASET, month=month, run_id=run_id, table=table, schema=INDICATORS_SCHEMA,
        sort_by=("period", "indicator_id", "area_level", "kabkota_code", "dimension", "dimension_value"),
        manifest_extra={
            "party": party,
            "kind": "indicators",
            "basis": "trusted zone: all validated records of the rows the party may see; disclosure control on "
                     "the aggregates",
            "threshold": threshold,
            "inputs": months_seen,
            "missing_indicators": missing,
            "suppressed_cells": int(sum(table.column("suppressed").to_pylist())),
            "leak_guard": leak,
        },
    )
    update_catalog(store, bucket, party, result)
    write_party_kit(store, party, policy, schemas={DATASET: INDICATORS_SCHEMA})  # dictionary, README, XLSX
    # Trend points: the month-period release of each earlier month in the window, recomputed the
    # same way (deterministic), so the report never shows a cell those releases suppressed.
    earlier = sorted({m for t in tables.values() for m in t if m < month})
    trend = {m: compute_indicators(tables, m, threshold=threshold, period_names=("month",)) for m in earlier}
    received = sorted(policy.parties[party].datasets)
    quality = month_quality(store, bucket, received, [month])
    html = render_report(table, party=party, month=month, policy=policy, missing=missing, inputs=months_seen,
                         trend=trend, threshold=threshold, quality=quality,
                         feedback=feedback_refs(store, quality, month))
    data = html.encode("utf-8")
    key = report_key(party, month)
    store.put_bytes(bucket, key, data, content_type="text/html; charset=utf-8")
    path = write_local(local_report_path(Path(home), party, month), data)
    log.info("indicators %s %s: %d rows → s3://%s/%s; report %s", party, month, table.num_rows, bucket,
             result.get("object_key"), path)
    return {
        "party": party, "month": month, "bucket": bucket, "rows": table.num_rows,
        "report_path": str(path), "report_key": key, "datasets_used": sorted(tables),
        "missing": missing, "publish": dict(result),
    }


def write_local(path: Path, data: bytes) -> Path:
    """Write a report file atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def plan_runs(
    events: list[tuple[str, dict | None]],
    parties: list[str],
    *,
    month: str | None = None,
    only: list[str] | None = None,
    fallback_month: str | None = None,
) -> list[dict]:
    """Which (party, month) pairs an indicators run computes (used by the DAG, testable without it).

    ``events``: (asset name ``sinergi.<party>.<dataset>``, extra) of the triggering Asset events.
    An explicit ``month`` (param) → that month for every party (or ``only``); otherwise each event
    names its party and month, so a burst of publications computes each pair once. With neither,
    ``fallback_month`` for every party.
    """
    chosen = [p for p in parties if not only or p in only]
    if month:
        return [{"party": p, "month": month} for p in chosen]
    pairs: set[tuple[str, str]] = set()
    for name, extra in events:
        parts = (name or "").split(".")
        m = (extra or {}).get("month")
        if len(parts) >= 3 and parts[0] == "sinergi" and parts[1] in chosen and m:
            pairs.add((parts[1], str(m)))
    if not pairs and not events and fallback_month:
        pairs = {(p, fallback_month) for p in chosen}
    return [{"party": p, "month": m} for m, p in sorted((m, p) for p, m in pairs)]
