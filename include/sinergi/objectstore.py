"""The object-store interface every zone goes through (landing, staging, quarantine, party buckets).

Tasks exchange data only through the object store (never a worker's local disk), so any task can
run on any worker. ``S3ObjectStore`` (sinergi.s3) is the implementation; code depends on this
protocol only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from sinergi.errors import PermanentError, SinergiError, TransientError


class StoreError(SinergiError):
    """An object-store operation failed; the message names the endpoint, operation, bucket and key."""


class StoreUnavailable(StoreError, TransientError):
    """The store did not answer (connection refused or reset, timeouts, 5xx) after our own retries."""


class PreconditionFailed(StoreError, TransientError):
    """A conditional write lost: the object already exists (``if_none_match``) or changed (``if_match``)."""


class ObjectNotFound(StoreError, PermanentError):
    """The object (or bucket) does not exist."""


class AccessDenied(StoreError, PermanentError):
    """The identity is not allowed to do this (the store enforces per-party bucket access)."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str


class ObjectStore(Protocol):
    endpoint: str

    def put_bytes(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        if_none_match: bool = False,
        if_match: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> str:
        """Write an object in one PUT (atomic for readers); returns its ETag.

        ``if_none_match=True`` fails with PreconditionFailed if the key exists; ``if_match=etag``
        fails unless the current object has that ETag.
        """

    def put_file(
        self, bucket: str, key: str, path: str, *, content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
    ) -> str: ...

    def get_bytes(self, bucket: str, key: str) -> bytes: ...

    def get_file(self, bucket: str, key: str, path: str) -> None: ...

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        """Size and ETag of an object, or None if it does not exist."""

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]: ...

    def delete(self, bucket: str, key: str) -> None: ...

    def ensure_bucket(self, bucket: str) -> None: ...
