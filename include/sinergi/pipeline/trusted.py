"""The trusted zone: every validated month as the indicators count it (``sinergi-trusted``, owner-only).

``s3://sinergi-trusted/<dataset>/year=YYYY/month=MM/part-0.parquet`` (``layout.trusted_key``) holds the
month's valid rows — all of them, before any party's row filter, transforms or k-anonymity — with
three changes: every ``direct_identifier`` column of the registry is dropped (names, NIK, phones,
passports, addresses never enter the zone) except the source systems' record ids (``issued_by`` in
the registry), which stay under their names but keyed with the zone's own key, so the indicators
still de-duplicate and link records (a re-sent complaint counts once) without raw ids; and a
dataset with a ``person_key`` gets a ``person_key`` column: the NIK tokenised with the zone's own
key (``Keyring.internal_key("person")``).
That key links one person across datasets and months inside the pipeline (person-level indicators)
and never keys anything a party receives. The pipeline's bookkeeping columns (``_*``) are left out;
every other column of the valid rows (quasi-identifiers, attributes, ``data_quality_flags``) stays,
because the indicators count the validated records, not a protected release.

Written by ``validate_step`` after a validation that did not stop, after the month reconciled: one
object per month, written to a local file chunk by chunk (memory holds one chunk) and replaced by a
single PUT, so a reader sees the previous month or the new one, never half of it. A stopped re-run
leaves the previous trusted month in place, as it leaves the previous publication.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sinergi import registry
from sinergi.errors import ReconciliationError
from sinergi.layout import TRUSTED_BUCKET, parse_data_key, trusted_key
from sinergi.months import Month
from sinergi.objectstore import ObjectNotFound, ObjectStore
from sinergi.tokens import Keyring, tokenise, tokenise_records

PERSON_KEY = "person_key"
#: The internal key's field: the same one for the NIK of every dataset, so persons link across datasets.
PERSON_FIELD = "person"
COMPRESSION = "zstd"
ROW_GROUP = 128 * 1024


#: The internal key's field for record ids (namespaced by the issuing system, as the parties' tokens are).
RECORD_FIELD = "record"


def record_ids(dataset: str) -> dict[str, str]:
    """Record-id columns of ``dataset`` -> the source system that issued them."""
    return {c.name: c.issued_by for c in registry.get(dataset).columns if c.issued_by}


def trusted_columns(dataset: str, names: Iterable[str]) -> list[str]:
    """The columns of the valid rows the trusted zone keeps (in their order): no direct identifier
    other than the record ids (kept keyed), no bookkeeping column."""
    dropped = set(registry.get(dataset).columns_with_role("direct_identifier")) - set(record_ids(dataset))
    return [c for c in names if c not in dropped and not c.startswith("_")]


def trusted_schema(dataset: str, valid_schema: pa.Schema) -> pa.Schema:
    ds = registry.get(dataset)
    fields = [valid_schema.field(c) for c in trusted_columns(dataset, valid_schema.names)]
    if ds.person_key:
        fields.append(pa.field(PERSON_KEY, pa.string(), metadata={
            "description": "The person, keyed with the trusted zone's internal key (HMAC of the NIK); "
                           "never published", "description_id": "Kunci internal orang (HMAC NIK); tidak "
                           "pernah dipublikasikan", "role": "attribute"}))
    return pa.schema(fields, metadata={"dataset": dataset, "zone": "trusted",
                                       "schema_version": str(registry.SCHEMA_VERSION)})


def to_trusted(chunk: pa.Table, dataset: str, keyring: Keyring) -> pa.Table:
    """One chunk of valid rows as the trusted zone stores it (pure: no I/O)."""
    ds = registry.get(dataset)
    schema = trusted_schema(dataset, chunk.schema)
    records = record_ids(dataset)
    columns = [tokenise_records(chunk.column(c), keyring.internal_key(RECORD_FIELD), records[c])
               if c in records else chunk.column(c) for c in trusted_columns(dataset, chunk.column_names)]
    if ds.person_key:
        columns.append(tokenise(chunk.column(ds.person_key), keyring.internal_key(PERSON_FIELD), "nik"))
    return pa.Table.from_arrays(columns, schema=schema)


def write_trusted(store: ObjectStore, source, dataset: str, month: Month | str, keyring: Keyring, *,
                  run_id: str, expected_rows: int) -> dict:
    """Write the month's valid rows (``source``: a ``sinergi.chunks`` source, read chunk by chunk) to
    the trusted zone: one object, one PUT.

    Raises ReconciliationError *before* writing when the rows are not ``expected_rows`` (the valid
    rows of the validation): the trusted zone holds exactly the validated month. Returns
    ``{"key", "rows", "sha256", "bytes"}``."""
    month = Month.of(month)
    key = trusted_key(dataset, month)
    fd, name = tempfile.mkstemp(prefix="sinergi-trusted-", suffix=".parquet")
    os.close(fd)
    path = Path(name)
    rows = 0
    # an empty month still gets its (empty) object, as an empty month is still published
    writer = pq.ParquetWriter(path, trusted_schema(dataset, source.schema), compression=COMPRESSION)
    try:
        for chunk in source.read():
            out = to_trusted(chunk, dataset, keyring)
            writer.write_table(out, row_group_size=ROW_GROUP)
            rows += out.num_rows
        writer.close()
        writer = None
        if rows != expected_rows:
            raise ReconciliationError(f"{dataset} {month}: {expected_rows} rows were valid but {rows} reached the "
                                      "trusted zone; nothing written")
        digest, size = _sha256(path)
        store.put_file(TRUSTED_BUCKET, key, str(path), content_type="application/vnd.apache.parquet",
                       metadata={"sinergi-run-id": str(run_id), "sinergi-rows": str(rows), "sinergi-sha256": digest})
    finally:
        if writer is not None:
            writer.close()
        path.unlink(missing_ok=True)
    return {"key": key, "rows": rows, "sha256": digest, "bytes": size}


def _sha256(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def trusted_months(store: ObjectStore, dataset: str) -> list[str]:
    """The months (``YYYY-MM``) of ``dataset`` in the trusted zone, oldest first."""
    out = []
    for obj in store.list(TRUSTED_BUCKET, f"{dataset}/"):
        parsed = parse_data_key(obj.key)
        if parsed is not None and parsed[0] == dataset:
            out.append(str(parsed[1]))
    return sorted(out)


def read_trusted(store: ObjectStore, dataset: str, month: Month | str,
                 columns: list[str] | None = None) -> pa.Table | None:
    """One trusted month (only ``columns`` that exist, when given), or None if the zone has none."""
    try:
        data = store.get_bytes(TRUSTED_BUCKET, trusted_key(dataset, month))
    except ObjectNotFound:
        return None
    pf = pq.ParquetFile(io.BytesIO(data))
    if columns is not None:
        columns = [c for c in columns if c in pf.schema_arrow.names]
    return pf.read(columns=columns)
