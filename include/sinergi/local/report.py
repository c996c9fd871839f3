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


def summary_text(month: str, home: Path | None = None) -> str:
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
        for dataset, rows in counts.items():
            lines.append(f"   {dataset:<24} {rows:>8} rows")
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
