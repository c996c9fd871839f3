"""Write a run's rejected rows to the owner-only quarantine zone.

``sinergi-quarantine/<dataset>/<YYYY-MM>/<run>/quarantine.parquet`` (``sinergi.layout.quarantine_key``):
the rows as extracted (canonical + bookkeeping columns) plus ``_failed_rules`` (every rule the row
failed) and ``_run_id``. Always written, also when empty, so a reviewer sees that the run was
checked. The object carries the reconciliation counts as metadata.

Source lines extraction could not parse (``malformed_line``, sinergi.extract.files) join the
validated rows' rejects here (:func:`add_malformed`): canonical columns empty, the raw line in
``_raw_line`` (this owner-only zone is the only place a raw line is kept), the reason in
``_extract_issues``. ``source_rows = valid + quarantined`` then holds for the source file.
"""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq

from sinergi.extract.files import MALFORMED_RULE
from sinergi.layout import QUARANTINE_BUCKET, quarantine_key
from sinergi.months import Month
from sinergi.timing import stage

RAW_LINE = "_raw_line"
#: the staged malformed lines (sinergi.pipeline.steps.extract_step -> validate_step)
MALFORMED_SCHEMA = pa.schema([("_source_file", pa.string()), ("_source_row", pa.int64()), ("reason", pa.string()),
                              ("line", pa.string())])


def malformed_table(malformed: list[dict]) -> pa.Table:
    """The malformed lines of an extract (``ExtractResult.malformed``) as a table to stage."""
    return pa.table({"_source_file": [m["source"] for m in malformed], "_source_row": [m["row"] for m in malformed],
                     "reason": [m["reason"] for m in malformed], "line": [m["line"] for m in malformed]},
                    schema=MALFORMED_SCHEMA)


def add_malformed(res, malformed: pa.Table | None, run_id: str) -> None:
    """Append the malformed lines to ``res.quarantined`` (one row each, rule ``malformed_line``) and
    count them: ``counts`` gains ``malformed`` and ``source_rows`` (= extracted + malformed), and
    ``quarantined`` / ``by_rule`` include them. Every quarantine gets the ``_raw_line`` column."""
    q = res.quarantined
    if RAW_LINE not in q.column_names:
        q = q.append_column(RAW_LINE, pa.nulls(q.num_rows, pa.string()))
    n = 0 if malformed is None else malformed.num_rows
    if n:
        columns = {}
        for f in q.schema:
            if f.name in ("_source_file", "_source_row"):
                columns[f.name] = malformed.column(f.name).cast(f.type)
            elif f.name == "_extract_issues":
                columns[f.name] = pa.array([f"{MALFORMED_RULE}: {r}" for r in malformed.column("reason").to_pylist()],
                                           f.type)
            elif f.name == "_failed_rules":
                columns[f.name] = pa.array([[MALFORMED_RULE]] * n, f.type)
            elif f.name == "_run_id":
                columns[f.name] = pa.array([run_id] * n, f.type)
            elif f.name == RAW_LINE:
                columns[f.name] = malformed.column("line").cast(f.type)
            else:
                columns[f.name] = pa.nulls(n, f.type)
        q = pa.concat_tables([q, pa.table(columns, schema=q.schema)])
    res.quarantined = q
    counts = res.counts
    counts["malformed"] = n
    counts["source_rows"] = counts["extracted"] + n
    counts["quarantined"] = counts["quarantined"] + n
    if n:
        counts["by_rule"] = {**counts.get("by_rule", {}), MALFORMED_RULE: n}


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
