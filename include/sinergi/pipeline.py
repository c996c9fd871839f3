"""The monthly job as steps: extract → validate → share (per party) → publish (per party).

Each step reads its input from the object store, writes its output back, and returns a small,
JSON-able reference (keys and counts). The DAGs pass only these references through XCom, so any
task can run on any worker (DESIGN.md "Orchestration"). No Airflow imports here; the DAG layer
builds a ``RunContext`` (optionally with a connection ``lookup`` from its secrets backend).
"""

from __future__ import annotations

import io
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sinergi import registry, settings
from sinergi.layout import QUARANTINE_BUCKET, STAGING_BUCKET
from sinergi.objectstore import ObjectNotFound, ObjectStore

log = logging.getLogger(__name__)

class DatasetStopped(RuntimeError):
    """A batch-level gate failed: the dataset is not published this month (message lists why)."""


class ReconciliationError(RuntimeError):
    """Rows were lost between steps: every source row must be published, quarantined or suppressed."""


@dataclass
class RunContext:
    store: ObjectStore
    home: Path
    lookup: Any = None

    @classmethod
    def from_env(cls, lookup=None) -> RunContext:
        from sinergi.s3 import S3ObjectStore

        return cls(store=S3ObjectStore(settings.pipeline_s3(lookup)), home=settings.home(), lookup=lookup)

    # Heavy collaborators are created on first use, so a step only pays for what it needs.
    @property
    def sources(self):
        from sinergi.extract import SourceConfig

        return SourceConfig.from_env(lookup=self.lookup)

    @property
    def policy(self):
        if not hasattr(self, "_policy"):
            from sinergi.policy import load_policy

            self._policy = load_policy()
        return self._policy

    @property
    def keyring(self):
        if not hasattr(self, "_keyring"):
            from sinergi.secrets import master_secret
            from sinergi.tokens import Keyring

            self._keyring = Keyring.from_master(master_secret(lookup=self.lookup))
        return self._keyring


# -- staging helpers ---------------------------------------------------------------------------
def staging_key(dataset: str, month: str, run_id: str, name: str) -> str:
    return f"{dataset}/{month}/{_safe(run_id)}/{name}"


def _safe(run_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)


#: Staging objects live for one run: fast to write and read matters more than size.
STAGING_COMPRESSION = "snappy"
STAGING_ROW_GROUP = 256 * 1024


def put_table(store: ObjectStore, bucket: str, key: str, table: pa.Table) -> str:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression=STAGING_COMPRESSION, row_group_size=STAGING_ROW_GROUP)
    return store.put_bytes(bucket, key, buf.getvalue())


@contextmanager
def _staged_file(store: ObjectStore, bucket: str, key: str) -> Iterator[str]:
    """A staging object as a local temp file (read in chunks, removed afterwards)."""
    fd, name = tempfile.mkstemp(prefix="sinergi-staging-", suffix=".parquet")
    os.close(fd)
    try:
        store.get_file(bucket, key, name)
        yield name
    finally:
        Path(name).unlink(missing_ok=True)


class _StagingWriter:
    """Row chunks written to a local Parquet file, uploaded as one staging object on a clean exit.
    Memory holds one row group (small chunks are gathered into row groups of STAGING_ROW_GROUP)."""

    def __init__(self, store: ObjectStore, bucket: str, key: str, schema: pa.Schema | None = None):
        self.store, self.bucket, self.key, self.schema = store, bucket, key, schema
        fd, name = tempfile.mkstemp(prefix="sinergi-staging-", suffix=".parquet")
        os.close(fd)
        self.path, self.writer, self.rows, self.upload = Path(name), None, 0, True
        self.pending: list[pa.Table] = []
        self.pending_rows = 0

    def write(self, table: pa.Table | pa.RecordBatch) -> None:
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        self.schema = self.schema or table.schema
        self.pending.append(table)
        self.pending_rows += table.num_rows
        self.rows += table.num_rows
        if self.pending_rows >= STAGING_ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, self.schema, compression=STAGING_COMPRESSION)
        if self.pending_rows or not self.rows:
            self.writer.write_table(pa.concat_tables(self.pending) if self.pending else self.schema.empty_table(),
                                    row_group_size=STAGING_ROW_GROUP)
        self.pending, self.pending_rows = [], 0

    def discard(self) -> None:
        self.upload = False

    def close(self, ok: bool) -> None:
        try:
            if ok and self.upload:
                if self.schema is None:
                    raise ValueError(f"nothing was written for staging object {self.key}")
                self._flush()
                self.writer.close()
                self.store.put_file(self.bucket, self.key, str(self.path))
            elif self.writer is not None:
                self.writer.close()
        finally:
            self.path.unlink(missing_ok=True)


@contextmanager
def _staging_writer(store: ObjectStore, bucket: str, key: str, schema: pa.Schema | None = None) -> Iterator[_StagingWriter]:
    w = _StagingWriter(store, bucket, key, schema)
    try:
        yield w
    except BaseException:
        w.close(ok=False)
        raise
    w.close(ok=True)


def get_table(store: ObjectStore, bucket: str, key: str) -> pa.Table:
    fd, name = tempfile.mkstemp(prefix="sinergi-staging-", suffix=".parquet")
    os.close(fd)
    try:
        store.get_file(bucket, key, name)
        return pq.read_table(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _put_json(store: ObjectStore, bucket: str, key: str, value: Any) -> None:
    store.put_bytes(bucket, key, json.dumps(value, indent=1, sort_keys=True, default=str).encode(), content_type="application/json")


def _get_json(store: ObjectStore, bucket: str, key: str, default: Any = None) -> Any:
    try:
        return json.loads(store.get_bytes(bucket, key))
    except ObjectNotFound:
        return default


# -- steps ---------------------------------------------------------------------------------------
def extract_step(dataset: str, month: str, run_id: str, ctx: RunContext) -> dict:
    from sinergi.extract import iter_extract, output_schema

    batches, result = iter_extract(dataset, month, ctx.sources, landing=ctx.store, run_id=run_id)
    key = staging_key(dataset, month, run_id, "extracted.parquet")
    with _staging_writer(ctx.store, STAGING_BUCKET, key, output_schema(dataset)) as out:
        for batch in batches:
            out.write(batch)
    rows = out.rows
    if not result.complete or rows != result.rows_read:
        raise ReconciliationError(f"{dataset} {month}: extract delivered {result.rows_read} rows but {rows} were staged")
    ref = {
        "dataset": dataset,
        "month": month,
        "run_id": run_id,
        "extracted_key": key,
        "extracted": rows,
        "sources": result.sources,
        "warnings": list(result.warnings),
    }
    log.info("%s %s: extracted %d rows from %s", dataset, month, ref["extracted"], [s.get("path") or s.get("table") for s in result.sources])
    for w in result.warnings:
        log.warning("%s %s: %s", dataset, month, w)
    return ref


def _references(ctx: RunContext, dataset: str, month: str) -> dict[str, set[str]]:
    """Ids a dataset's references must resolve against: every id extracted for the referenced dataset
    in this month or earlier. Extracted, not only valid: a P3MI quarantined for a bad licence date
    still exists, and its placements are not wrong because of it. Earlier months count because some
    sources are deltas (training institutions arrive when they change, not every month)."""
    refs: dict[str, set[str]] = {}
    for referenced in sorted(set(registry.get(dataset).references.values())):
        months = {
            o.key.rsplit("/", 1)[-1].removesuffix(".json"): o.key
            for o in ctx.store.list(STAGING_BUCKET, f"_refs/{referenced}/")
        }
        known = [key for m, key in sorted(months.items()) if m <= month]
        if not known:
            raise DatasetStopped(
                f"{dataset} {month}: no {referenced!r} data has been extracted for {month} or before; "
                f"run {referenced} first (its ids are needed to check {dataset}'s references)"
            )
        ids: set[str] = set()
        for key in known:
            ids.update(_get_json(ctx.store, STAGING_BUCKET, key, default=[]))
        refs[referenced] = ids
    return refs


def _history(ctx: RunContext, dataset: str, month: str) -> list[int]:
    counts = _get_json(ctx.store, STAGING_BUCKET, f"_history/{dataset}.json", default={})
    return [counts[m] for m in sorted(counts) if m < month][-6:]


def validate_step(ref: dict, ctx: RunContext) -> dict:
    from sinergi.chunks import ParquetSource
    from sinergi.validate import upload_docs, validate, write_quarantine

    dataset, month, run_id = ref["dataset"], ref["month"], ref["run_id"]
    with _staged_file(ctx.store, STAGING_BUCKET, ref["extracted_key"]) as extracted, \
            _staging_writer(ctx.store, STAGING_BUCKET, staging_key(dataset, month, run_id, "valid.parquet")) as valid_out:
        if any(dataset in d.references.values() for d in registry.datasets().values()):
            rid = registry.get(dataset).record_id
            ids = pq.read_table(extracted, columns=[rid]).column(rid)
            _put_json(ctx.store, STAGING_BUCKET, f"_refs/{dataset}/{month}.json", sorted(set(ids.drop_null().to_pylist())))
            del ids
        docs_dir = ctx.home  # sites at layout.local_data_docs_dir: data-docs/<dataset>/<month>/<run>/
        res = validate(
            ParquetSource(extracted), dataset, month, run_id,
            references=_references(ctx, dataset, month), history=_history(ctx, dataset, month), docs_dir=docs_dir,
            valid_sink=valid_out.write,
        )
        if res.stopped:
            valid_out.discard()
    quarantine_key = write_quarantine(ctx.store, res, dataset, month, _safe(run_id))
    if res.docs_path:
        upload_docs(ctx.store, res.docs_path, dataset, month, _safe(run_id))
    counts = dict(res.counts)
    if counts["extracted"] != counts["valid"] + counts["quarantined"]:
        raise ReconciliationError(f"{dataset} {month}: extracted {counts['extracted']} != valid {counts['valid']} + quarantined {counts['quarantined']}")
    log.info("%s %s: %d extracted, %d valid, %d quarantined %s", dataset, month, counts["extracted"], counts["valid"], counts["quarantined"], counts.get("by_rule", {}))
    for w in res.warnings:
        log.warning("%s %s: %s", dataset, month, w)
    if res.docs_path:
        log.info("%s %s: Data Docs %s (and s3://%s/data-docs/%s/%s/%s/)", dataset, month, res.docs_path, QUARANTINE_BUCKET, dataset, month, _safe(run_id))
    if res.stopped:
        raise DatasetStopped(f"{dataset} {month} is not published: " + "; ".join(res.stop_reasons))
    valid_key = valid_out.key
    history = _get_json(ctx.store, STAGING_BUCKET, f"_history/{dataset}.json", default={})
    history[month] = counts["extracted"]
    _put_json(ctx.store, STAGING_BUCKET, f"_history/{dataset}.json", history)
    return {
        **ref,
        "valid_key": valid_key,
        "quarantine_key": quarantine_key,
        "data_docs": str(res.docs_path) if res.docs_path else None,
        "counts": counts,
        "gx": res.summary,
        "validation_warnings": list(res.warnings),
    }


def recipients(dataset: str, ctx: RunContext) -> list[str]:
    return list(ctx.policy.recipients(dataset))


def share_step(ref: dict, party: str, ctx: RunContext) -> dict:
    from sinergi.chunks import ParquetSource
    from sinergi.policy import share

    dataset, month, run_id = ref["dataset"], ref["month"], ref["run_id"]
    with _staged_file(ctx.store, STAGING_BUCKET, ref["valid_key"]) as valid:
        source = ParquetSource(valid)
        shared, report = share(source, dataset, party, ctx.policy, ctx.keyring)  # runs the leak guard
    key = staging_key(dataset, month, run_id, f"share/{party}.parquet")
    put_table(ctx.store, STAGING_BUCKET, key, shared)
    suppressed = sum((report.get("rows_suppressed") or {}).values())
    filtered = int(report.get("rows_filtered_out") or 0)
    if source.num_rows != shared.num_rows + suppressed + filtered:
        raise ReconciliationError(
            f"{dataset} {month} → {party}: valid {source.num_rows} != shared {shared.num_rows} + suppressed {suppressed} + filtered out {filtered}"
        )
    log.info("%s %s → %s: %d rows shared (%d filtered out by the policy, %d suppressed)", dataset, month, party, shared.num_rows, filtered, suppressed)
    return {**ref, "party": party, "shared_key": key, "shared": shared.num_rows, "share_report": report}


def publish_step(ref: dict, ctx: RunContext) -> dict:
    from sinergi.policy import shared_schema
    from sinergi.publish import publish, update_catalog

    dataset, month, run_id, party = ref["dataset"], ref["month"], ref["run_id"], ref["party"]
    bucket = ctx.policy.parties[party].bucket
    table = get_table(ctx.store, STAGING_BUCKET, ref["shared_key"])
    result = publish(
        ctx.store, bucket=bucket, dataset=dataset, month=month, run_id=run_id, table=table,
        schema=shared_schema(dataset, party, ctx.policy),
        manifest_extra={
            "party": party,
            "sources": ref["sources"],
            "counts": {**ref["counts"], "shared": ref["shared"]},
            "share_report": ref["share_report"],
            "gx": ref["gx"],
            "k_anonymity": ref["share_report"].get("k_anonymity"),
            "key_versions": ref["share_report"].get("key_versions"),
            "warnings": ref["warnings"] + ref.get("validation_warnings", []),
        },
    )
    update_catalog(ctx.store, bucket, party, result)
    publish_party_documents(ctx, party)
    out = dict(result)
    log.info("%s %s → s3://%s: published %s rows", dataset, month, bucket, out.get("rows"))
    return out


def publish_party_documents(ctx: RunContext, party: str) -> None:
    """The party's data dictionary and record of processing, regenerated from the registry and
    the policy on every publish, so the documents in the bucket never drift from what is enforced."""
    from sinergi import ropa
    from sinergi.policy import shared_schema
    from sinergi.publish import write_data_dictionary

    bucket = ctx.policy.parties[party].bucket
    schemas = {ds: shared_schema(ds, party, ctx.policy) for ds in ctx.policy.parties[party].datasets}
    write_data_dictionary(ctx.store, bucket, party, schemas)
    markdown, html = ropa.render(ctx.policy, party)
    ctx.store.put_bytes(bucket, "_catalog/record_of_processing.md", markdown.encode(), content_type="text/markdown; charset=utf-8")
    ctx.store.put_bytes(bucket, "_catalog/record_of_processing.html", html.encode(), content_type="text/html; charset=utf-8")
