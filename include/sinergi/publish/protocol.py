"""Atomic, idempotent publication of one dataset-month into a party bucket.

Layout in ``s3://<party-bucket>/``::

    <dataset>/year=YYYY/month=MM/part-0.parquet           the data: exactly ONE object per month
    _manifests/<dataset>/<YYYY-MM>/_current.json           month pointer: committed generation → manifest
    _manifests/<dataset>/<YYYY-MM>/gNNNNNN-<run>.json       party manifest of generation N (<run>: the run id
                                                            made key-safe by ``sinergi.layout.run_segment``)
    _manifests/<dataset>/_latest.json                       newest committed month of the dataset
    _catalog/catalog.json, _catalog/datapackage.json, _catalog/data_dictionary.{md,html}

and, owner-only, in ``s3://sinergi-ledger/publications/<party-bucket>/`` (``layout.owner_record_key``)::

    _manifests/<dataset>/<YYYY-MM>/gNNNNNN-<run>.json       the full run manifest (sources with their paths
                                                            and landing keys, warnings, the claim: host, pid)
    _manifests/<dataset>/<YYYY-MM>/_claims/gNNNNNN.json     claim of generation N (one run may hold it)

The party manifest is what the party needs to verify and understand the data — counts, checksums,
schema, the validation, sharing and disclosure reports, key versions — and nothing about the
owner's machines: no host names, process ids, local paths, landing keys or free-text warnings
(:func:`party_manifest` keeps an allow-list).

Protocol (one run = one dataset, one month, one party bucket):

1. Encode the table to Parquet in memory (deterministic bytes: same rows → same sha256).
2. Read the month pointer: committed generation ``g`` and its ETag ``E`` (absent: ``g = 0``).
3. Claim generation ``g+1``: create ``_claims/g{g+1}`` with ``If-None-Match: *``. If it exists and
   its holder is alive, this run stops with ``ConcurrentPublishError`` *before writing anything*.
   A stale claim (holder process gone on this host, or its lease expired when it ran on another
   host) is taken over with ``If-Match: <claim ETag>``, so only one run can take it over.
   The pointer is re-read after claiming; if it moved, the run stops the same way. While the run
   works, a heartbeat renews its lease (a few minutes) every quarter lease.
4. Write the run manifests (``gNNNNNN-<run_id>.json``, full then party) — write-ahead: they describe
   the data object about to be written (sha256, size, rows, schema) before that object exists.
5. Fence: re-read the claim; stop if another run has taken it over.
6. **Commit point for readers**: one PUT of ``part-0.parquet`` (atomic in S3: readers see the old
   object or the new one, never a mix). The object carries S3 metadata ``sinergi-run-id``,
   ``sinergi-generation``, ``sinergi-sha256`` and ``sinergi-manifest`` naming its manifest.
7. **Commit point for the run record**: advance the month pointer to ``g+1`` with ``If-Match: E``
   (``If-None-Match`` for the first generation). Then update ``_latest.json`` (compare-and-swap).

What a reader can rely on:
- The documented read path (hive glob ``s3://<bucket>/<dataset>/**/*.parquet``) sees, per month,
  exactly one complete Parquet object: never half a month, never two copies of a month. Nothing
  else the publisher writes matches that glob (manifests, claims and the catalog live under ``_*``).
- The object in place is always described by a manifest: the one named in its ``sinergi-manifest``
  metadata, whose recorded sha256 equals the object's (``verify_month`` checks this). The pointer
  ``_current.json`` names the last *fully committed* run; it lags the object only if a run was
  killed between steps 6 and 7 (then ``verify_month`` reports ``state="uncommitted"``; the data is
  still one complete publication, the next run of that month commits normally).
- A failed or killed run before step 6 leaves the previous publication untouched (data, pointer,
  manifest). Re-running a month with the same input writes byte-identical Parquet.
- Two concurrent runs for the same dataset-month cannot both publish: exactly one holds the
  generation claim; the other fails with ``ConcurrentPublishError`` before writing data.

Stale claims: the claim records host, pid, process start time and a lease of ``DEFAULT_CLAIM_LEASE``
(2 min), renewed by a heartbeat thread of the publisher while it works. A run that fails with an
exception marks its claim ``released`` (best effort). Otherwise (killed, or the store was down): on
the same host a claim is stale as soon as its process is gone (psutil, pid + start time), or — in
the claiming process itself — as soon as no publish in it holds the claim; a claim from another host
is stale once its lease has run out without renewal (a crashed worker blocks its month for at most
one lease; the "is publishing" error says when the claim will be taken over). A run that loses its
claim notices at the fence (step 5) and stops without writing data. A claim is never taken over once
the pointer shows its generation committed.

Every key above is spelled in ``sinergi.layout`` (the one home of the bucket layout).

Fault injection (tests, drills): ``SINERGI_PUBLISH_FAULT=<step>`` makes the process ``os._exit(86)``
at that step; ``SINERGI_PUBLISH_PAUSE=<step>`` with ``SINERGI_PUBLISH_PAUSE_FILE=<path>`` writes the
file and sleeps there (to be killed). Steps: see ``STEPS``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, TypedDict

import pyarrow as pa

import sinergi
from sinergi.errors import PermanentError, TransientError
from sinergi.layout import (
    LEDGER_BUCKET,
    PART_NAME,
    claim_key,
    data_key,
    latest_key,
    manifest_key,
    owner_record_key,
    pointer_key,
)
from sinergi.months import JAKARTA, Month
from sinergi.objectstore import ObjectNotFound, ObjectStore, PreconditionFailed
from sinergi.publish import cas
from sinergi.publish.writer import ROW_GROUP_SIZE, EncodedPart, encode, schema_fields
from sinergi.timing import stage

# The keys are re-exported from here for the publisher's callers (``from sinergi.publish import data_key``).
__all__ = [
    "OWNER_BUCKET", "PART_NAME", "STEPS", "ConcurrentPublishError", "InconsistentPublication", "PublishResult",
    "claim_is_stale", "claim_key", "code_version", "data_key", "latest_key", "manifest_key", "owner_record_key",
    "party_manifest", "pointer_key", "publish", "read_latest", "read_pointer", "verify_month",
]

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
#: A claim's lease: a crashed publisher on another host blocks its dataset-month this long at most
#: (the task's retries wait 30 s, 60 s, 120 s); the heartbeat renews it every quarter lease.
DEFAULT_CLAIM_LEASE = 120.0
#: Where claims and full manifests live (owner-only), under ``layout.owner_record_key``.
OWNER_BUCKET = LEDGER_BUCKET
#: The top-level manifest keys a party receives (everything else stays in the owner's full manifest).
PARTY_MANIFEST_KEYS = (
    "manifest_version", "run_id", "bucket", "dataset", "month", "generation", "previous", "created_at",
    "code_version", "schema_version", "schema", "sort_keys", "rows_published", "outputs", "party", "counts",
    "share_report", "gx", "k_anonymity", "key_versions", "key_version", "disclosure", "warnings",
)
_LOCAL_PATH = re.compile(r"(?<![\w:/])(?:/[^\s/'\",;()]+)+/([^\s/'\",;()]+)")
#: What a party sees of each source: which file or table, and how many rows it had.
PARTY_SOURCE_KEYS = ("rows", "rows_pulled", "source_rows", "malformed", "valid", "quarantined", "bytes")
FAULT_EXIT_CODE = 86
STEPS = ("encoded", "pointer_read", "claimed", "manifest_written", "fenced", "data_written", "committed", "latest_updated")
RESERVED_MANIFEST_KEYS = frozenset(
    {"manifest_version", "run_id", "bucket", "dataset", "month", "generation", "previous", "created_at",
     "code_version", "schema_version", "schema", "outputs", "rows_published", "sort_keys", "claim"}
)
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+=-]{0,199}$")
_DATASET = re.compile(r"^[a-z][a-z0-9_]*$")
#: Claim tokens held by publishes running in this process (threads).
_ACTIVE_TOKENS: set[str] = set()


class ConcurrentPublishError(TransientError):
    """Another run holds (or just committed) this dataset-month; nothing was written by this run.
    Transient: once the other run has finished, a retry publishes as the next generation."""


class InconsistentPublication(PermanentError):
    """The published object does not match the manifest that claims to describe it (an operator must
    look: re-running does not repair a publication record)."""


class PublishResult(TypedDict):
    """What ``publish`` returns: small and JSON-able (Airflow Asset extra / XCom)."""

    bucket: str
    dataset: str
    month: str
    run_id: str
    rows: int
    object_key: str
    sha256: str
    size: int
    manifest_key: str
    generation: int
    schema_version: str
    committed_at: str


# -- helpers ----------------------------------------------------------------------------------------
def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@cache
def git_commit() -> str | None:
    """The repository's commit (``SINERGI_GIT_COMMIT`` wins, e.g. baked into an image), else None."""
    if os.environ.get("SINERGI_GIT_COMMIT"):
        return os.environ["SINERGI_GIT_COMMIT"]
    git = Path(sinergi.__file__).resolve().parents[2] / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head or None
        ref = head[5:]
        if (git / ref).exists():
            return (git / ref).read_text().strip() or None
        packed = git / "packed-refs"
        if packed.exists():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split(" ", 1)[0]
    except OSError:
        pass
    return None


def code_version() -> dict[str, str | None]:
    return {"sinergi": sinergi.__version__, "git_commit": git_commit()}


def _checkpoint(step: str, on_step: Callable[[str], None] | None) -> None:
    if on_step is not None:
        on_step(step)
    if os.environ.get("SINERGI_PUBLISH_FAULT") == step:
        log.error("fault injection: exiting at step %s", step)
        os._exit(FAULT_EXIT_CODE)
    if os.environ.get("SINERGI_PUBLISH_PAUSE") == step:
        Path(os.environ["SINERGI_PUBLISH_PAUSE_FILE"]).write_text(f"{os.getpid()} {step}\n")
        while True:  # wait to be killed
            time.sleep(3600)


def _process_identity() -> dict[str, Any]:
    info: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid(), "process_started": None}
    try:
        import psutil

        info["process_started"] = psutil.Process().create_time()
    except Exception:  # noqa: BLE001 - psutil missing or restricted: pid alone
        pass
    return info


def claim_is_stale(claim: dict, *, now: float | None = None) -> bool:
    """Is the run holding ``claim`` certainly gone? (released; same host: its process; else: lease expiry)."""
    now = time.time() if now is None else now
    if claim.get("released"):
        return True
    if claim.get("host") == socket.gethostname():
        if int(claim.get("pid", -1)) == os.getpid():  # this process: alive only while a publish holds it
            return claim.get("token") not in _ACTIVE_TOKENS
        try:
            import psutil

            proc = psutil.Process(int(claim["pid"]))
            started = claim.get("process_started")
            # pid reuse: a different process with the same pid does not keep the claim alive
            alive = proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE and (
                started is None or abs(proc.create_time() - float(started)) < 0.01
            )
            return not alive
        except (ImportError, ValueError, KeyError):
            pass
        except Exception:  # noqa: BLE001 - NoSuchProcess / AccessDenied ...
            return True
    return now > float(claim.get("expires_at_epoch", 0))


def _whole_second(epoch: float) -> float:
    """A lease ends on a whole second, so the time the records and messages announce (``_iso``, to the
    second) is exactly when the claim can be taken over — never a fraction of a second before it."""
    return float(math.ceil(epoch))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def party_manifest(manifest: dict) -> dict:
    """The party's view of a full run manifest: an allow-list of keys; sources reduced to the file
    (or table) name and row counts; the code version without the commit."""
    out = {k: manifest[k] for k in PARTY_MANIFEST_KEYS if k in manifest}
    if "code_version" in out:
        out["code_version"] = {"sinergi": (manifest["code_version"] or {}).get("sinergi")}
    if isinstance(manifest.get("sources"), list):
        out["sources"] = []
        for src in manifest["sources"]:
            if isinstance(src, dict):
                name = Path(str(src.get("path") or src.get("file") or "")).name
                where = {"file": name} if name else {"table": src["table"]} if src.get("table") else {}
                out["sources"].append({**where, **{k: src[k] for k in PARTY_SOURCE_KEYS if k in src}})
    if isinstance(manifest.get("warnings"), list):  # they explain the data; local paths shortened to a name
        out["warnings"] = [_LOCAL_PATH.sub(lambda m: m.group(1), str(w)) for w in manifest["warnings"]]
    return out


class _Heartbeat:
    """Renews a held claim's lease every quarter lease until stopped (or until the claim is lost:
    the fence before the data write then stops the run)."""

    def __init__(self, store: ObjectStore, key: str, token: str, lease: float):
        self.store, self.key, self.token, self.lease = store, key, token, lease
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"sinergi-claim-heartbeat-{token}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(max(self.lease / 4, 0.05)):
            try:
                held, etag = cas.read_json(self.store, OWNER_BUCKET, self.key)
                if not held or held.get("token") != self.token or held.get("released"):
                    return  # taken over or released: nothing to keep alive
                until = _whole_second(time.time() + self.lease)
                cas.put_json(self.store, OWNER_BUCKET, self.key,
                             {**held, "expires_at_epoch": until, "expires_at": _iso(until), "renewed_at": _now()},
                             etag=etag, create=False)
            except PreconditionFailed:
                continue  # changed between read and write: look again at the next beat
            except Exception as e:  # noqa: BLE001 - a missed beat is not fatal; the lease has slack
                log.warning("claim heartbeat s3://%s/%s: %s", OWNER_BUCKET, self.key, e)

    def stop(self) -> None:
        self.stopped.set()
        if self.thread is not threading.current_thread():
            self.thread.join(timeout=10)


def _validate(bucket: str, dataset: str, run_id: str) -> None:
    if not _RUN_ID.match(run_id):
        raise ValueError(f"run_id {run_id!r}: use letters, digits and . _ : + = - (no '/', not starting with '_')")
    if not _DATASET.match(dataset):
        raise ValueError(f"dataset {dataset!r} is not a snake_case dataset name")
    if not bucket:
        raise ValueError("bucket is required")


def _json_roundtrip(extra: dict) -> dict:
    clash = RESERVED_MANIFEST_KEYS & set(extra)
    if clash:
        raise ValueError(f"manifest_extra may not set publisher-owned keys: {', '.join(sorted(clash))}")
    return json.loads(json.dumps(extra, default=str))  # fail early on non-JSON-able input


# -- publish ----------------------------------------------------------------------------------------
def publish(
    store: ObjectStore,
    *,
    bucket: str,
    dataset: str,
    month: Month | str,
    run_id: str,
    table: pa.Table,
    schema: pa.Schema | None = None,
    manifest_extra: dict | None = None,
    sort_by: tuple[str, ...] | None = None,
    row_group_size: int = ROW_GROUP_SIZE,
    claim_lease: float = DEFAULT_CLAIM_LEASE,
    update_latest: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> PublishResult:
    """Publish ``table`` as the content of ``dataset``/``month`` in ``bucket`` (see module doc).

    ``schema``: the party's shared schema (field metadata description/description_id/role/
    transform); None → the table's schema (descriptions completed from the registry).
    ``manifest_extra``: the pipeline's facts for the manifest (sources, counts, gx, k_anonymity,
    key_versions, …), stored verbatim. Raises ``ConcurrentPublishError`` if another run holds or
    wins this dataset-month; ``StoreError`` (naming endpoint and operation) if the store fails.
    """
    month = str(Month.of(month))  # strict YYYY-MM (MonthError names what was given)
    _validate(bucket, dataset, run_id)
    extra = _json_roundtrip(manifest_extra or {})
    with stage("encode Parquet"):
        part = encode(table, dataset=dataset, month=month, schema=schema, sort_by=sort_by,
                      row_group_size=row_group_size)
    _checkpoint("encoded", on_step)

    ptr_key = pointer_key(dataset, month)
    where = f"s3://{bucket}/{dataset} month {month}"

    # 2. current pointer
    pointer, ptr_etag = cas.read_json(store, bucket, ptr_key)
    base_gen = int(pointer["generation"]) if pointer else 0
    gen = base_gen + 1
    _checkpoint("pointer_read", on_step)

    # 3. claim generation gen (owner-only: the claim names this host and process)
    ckey = owner_record_key(bucket, claim_key(dataset, month, gen))
    lease_until = _whole_second(time.time() + claim_lease)
    claim = {
        "run_id": run_id,
        "dataset": dataset,
        "month": month,
        "token": secrets.token_hex(8),  # distinguishes two attempts with the same run_id
        "generation": gen,
        "base_generation": base_gen,
        "base_etag": ptr_etag,
        "claimed_at": _now(),
        "lease_seconds": claim_lease,
        "expires_at_epoch": lease_until,
        "expires_at": _iso(lease_until),
        **_process_identity(),
    }
    try:
        cas.put_json(store, OWNER_BUCKET, ckey, claim, etag=None, create=True)
    except PreconditionFailed:
        _take_over_claim(store, bucket, ckey, claim, where=where)
    _ACTIVE_TOKENS.add(claim["token"])
    heartbeat = _Heartbeat(store, ckey, claim["token"], claim_lease)
    try:
        return _publish_claimed(
            store, bucket, dataset, month, run_id, part, extra, claim, pointer, ptr_etag,
            update_latest=update_latest, on_step=on_step,
        )
    except BaseException as exc:
        heartbeat.stop()
        _release_claim(store, ckey, claim, exc)
        raise
    finally:
        heartbeat.stop()
        _ACTIVE_TOKENS.discard(claim["token"])


def _publish_claimed(
    store: ObjectStore, bucket: str, dataset: str, month: str, run_id: str, part: EncodedPart, extra: dict,
    claim: dict, pointer: dict | None, ptr_etag: str | None, *, update_latest: bool,
    on_step: Callable[[str], None] | None,
) -> PublishResult:
    gen = claim["generation"]
    ckey = owner_record_key(bucket, claim_key(dataset, month, gen))
    obj_key = data_key(dataset, month)
    ptr_key = pointer_key(dataset, month)
    where = f"s3://{bucket}/{dataset} month {month}"
    again, again_etag = cas.read_json(store, bucket, ptr_key)
    if again_etag != ptr_etag:
        raise ConcurrentPublishError(
            f"{where}: another run committed generation {again and again.get('generation')} "
            f"(run {again and again.get('run_id')}) while this run ({run_id}) was starting; nothing written"
        )
    _checkpoint("claimed", on_step)

    # 4. write-ahead manifests: the owner's full one, then the party's
    mkey = manifest_key(dataset, month, gen, run_id)
    created = _now()
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "run_id": run_id,
        "bucket": bucket,
        "dataset": dataset,
        "month": month,
        "generation": gen,
        "previous": (
            {k: pointer.get(k) for k in ("generation", "run_id", "manifest_key", "sha256", "rows")} if pointer else None
        ),
        "created_at": created,
        "code_version": code_version(),
        "schema_version": part.schema.metadata.get(b"schema_version", b"1").decode(),
        "schema": schema_fields(part.schema),
        "sort_keys": list(part.sort_keys),
        "rows_published": part.rows,
        "outputs": [
            {
                "key": obj_key,
                "uri": f"s3://{bucket}/{obj_key}",
                "sha256": part.sha256,
                "size": part.size,
                "rows": part.rows,
                "row_groups": part.row_groups,
                "format": "parquet",
                "compression": "zstd",
            }
        ],
        "claim": {k: claim[k] for k in ("token", "host", "pid", "claimed_at")},
        **extra,
    }
    if store.head(bucket, mkey) is not None or store.head(OWNER_BUCKET, owner_record_key(bucket, mkey)) is not None:
        # Same run id and generation: an earlier, killed attempt of this run (e.g. an Airflow retry),
        # whose object may still be in place and name that manifest — never overwrite it.
        mkey = f"{mkey.removesuffix('.json')}-{claim['token']}.json"
    cas.put_json(store, OWNER_BUCKET, owner_record_key(bucket, mkey), manifest, etag=None, create=True)
    cas.put_json(store, bucket, mkey, party_manifest(manifest), etag=None, create=True)
    _checkpoint("manifest_written", on_step)

    # 5. fence: still our claim?
    current_claim, _ = cas.read_json(store, OWNER_BUCKET, ckey)
    if not current_claim or current_claim.get("token") != claim["token"]:
        raise ConcurrentPublishError(
            f"{where}: the claim on generation {gen} was taken over by run "
            f"{current_claim and current_claim.get('run_id')} (this run {run_id} exceeded its lease); nothing written"
        )
    _checkpoint("fenced", on_step)

    # 6. the data object: one PUT
    store.put_bytes(
        bucket,
        obj_key,
        part.data,
        content_type="application/vnd.apache.parquet",
        metadata={
            "sinergi-run-id": run_id,
            "sinergi-generation": str(gen),
            "sinergi-sha256": part.sha256,
            "sinergi-manifest": mkey,
        },
    )
    _checkpoint("data_written", on_step)

    # 7. commit the month pointer
    committed_at = _now()
    new_pointer = {
        "dataset": dataset,
        "month": month,
        "generation": gen,
        "run_id": run_id,
        "manifest_key": mkey,
        "object_key": obj_key,
        "sha256": part.sha256,
        "size": part.size,
        "rows": part.rows,
        "schema_version": manifest["schema_version"],
        "committed_at": committed_at,
    }
    try:
        cas.put_json(store, bucket, ptr_key, new_pointer, etag=ptr_etag, create=ptr_etag is None)
    except PreconditionFailed:
        raise ConcurrentPublishError(
            f"{where}: the month pointer moved under generation {gen} of run {run_id} (a run that lost its "
            "claim kept writing); run verify_month and re-run the month"
        ) from None
    _checkpoint("committed", on_step)
    log.info("published %s: generation %d, %d rows, sha256 %s (run %s)", where, gen, part.rows, part.sha256[:12], run_id)

    if update_latest:
        _advance_latest(store, bucket, dataset, new_pointer)
    _checkpoint("latest_updated", on_step)

    return PublishResult(
        bucket=bucket,
        dataset=dataset,
        month=month,
        run_id=run_id,
        rows=part.rows,
        object_key=obj_key,
        sha256=part.sha256,
        size=part.size,
        manifest_key=mkey,
        generation=gen,
        schema_version=manifest["schema_version"],
        committed_at=committed_at,
    )


def _release_claim(store: ObjectStore, ckey: str, claim: dict, exc: BaseException) -> None:
    """Best effort: mark our claim released so the next run need not wait for the lease.

    Skipped when the failure is a lost claim (it is not ours any more); if the store is down the
    claim stays — same process: recognised as abandoned via ``_ACTIVE_TOKENS``; other process on
    this host: once it exits; other host: after the lease."""
    if isinstance(exc, ConcurrentPublishError):
        return
    try:
        held, etag = cas.read_json(store, OWNER_BUCKET, ckey)
        if held and held.get("token") == claim["token"]:
            cas.put_json(store, OWNER_BUCKET, ckey, {**held, "released": True, "error": type(exc).__name__}, etag=etag,
                         create=False)
    except Exception as e:  # noqa: BLE001 - the original error matters more
        log.warning("could not release claim s3://%s/%s: %s", OWNER_BUCKET, ckey, e)


def _take_over_claim(store: ObjectStore, bucket: str, ckey: str, claim: dict, *, where: str) -> None:
    held, held_etag = cas.read_json(store, OWNER_BUCKET, ckey)
    if held is None:  # vanished (an operator cleaned up): try a plain create once more
        try:
            cas.put_json(store, OWNER_BUCKET, ckey, claim, etag=None, create=True)
            return
        except PreconditionFailed:
            raise ConcurrentPublishError(f"{where}: generation {claim['generation']} was just claimed by another run") from None
    pointer = read_pointer(store, bucket, claim["dataset"], claim["month"])
    if pointer and int(pointer["generation"]) >= claim["generation"]:
        raise ConcurrentPublishError(
            f"{where}: run {pointer.get('run_id')} committed generation {pointer['generation']} while this run "
            f"({claim['run_id']}) was starting; nothing written"
        )
    if not claim_is_stale(held):
        raise ConcurrentPublishError(
            f"{where}: run {held.get('run_id')} (host {held.get('host')}, pid {held.get('pid')}, claimed "
            f"{held.get('claimed_at')}) is publishing generation {claim['generation']}; this run "
            f"({claim['run_id']}) stopped before writing anything. {_takeover_time(held)}"
        )
    claim["took_over"] = {k: held.get(k) for k in ("run_id", "token", "host", "pid", "claimed_at")}
    try:
        cas.put_json(store, OWNER_BUCKET, ckey, claim, etag=held_etag, create=False)
    except PreconditionFailed:
        raise ConcurrentPublishError(f"{where}: another run took over the stale claim on generation {claim['generation']} first") from None
    log.warning("%s: took over stale claim of run %s on generation %d", where, held.get("run_id"), claim["generation"])


def _takeover_time(held: dict) -> str:
    """When a live-looking claim stops blocking: its lease end, unless its holder keeps renewing it."""
    expires = float(held.get("expires_at_epoch") or 0)
    if held.get("host") == socket.gethostname():
        return "Its process is alive on this host; once it ends, the next attempt takes the claim over."
    jakarta = datetime.fromtimestamp(expires, UTC).astimezone(JAKARTA).strftime("%H:%M:%S WIB")
    return (f"If that run has died, its claim will be taken over at {_iso(expires)} ({jakarta}), when its lease "
            "ends without a heartbeat; a retry after that publishes.")


def _advance_latest(store: ObjectStore, bucket: str, dataset: str, pointer: dict) -> None:
    def update(current: dict | None) -> dict | None:
        if current is not None:
            newer_month = current.get("month", "") > pointer["month"]
            same_older = current.get("month") == pointer["month"] and int(current.get("generation", 0)) >= pointer["generation"]
            if newer_month or same_older:
                return None  # _latest names the newest month; a backfill of an older month leaves it
        return dict(pointer)

    cas.cas_update(store, bucket, latest_key(dataset), update)


# -- reading the record -----------------------------------------------------------------------------
def read_pointer(store: ObjectStore, bucket: str, dataset: str, month: Month | str) -> dict | None:
    return cas.read_json(store, bucket, pointer_key(dataset, month))[0]


def read_latest(store: ObjectStore, bucket: str, dataset: str) -> dict | None:
    return cas.read_json(store, bucket, latest_key(dataset))[0]


def verify_month(store: ObjectStore, bucket: str, dataset: str, month: Month | str) -> dict:
    """Check the published object of a month against its manifest (reads the object).

    Returns ``{"state": "absent"|"committed"|"uncommitted", "sha256", "rows", "run_id",
    "generation", "manifest_key", "pointer_generation"}``; raises ``InconsistentPublication`` if the
    object's bytes do not match the manifest it names, or a committed pointer disagrees with it.
    """
    key = data_key(dataset, month)
    pointer = read_pointer(store, bucket, dataset, month)
    try:
        data = store.get_bytes(bucket, key)
    except ObjectNotFound:
        if pointer is not None:
            raise InconsistentPublication(f"s3://{bucket}/{key}: pointer at generation {pointer['generation']} but no object") from None
        return {"state": "absent", "pointer_generation": 0}
    sha = hashlib.sha256(data).hexdigest()
    meta = store.metadata(bucket, key) if hasattr(store, "metadata") else {}
    mkey = meta.get("sinergi-manifest") or (pointer or {}).get("manifest_key")
    if not mkey:
        raise InconsistentPublication(f"s3://{bucket}/{key}: object names no manifest and no pointer exists")
    manifest = json.loads(store.get_bytes(bucket, mkey))
    out = manifest["outputs"][0]
    if out["sha256"] != sha or out["size"] != len(data):
        raise InconsistentPublication(
            f"s3://{bucket}/{key}: sha256 {sha[:12]} / {len(data)} bytes, manifest {mkey} says {out['sha256'][:12]} / {out['size']}"
        )
    gen = int(manifest["generation"])
    pgen = int(pointer["generation"]) if pointer else 0
    if pointer and pgen == gen and pointer["sha256"] != sha:
        raise InconsistentPublication(f"s3://{bucket}/{key}: pointer generation {pgen} records another sha256")
    if pgen > gen:
        raise InconsistentPublication(f"s3://{bucket}/{key}: object of generation {gen} older than committed {pgen}")
    return {
        "state": "committed" if pgen == gen else "uncommitted",
        "sha256": sha,
        "rows": int(out["rows"]),
        "run_id": manifest["run_id"],
        "generation": gen,
        "manifest_key": mkey,
        "pointer_generation": pgen,
    }
