"""Landing zone: every extract stored as received, before anything changes it.

Key layout (bucket ``sinergi-landing``, owner-only)::

    <system>/<dataset>/<YYYY-MM>/<run>/<filename>      the bytes as received (SQL pulls: Parquet)
    <system>/<dataset>/<YYYY-MM>/_latest.json          pointer: run_id, key, sha256, bytes

(keys from sinergi.layout; ``<run>`` is the run id made key-safe by ``layout.run_segment``, the same
rule staging and quarantine use).

Idempotency: the sha256 of the received bytes is the identity of an extract. Before writing, the
month's ``_latest.json`` is read; if it names an object with the same sha256, nothing new is written
and that key is returned (``reused: true``), so re-extracting an unchanged month never duplicates
data. A changed source gets a new ``<run_id>/`` folder (history is kept: landing is the audit
archive) and the pointer is replaced by one PUT after the object is written, so a reader following
the pointer (or the run manifest's ``landing_key``) never sees a partial or doubled month. Readers
never list the month prefix. A retry of the *same* run writes with ``if_none_match``; if that key
already holds different bytes the run fails with LandingConflictError (start a new run instead of
overwriting evidence).

The sha256 is stored as object metadata ``sha256`` (and in the returned source record and the
pointer). Objects too large for one in-memory PUT are streamed from disk with ``put_file``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from sinergi.extract.errors import LandingConflictError
from sinergi.layout import LANDING_BUCKET, landing_key, landing_pointer_key
from sinergi.objectstore import ObjectNotFound, ObjectStore, PreconditionFailed
from sinergi.timing import stage

IN_MEMORY_LIMIT = 64 * 1024 * 1024  # larger files are streamed from disk (put_file)
_CHUNK = 4 * 1024 * 1024


def sha256_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _read_pointer(store: ObjectStore, bucket: str, key: str) -> dict | None:
    try:
        return json.loads(store.get_bytes(bucket, key))
    except ObjectNotFound:
        return None
    except (ValueError, TypeError):
        return None


def land(
    store: ObjectStore,
    *,
    system: str,
    dataset: str,
    month: str,
    run_id: str,
    filename: str,
    path: Path | None = None,
    data: bytes | None = None,
    source: str,
    bucket: str = LANDING_BUCKET,
) -> dict:
    """Store one received extract (``data`` in memory, or the file at ``path``); return its record
    ``{landing_key, sha256, bytes, reused}``."""
    with stage("landing"):
        return _land(store, system=system, dataset=dataset, month=month, run_id=run_id, filename=filename,
                     path=path, data=data, source=source, bucket=bucket)


def _land(store: ObjectStore, *, system: str, dataset: str, month: str, run_id: str, filename: str,
          path: Path | None, data: bytes | None, source: str, bucket: str) -> dict:
    if data is not None:
        digest, size = hashlib.sha256(data).hexdigest(), len(data)
    elif path is not None:
        digest, size = sha256_file(path)
    else:
        raise ValueError("land() needs data or path")
    pointer_key = landing_pointer_key(system, dataset, month)
    pointer = _read_pointer(store, bucket, pointer_key)
    if pointer and pointer.get("sha256") == digest and store.head(bucket, pointer.get("landing_key", "")):
        return {"landing_key": pointer["landing_key"], "sha256": digest, "bytes": size, "reused": True}

    key = landing_key(system, dataset, month, run_id, filename)
    meta = {"sha256": digest, "source": source.encode("ascii", "replace").decode(), "dataset": dataset,
            "month": month, "run_id": run_id}
    try:
        if data is None and size <= IN_MEMORY_LIMIT:
            data = Path(path).read_bytes()
        if data is not None:
            store.put_bytes(bucket, key, data, if_none_match=True, metadata=meta)
        else:
            if store.head(bucket, key) is not None:
                raise PreconditionFailed(f"{bucket}/{key} exists")
            store.put_file(bucket, key, str(path), metadata=meta)
    except PreconditionFailed:
        existing = _existing_digest(store, bucket, key)
        if existing != digest:
            raise LandingConflictError(
                f"landing {bucket}/{key} already holds different bytes (sha256 {existing} != {digest}) "
                f"for {source}: the source changed during run {run_id!r}; start a new run"
            ) from None
    record = {"landing_key": key, "sha256": digest, "bytes": size, "reused": False}
    new_pointer = {"run_id": run_id, "landing_key": key, "sha256": digest, "bytes": size,
                   "source": source, "landed_at": datetime.now(UTC).isoformat(timespec="seconds")}
    store.put_bytes(bucket, pointer_key, json.dumps(new_pointer, sort_keys=True).encode(),
                    content_type="application/json")
    return record


def _existing_digest(store: ObjectStore, bucket: str, key: str) -> str | None:
    meta_fn = getattr(store, "metadata", None)
    if meta_fn is not None:
        try:
            found = meta_fn(bucket, key).get("sha256")
            if found:
                return found
        except Exception:  # noqa: BLE001 - fall back to hashing the object
            pass
    try:
        return hashlib.sha256(store.get_bytes(bucket, key)).hexdigest()
    except ObjectNotFound:
        return None
