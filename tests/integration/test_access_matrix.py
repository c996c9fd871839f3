"""Access is enforced by the store: every identity × every bucket × read/list/write, plus listeners."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import boto3
import psutil
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from sinergi.layout import OWNER_BUCKETS
from sinergi.objectstore import AccessDenied
from sinergi.s3 import S3ObjectStore
from sinergi.settings import S3Settings

OWNER = OWNER_BUCKETS
PARTIES = ("kp2mi", "lampung")
IDENTITIES = ("pipeline", "kp2mi", "lampung", "anonymous", "wrong_secret", "unknown_key")
OPS = ("read", "list", "write")
PROBE = "_probe/object.json"


def _bucket_ids() -> list[str]:
    return [*OWNER, "party:kp2mi", "party:lampung"]


def _client(weed, identity: str) -> S3ObjectStore:
    if identity in ("pipeline", *PARTIES):
        return weed.client_for(identity)
    real = weed.credentials("pipeline")
    if identity == "wrong_secret":  # the most powerful access key with a wrong secret
        return S3ObjectStore(S3Settings(weed.endpoint, real.access_key, real.secret_key[::-1] + "x"), attempts=1)
    if identity == "unknown_key":
        return S3ObjectStore(S3Settings(weed.endpoint, "SNGNOSUCHKEY0000", "whatever-secret"), attempts=1)
    store = S3ObjectStore(S3Settings(weed.endpoint, "unused", "unused"), attempts=1)
    store.client = boto3.client(  # anonymous: requests are not signed at all
        "s3", endpoint_url=weed.endpoint, region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    return store


def _expected(identity: str, bucket: str, op: str, parties: dict[str, str]) -> bool:
    if identity == "pipeline":
        return True
    if identity in PARTIES:
        return bucket == parties[identity] and op in ("read", "list")
    return False


@pytest.fixture(scope="module")
def probes(weed) -> dict[str, bytes]:
    """One known object in every bucket, written by the pipeline identity."""
    out = {}
    for bucket in (*OWNER, *weed.embedded.parties.values()):
        body = json.dumps({"bucket": bucket}).encode()
        weed.pipeline.put_bytes(bucket, PROBE, body)
        out[bucket] = body
    return out


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("bucket_id", _bucket_ids())
@pytest.mark.parametrize("identity", IDENTITIES)
def test_access_matrix(weed, probes, identity, bucket_id, op):
    parties = weed.embedded.parties
    bucket = parties[bucket_id.split(":", 1)[1]] if bucket_id.startswith("party:") else bucket_id
    client = _client(weed, identity)
    allowed = _expected(identity, bucket, op, parties)

    def attempt():
        if op == "read":
            return client.get_bytes(bucket, PROBE)
        if op == "list":
            return [o.key for o in client.list(bucket, "_probe/")]
        key = f"_probe/written-by-{identity}.txt"
        client.put_bytes(bucket, key, b"x")
        return key

    if allowed:
        got = attempt()
        if op == "read":
            assert got == probes[bucket]
        elif op == "list":
            assert PROBE in got
        else:
            assert weed.pipeline.get_bytes(bucket, got) == b"x"
    else:
        with pytest.raises(AccessDenied):
            attempt()
        if op == "write":  # and nothing was written
            assert weed.pipeline.head(bucket, f"_probe/written-by-{identity}.txt") is None


def test_anonymous_http_is_denied(weed, probes):
    bucket = weed.embedded.parties["kp2mi"]
    for url in (f"{weed.endpoint}/{bucket}/{PROBE}", f"{weed.endpoint}/{bucket}?list-type=2", f"{weed.endpoint}/"):
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(url, timeout=5)
        assert exc.value.code == 403, url


def test_party_cannot_create_buckets_or_delete(weed, probes):
    kp2mi = weed.client_for("kp2mi")
    with pytest.raises(AccessDenied):
        kp2mi.ensure_bucket("kp2mi-rogue")
    with pytest.raises(AccessDenied):
        kp2mi.delete(weed.embedded.parties["kp2mi"], PROBE)
    assert weed.pipeline.get_bytes(weed.embedded.parties["kp2mi"], PROBE) == probes[weed.embedded.parties["kp2mi"]]


def _weed_listeners(weed) -> list[tuple[str, int]]:
    pid = weed.embedded._pid()
    assert pid is not None
    proc = psutil.Process(pid)
    out = []
    for p in (proc, *proc.children(recursive=True)):
        out += [(c.laddr.ip, c.laddr.port) for c in p.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]
    return out


def test_every_weed_listener_is_loopback_only(weed):
    listeners = _weed_listeners(weed)
    s3_port = int(weed.endpoint.rsplit(":", 1)[1])
    ports = json.loads((weed.embedded.dir / "ports.json").read_text())
    assert s3_port in {p for _, p in listeners}
    assert ports["filer.port"] in {p for _, p in listeners}  # the filer runs — on loopback only
    assert listeners and all(ip == "127.0.0.1" for ip, _ in listeners), listeners


def test_filer_unreachable_from_non_loopback_address(weed):
    """Connecting to the filer port via any non-loopback address of this host is refused."""
    filer = json.loads((weed.embedded.dir / "ports.json").read_text())["filer.port"]
    addrs = [a.address for nics in psutil.net_if_addrs().values() for a in nics
             if a.family == socket.AF_INET and not a.address.startswith("127.")]
    if not addrs:
        pytest.skip("no non-loopback IPv4 address on this host")
    for addr in addrs:
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex((addr, filer)) != 0, f"filer port {filer} reachable on {addr}"
