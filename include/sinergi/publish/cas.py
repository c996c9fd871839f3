"""Small JSON documents updated with compare-and-swap (conditional PUT) on the object store."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

from sinergi.errors import TransientError
from sinergi.objectstore import ObjectNotFound, ObjectStore, PreconditionFailed


class UpdateConflict(TransientError):
    """A compare-and-swap update kept losing to concurrent writers (retrying later wins once they are done)."""


def dumps(doc: Any) -> bytes:
    return (json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def read_json(store: ObjectStore, bucket: str, key: str) -> tuple[dict | None, str | None]:
    """(document, etag) or (None, None) if absent.

    The ETag comes from a HEAD before the GET; if the object changes in between, the later
    conditional PUT with that (older) ETag fails and the caller retries — never a lost update."""
    info = store.head(bucket, key)
    if info is None:
        return None, None
    try:
        data = store.get_bytes(bucket, key)
    except ObjectNotFound:
        return None, None
    return json.loads(data), info.etag


def put_json(store: ObjectStore, bucket: str, key: str, doc: Any, *, etag: str | None, create: bool) -> str:
    """Conditional write: ``create`` → only if absent; else only if the current ETag is ``etag``."""
    if create:
        return store.put_bytes(bucket, key, dumps(doc), content_type="application/json", if_none_match=True)
    return store.put_bytes(bucket, key, dumps(doc), content_type="application/json", if_match=etag)


def cas_update(
    store: ObjectStore,
    bucket: str,
    key: str,
    update: Callable[[dict | None], dict | None],
    *,
    attempts: int = 25,
    base_delay: float = 0.05,
) -> dict | None:
    """Read-modify-write ``key`` until the conditional PUT wins.

    ``update(current)`` returns the new document, or None for "no change". Returns what was written
    (or the unchanged current document)."""
    for attempt in range(attempts):
        current, etag = read_json(store, bucket, key)
        new = update(current)
        if new is None:
            return current
        try:
            put_json(store, bucket, key, new, etag=etag, create=current is None)
            return new
        except PreconditionFailed:
            # Another writer won this round: back off with jitter so N writers do not stay in lockstep.
            time.sleep(base_delay * (1 + random.random()) * min(2**attempt, 16))
    raise UpdateConflict(f"s3://{bucket}/{key}: gave up after {attempts} conflicting concurrent updates")
