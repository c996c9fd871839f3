"""What a publication shows a party, and how long a crashed publisher can block a month.

- A curious party, with its own key, reads everything in its bucket after a real run (real steps,
  real weed): no host name, process id, local path or landing key of the owner's machines anywhere;
  the full manifest with those lives in the owner-only ledger, which the party cannot read. The
  party can still verify the data (sha256, rows) from its manifest.
- A publisher on "another host" (a real child process) renews its short lease while it works, so a
  rival cannot take over; once it is SIGKILLed the claim is taken over when the lease ends — the
  time the refusal message announced.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sinergi.simulate as simulate_mod
from conftest import start_store
from sinergi import secrets
from sinergi.layout import LEDGER_BUCKET, owner_record_key
from sinergi.objectstore import AccessDenied
from sinergi.pipeline import RunContext, extract_step, publish_step, recipients, share_step, validate_step
from sinergi.publish import ConcurrentPublishError, publish, read_pointer, verify_month
from sinergi.publish.cas import read_json
from sinergi.publish.protocol import claim_key
from sinergi.settings import Settings, credentials_dir

pytestmark = pytest.mark.slow
MONTH = "2025-07"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    sources = tmp_path_factory.mktemp("hygiene-sources")
    simulate_mod.simulate(sources, month=MONTH, months=1, scale="demo", seed=3)
    running = start_store(tmp_path_factory.mktemp("hygiene-home"))
    yield running, sources
    running.embedded.down()


def test_a_party_sees_no_hosts_processes_or_paths_of_the_owner(world, tmp_path):
    running, sources = world
    home = tmp_path / "home"
    env = {"SINERGI_HOME": str(home), "SINERGI_EXPORTS_DIR": str(sources),
           secrets.SECRET_ENV: "hex:" + os.urandom(32).hex()}
    ctx = RunContext(store=running.pipeline, home=home, settings=Settings(environ=env))
    published = {}
    for dataset in ("health_facilities", "empowerment"):  # a file source and an SQL source
        ref = validate_step(extract_step(dataset, MONTH, "run-hygiene", ctx), ctx)
        for party in recipients(dataset, ctx):
            published[(party, dataset)] = publish_step(share_step(ref, party, ctx), ctx)
    forbidden = [socket.gethostname(), f'"pid": {os.getpid()}', str(sources), str(home), "/tmp/", "sinergi-landing",
                 "run-hygiene/", "sinergi-quarantine"]
    for party in {p for p, _ in published}:
        bucket = ctx.policy.parties[party].bucket
        reader = running.client_for(party)
        keys = [o.key for o in reader.list(bucket)]
        assert any(k.startswith("_manifests/") for k in keys) and not any("_claims/" in k for k in keys), keys
        for key in keys:
            if key.endswith((".json", ".md", ".html")):
                text = reader.get_bytes(bucket, key).decode(errors="replace")
                leaks = [f for f in forbidden if f in text]
                assert not leaks, f"s3://{bucket}/{key} shows {leaks}"
        with pytest.raises(AccessDenied):  # the owner's full record is out of the party's reach
            reader.get_bytes(LEDGER_BUCKET, owner_record_key(bucket, published[next(k for k in published if k[0] == party)]["manifest_key"]))
    # what the party needs is there: the data verifies against its manifest, with counts and sources
    (party, dataset), result = next(iter(published.items()))
    bucket = ctx.policy.parties[party].bucket
    reader = running.client_for(party)
    state = verify_month(reader, bucket, dataset, MONTH)
    assert state["state"] == "committed" and state["rows"] == result["rows"]
    manifest = json.loads(reader.get_bytes(bucket, result["manifest_key"]))
    assert {"counts", "outputs", "schema", "share_report", "key_version"} <= set(manifest)
    assert manifest["sources"] and all(set(s) <= {"file", "table", "rows", "rows_pulled", "source_rows", "malformed",
                                                   "valid", "quarantined", "bytes"} for s in manifest["sources"])
    # ... and the owner keeps the full story
    owner = json.loads(running.pipeline.get_bytes(LEDGER_BUCKET, owner_record_key(bucket, result["manifest_key"])))
    assert owner["claim"]["host"] == socket.gethostname() and owner["claim"]["pid"] == os.getpid()
    assert any(str(sources) in (s.get("path") or "") for s in owner["sources"]) or owner["sources"][0].get("table")


CHILD = r"""
import json, sys
import pyarrow as pa
from sinergi.publish import publish
from sinergi.publish.readers import load_credentials
from sinergi.s3 import S3ObjectStore
a = json.loads(sys.argv[1])
store = S3ObjectStore(load_credentials(a["creds"]), attempts=2, backoff=0.1)
publish(store, bucket=a["bucket"], dataset="lease_beat", month=a["month"], run_id="slow",
        table=pa.table({"x": [1, 2, 3]}), claim_lease=a["lease"])
"""


def test_a_live_publisher_keeps_its_claim_and_a_crashed_one_loses_it_when_announced(world, tmp_path, monkeypatch):
    running, _ = world
    store, bucket, lease = running.pipeline, running.embedded.parties["kp2mi"], 2.0
    publish(store, bucket=bucket, dataset="lease_beat", month=MONTH, run_id="v1", table=pa.table({"x": [0]}))
    flag = tmp_path / "paused"
    args = {"creds": str(credentials_dir(running.home) / "pipeline.env"), "bucket": bucket, "month": MONTH,
            "lease": lease}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SINERGI_PUBLISH_"))}
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(args)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env=env | {"SINERGI_PUBLISH_PAUSE": "manifest_written", "SINERGI_PUBLISH_PAUSE_FILE": str(flag)})
    key = owner_record_key(bucket, claim_key("lease_beat", MONTH, 2))
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert child.poll() is None, child.communicate()[1][-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        first, _ = read_json(store, LEDGER_BUCKET, key)
        # from here on this process is "another host": only the lease says whether the holder lives
        monkeypatch.setattr(socket, "gethostname", lambda: "rival-host.example")
        time.sleep(lease * 2)  # well past the first lease: only renewals keep the claim alive
        with pytest.raises(ConcurrentPublishError, match="is publishing generation 2"):
            publish(store, bucket=bucket, dataset="lease_beat", month=MONTH, run_id="rival", table=pa.table({"x": [9]}))
        renewed, _ = read_json(store, LEDGER_BUCKET, key)
        assert renewed["token"] == first["token"] and renewed["expires_at_epoch"] > first["expires_at_epoch"] + lease
    finally:
        os.kill(child.pid, signal.SIGKILL)  # the worker crashes: no release, no more heartbeats
        child.communicate(timeout=30)
    with pytest.raises(ConcurrentPublishError, match="will be taken over at") as err:
        publish(store, bucket=bucket, dataset="lease_beat", month=MONTH, run_id="rival", table=pa.table({"x": [9]}))
    held, _ = read_json(store, LEDGER_BUCKET, key)
    announced = str(err.value).split("will be taken over at ", 1)[1].split(" ", 1)[0]
    assert announced == held["expires_at"]
    expiry = datetime.fromisoformat(announced.replace("Z", "+00:00")).timestamp()
    assert expiry - time.time() <= lease + 1  # a crashed worker blocks the month for one short lease at most
    time.sleep(max(0.0, expiry - time.time()) + 0.5)
    result = publish(store, bucket=bucket, dataset="lease_beat", month=MONTH, run_id="rival", table=pa.table({"x": [9]}))
    assert result["generation"] == 2 and read_pointer(store, bucket, "lease_beat", MONTH)["run_id"] == "rival"
    claim, _ = read_json(store, LEDGER_BUCKET, key)
    assert claim["took_over"]["run_id"] == "slow"
    assert pq.read_table(pa.BufferReader(store.get_bytes(bucket, result["object_key"])))["x"].to_pylist() == [9]


def test_party_manifest_keeps_only_what_the_party_needs():
    from sinergi.publish.protocol import party_manifest

    full = {"manifest_version": 1, "run_id": "r", "dataset": "placements", "month": MONTH, "generation": 3,
            "outputs": [{"sha256": "ab", "rows": 2}], "counts": {"valid": 2}, "code_version": {"sinergi": "0.1",
            "git_commit": "deadbeef"}, "claim": {"host": "worker-1", "pid": 4242},
            "sources": [{"path": "/opt/airflow/exports/siskop2mi/2025-07/PENEMPATAN_PMI_202507.csv", "rows": 2,
                         "sha256": "cd", "landing_key": "siskop2mi/placements/2025-07/r/PENEMPATAN_PMI_202507.csv"}],
            "warnings": ["/opt/airflow/exports/siskop2mi/2025-07: several source files"], "feedback_key": "_feedback/x"}
    view = party_manifest(full)
    text = json.dumps(view)
    for leak in ("worker-1", "4242", "/opt/airflow", "landing", "deadbeef", "_feedback"):
        assert leak not in text, leak
    assert view["sources"] == [{"file": "PENEMPATAN_PMI_202507.csv", "rows": 2}]
    assert view["warnings"] == ["2025-07: several source files"]  # the explanation stays, the path goes
    assert view["outputs"] == full["outputs"] and view["counts"] == full["counts"]
    assert Path(view["sources"][0]["file"]).suffix == ".csv"
