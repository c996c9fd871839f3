"""Write a run's rejected rows to the owner-only quarantine zone.

``sinergi-quarantine/<dataset>/<YYYY-MM>/<run>/quarantine.parquet`` (``sinergi.layout.quarantine_key``):
the rows as extracted (canonical + bookkeeping columns) plus ``_failed_rules`` (every rule the row
failed) and ``_run_id``. Always written, also when empty, so a reviewer sees that the run was
checked. The object carries the reconciliation counts as metadata.
"""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq

from sinergi.layout import QUARANTINE_BUCKET, quarantine_key
from sinergi.months import Month
from sinergi.timing import stage


def write_quarantine(store, res, dataset: str, month: Month | str, run_id: str,
                     bucket: str = QUARANTINE_BUCKET) -> str:
    """Write ``res.quarantined`` as Parquet through an ``ObjectStore``; returns the object key.
    ``run_id`` is the run's id as Airflow gives it (made key-safe by the layout's one rule)."""
    with stage("quarantine write"):
        buf = io.BytesIO()
        table = res.quarantined.replace_schema_metadata({
            **(res.quarantined.schema.metadata or {}),
            b"sinergi.counts": json.dumps(res.counts, sort_keys=True).encode(),
        })
        pq.write_table(table, buf, compression="zstd")
        key = quarantine_key(dataset, month, run_id)
        store.ensure_bucket(bucket)
        store.put_bytes(bucket, key, buf.getvalue(), content_type="application/vnd.apache.parquet",
                        metadata={"extracted": str(res.counts["extracted"]),
                                  "quarantined": str(res.counts["quarantined"])})
        return key
