"""Read a party's bucket, compute its indicators, publish them and the monthly report.

Reads only what the party itself received: ``s3://<bucket>/<dataset>/year=YYYY/month=MM/part-0.parquet``
for the 12 months ending at the reporting month (the window of every period). Publishes the
``indicators`` dataset through the publisher (atomic, idempotent, manifest + catalog) and the HTML
report to ``_reports/<YYYY-MM>/laporan-<party>-<YYYY-MM>.html`` in the same bucket (one PUT:
atomic; same input → same bytes), and writes it to ``<home>/reports/<party>/<YYYY-MM>.html``
(both keys: ``sinergi.layout``).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sinergi.disclosure import leak_guard
from sinergi.indicators.compute import INDICATORS_SCHEMA, compute_indicators, missing_indicators
from sinergi.indicators.definitions import DEFAULT_THRESHOLD, INDICATORS, needed_datasets
from sinergi.layout import local_report_path, parse_data_key, report_key
from sinergi.months import Month
from sinergi.objectstore import ObjectStore

log = logging.getLogger(__name__)

DATASET = "indicators"


def read_party_tables(store: ObjectStore, bucket: str, month: Month | str,
                      datasets: tuple[str, ...] | None = None) -> dict[str, dict[str, pa.Table]]:
    """``{dataset: {"YYYY-MM": table}}`` of the published months in [month-11, month]."""
    wanted = set(datasets or {d for i in INDICATORS for d in needed_datasets(i)})
    last = Month.of(month)
    first = last - 11
    out: dict[str, dict[str, pa.Table]] = {}
    for ds in sorted(wanted):
        for obj in store.list(bucket, f"{ds}/"):
            parsed = parse_data_key(obj.key)
            if parsed is None or parsed[0] != ds:
                continue
            if first <= parsed[1] <= last:
                data = store.get_bytes(bucket, obj.key)
                out.setdefault(ds, {})[str(parsed[1])] = pq.read_table(io.BytesIO(data))
    return out


def run_for_party(
    store: ObjectStore,
    party: str,
    month: Month | str,
    policy,
    home: str | Path,
    *,
    run_id: str | None = None,
    threshold: int = DEFAULT_THRESHOLD,
) -> dict:
    """Compute, publish and write the indicators and report of ``party`` for ``month``.

    ``store`` must be able to read and write the party's bucket (the pipeline identity). Returns a
    small JSON-able dict: ``report_path`` (local), ``report_key``, ``rows``, ``bucket``,
    ``datasets_used``, ``missing`` (indicator → missing datasets), ``publish`` (publisher result).
    """
    from sinergi.indicators.report import render_report
    from sinergi.publish import publish, update_catalog
    from sinergi.publish.kit import write_party_kit

    month = str(Month.of(month))
    bucket = policy.parties[party].bucket
    run_id = run_id or f"indicators-{month}"
    tables = read_party_tables(store, bucket, month)
    table = compute_indicators(tables, month, threshold=threshold)
    leak = leak_guard(table)  # aggregates only: fail closed if anything identifier-like slipped in
    missing = missing_indicators(tables)
    months_seen = {ds: sorted(t) for ds, t in tables.items()}
    result = publish(
        store, bucket=bucket, dataset=DATASET, month=month, run_id=run_id, table=table, schema=INDICATORS_SCHEMA,
        sort_by=("period", "indicator_id", "area_level", "kabkota_code", "dimension", "dimension_value"),
        manifest_extra={
            "party": party,
            "kind": "indicators",
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
    html = render_report(table, party=party, month=month, policy=policy, missing=missing, inputs=months_seen,
                         trend=trend, threshold=threshold)
    data = html.encode("utf-8")
    key = report_key(party, month)
    store.put_bytes(bucket, key, data, content_type="text/html; charset=utf-8")
    path = local_report_path(Path(home), party, month)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # atomic locally too
    log.info("indicators %s %s: %d rows → s3://%s/%s; report %s", party, month, table.num_rows, bucket,
             result.get("object_key"), path)
    return {
        "party": party, "month": month, "bucket": bucket, "rows": table.num_rows,
        "report_path": str(path), "report_key": key, "datasets_used": sorted(tables),
        "missing": missing, "publish": dict(result),
    }


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
