"""End to end: the monthly DAGs run through Airflow itself (``airflow dags test``, SQLite metadata)
against a real SeaweedFS server, on simulated sources; then the parties read what they received."""

from __future__ import annotations

import io
import json
import re

import pyarrow.parquet as pq
import pytest

from sinergi import settings
from sinergi.local import localairflow
from sinergi.objectstore import AccessDenied
from sinergi.s3 import S3ObjectStore

pytestmark = pytest.mark.slow

MONTH = "2025-07"
NIK_LIKE = re.compile(r"(?<![\d.])\d{16}(?![\d.])")  # 16 digits, not the fraction of a float


@pytest.fixture(scope="module")
def monthly_run(weed, tmp_path_factory):
    from sinergi.simulate import simulate

    sources = tmp_path_factory.mktemp("sources")
    sim = simulate(sources, month=MONTH, months=1, scale="demo", seed=7)
    env = localairflow.airflow_env(weed.home)
    env["SINERGI_EXPORTS_DIR"] = str(sources)
    env["SINERGI_DISNAKER_DB_URL"] = f"sqlite:///{sources / 'disnaker.sqlite'}"
    log = weed.home / "logs" / "e2e.log"
    localairflow.migrate(env, log)
    localairflow.dags_test("national", MONTH, env, log)
    return {"sim": sim, "sources": sources, "log": log}


def _objects(store: S3ObjectStore, bucket: str, prefix: str = ""):
    return [o.key for o in store.list(bucket, prefix)]


def test_each_party_receives_the_month(weed, monthly_run):
    from sinergi.policy import load_policy

    policy = load_policy()
    for party in policy.recipients("placements"):
        bucket = policy.parties[party].bucket
        keys = _objects(weed.pipeline, bucket, "placements/year=2025/month=07/")
        assert [k.rsplit("/", 1)[-1] for k in keys if k.endswith(".parquet")] == ["part-0.parquet"], keys


def test_published_rows_reconcile_with_the_source(weed, monthly_run):
    """Every source row is published, filtered out by the party's policy, suppressed (k-anonymity)
    or quarantined — and the manifest, committed in the party bucket, says so."""
    from sinergi.policy import load_policy
    from sinergi.simulate import ROW_DEFECTS, read_ledger

    policy = load_policy()
    source_rows = monthly_run["sim"].rows[("placements", MONTH)]
    row_defects = {d["record_id"] for d in read_ledger(monthly_run["sim"].ledger_path)
                   if d["dataset"] == "placements" and d["month"] == MONTH and d["kind"] in ROW_DEFECTS}
    assert row_defects, "the demo month should contain injected defects"
    for party in policy.recipients("placements"):
        bucket = policy.parties[party].bucket
        current = json.loads(weed.pipeline.get_bytes(bucket, "_manifests/placements/2025-07/_current.json"))
        manifest_key = next(k for k in _objects(weed.pipeline, bucket, "_manifests/placements/2025-07/g")
                            if k.endswith(".json") and f"g{current['generation']:06d}" in k)
        manifest = json.loads(weed.pipeline.get_bytes(bucket, manifest_key))
        counts, share = manifest["counts"], manifest["share_report"]
        data = weed.pipeline.get_bytes(bucket, "placements/year=2025/month=07/part-0.parquet")
        published = pq.read_table(io.BytesIO(data)).num_rows
        assert counts["extracted"] == source_rows
        assert counts["extracted"] == counts["valid"] + counts["quarantined"]
        assert counts["quarantined"] >= len(row_defects) and sum(counts["by_rule"].values()) >= counts["quarantined"]
        suppressed = sum(share["rows_suppressed"].values())
        assert counts["valid"] == published + share["rows_filtered_out"] + suppressed, (party, counts, share)
        assert manifest["rows_published"] == published == manifest["outputs"][0]["rows"]
        assert manifest["outputs"][0]["sha256"] == __import__("hashlib").sha256(data).hexdigest()


def test_no_raw_identifiers_in_any_published_object(weed, monthly_run):
    from sinergi.policy import load_policy

    for party in load_policy().parties.values():
        for key in _objects(weed.pipeline, party.bucket):
            data = weed.pipeline.get_bytes(party.bucket, key)
            if key.endswith(".parquet"):
                table = pq.read_table(io.BytesIO(data))
                for name in table.column_names:
                    if table.schema.field(name).type in ("string", "large_string"):
                        values = [v for v in table.column(name).to_pylist() if v]
                        hits = [v for v in values if NIK_LIKE.search(v)]
                        assert not hits, f"{party.bucket}/{key} column {name} has NIK-like values"
            else:
                assert not NIK_LIKE.search(data.decode("utf-8", "replace")), f"{party.bucket}/{key} contains a NIK-like number"


def test_lampung_key_cannot_read_the_kp2mi_bucket(weed, monthly_run):
    lampung = S3ObjectStore(settings.party_s3("lampung", weed.home), attempts=1)
    with pytest.raises(AccessDenied):
        list(lampung.list("kp2mi-share"))
    with pytest.raises(AccessDenied):
        lampung.get_bytes("kp2mi-share", "placements/year=2025/month=07/part-0.parquet")
    # …while its own bucket is readable with the same key
    assert any(k.endswith("part-0.parquet") for k in (o.key for o in lampung.list("lampung-share", "placements/")))
