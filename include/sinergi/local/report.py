"""What each party received for a month, printed at the end of ``make run``."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq

from sinergi import settings
from sinergi.errors import ConfigError
from sinergi.layout import (
    QUARANTINE_BUCKET,
    feedback_key,
    local_report_path,
    local_yearly_report_path,
    parse_data_key,
)
from sinergi.local.store import default_parties
from sinergi.months import Month
from sinergi.objectstore import StoreError


def published_counts(party: str, bucket: str, month: str, home: Path) -> dict[str, int]:
    """Rows per dataset published for ``month`` in the party's bucket, read with the party's own key."""
    from sinergi.s3 import S3ObjectStore

    store = S3ObjectStore(settings.party_s3(party, home), attempts=2, backoff=0.2)
    month = Month.parse(month)
    counts: dict[str, int] = {}
    for obj in store.list(bucket):
        found = parse_data_key(obj.key)
        if found is not None and found[1] == month:
            data = store.get_bytes(bucket, obj.key)
            counts[found[0]] = counts.get(found[0], 0) + pq.ParquetFile(io.BytesIO(data)).metadata.num_rows
    return dict(sorted(counts.items()))


TOP_RULES = 3


def publication_rows(party: str, bucket: str, month: str, home: Path, datasets: list[str]) -> list[dict]:
    """Per dataset, the counts of the month's committed publication to ``party``, from its owner
    manifest (``sinergi-ledger/publications/<bucket>/…``, layout.owner_record_key), read with the
    pipeline identity: extracted / quarantined / filtered out / suppressed / published, the top
    quarantine rules, and which run produced it. Datasets without a publication are left out."""
    from sinergi.layout import LEDGER_BUCKET, owner_record_key
    from sinergi.publish import cas
    from sinergi.publish.protocol import read_pointer
    from sinergi.s3 import S3ObjectStore

    store = S3ObjectStore(settings.party_s3("pipeline", home), attempts=2, backoff=0.2)
    rows = []
    for dataset in datasets:
        pointer = read_pointer(store, bucket, dataset, month)
        if not pointer:
            continue
        manifest = cas.read_json(store, LEDGER_BUCKET, owner_record_key(bucket, pointer["manifest_key"]))[0] or {}
        counts = manifest.get("counts") or {}
        share = manifest.get("share_report") or {}
        suppressed = share.get("rows_suppressed") or 0
        by_rule = counts.get("by_rule") or {}
        rows.append({
            "dataset": dataset, "run_id": pointer.get("run_id"), "committed_at": pointer.get("committed_at"),
            "extracted": counts.get("extracted"), "quarantined": counts.get("quarantined"),
            "filtered_out": int(share.get("rows_filtered_out") or 0),
            "suppressed": int(sum(suppressed.values()) if isinstance(suppressed, dict) else suppressed),
            "published": pointer.get("rows"),
            "top_rules": sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_RULES],
        })
    return rows


def _table(rows: list[dict], this_runs: set[str] | None, failed: dict[str, str] | None) -> list[str]:
    out = [f"   {'dataset':<22} {'extracted':>9} {'quarantined':>11} {'filtered out':>12} {'suppressed':>10} "
           f"{'published':>9}  top quarantine rules"]
    notes = []
    for r in rows:
        rules = ", ".join(f"{rule} {n}" for rule, n in r["top_rules"]) or "-"
        mark = ""
        if this_runs is not None and r["run_id"] not in this_runs:
            mark = " *"
            why = f"this run failed for it ({failed[r['dataset']]})" if failed and r["dataset"] in failed else \
                "this run did not publish it"
            notes.append(f"   * {r['dataset']}: shown is an earlier run's publication ({r['run_id']}, committed "
                         f"{r['committed_at']}); {why}")
        def n(value) -> str:  # derived datasets (indicators) have no extract or quarantine
            return "-" if value is None else str(value)

        out.append(f"   {r['dataset'] + mark:<22} {n(r['extracted']):>9} {n(r['quarantined']):>11} {r['filtered_out']:>12} "
                   f"{r['suppressed']:>10} {n(r['published']):>9}  {rules}")
    return out + notes


def summary_text(month: str, home: Path | None = None, this_runs: set[str] | None = None,
                 failed: dict[str, str] | None = None) -> str:
    """What each party holds for ``month``. ``this_runs``: the run ids of this ``make run`` (a
    publication from another run is marked as an earlier run's); ``failed``: dataset → where this
    run failed for it."""
    from sinergi.layout import README_KEY
    from sinergi.publish.readers import ENGINES, read_snippet

    home = home or settings.home()
    lines: list[str] = []
    for party, bucket in default_parties().items():
        cred = settings.credentials_dir(home) / f"{party}.env"
        lines.append(f"\n== {party}  (bucket s3://{bucket}, key {cred})")
        try:
            counts = published_counts(party, bucket, month, home)
        except (StoreError, ConfigError) as e:
            lines.append(f"   cannot read: {e}")
            continue
        if not counts:
            lines.append(f"   nothing published for {month}")
        else:
            try:
                lines += _table(publication_rows(party, bucket, month, home, list(counts)), this_runs, failed)
            except (StoreError, ConfigError) as e:  # the pipeline's key may be missing: row counts only
                lines.append(f"   (manifests not readable: {e})")
                lines += [f"   {dataset:<24} {rows:>8} rows" for dataset, rows in counts.items()]
        if counts:
            first = "placements" if "placements" in counts else next(iter(counts))
            lines.append(f"   read {first} (DuckDB, pandas, polars, spreadsheet; the reading kit for every dataset: "
                         f"s3://{bucket}/{README_KEY}):")
            for engine in ENGINES:
                lines.extend("     " + line for line in read_snippet(party, bucket, first, engine=engine, credentials_path=cred).splitlines())
    return "\n".join(lines)


def local_outputs_text(month: str, home: Path | None = None) -> str:
    """Where the month's reports and Great Expectations Data Docs are on this machine."""
    from sinergi.validate.docs_index import local_index_path

    home = home or settings.home()
    lines = []
    for party in default_parties():
        path = local_report_path(home, party, month)
        lines.append(f"   report for {party:<10} {path}" + ("" if path.exists() else "  (not produced)"))
    year = Month.parse(month).year
    lines.append(f"   yearly evaluation (MoU Art. 7): `sinergi report --year {year}` → "
                 f"{local_yearly_report_path(home, '<party>', year)}")
    docs = sorted(p for p in (home / "data-docs").glob(f"*/{month}/**/index.html") if "_index" not in p.parts)
    index = local_index_path(home, month)
    if docs:
        lines.append(f"   Data Docs ({len(docs)} datasets): open {index if index.exists() else docs[0]}")
        lines.append(f"   (all under {home / 'data-docs'}/<dataset>/{month}/; quarantined rows in s3://{QUARANTINE_BUCKET}/<dataset>/{month}/)")
    lines.append(f"   feedback for the data producers (rejects and warnings, per source system): "
                 f"s3://{QUARANTINE_BUCKET}/{feedback_key('<system>', month)}")
    return "\n".join(lines)
