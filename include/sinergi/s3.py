"""S3 implementation of the object-store interface (SeaweedFS in the embedded default).

Every call is retried with exponential backoff on transient failures (connection refused/reset,
timeouts, 5xx, throttling) and then fails with a ``StoreError`` that names the endpoint, the
operation and the object, so an operator can tell "store down" from "access denied" at a glance.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import boto3
import botocore.exceptions as bce
from botocore.config import Config

from sinergi.objectstore import (
    AccessDenied,
    ObjectInfo,
    ObjectNotFound,
    PreconditionFailed,
    StoreError,
    StoreUnavailable,
)
from sinergi.settings import S3Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

_TRANSIENT_CODES = {"500", "502", "503", "504", "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "Throttling"}
_TRANSIENT_EXC = (
    bce.EndpointConnectionError,
    bce.ConnectionClosedError,
    bce.ReadTimeoutError,
    bce.ConnectTimeoutError,
    bce.ConnectionError,
    bce.ResponseStreamingError,  # the body broke off mid-read (GET)
    bce.IncompleteReadError,
)


class S3ObjectStore:
    """``ObjectStore`` over boto3 with path-style addressing (as SeaweedFS expects)."""

    def __init__(self, settings: S3Settings, *, attempts: int = 5, backoff: float = 0.5, max_backoff: float = 8.0):
        self.settings = settings
        self.endpoint = settings.endpoint
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.client = boto3.client(
            "s3",
            endpoint_url=settings.endpoint,
            aws_access_key_id=settings.access_key,
            aws_secret_access_key=settings.secret_key,
            region_name=settings.region,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1, "mode": "standard"},  # we retry ourselves, visibly
                connect_timeout=5,
                read_timeout=60,
                signature_version="s3v4",
            ),
        )

    # -- retry wrapper -------------------------------------------------------------------------
    def _call(self, op: str, bucket: str, key: str, fn: Callable[[], T]) -> T:
        where = f"{op} s3://{bucket}/{key}" if key else f"{op} s3://{bucket}"
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except bce.ClientError as e:
                code = str(e.response.get("Error", {}).get("Code", ""))
                status = str(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
                if code in ("PreconditionFailed", "412") or status == "412":
                    raise PreconditionFailed(f"object store at {self.endpoint}: {where}: precondition failed") from e
                if code in ("NoSuchKey", "404", "NoSuchBucket", "NotFound") or status == "404":
                    raise ObjectNotFound(f"object store at {self.endpoint}: {where}: not found ({code})") from e
                if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch") or status == "403":
                    raise AccessDenied(f"object store at {self.endpoint}: {where}: access denied ({code})") from e
                if code not in _TRANSIENT_CODES and status not in _TRANSIENT_CODES:
                    raise StoreError(f"object store at {self.endpoint}: {where} failed: {code} {e.response.get('Error', {}).get('Message', '')}".rstrip()) from e
                reason = f"{code} (HTTP {status})"
            except _TRANSIENT_EXC as e:
                reason = type(e).__name__
            if attempt == self.attempts:
                raise StoreUnavailable(
                    f"object store at {self.endpoint} is unavailable: {where} failed after {attempt} attempts ({reason})"
                )
            log.warning("object store %s: %s failed (%s), retry %d/%d in %.1fs", self.endpoint, where, reason, attempt, self.attempts - 1, delay)
            time.sleep(delay)
            delay = min(delay * 2, self.max_backoff)
        raise AssertionError("unreachable")

    # -- ObjectStore ---------------------------------------------------------------------------
    def put_bytes(self, bucket, key, data, *, content_type="application/octet-stream", if_none_match=False, if_match=None, metadata=None) -> str:
        kwargs = {"Bucket": bucket, "Key": key, "Body": data, "ContentType": content_type}
        if if_none_match:
            kwargs["IfNoneMatch"] = "*"
        if if_match:
            kwargs["IfMatch"] = if_match
        if metadata:
            kwargs["Metadata"] = metadata
        return self._call("PUT", bucket, key, lambda: self.client.put_object(**kwargs))["ETag"]

    def put_file(self, bucket, key, path, *, content_type="application/octet-stream", metadata=None) -> str:
        """Upload a local file; large files go up in parts (still atomic: visible on completion)."""
        import os

        if os.path.getsize(path) <= 64 * 1024 * 1024:
            with open(path, "rb") as f:
                return self.put_bytes(bucket, key, f.read(), content_type=content_type, metadata=metadata)
        extra = {"ContentType": content_type, **({"Metadata": metadata} if metadata else {})}
        self._call("PUT", bucket, key, lambda: self.client.upload_file(str(path), bucket, key, ExtraArgs=extra))
        info = self.head(bucket, key)
        return info.etag if info else ""

    def get_bytes(self, bucket, key) -> bytes:
        return self._call("GET", bucket, key, lambda: self.client.get_object(Bucket=bucket, Key=key)["Body"].read())

    def get_file(self, bucket, key, path) -> None:
        self._call("GET", bucket, key, lambda: self.client.download_file(bucket, key, str(path)))

    def head(self, bucket, key) -> ObjectInfo | None:
        try:
            r = self._call("HEAD", bucket, key, lambda: self.client.head_object(Bucket=bucket, Key=key))
        except ObjectNotFound:
            return None
        return ObjectInfo(key=key, size=int(r["ContentLength"]), etag=r["ETag"])

    def metadata(self, bucket, key) -> dict[str, str]:
        r = self._call("HEAD", bucket, key, lambda: self.client.head_object(Bucket=bucket, Key=key))
        return dict(r.get("Metadata") or {})

    def list(self, bucket, prefix="") -> Iterator[ObjectInfo]:
        token = None
        while True:
            kwargs = {"Bucket": bucket, "Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call("LIST", bucket, prefix, lambda kw=kwargs: self.client.list_objects_v2(**kw))
            for o in page.get("Contents", []):
                yield ObjectInfo(key=o["Key"], size=int(o["Size"]), etag=o["ETag"])
            if not page.get("IsTruncated"):
                return
            token = page.get("NextContinuationToken")

    def delete(self, bucket, key) -> None:
        self._call("DELETE", bucket, key, lambda: self.client.delete_object(Bucket=bucket, Key=key))

    def ensure_bucket(self, bucket) -> None:
        try:
            self._call("HEAD", bucket, "", lambda: self.client.head_bucket(Bucket=bucket))
        except ObjectNotFound:
            self._call("CREATE", bucket, "", lambda: self.client.create_bucket(Bucket=bucket))

    # -- Arrow access (readers, benchmarks) ----------------------------------------------------
    def arrow_filesystem(self):
        """A pyarrow S3FileSystem with the same identity (for Parquet datasets)."""
        from pyarrow import fs

        scheme, _, hostport = self.endpoint.partition("://")
        return fs.S3FileSystem(
            access_key=self.settings.access_key,
            secret_key=self.settings.secret_key,
            endpoint_override=hostport,
            scheme=scheme,
            region=self.settings.region,
            retry_strategy=fs.AwsStandardS3RetryStrategy(max_attempts=3),
        )
