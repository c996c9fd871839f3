"""The monthly job's steps: extract → validate → share (per party) → publish (per party).

Each step reads its input from the object store, writes its output back, and returns a small
reference (sinergi.pipeline.results), so the DAG layer passes only references through XCom. Every
source row ends up published, quarantined, filtered out by a party's row filter or suppressed; a
step that finds otherwise raises ReconciliationError. Errors a re-run cannot fix derive from
PermanentError (sinergi.errors): the DAG layer fails those tasks without retrying.
"""

from __future__ import annotations

import collections
import logging
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from sinergi import registry
from sinergi.errors import DatasetStopped, ReconciliationError
from sinergi.layout import (
    DPIA_HTML_KEY,
    DPIA_MD_KEY,
    QUARANTINE_BUCKET,
    ROPA_HTML_KEY,
    ROPA_MD_KEY,
    TRUSTED_BUCKET,
    data_docs_prefix,
    run_segment,
    staging_key,
)
from sinergi.months import Month
from sinergi.pipeline import ledger
from sinergi.pipeline.context import RunContext
from sinergi.pipeline.results import ExtractRef, PublishRef, ShareRef, ValidateRef
from sinergi.pipeline.staging import get_table, put_table, staged_file, staging_writer
from sinergi.pipeline.trusted import write_trusted
from sinergi.timing import stage

log = logging.getLogger("sinergi.pipeline")


def extract_step(dataset: str, month: Month | str, run_id: str, ctx: RunContext) -> ExtractRef:
    """Read the month's source, land it as received, and stage it in canonical form."""
    from sinergi.extract import iter_extract, output_schema
    from sinergi.validate.quarantine import malformed_table

    month = str(Month.of(month))
    with stage("extract"):
        batches, result = iter_extract(dataset, month, ctx.sources, landing=ctx.store, run_id=run_id)
        key = staging_key(dataset, month, run_id, "extracted.parquet")
        with staging_writer(ctx.store, key, output_schema(dataset)) as out:
            for batch in batches:
                out.write(batch)
        if not result.complete or out.rows != result.rows_read:
            raise ReconciliationError(
                f"{dataset} {month}: extract delivered {result.rows_read} rows but {out.rows} were staged")
    ref = ExtractRef(dataset=dataset, month=month, run_id=run_id, extracted_key=key, extracted=out.rows,
                     sources=result.sources, warnings=list(result.warnings))
    if result.malformed:  # raw lines travel through staging (owner-only), never through XCom
        ref["malformed_key"] = staging_key(dataset, month, run_id, "malformed.parquet")
        put_table(ctx.store, ref["malformed_key"], malformed_table(result.malformed))
    log.info("%s %s: extracted %d rows from %s", dataset, month, out.rows,
             [s.get("path") or s.get("table") for s in result.sources])
    for w in result.warnings:
        log.warning("%s %s: %s", dataset, month, w)
    return ref


def validate_step(ref: ExtractRef, ctx: RunContext, allow_empty: bool = False) -> ValidateRef:
    """Validate the staged month: valid rows to staging, rejected rows (with reasons) and Data Docs
    to quarantine. A stopped dataset raises DatasetStopped after the quarantine is written. The
    ledger (ids for other datasets' references, the month's volume) is written only for a month
    that validated without a stop (sinergi.pipeline.ledger says which ids).
    ``allow_empty``: the operator confirms that a month without rows after months with rows is real
    (the DAG param of the same name); lines extraction could not parse count against the
    reject_share gate."""
    from sinergi import feedback
    from sinergi.chunks import ParquetSource
    from sinergi.validate import validate, write_quarantine
    from sinergi.validate.datadocs import publish_docs
    from sinergi.validate.quarantine import add_malformed

    dataset, month, run_id = ref["dataset"], ref["month"], ref["run_id"]
    malformed_rows = get_table(ctx.store, ref["malformed_key"]) if ref.get("malformed_key") else None
    malformed = malformed_rows.num_rows if malformed_rows is not None else 0
    valid_by_file: collections.Counter = collections.Counter()
    flagged = feedback.Flagged(dataset)
    with stage("validate"):
        references, ref_warnings = ledger.referenced_ids(ctx.store, dataset, month)
        history = ledger.volume_history(ctx.store, dataset, month)
        ids = None
        with staged_file(ctx.store, ref["extracted_key"]) as extracted, \
                staging_writer(ctx.store, staging_key(dataset, month, run_id, "valid.parquet")) as valid_out:

            def sink(table) -> None:
                valid_by_file.update(_per_file(table))
                flagged.add(table)  # published rows with a warning, for the producer's workbook
                valid_out.write(table)

            res = validate(
                ParquetSource(extracted), dataset, month, run_id, references=references, history=history,
                docs_dir=ctx.home,  # the site goes to layout.local_data_docs_dir(home, dataset, month, run)
                valid_sink=sink, malformed=malformed, allow_empty=allow_empty,
            )
            if res.stopped:
                valid_out.discard()
            elif ledger.is_referenced(dataset):
                # every extracted id exists (also those quarantined for another reason)
                rid = registry.get(dataset).record_id
                ids = pq.read_table(extracted, columns=[rid]).column(rid).drop_null().unique().to_pylist()
        add_malformed(res, malformed_rows, run_id)  # the lines extraction could not parse, with their reason
        with stage("quarantine write"):
            quarantine_key = write_quarantine(ctx.store, res, dataset, month, run_segment(run_id))
        with stage("feedback workbook"):  # the data producer's list of problems (sinergi.feedback)
            feedback.store_problems(ctx.store, dataset, month, run_id, res, flagged.table())
            feedback_key = feedback.write_workbook(ctx.store, registry.get(dataset).source.system, month)
        with stage("data docs upload"):  # the site (if GX ran), the run's status and the month's index
            publish_docs(ctx.store, res, ctx.home)
        counts = dict(res.counts)
        if counts["extracted"] != ref["extracted"]:
            raise ReconciliationError(f"{dataset} {month}: {ref['extracted']} rows were staged by extract but "
                                      f"validation read {counts['extracted']}")
        if counts["source_rows"] != counts["valid"] + counts["quarantined"]:
            raise ReconciliationError(f"{dataset} {month}: source rows {counts['source_rows']} != valid "
                                      f"{counts['valid']} + quarantined {counts['quarantined']} (incl. "
                                      f"{counts['malformed']} malformed)")
        # per file: the rows the reader counted, before any parser, all valid or quarantined
        sources = reconcile_sources(dataset, month, ref.get("sources") or [], valid_by_file,
                                    _per_file(res.quarantined))
        warnings = [*ref_warnings, *res.warnings]
        log.info("%s %s: %d extracted, %d valid, %d quarantined %s", dataset, month, counts["extracted"],
                 counts["valid"], counts["quarantined"], counts.get("by_rule", {}))
        for w in warnings:
            log.warning("%s %s: %s", dataset, month, w)
        if res.docs_path:
            log.info("%s %s: Data Docs %s (and s3://%s/%s)", dataset, month, res.docs_path, QUARANTINE_BUCKET,
                     data_docs_prefix(dataset, month, run_id))
        if res.stopped:
            raise DatasetStopped(f"{dataset} {month} is not published: " + "; ".join(res.stop_reasons))
        if ids is not None:
            ledger.record_ids(ctx.store, dataset, month, run_id, ids)
        ledger.record_volume(ctx.store, dataset, month, counts["extracted"])
        # the trusted zone (issue 15): the validated month the indicators count, without direct identifiers
        with stage("trusted write"), staged_file(ctx.store, valid_out.key) as valid:
            trusted = write_trusted(ctx.store, ParquetSource(valid), dataset, month, ctx.keyring, run_id=run_id,
                                    expected_rows=counts["valid"])  # ReconciliationError before writing otherwise
        counts["trusted"] = trusted["rows"]
        log.info("%s %s: %d rows in s3://%s/%s", dataset, month, trusted["rows"], TRUSTED_BUCKET, trusted["key"])
    return ValidateRef(
        **{**ref, "sources": sources}, valid_key=valid_out.key, quarantine_key=quarantine_key, feedback_key=feedback_key,
        data_docs=str(res.docs_path) if res.docs_path else None, counts=counts, gx=res.summary,
        validation_warnings=warnings,
    )


def _per_file(table) -> collections.Counter:
    """Rows per ``_source_file`` of a table of extracted rows."""
    if "_source_file" not in table.column_names or not table.num_rows:
        return collections.Counter()
    counts = pc.value_counts(table.column("_source_file")).to_pylist()
    return collections.Counter({c["values"]: int(c["counts"]) for c in counts})


def reconcile_sources(dataset: str, month: str, sources: list[dict], valid: collections.Counter,
                      quarantined: collections.Counter) -> list[dict]:
    """Each source with its ``valid`` and ``quarantined`` rows; ReconciliationError unless
    ``source_rows = valid + quarantined`` for every source (the rows counted by the reader, before
    any parser, must all be accounted for)."""
    out = []
    for src in sources:
        src = dict(src)
        name = src.get("name") or (Path(src["path"]).name if src.get("path") else None)
        if name is not None and src.get("source_rows") is not None:
            src["valid"], src["quarantined"] = int(valid.get(name, 0)), int(quarantined.get(name, 0))
            if src["source_rows"] != src["valid"] + src["quarantined"]:
                raise ReconciliationError(
                    f"{dataset} {month}: {name} has {src['source_rows']} data rows but {src['valid']} are valid "
                    f"and {src['quarantined']} quarantined ({src.get('malformed', 0)} malformed); "
                    f"{src['source_rows'] - src['valid'] - src['quarantined']:+d} rows unaccounted for")
        out.append(src)
    return out


def recipients(dataset: str, ctx: RunContext) -> list[str]:
    """The parties the sharing policy gives ``dataset`` to (one share + publish each)."""
    return list(ctx.policy.recipients(dataset))


def share_step(ref: ValidateRef, party: str, ctx: RunContext) -> ShareRef:
    """Apply the party's sharing policy to the valid rows (filter, transforms, tokens, k-anonymity,
    leak guard) and stage the release."""
    from sinergi.chunks import ParquetSource
    from sinergi.policy import share

    dataset, month, run_id = ref["dataset"], ref["month"], ref["run_id"]
    with stage("share"):
        with staged_file(ctx.store, ref["valid_key"]) as valid:
            source = ParquetSource(valid)
            shared, report = share(source, dataset, party, ctx.policy, ctx.keyring)  # runs the leak guard
        key = staging_key(dataset, month, run_id, f"share/{party}.parquet")
        put_table(ctx.store, key, shared)
    suppressed = sum((report.get("rows_suppressed") or {}).values())
    filtered = int(report.get("rows_filtered_out") or 0)
    if source.num_rows != shared.num_rows + suppressed + filtered:
        raise ReconciliationError(f"{dataset} {month} → {party}: valid {source.num_rows} != shared {shared.num_rows} "
                                  f"+ suppressed {suppressed} + filtered out {filtered}")
    log.info("%s %s → %s: %d rows shared (%d filtered out by the policy, %d suppressed)", dataset, month, party,
             shared.num_rows, filtered, suppressed)
    return ShareRef(**ref, party=party, shared_key=key, shared=shared.num_rows, share_report=report)


def publish_step(ref: ShareRef, ctx: RunContext) -> PublishRef:
    """Publish the party's release atomically in its bucket, with the manifest and catalog."""
    from sinergi.policy import shared_schema
    from sinergi.publish import publish, update_catalog

    dataset, month, run_id, party = ref["dataset"], ref["month"], ref["run_id"], ref["party"]
    bucket = ctx.policy.parties[party].bucket
    with stage("publish"):
        table = get_table(ctx.store, ref["shared_key"])
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
                "key_version": ctx.keyring.version,
                "warnings": ref["warnings"] + ref.get("validation_warnings", []),
                # owner-only (not in a party's manifest): the producer's rejects-and-warnings workbook
                "feedback": f"s3://{QUARANTINE_BUCKET}/{ref['feedback_key']}" if ref.get("feedback_key") else None,
            },
        )
        if result["rows"] != ref["shared"]:
            raise ReconciliationError(f"{dataset} {month} → {party}: {ref['shared']} rows were shared but "
                                      f"{result['rows']} published")
        with stage("catalog"):
            update_catalog(ctx.store, bucket, party,
                           {**result, "key_version": ctx.keyring.version, "key_id": ctx.keyring.key_id})
            publish_party_documents(ctx, party)
    log.info("%s %s → s3://%s: published %s rows", dataset, month, bucket, result.get("rows"))
    return dict(result)


def publish_party_documents(ctx: RunContext, party: str) -> None:
    """The party's data dictionary, reading kit (README, spreadsheet extracts), record of processing
    and draft impact assessment, regenerated from the registry, the policy, the catalog and the
    measured risk of the latest manifests on every publish, so the documents in the bucket never
    drift from what is enforced."""
    from sinergi import dpia, ropa
    from sinergi.publish import read_catalog
    from sinergi.publish.kit import write_party_kit

    bucket = ctx.policy.parties[party].bucket
    write_party_kit(ctx.store, party, ctx.policy)
    measured = ropa.latest_measurements(ctx.store, bucket, ctx.policy.parties[party].datasets)
    key_history = (read_catalog(ctx.store, bucket) or {}).get("key_versions")
    documents = (((ROPA_MD_KEY, ROPA_HTML_KEY), ropa.render(ctx.policy, party, measured, key_history=key_history)),
                 ((DPIA_MD_KEY, DPIA_HTML_KEY), dpia.render(ctx.policy, party, measured)))
    for (md_key, html_key), (markdown, html) in documents:
        ctx.store.put_bytes(bucket, md_key, markdown.encode(), content_type="text/markdown; charset=utf-8")
        ctx.store.put_bytes(bucket, html_key, html.encode(), content_type="text/html; charset=utf-8")
