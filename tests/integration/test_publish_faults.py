"""Fault tolerance of the publication protocol against a real SeaweedFS (a store of its own, since
some tests stop it): killed publishers, a store that goes down mid-run, racing runs, stale claims."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pds
import pyarrow.parquet as pq
import pytest

from sinergi.layout import LEDGER_BUCKET, owner_record_key
from sinergi.local.store import EmbeddedStore
from sinergi.objectstore import StoreError
from sinergi.publish import (
    ConcurrentPublishError,
    encode,
    publish,
    read_latest,
    read_pointer,
    verify_month,
)
from sinergi.publish.cas import dumps, read_json
from sinergi.publish.protocol import FAULT_EXIT_CODE, STEPS, claim_key
from sinergi.s3 import S3ObjectStore
from sinergi.settings import S3Settings, credentials_dir

pytestmark = pytest.mark.slow

MONTH = "2025-07"
SCHEMA = pa.schema([
    pa.field("record_token", pa.string(), metadata={"description": "Record pseudonym", "description_id": "Pseudonim rekam", "role": "attribute", "transform": "token:record"}),
    pa.field("kabkota_code", pa.string(), metadata={"description": "Regency/city", "description_id": "Kab/kota", "role": "quasi_identifier", "transform": "keep"}),
    pa.field("event_date", pa.date32(), metadata={"description": "Event date", "description_id": "Tanggal", "role": "attribute", "transform": "keep"}),
    pa.field("n_children", pa.int64(), metadata={"description": "Number of children", "description_id": "Jumlah anak", "role": "attribute", "transform": "keep"}),
], metadata={"schema_version": "1"})

CHILD = r"""
import json, sys
import pyarrow.parquet as pq
from sinergi.publish import publish
from sinergi.publish.readers import load_credentials
from sinergi.s3 import S3ObjectStore
a = json.loads(sys.argv[1])
t = pq.read_table(a["table"])
store = S3ObjectStore(load_credentials(a["creds"]), attempts=2, backoff=0.1)
print(json.dumps(publish(store, bucket=a["bucket"], dataset=a["dataset"], month=a["month"], run_id=a["run_id"],
                         table=t, schema=t.schema)))
"""


def make_table(n: int, seed: int) -> pa.Table:
    rng = random.Random(seed)
    return pa.table({
        "record_token": [f"{rng.getrandbits(128):032x}" for _ in range(n)],
        "kabkota_code": [rng.choice(["1801", "1802", "1871"]) for _ in range(n)],
        "event_date": [dt.date(2025, 7, rng.randint(1, 28)) for _ in range(n)],
        "n_children": [rng.randint(0, 4) for _ in range(n)],
    }, schema=SCHEMA)


def rows(t: pa.Table) -> list[tuple]:
    return sorted(zip(*(t.column(c).to_pylist() for c in SCHEMA.names), strict=True))


class Env:
    def __init__(self, running, tmp: Path):
        self.running = running
        self.store: S3ObjectStore = running.pipeline
        self.bucket = running.embedded.parties["kp2mi"]
        self.creds = credentials_dir(running.home) / "pipeline.env"
        self.tmp = tmp

    def glob_rows(self, dataset: str) -> list[tuple]:
        fs = self.store.arrow_filesystem()
        return rows(pds.dataset(f"{self.bucket}/{dataset}", filesystem=fs, format="parquet", partitioning="hive").to_table())

    def child(self, dataset: str, run_id: str, table: pa.Table, **env) -> subprocess.Popen:
        path = self.tmp / f"{dataset}-{run_id}.parquet"
        pq.write_table(table, path)
        args = {"table": str(path), "creds": str(self.creds), "bucket": self.bucket, "dataset": dataset, "month": MONTH, "run_id": run_id}
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SINERGI_PUBLISH_"))} | env
        return subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(args)], env=full_env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from conftest import start_store

    running = start_store(tmp_path_factory.mktemp("faults-home"))
    try:
        yield Env(running, tmp_path_factory.mktemp("faults-tables"))
    finally:
        running.embedded.down()


V1, V2 = make_table(120, seed=1), make_table(75, seed=2)


@pytest.mark.parametrize("step", STEPS)
def test_killed_publisher_leaves_month_consistent_and_rerun_converges(env, step):
    ds = f"kill_{step}"
    expected_v2 = encode(V2, dataset=ds, month=MONTH, schema=SCHEMA).sha256
    r1 = publish(env.store, bucket=env.bucket, dataset=ds, month=MONTH, run_id="v1", table=V1, schema=SCHEMA)

    proc = env.child(ds, "v2", V2, SINERGI_PUBLISH_FAULT=step)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == FAULT_EXIT_CODE, err[-2000:]

    state = verify_month(env.store, env.bucket, ds, MONTH)  # raises if object and manifest disagree
    seen = env.glob_rows(ds)
    if STEPS.index(step) < STEPS.index("data_written"):
        # the previous publication is untouched: data, pointer, manifest
        assert (state["state"], state["sha256"], state["run_id"]) == ("committed", r1["sha256"], "v1")
        assert seen == rows(V1)
        assert read_pointer(env.store, env.bucket, ds, MONTH)["generation"] == 1
    elif step == "data_written":
        # one complete new object, described by its (write-ahead) manifest; pointer not yet advanced
        assert (state["state"], state["sha256"], state["generation"], state["pointer_generation"]) == ("uncommitted", expected_v2, 2, 1)
        assert seen == rows(V2)
    else:
        assert (state["state"], state["sha256"], state["generation"]) == ("committed", expected_v2, 2)
        assert seen == rows(V2)
    assert len(seen) in (len(V1), len(V2))  # never doubled or mixed

    # a rerun (new process, or this one) takes over the dead run's claim and converges
    r3 = publish(env.store, bucket=env.bucket, dataset=ds, month=MONTH, run_id="v2-rerun", table=V2, schema=SCHEMA)
    assert r3["sha256"] == expected_v2
    final = verify_month(env.store, env.bucket, ds, MONTH)
    assert (final["state"], final["run_id"], final["generation"]) == ("committed", "v2-rerun", r3["generation"])
    assert env.glob_rows(ds) == rows(V2)
    assert read_latest(env.store, env.bucket, ds)["run_id"] == "v2-rerun"
    assert len([o for o in env.store.list(env.bucket, ds + "/")]) == 1


def test_retry_with_same_run_id_after_kill_keeps_manifests_apart(env):
    """An Airflow task retry reuses the run id: the killed attempt's manifest is never overwritten."""
    ds = "kill_same_run_id"
    publish(env.store, bucket=env.bucket, dataset=ds, month=MONTH, run_id="v1", table=V1, schema=SCHEMA)
    proc = env.child(ds, "run42", V1.slice(0, 50), SINERGI_PUBLISH_FAULT="data_written")
    proc.communicate(timeout=60)
    assert proc.returncode == FAULT_EXIT_CODE
    killed = verify_month(env.store, env.bucket, ds, MONTH)
    r = publish(env.store, bucket=env.bucket, dataset=ds, month=MONTH, run_id="run42", table=V2, schema=SCHEMA)
    assert r["manifest_key"] != killed["manifest_key"] and r["generation"] == killed["generation"] == 2
    assert verify_month(env.store, env.bucket, ds, MONTH)["state"] == "committed"
    assert json.loads(env.store.get_bytes(env.bucket, killed["manifest_key"]))["rows_published"] == 50


def test_sigkilled_publisher_and_process_race(env):
    """A publisher paused while holding the claim blocks a second process-level run; once SIGKILLed,
    its claim is stale and the next run publishes."""
    ds = "sigkill_race"
    r1 = publish(env.store, bucket=env.bucket, dataset=ds, month=MONTH, run_id="v1", table=V1, schema=SCHEMA)
    flag = env.tmp / "paused.flag"
    proc = env.child(ds, "slow", make_table(33, 5), SINERGI_PUBLISH_PAUSE="manifest_written", SINERGI_PUBLISH_PAUSE_FILE=str(flag))
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with pytest.raises(ConcurrentPublishError, match="is publishing generation 2"):
            publish(env.store, bucket=env.bucket, dataset=ds, month=MONTH, run_id="rival", table=V2, schema=SCHEMA)
        state = verify_month(env.store, env.bucket, ds, MONTH)
        assert (state["state"], state["sha256"]) == ("committed", r1["sha256"])  # neither run touched the data
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    assert env.glob_rows(ds) == rows(V1)
    r = publish(env.store, bucket=env.bucket, dataset=ds, month=MONTH, run_id="rival", table=V2, schema=SCHEMA)
    assert r["generation"] == 2 and env.glob_rows(ds) == rows(V2)
    claim, _ = read_json(env.store, LEDGER_BUCKET, owner_record_key(env.bucket, claim_key(ds, MONTH, 2)))
    assert claim["run_id"] == "rival" and claim["took_over"]["run_id"] == "slow"


def test_free_running_processes_never_both_commit_one_generation(env):
    """Three processes started together: every success has its own generation; final state consistent."""
    ds = "proc_race"
    publish(env.store, bucket=env.bucket, dataset=ds, month=MONTH, run_id="v0", table=V1, schema=SCHEMA)
    tables = {f"p{i}": make_table(20 + i, seed=50 + i) for i in range(3)}
    procs = {rid: env.child(ds, rid, t) for rid, t in tables.items()}
    outcomes = {}
    for rid, p in procs.items():
        out, err = p.communicate(timeout=60)
        outcomes[rid] = json.loads(out.strip().splitlines()[-1]) if p.returncode == 0 else err
    wins = {rid: o for rid, o in outcomes.items() if isinstance(o, dict)}
    assert wins, outcomes
    assert all("ConcurrentPublishError" in o for o in outcomes.values() if not isinstance(o, dict)), outcomes
    gens = sorted(o["generation"] for o in wins.values())
    assert gens == list(range(2, 2 + len(wins)))  # no generation committed twice
    last = max(wins, key=lambda r: wins[r]["generation"])
    final = verify_month(env.store, env.bucket, ds, MONTH)
    assert (final["state"], final["run_id"]) == ("committed", last)
    assert env.glob_rows(ds) == rows(tables[last])


def test_other_host_claim_blocks_until_lease_expires(env):
    ds = "lease"
    r1 = publish(env.store, bucket=env.bucket, dataset=ds, month=MONTH, run_id="v1", table=V1, schema=SCHEMA)
    key = owner_record_key(env.bucket, claim_key(ds, MONTH, 2))  # claims are owner-only (they name hosts)
    foreign = {"run_id": "elsewhere", "token": "t0", "generation": 2, "host": "worker-7.example", "pid": 1,
               "claimed_at": "2025-08-01T00:00:00Z", "expires_at_epoch": time.time() + 600}
    env.store.put_bytes(LEDGER_BUCKET, key, dumps(foreign))
    with pytest.raises(ConcurrentPublishError, match="elsewhere") as err:
        publish(env.store, bucket=env.bucket, dataset=ds, month=MONTH, run_id="v2", table=V2, schema=SCHEMA)
    assert "will be taken over at" in str(err.value)
    assert verify_month(env.store, env.bucket, ds, MONTH)["sha256"] == r1["sha256"]
    env.store.put_bytes(LEDGER_BUCKET, key, dumps({**foreign, "expires_at_epoch": time.time() - 1}))
    r2 = publish(env.store, bucket=env.bucket, dataset=ds, month=MONTH, run_id="v2", table=V2, schema=SCHEMA)
    assert r2["generation"] == 2 and verify_month(env.store, env.bucket, ds, MONTH)["run_id"] == "v2"


def test_store_down_before_run_fails_clearly(env, caplog):
    creds = env.running.credentials("pipeline")
    dead = f"http://127.0.0.1:{EmbeddedStore._free_port()}"  # nothing listens there
    down = S3ObjectStore(S3Settings(dead, creds.access_key, creds.secret_key), attempts=3, backoff=0.05)
    caplog.set_level(logging.WARNING, logger="sinergi.s3")
    t0 = time.monotonic()
    with pytest.raises(StoreError) as exc:
        publish(down, bucket=env.bucket, dataset="down", month=MONTH, run_id="v1", table=V1, schema=SCHEMA)
    msg = str(exc.value)
    assert dead in msg and "unavailable" in msg and "after 3 attempts" in msg
    assert f"HEAD s3://{env.bucket}/_manifests/down/2025-07/_current.json" in msg
    assert sum("retry" in r.getMessage() for r in caplog.records) == 2
    assert time.monotonic() - t0 < 30


def test_store_stopped_mid_run_retries_then_fails_and_previous_stays(env, caplog):
    ds = "store_stop"
    r1 = publish(env.store, bucket=env.bucket, dataset=ds, month=MONTH, run_id="v1", table=V1, schema=SCHEMA)
    store = S3ObjectStore(env.running.credentials("pipeline"), attempts=3, backoff=0.05)
    caplog.set_level(logging.WARNING)

    def stop_at(step: str) -> None:
        if step == "manifest_written":
            env.running.embedded.down()

    try:
        with pytest.raises(StoreError) as exc:
            publish(store, bucket=env.bucket, dataset=ds, month=MONTH, run_id="v2", table=V2, schema=SCHEMA, on_step=stop_at)
    finally:
        env.running.embedded.up()
    msg = str(exc.value)
    assert env.running.endpoint in msg and "unavailable" in msg and f"{env.bucket}/_manifests/{ds}/" in msg
    assert sum("retry" in r.getMessage() for r in caplog.records if r.name == "sinergi.s3") >= 2
    assert any("could not release claim" in r.getMessage() for r in caplog.records)
    # after restart: the previous publication is intact, and this same (live) process may rerun
    state = verify_month(env.store, env.bucket, ds, MONTH)
    assert (state["state"], state["sha256"]) == ("committed", r1["sha256"])
    assert env.glob_rows(ds) == rows(V1)
    r = publish(env.store, bucket=env.bucket, dataset=ds, month=MONTH, run_id="v2", table=V2, schema=SCHEMA)
    assert r["generation"] == 2 and env.glob_rows(ds) == rows(V2)


def test_failure_after_claim_releases_it(env):
    """An ordinary error after claiming marks the claim released: the next run need not wait."""
    ds = "release"
    publish(env.store, bucket=env.bucket, dataset=ds, month=MONTH, run_id="v1", table=V1, schema=SCHEMA)

    def boom(step: str) -> None:
        if step == "claimed":
            raise RuntimeError("simulated task failure")

    with pytest.raises(RuntimeError, match="simulated"):
        publish(env.store, bucket=env.bucket, dataset=ds, month=MONTH, run_id="v2", table=V2, schema=SCHEMA, on_step=boom)
    claim, _ = read_json(env.store, LEDGER_BUCKET, owner_record_key(env.bucket, claim_key(ds, MONTH, 2)))
    assert claim["released"] is True and claim["error"] == "RuntimeError"
    assert publish(env.store, bucket=env.bucket, dataset=ds, month=MONTH, run_id="v3", table=V2, schema=SCHEMA)["generation"] == 2
