"""The embedded store's lifecycle: idempotent start, clear port errors, credentials, clean stop."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from sinergi import layout, settings
from sinergi.local.store import EmbeddedStore, StoreStartError
from sinergi.objectstore import StoreError
from sinergi.s3 import S3ObjectStore

PARTIES = {"kp2mi": "kp2mi-share", "lampung": "lampung-share"}


@pytest.fixture()
def store(tmp_path):
    s = EmbeddedStore(home=tmp_path, s3_port=EmbeddedStore._free_port(), parties=PARTIES)
    yield s
    s.down()


def test_start_twice_is_harmless_and_keeps_credentials(store):
    first = store.up()
    creds_before = {p: store.credentials(p).access_key for p in ["pipeline", *PARTIES]}
    second = store.up()
    assert first.running and second.running and first.pid == second.pid
    assert creds_before == {p: store.credentials(p).access_key for p in ["pipeline", *PARTIES]}


def test_credentials_files_are_private_and_complete(store):
    store.up()
    for name in ["pipeline", *PARTIES]:
        path = settings.credentials_dir(store.home) / f"{name}.env"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        env = settings.read_env_file(path)
        assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"} <= set(env)
        assert env["AWS_ENDPOINT_URL"] == store.endpoint
        if name in PARTIES:
            assert env["SINERGI_BUCKET"] == PARTIES[name]


def test_port_in_use_gives_a_clear_error(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        s = EmbeddedStore(home=tmp_path, s3_port=port, parties=PARTIES)
        with pytest.raises(StoreStartError, match=rf"port {port} .* already in use"):
            s.up()


def test_buckets_exist_after_start_and_data_survives_restart(store):
    store.up()
    pipeline = S3ObjectStore(store.credentials("pipeline"))
    for bucket in [*layout.OWNER_BUCKETS, *PARTIES.values()]:
        pipeline.put_bytes(bucket, "probe.txt", b"x")
    assert store.down() is True
    assert not store.status().running
    store.up()
    assert S3ObjectStore(store.credentials("pipeline")).get_bytes("kp2mi-share", "probe.txt") == b"x"


def test_stopped_store_fails_clearly_after_retries(store):
    store.up()
    creds = store.credentials("pipeline")
    store.down()
    client = S3ObjectStore(creds, attempts=3, backoff=0.05)
    with pytest.raises(StoreError) as err:
        client.get_bytes("kp2mi-share", "x")
    message = str(err.value)
    assert store.endpoint in message and "GET s3://kp2mi-share/x" in message and "after 3 attempts" in message


def test_rotation_replaces_a_party_key(store):
    store.up()
    old = store.credentials("lampung")
    store.rotate("lampung")
    store.down()
    store.up()
    new = store.credentials("lampung")
    assert new.access_key != old.access_key
    from sinergi.objectstore import AccessDenied

    with pytest.raises(AccessDenied):
        list(S3ObjectStore(old, attempts=1).list("lampung-share"))
    list(S3ObjectStore(new, attempts=1).list("lampung-share"))


def test_a_second_start_on_another_port_exits_2_and_touches_nothing(tmp_path):
    """`make run S3_PORT=A` then `make up S3_PORT=B`: a clear refusal, the running store untouched."""
    import subprocess
    import sys
    from pathlib import Path

    a, b = EmbeddedStore._free_port(), EmbeddedStore._free_port()
    running = EmbeddedStore(home=tmp_path, s3_port=a)
    running.up()
    try:
        pid = running.status().pid
        state = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in
                 [running.pid_file, running.ports_file, *settings.credentials_dir(tmp_path).glob("*.env")]}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SINERGI_", "AIRFLOW_CONN_"))}
        env["SINERGI_HOME"] = str(tmp_path)
        sinergi = Path(sys.executable).parent / "sinergi"
        for args in (["up", "--port", str(b), "--airflow-port", str(EmbeddedStore._free_port())],
                     ["store", "up", "--port", str(b)]):
            proc = subprocess.run([str(sinergi), *args], env=env, capture_output=True, text=True, timeout=120)
            assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
            assert f"store already running on {a} — use S3_PORT={a} or `make down`" in proc.stderr
            assert "Traceback" not in proc.stderr
        # the same process, the same files (byte for byte, not even rewritten), the store still serving on A
        assert running.status().running and running.status().pid == pid
        assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in state} == state
        assert EmbeddedStore._port_free(b)
        assert settings.read_env_file(settings.credentials_dir(tmp_path) / "pipeline.env")["AWS_ENDPOINT_URL"].endswith(f":{a}")
        # and the port it runs on is remembered: a start without a port attaches to it
        assert EmbeddedStore(home=tmp_path).up().pid == pid
    finally:
        running.down()
