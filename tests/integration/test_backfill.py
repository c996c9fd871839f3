"""A three-month backfill through Airflow 3's backfill machinery (``airflow backfill create``: it
records the backfill and its runs; the running scheduler executes them oldest first), and each of
the three months is published.

The test runs its own stack (``sinergi.local.localairflow.LocalStack``: SeaweedFS, three simulated months,
``airflow standalone``) on free ports in a temp dir, and stops it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sinergi.local import localairflow
from sinergi.local.process import free_port
from sinergi.local.store import EmbeddedStore
from support import airflow_api

pytestmark = pytest.mark.slow

DAG_ID = "sinergi_national_monthly"
MONTHS = ["2025-07", "2025-08", "2025-09"]
# Each month runs the reference dataset p3mi and the job orders that resolve against it (both with
# their per-party share/publish). The other national datasets are the same task-group shape; running
# them too would triple the test's time without testing anything new about backfills.
DATASETS = ["p3mi", "job_orders"]
RUNS_TIMEOUT = 1800


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[localairflow.LocalStack]:
    home = tmp_path_factory.mktemp("backfill-stack")
    st = localairflow.LocalStack(home, api_port=free_port(), s3_port=EmbeddedStore._free_port(),
                                 first_month=MONTHS[0], months=len(MONTHS), scale="demo", seed=21)
    try:
        st.up()
        yield st
    finally:
        st.down()


@pytest.fixture(scope="module")
def backfill_runs(stack) -> dict:
    api = airflow_api(stack.airflow)
    api.wait_for_dag(DAG_ID, timeout=300)
    api.unpause(DAG_ID)  # backfill runs of a paused DAG wait for it to be unpaused
    log = stack.home / "logs" / "backfill.log"
    localairflow.backfill(DAG_ID, MONTHS[0], MONTHS[-1], stack.airflow.env(), log, datasets=DATASETS)
    deadline = time.monotonic() + RUNS_TIMEOUT
    while True:
        runs = api.get(f"/dags/{DAG_ID}/dagRuns", run_type="backfill", order_by="logical_date")["dag_runs"]
        if len(runs) == len(MONTHS) and all(r["state"] in ("success", "failed") for r in runs):
            break
        if time.monotonic() > deadline:
            pytest.fail(f"backfill not done after {RUNS_TIMEOUT}s: {[(r['logical_date'], r['state']) for r in runs]}")
        time.sleep(5)
    return {"api": api, "runs": runs, "log": log}


def _month_of(run: dict) -> str:
    # logical date = the month's interval start, 1st 03:00 Asia/Jakarta = last day of the previous month 20:00 UTC
    import pendulum

    return pendulum.parse(run["logical_date"]).in_timezone("Asia/Jakarta").strftime("%Y-%m")


def test_backfill_is_recorded_with_one_run_per_month(backfill_runs):
    api = backfill_runs["api"]
    backfills = api.get("/backfills", dag_id=DAG_ID)["backfills"]
    assert len(backfills) == 1, backfills
    assert backfills[0]["dag_run_conf"] == {"datasets": DATASETS}
    assert [_month_of(r) for r in backfill_runs["runs"]] == MONTHS


def test_every_month_succeeds_oldest_first(backfill_runs):
    api, runs = backfill_runs["api"], backfill_runs["runs"]
    failed = {}
    for r in runs:
        if r["state"] != "success":
            failed[_month_of(r)] = [f"{t['task_id']}[{t['map_index']}]={t['state']}" for t in api.failed_tasks(DAG_ID, r["dag_run_id"])]
    assert not failed, f"backfill months failed: {failed}"
    starts = [r["start_date"] for r in runs]
    assert starts == sorted(starts), "months run oldest first (max_active_runs=1)"


def test_three_months_are_published(stack, backfill_runs):
    from sinergi.policy import load_policy
    from sinergi.s3 import S3ObjectStore

    store = S3ObjectStore(stack.store.credentials("pipeline"))
    policy = load_policy()
    for dataset in DATASETS:
        for party in policy.recipients(dataset):
            bucket = policy.parties[party].bucket
            for month in MONTHS:
                y, m = month.split("-")
                key = f"{dataset}/year={y}/month={m}/part-0.parquet"
                info = store.head(bucket, key)
                assert info is not None and info.size > 0, f"s3://{bucket}/{key} missing"


def test_asset_events_carry_each_months_counts(backfill_runs):
    api = backfill_runs["api"]
    for run in backfill_runs["runs"]:
        events = api.asset_events(source_dag_id=DAG_ID, source_run_id=run["dag_run_id"])
        names = {e["name"] for e in events}
        assert {f"sinergi.lampung.{d}" for d in DATASETS} <= names, names
        for e in events:
            assert e["extra"]["month"] == _month_of(run)
            assert e["extra"]["published"] > 0 or e["extra"]["valid"] == 0


def test_make_up_created_the_heavy_pool_the_validate_and_share_tasks_ran_in(backfill_runs):
    from sinergi.settings import DEFAULT_HEAVY_POOL_SLOTS, HEAVY_POOL

    api = backfill_runs["api"]
    pool = api.get(f"/pools/{HEAVY_POOL}")
    assert pool["slots"] == DEFAULT_HEAVY_POOL_SLOTS
    run = backfill_runs["runs"][0]
    tis = api.get(f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances", limit=100)["task_instances"]
    heavy = [t for t in tis if t["task_id"].rsplit(".", 1)[-1] in ("validate", "share")]
    assert heavy and all(t["pool"] == HEAVY_POOL for t in heavy), heavy
    ran = [t for t in heavy if t["task_id"].split(".", 1)[0] in DATASETS]  # the others were not selected
    assert ran and all(t["state"] == "success" for t in ran), [(t["task_id"], t["state"]) for t in ran]
