"""The compose stack's SeaweedFS, for real: docker/seaweedfs/render_config.py renders the config the
sinergi-preflight service puts in the seaweedfs-conf volume, and docker/seaweedfs/entrypoint.sh —
the seaweedfs container's entrypoint — starts ``weed server`` with it (here on free loopback ports,
with this venv's weed). The same attacks as on the embedded store must all be refused; the
entrypoint refuses to start without its config; the identities are least-privilege."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import doors
import pytest

from sinergi.local import seaweed
from sinergi.local.process import free_port
from sinergi.objectstore import AccessDenied
from sinergi.s3 import S3ObjectStore
from sinergi.settings import S3Settings, read_env_file

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "seaweedfs" / "entrypoint.sh"
RENDER = ROOT / "docker" / "seaweedfs" / "render_config.py"
PORTS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
         "s3.port", "s3.port.grpc")
BUCKET, KEY = "lampung-share", "placements/year=2025/month=07/part-0.parquet"
SECRET = b"NIK 1801014507900001 compose party data"
WEED_BIN = str(Path(sys.executable).parent)


def keys() -> dict[str, str]:
    env = {}
    for who in ("PIPELINE", "KP2MI", "LAMPUNG"):
        env[f"SINERGI_S3_{who}_ACCESS_KEY"] = "SNG" + who + secrets.token_hex(6).upper()
        env[f"SINERGI_S3_{who}_SECRET_KEY"] = secrets.token_urlsafe(32)
    return env


def start(tmp: Path, env_keys: dict[str, str], *, render: bool = True) -> tuple[subprocess.Popen, dict[str, int]]:
    conf, data = tmp / "conf", tmp / "data"
    if render:
        r = subprocess.run([sys.executable, str(RENDER), str(conf)], env={**os.environ, **env_keys},
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    ports = {}
    for name in PORTS:
        port = free_port()
        while port in ports.values():
            port = free_port()
        ports[name] = port
    env = {"PATH": f"{WEED_BIN}:/usr/bin:/bin", "SINERGI_WEED_CONF": str(conf), "SINERGI_WEED_DATA": str(data),
           "SINERGI_WEED_S3_BIND": "127.0.0.1",  # in the container 0.0.0.0 (the S3 port only); not on this host
           "AWS_ACCESS_KEY_ID": "SNGATTACKER0000", "AWS_SECRET_ACCESS_KEY": "attacker-attacker-attacker"}
    proc = subprocess.Popen(["sh", str(ENTRYPOINT), *(f"-{k}={v}" for k, v in ports.items())], env=env,
                            stdout=open(tmp / "weed.out", "ab"), stderr=subprocess.STDOUT, start_new_session=True)
    return proc, ports


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compose-weed")
    env_keys = keys()
    proc, ports = start(tmp, env_keys)
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    try:
        prov = read_env_file(tmp / "conf" / "provisioner.env")
        admin = S3ObjectStore(S3Settings(endpoint, prov["SINERGI_PROVISIONER_ACCESS_KEY"],
                                         prov["SINERGI_PROVISIONER_SECRET_KEY"]), attempts=3, backoff=0.3)
        deadline = time.monotonic() + 90
        for bucket in prov["SINERGI_BUCKETS"].split(","):  # what airflow-init does
            while True:
                assert proc.poll() is None, (tmp / "weed.out").read_text()[-3000:]
                try:
                    admin.ensure_bucket(bucket)
                    break
                except Exception:  # noqa: BLE001 - the filer may still be starting
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
        pipeline = S3ObjectStore(S3Settings(endpoint, env_keys["SINERGI_S3_PIPELINE_ACCESS_KEY"],
                                            env_keys["SINERGI_S3_PIPELINE_SECRET_KEY"]), attempts=3, backoff=0.3)
        for key, body in ((KEY, SECRET), ("placements/big.bin", os.urandom(5 * 2**20)),
                          ("placements/victim.parquet", b"VICTIM " + SECRET)):
            pipeline.put_bytes(BUCKET, key, body)
        yield {"proc": proc, "ports": ports, "tmp": tmp, "keys": env_keys, "pipeline": pipeline, "endpoint": endpoint}
    finally:
        stop(proc)


def test_weed_runs_with_the_locks_and_an_empty_environment(stack):
    pid = stack["proc"].pid
    assert Path(f"/proc/{pid}/environ").read_bytes().strip(b"\0") == b""  # entrypoint exec's env -i weed
    assert seaweed.self_test(stack["ports"], pid=pid, data_dir=stack["tmp"] / "data") == []
    assert {p for _, p in doors.listeners(pid)} == set(stack["ports"].values())
    assert all(ip == "127.0.0.1" for ip, _ in doors.listeners(pid))
    assert stat.S_IMODE((stack["tmp"] / "data").stat().st_mode) == 0o700
    for f in ("security.toml", "identities.json", "provisioner.env", "pki/internal.key"):
        assert stat.S_IMODE((stack["tmp"] / "conf" / f).stat().st_mode) == 0o600, f


def test_every_non_s3_port_refuses(stack):
    weed = shutil.which("weed", path=WEED_BIN)
    operator = stack["tmp"] / "conf" / "operator"
    fid = doors.fids(weed, stack["ports"], operator, BUCKET, KEY)[0]
    big = doors.fids(weed, stack["ports"], operator, BUCKET, "placements/big.bin")[-1]
    victim = doors.fids(weed, stack["ports"], operator, BUCKET, "placements/victim.parquet")[0]
    tried = doors.attack_every_port(stack["proc"].pid, stack["ports"]["s3.port"],
                                    doors.attempts(BUCKET, KEY, fid, big, victim), SECRET)
    assert len({t[0] for t in tried}) == len(PORTS) - 1
    assert stack["pipeline"].get_bytes(BUCKET, KEY) == SECRET
    assert stack["pipeline"].head(BUCKET, "placements/planted.parquet") is None
    nobody = stack["tmp"] / "nobody"
    nobody.mkdir(exist_ok=True)
    for tool in ("shell", "filer.meta.tail"):
        rc, out = doors.weed_client(weed, stack["ports"], nobody, tool, f"fs.ls /buckets/{BUCKET}/placements\n", timeout=8)
        assert "victim" not in out and "part-0" not in out, (tool, out[-300:])


def test_identities_are_least_privilege(stack):
    endpoint, k = stack["endpoint"], stack["keys"]
    party = S3ObjectStore(S3Settings(endpoint, k["SINERGI_S3_LAMPUNG_ACCESS_KEY"], k["SINERGI_S3_LAMPUNG_SECRET_KEY"]),
                          attempts=1)
    other = S3ObjectStore(S3Settings(endpoint, k["SINERGI_S3_KP2MI_ACCESS_KEY"], k["SINERGI_S3_KP2MI_SECRET_KEY"]),
                          attempts=1)
    attacker = S3ObjectStore(S3Settings(endpoint, "SNGATTACKER0000", "attacker-attacker-attacker"), attempts=1)
    assert party.get_bytes(BUCKET, KEY) == SECRET
    for call in (lambda: party.put_bytes(BUCKET, "x", b"x"), lambda: other.get_bytes(BUCKET, KEY),
                 lambda: stack["pipeline"].ensure_bucket("exfiltration"), lambda: attacker.get_bytes(BUCKET, KEY)):
        with pytest.raises(AccessDenied):
            call()
    ids = json.loads((stack["tmp"] / "conf" / "identities.json").read_text())["identities"]
    actions = {i["name"]: i["actions"] for i in ids}
    assert not any(a == "Admin" or a.startswith("Admin") for a in actions["pipeline"])
    assert all(a.startswith("Admin:") for a in actions["provisioner"])


def test_the_entrypoint_refuses_to_start_without_its_config(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "identities.json").write_text('{"identities": []}')
    proc, _ = start(tmp_path, keys(), render=False)
    try:
        assert proc.wait(30) == 1
    finally:
        stop(proc)
    assert "refusing to start without its locks" in (tmp_path / "weed.out").read_text()
