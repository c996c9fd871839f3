"""The store's side doors, attacked from the outside against the real ``weed``.

A local user (or process) without credentials tries every port the running store listens on —
found with psutil from weed's pid, not from our own port list — to list, read, overwrite and delete
a party's objects: the filer's ``/buckets/...`` paths, a volume ``fid``, the master's
``/dir/assign``, ``/dir/lookup`` and ``/col/delete``, and ``weed shell`` / ``weed filer.meta.tail``
over the master and filer gRPC ports, without a certificate and with a certificate of another CA.
Every attempt must be refused and the data must be intact afterwards. The positive controls (the S3
key reads the object; the operator's certificate opens ``weed shell``) show the probes can succeed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
from pathlib import Path

import doors
import pytest

from conftest import start_store
from sinergi.local import seaweed
from sinergi.local.store import EmbeddedStore, StoreStartError

pytestmark = pytest.mark.slow

PARTIES = {"kp2mi": "kp2mi-share", "lampung": "lampung-share"}
BUCKET = "lampung-share"
SECRET = b"NIK 1801014507900001 TOPSECRET party data"
BIG = os.urandom(5 * 1024 * 1024 + 17)  # more than one chunk on the volume server
KEYS = {"placements/year=2025/month=07/part-0.parquet": SECRET, "placements/big.bin": BIG,
        "placements/victim.parquet": b"VICTIM " + SECRET}
POISON = {"SINERGI_MASTER_SECRET": "hex:" + "ab" * 32, "AWS_ACCESS_KEY_ID": "SNGATTACKER0000",
          "AWS_SECRET_ACCESS_KEY": "attacker-secret-attacker-secret", "WEED_JWT_SIGNING_KEY": "attacker"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store started from a process whose environment holds the master secret, AWS_* and WEED_*."""
    saved = {k: os.environ.get(k) for k in POISON}
    os.environ.update(POISON)
    try:
        running = start_store(tmp_path_factory.mktemp("doors-home"), parties=PARTIES)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    for key, body in KEYS.items():
        running.pipeline.put_bytes(BUCKET, key, body)
    running.pipeline.put_bytes("sinergi-landing", "siskop2mi/placements/2025-07/run/raw.csv", SECRET)
    yield running
    running.embedded.down()


def weed_listeners(embedded: EmbeddedStore) -> list[tuple[str, int]]:
    return doors.listeners(embedded._pid())


def http(method: str, url: str, data: bytes | None = None, headers: dict | None = None):
    return doors.http(method, url, data, headers)


def weed_client(embedded: EmbeddedStore, config_dir: Path, tool: str, stdin: str = "", timeout: float = 10,
                env: dict | None = None):
    return doors.weed_client(embedded.weed_binary(), embedded.ports(), config_dir, tool, stdin, timeout, env)


@pytest.fixture(scope="module")
def fids(store) -> dict[str, list[str]]:
    """The volume file ids of the objects, as the legitimate operator (client certificate) reads them."""
    return {key: doors.fids(store.embedded.weed_binary(), store.embedded.ports(), store.embedded.conf / "operator",
                            BUCKET, key) for key in KEYS}


def test_every_listener_is_loopback_and_known(store):
    listeners = weed_listeners(store.embedded)
    ports = store.embedded.ports()
    expected = set(ports.values()) | {ports["admin.port"] + 10000}
    assert all(ip == "127.0.0.1" for ip, _ in listeners), listeners
    assert {p for _, p in listeners} == expected, (listeners, ports)
    for name, port in (("webdav", 7333), ("iceberg", 8181), ("lance", 9101)):
        assert port not in {p for _, p in listeners}, name


def test_every_non_s3_port_refuses_to_list_read_write_and_delete(store, fids):
    """Each port weed listens on except S3, every HTTP path that serves or changes bucket data."""
    s3 = store.embedded.ports()["s3.port"]
    requests = doors.attempts(BUCKET, next(iter(KEYS)), fids[next(iter(KEYS))][0], fids["placements/big.bin"][-1],
                              fids["placements/victim.parquet"][0])
    tried = doors.attack_every_port(store.embedded._pid(), s3, requests, SECRET)
    assert len({t[0] for t in tried}) >= 8, tried  # master, filer, volume, admin and the gRPC ports were all tried
    # nothing was read, planted, overwritten or deleted: the S3 door still sees exactly the objects written
    for key, body in KEYS.items():
        assert store.pipeline.get_bytes(BUCKET, key) == body, key
    assert store.pipeline.head(BUCKET, "placements/planted.parquet") is None


@pytest.mark.parametrize("name", ["master.port.grpc", "filer.port.grpc", "volume.port.grpc", "s3.port.grpc"])
def test_grpc_ports_refuse_clients_without_a_certificate_of_the_store(store, name):
    port = store.embedded.ports()[name]
    assert not seaweed.grpc_answers_without_client_cert(port, tls=False), f"{name}: plaintext gRPC answered"
    assert not seaweed.grpc_answers_without_client_cert(port, tls=True), f"{name}: TLS without client cert answered"


def _rogue_config(tmp: Path) -> Path:
    """A client config with a certificate of another CA (same CN as the store's own)."""
    pki = seaweed.generate_pki(tmp / "rogue-pki")
    cfg = tmp / "rogue"
    cfg.mkdir(mode=0o700)
    (cfg / "security.toml").write_text(seaweed.operator_toml(seaweed.Pki(pki.ca, pki.internal_cert, pki.internal_key,
                                                                          pki.internal_cert, pki.internal_key)))
    return cfg


def test_weed_shell_over_grpc_gets_nothing_without_the_stores_certificate(store, fids, tmp_path):
    script = f"fs.ls /buckets/{BUCKET}/placements\nfs.cat /buckets/{BUCKET}/{next(iter(KEYS))}\n"
    nobody = tmp_path / "nobody"
    nobody.mkdir()
    for who, cfg in (("no certificate", nobody), ("certificate of another CA", _rogue_config(tmp_path))):
        for tool in ("shell", "filer.meta.tail"):
            rc, out = weed_client(store.embedded, cfg, tool, script, timeout=8)
            assert "part-0.parquet" not in out and "victim" not in out and SECRET.decode() not in out, (who, tool, out[-300:])
            assert rc == "timeout" or "error" in out.lower() or rc != 0, (who, tool, rc, out[-300:])
    # control: the operator's certificate lists the objects (the probe could have succeeded) ...
    _, out = weed_client(store.embedded, store.embedded.conf / "operator", "shell",
                         f"fs.ls /buckets/{BUCKET}/placements\n", timeout=60)
    assert "victim.parquet" in out, out[-500:]
    # ... but even it reads no object content without the volume read key
    _, out = weed_client(store.embedded, store.embedded.conf / "operator", "shell",
                         f"fs.cat /buckets/{BUCKET}/{next(iter(KEYS))}\n", timeout=60)
    assert SECRET.decode() not in out, out[-300:]


def test_data_files_are_private(store):
    data = store.embedded.data
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for folder in (store.embedded.dir, store.embedded.conf, store.embedded.conf / "pki", store.embedded.logs):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    loose = [f"{stat.S_IMODE(f.stat().st_mode):o} {f.relative_to(data)}" for f in data.rglob("*")
             if f.is_file() and stat.S_IMODE(f.stat().st_mode) & 0o077 and not f.name.endswith(".vif")]
    assert not loose, loose  # (.vif: volume size/version only, weed writes it 0644 — inside the 0700 folder)
    secrets_ = [store.embedded.conf / "security.toml", store.embedded.conf / "identities.json",
                *(store.embedded.conf / "pki").glob("*.key")]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in secrets_), secrets_
    dat = next(data.rglob("*.dat"))
    if os.geteuid() != 0:
        return
    # another user really cannot read it: a child process drops to `nobody` and tries
    code = ("import os, sys\nos.setgid(65534); os.setuid(65534)\n"
            "for p in sys.argv[1:]:\n"
            "    try:\n        open(p, 'rb').read(1); print('READ', p)\n"
            "    except PermissionError:\n        print('DENIED', p)\n")
    r = subprocess.run([shutil.which("python3") or "python3", "-c", code, str(dat), str(secrets_[0])],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.count("DENIED") == 2 and "READ" not in r.stdout, r.stdout + r.stderr


def test_weed_inherits_no_environment(store):
    environ = Path(f"/proc/{store.embedded._pid()}/environ").read_bytes()
    assert environ.strip(b"\0") == b"", environ[:200]
    for value in POISON.values():
        assert value.encode() not in environ
    # and the AWS_* key in the starting process's environment did not become an identity
    from sinergi.objectstore import AccessDenied
    from sinergi.s3 import S3ObjectStore
    from sinergi.settings import S3Settings

    with pytest.raises(AccessDenied):
        S3ObjectStore(S3Settings(store.endpoint, POISON["AWS_ACCESS_KEY_ID"], POISON["AWS_SECRET_ACCESS_KEY"]),
                      attempts=1).get_bytes(BUCKET, next(iter(KEYS)))


def test_a_store_whose_security_config_does_not_take_is_stopped(tmp_path, monkeypatch):
    """weed skips a malformed security.toml with a warning and runs with no TLS and no JWT: the
    self-test after start must catch it and stop the store."""
    written = seaweed.write_security_config

    def broken(conf, *a, **k):
        pki = written(conf, *a, **k)
        (conf / "security.toml").write_text("[jwt.signing\nkey = 'truncated'\n")
        return pki

    monkeypatch.setattr(seaweed, "write_security_config", broken)
    store = EmbeddedStore(home=tmp_path, s3_port=EmbeddedStore._free_port(), parties=PARTIES)
    try:
        with pytest.raises(StoreStartError, match="without its locks") as err:
            store.up()
        assert "mutual TLS is off" in str(err.value) and "JWT" in str(err.value)
        assert store._pid() is None and not store.status().running
    finally:
        store.down()


def test_a_weed_binary_with_another_checksum_is_not_started(tmp_path, monkeypatch):
    tampered = tmp_path / "weed"
    shutil.copyfile(EmbeddedStore.weed_binary(), tampered)
    with open(tampered, "ab") as f:
        f.write(b"\0")
    tampered.chmod(0o755)
    monkeypatch.setattr(EmbeddedStore, "weed_binary", staticmethod(lambda: str(tampered)))
    store = EmbeddedStore(home=tmp_path / "home", s3_port=EmbeddedStore._free_port(), parties=PARTIES)
    with pytest.raises(StoreStartError, match="does not match the pinned checksum"):
        store.up()
    assert store._pid() is None and not (store.dir / "weed.pid").exists()


def test_the_real_binary_matches_the_pinned_checksum():
    assert seaweed.verify_binary(EmbeddedStore.weed_binary()) == seaweed.WEED_SHA256[("4.48", seaweed.platform_tag())]


def test_pipeline_identity_cannot_create_buckets_nor_make_one_public(store):
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    creds = store.credentials("pipeline")
    client = boto3.client("s3", endpoint_url=store.endpoint, aws_access_key_id=creds.access_key,
                          aws_secret_access_key=creds.secret_key, region_name="us-east-1",
                          config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                         "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}]})
    for call in (lambda: client.create_bucket(Bucket="exfiltration"),
                 lambda: client.put_bucket_policy(Bucket=BUCKET, Policy=policy),
                 lambda: client.put_bucket_acl(Bucket=BUCKET, ACL="public-read"),
                 lambda: client.delete_bucket(Bucket="sinergi-staging")):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "AccessDenied"
    # the provisioner's key (Admin:<bucket>) is in no credentials file
    prov = store.embedded._provisioner()
    for f in (store.home / "credentials").glob("*.env"):
        assert prov.secret_key not in f.read_text()


def test_a_public_bucket_policy_is_removed_at_the_next_start(store):
    import boto3
    from botocore.config import Config

    prov = store.embedded._provisioner()
    admin = boto3.client("s3", endpoint_url=store.endpoint, aws_access_key_id=prov.access_key,
                         aws_secret_access_key=prov.secret_key, region_name="us-east-1",
                         config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                         "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}]})
    admin.put_bucket_policy(Bucket=BUCKET, Policy=policy)
    url = f"{store.endpoint}/{BUCKET}/{next(iter(KEYS))}"
    assert http("GET", url)[0] == 200  # the risk is real: an Admin:<bucket> key can publish the bucket
    store.embedded.up()  # attaching to the running store re-checks every bucket
    code, body = http("GET", url)
    assert code == 403 and SECRET not in body


def test_a_second_start_on_another_port_changes_nothing(store, tmp_path):
    """`make run S3_PORT=A` then `make up S3_PORT=B`: exit 2 with a clear message, the running store,
    its pid file and every credentials file untouched."""
    home = store.home
    running_port = store.embedded.ports()["s3.port"]
    other = EmbeddedStore._free_port()
    watched = [*sorted((home / "credentials").glob("*.env")), store.embedded.pid_file, store.embedded.ports_file,
               store.embedded.conf / "identities.json", store.embedded.conf / "security.toml"]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in watched}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SINERGI_", "AIRFLOW_"))}
    env["SINERGI_HOME"] = str(home)
    sinergi = str(Path(os.sys.executable).parent / "sinergi")
    for args in (["store", "up", "--port", str(other)], ["run", "--port", str(other), "--month", "2025-07"],
                 ["up", "--port", str(other)]):
        r = subprocess.run([sinergi, *args], capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert f"store already running on {running_port} — use S3_PORT={running_port} or `make down`" in r.stderr
        assert "Traceback" not in r.stderr
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in watched} == before
    assert store.embedded.status().running and store.pipeline.get_bytes(BUCKET, next(iter(KEYS))) == SECRET
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", other)) != 0, "nothing was started on the other port"
    # the same port (or none) attaches to the running store
    again = subprocess.run([sinergi, "store", "up"], capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0 and f"127.0.0.1:{running_port}" in again.stdout, again.stdout + again.stderr
