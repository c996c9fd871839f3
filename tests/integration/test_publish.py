"""Publishing against a real SeaweedFS: layout, Parquet encoding, manifests, pointers, catalog, dictionary."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import random
import threading

import pyarrow as pa
import pyarrow.dataset as pds
import pyarrow.parquet as pq
import pytest

from sinergi.layout import LEDGER_BUCKET, owner_record_key
from sinergi.publish import (
    ConcurrentPublishError,
    SchemaMismatch,
    data_key,
    encode,
    publish,
    read_catalog,
    read_latest,
    read_pointer,
    update_catalog,
    verify_month,
    write_data_dictionary,
)
from sinergi.publish.catalog import CATALOG_KEY, DATAPACKAGE_KEY, DICTIONARY_HTML_KEY, DICTIONARY_MD_KEY

KABKOTA = ["1801", "1802", "1803", "1804", "1871", "1872"]


def _f(name, typ, en, id_, role, transform="keep", **extra):
    return pa.field(name, typ, metadata={"description": en, "description_id": id_, "role": role, "transform": transform, **extra})


SCHEMA = pa.schema(
    [
        _f("placement_token", pa.string(), "Pseudonym of the placement record", "Pseudonim rekam penempatan", "attribute", "token:record"),
        _f("nik_token", pa.string(), "Pseudonym of the worker", "Pseudonim pekerja", "direct_identifier", "token:nik", source_column="nik"),
        _f("sex", pa.string(), "Sex (L/P)", "Jenis kelamin (L/P)", "quasi_identifier"),
        _f("birth_year", pa.int64(), "Year of birth", "Tahun lahir", "quasi_identifier", "generalise:birth_year"),
        _f("kabkota_code", pa.string(), "Origin regency/city (Kemendagri code)", "Kabupaten/kota asal", "quasi_identifier"),
        _f("departure_date", pa.date32(), "Departure date", "Tanggal keberangkatan", "attribute"),
        _f("dependants", pa.int64(), "Number of dependants", "Jumlah tanggungan", "attribute"),
    ],
    metadata={"dataset": "placements", "schema_version": "1"},
)


def make_table(n: int, seed: int, month: str = "2025-07") -> pa.Table:
    """Synthetic shared rows: random hex tokens (no NIK-like values)."""
    rng = random.Random(seed)
    y, m = map(int, month.split("-"))
    rows = {
        "placement_token": [f"{rng.getrandbits(128):032x}" for _ in range(n)],
        "nik_token": [f"{rng.getrandbits(128):032x}" for _ in range(n)],
        "sex": [rng.choice("LP") for _ in range(n)],
        "birth_year": [rng.randint(1970, 2004) for _ in range(n)],
        "kabkota_code": [rng.choice(KABKOTA) for _ in range(n)],
        "departure_date": [dt.date(y, m, rng.randint(1, 28)) for _ in range(n)],
        "dependants": [rng.choice([0, 1, 2, 3, None]) for _ in range(n)],
    }
    return pa.table(rows, schema=SCHEMA)


def shuffled(t: pa.Table, seed: int) -> pa.Table:
    idx = list(range(t.num_rows))
    random.Random(seed).shuffle(idx)
    return t.take(idx)


def read_glob(store, bucket: str, dataset: str) -> pa.Table:
    """What a reader of the documented hive path sees (pipeline identity, pyarrow)."""
    return pds.dataset(f"{bucket}/{dataset}", filesystem=store.arrow_filesystem(), format="parquet", partitioning="hive").to_table()


def rowset(t: pa.Table) -> set[tuple]:
    cols = [c for c in SCHEMA.names if c in t.column_names]
    return set(zip(*(t.column(c).to_pylist() for c in cols), strict=True))


EXTRA = {
    "sources": [{"file": "PENEMPATAN_PMI_202507.csv", "sha256": "0" * 64, "rows": 130}],
    "counts": {"source": 130, "quarantined": {"nik: invalid": 4}, "suppressed": {"k_anonymity": 2}, "published": 124},
    "gx": {"suite": "placements", "success": True, "evaluated": 12, "failed": 0},
    "k_anonymity": {"k": 5, "quasi_identifiers": ["sex", "birth_year", "kabkota_code"], "min_class": 5},
    "key_versions": {"nik": "v1", "record": "v1"},
}


@pytest.fixture(scope="module")
def bucket(weed) -> str:
    """A bucket of its own: other tests in the session (e2e) publish placements 2025-07 to the
    party buckets, and these tests count generations from 1. (The session store's scratch bucket:
    the pipeline identity cannot create buckets.)"""
    from conftest import SCRATCH_BUCKET

    return SCRATCH_BUCKET


# -- encoding (no store) ----------------------------------------------------------------------------
def test_encoding_is_deterministic_and_sorted():
    t = make_table(500, seed=1)
    a = encode(t, dataset="placements", month="2025-07", schema=SCHEMA)
    b = encode(shuffled(t, 7), dataset="placements", month="2025-07", schema=SCHEMA)
    # different chunking of the same rows
    c = encode(pa.concat_tables([t.slice(0, 123), t.slice(123)]), dataset="placements", month="2025-07", schema=SCHEMA)
    assert a.sha256 == b.sha256 == c.sha256 and a.data == b.data
    assert encode(make_table(500, seed=2), dataset="placements", month="2025-07", schema=SCHEMA).sha256 != a.sha256

    f = pq.ParquetFile(io.BytesIO(a.data))
    assert f.metadata.row_group(0).column(0).compression == "ZSTD"
    back = f.read()
    keys = list(zip(back["kabkota_code"].to_pylist(), back["placement_token"].to_pylist(), strict=True))
    assert keys == sorted(keys)  # kabkota_code, then the record token
    assert a.sort_keys[:2] == ("kabkota_code", "placement_token")
    # types analysts expect and descriptions embedded as field metadata
    assert back.schema.field("departure_date").type == pa.date32()
    assert back.schema.field("dependants").type == pa.int64()
    assert back.schema.field("kabkota_code").type == pa.string()
    assert back.schema.field("sex").metadata[b"description_id"] == b"Jenis kelamin (L/P)"
    assert back.schema.metadata[b"dataset"] == b"placements"
    assert back.schema.metadata[b"sinergi.month"] == b"2025-07"
    assert b"description" in back.schema.metadata  # dataset-level description from the registry
    cols = json.loads(f.schema_arrow.metadata[b"sinergi.columns"])
    assert {c["name"] for c in cols} == set(SCHEMA.names)
    # no wall-clock value in the file: nothing timestamp-like in the key-value metadata
    assert "2026" not in f.metadata.metadata.__repr__() and f.metadata.created_by.startswith("parquet-cpp-arrow")


def test_encoding_conforms_types_and_rejects_unlisted_columns():
    t = make_table(20, seed=3)
    as_text = t.set_column(t.schema.get_field_index("birth_year"), "birth_year", pa.array([str(v) for v in t["birth_year"].to_pylist()]))
    assert encode(as_text, dataset="placements", month="2025-07", schema=SCHEMA).schema.field("birth_year").type == pa.int64()
    with pytest.raises(SchemaMismatch, match="not in the publication schema: full_name"):
        encode(t.append_column("full_name", pa.array(["x"] * 20)), dataset="placements", month="2025-07", schema=SCHEMA)
    with pytest.raises(SchemaMismatch, match="lacks"):
        encode(t.drop_columns(["sex"]), dataset="placements", month="2025-07", schema=SCHEMA)
    with pytest.raises(SchemaMismatch, match="hive partition"):
        encode(t.append_column("year", pa.array([2025] * 20)), dataset="placements", month="2025-07")


# -- publish ----------------------------------------------------------------------------------------
def test_publish_layout_manifest_pointer(weed, bucket):
    store = weed.pipeline
    t = make_table(300, seed=10)
    res = publish(store, bucket=bucket, dataset="placements", month="2025-07", run_id="manual__t1", table=t,
                  schema=SCHEMA, manifest_extra=EXTRA)
    json.dumps(res)  # JSON-able (Airflow Asset extra / XCom)
    assert res["object_key"] == "placements/year=2025/month=07/part-0.parquet"
    assert res["rows"] == 300 and res["generation"] == 1 and res["bucket"] == bucket
    assert {"bucket", "dataset", "month", "run_id", "rows", "object_key", "sha256", "manifest_key", "generation"} <= set(res)
    # exactly one object in the partition, nothing else under the dataset prefix
    keys = [o.key for o in store.list(bucket, "placements/year=2025/month=07/")]
    assert keys == [res["object_key"]]
    manifest = json.loads(store.get_bytes(bucket, res["manifest_key"]))
    assert res["manifest_key"].startswith("_manifests/placements/2025-07/g000001-manual__t1")
    out = manifest["outputs"][0]
    data = store.get_bytes(bucket, res["object_key"])
    assert out["sha256"] == res["sha256"] == hashlib.sha256(data).hexdigest() and out["size"] == len(data)
    owner = json.loads(store.get_bytes(LEDGER_BUCKET, owner_record_key(bucket, res["manifest_key"])))
    for k, v in EXTRA.items():
        assert owner[k] == v  # the owner's full manifest keeps everything
        if k != "sources":  # the party's: counts, reports, key versions; sources reduced to name and rows
            assert manifest[k] == v
    assert manifest["sources"] == [{"file": "PENEMPATAN_PMI_202507.csv", "rows": 130}]
    assert "claim" not in manifest and owner["claim"]["pid"] == os.getpid()
    assert manifest["code_version"]["sinergi"]
    assert manifest["rows_published"] == 300 and manifest["month"] == "2025-07" and manifest["run_id"] == "manual__t1"
    assert [f["name"] for f in manifest["schema"]] == SCHEMA.names
    assert {f["name"]: f["type"] for f in manifest["schema"]}["departure_date"] == "date32[day]"
    pointer = read_pointer(store, bucket, "placements", "2025-07")
    assert pointer["generation"] == 1 and pointer["manifest_key"] == res["manifest_key"]
    assert read_latest(store, bucket, "placements")["month"] == "2025-07"
    assert verify_month(store, bucket, "placements", "2025-07")["state"] == "committed"
    assert store.metadata(bucket, res["object_key"])["sinergi-run-id"] == "manual__t1"
    got = read_glob(store, bucket, "placements")
    assert rowset(got) == rowset(t) and got.num_rows == 300


def test_manifest_key_uses_the_one_run_id_rule(weed, bucket):
    """Manifest keys once carried the raw run id while staging and quarantine sanitised it: the same
    run is now filed under one key segment everywhere (sinergi.layout.run_segment)."""
    from sinergi import layout

    store = weed.pipeline
    run_id = "scheduled__2025-08-01T03:00:00+07:00"
    res = publish(store, bucket=bucket, dataset="trainings", month="2025-07", run_id=run_id,
                  table=make_table(12, seed=30), schema=SCHEMA)
    segment = layout.run_segment(run_id)
    assert segment == "scheduled__2025-08-01T03_00_00_07_00"
    assert res["manifest_key"] == f"_manifests/trainings/2025-07/g000001-{segment}.json"
    assert res["manifest_key"] == layout.manifest_key("trainings", "2025-07", 1, run_id)
    assert layout.staging_key("trainings", "2025-07", run_id, "valid.parquet").split("/")[2] == segment
    assert layout.quarantine_key("trainings", "2025-07", run_id).split("/")[2] == segment
    # the run id itself is recorded verbatim (manifest, pointer, object metadata)
    assert json.loads(store.get_bytes(bucket, res["manifest_key"]))["run_id"] == run_id
    assert read_pointer(store, bucket, "trainings", "2025-07")["run_id"] == run_id
    assert store.metadata(bucket, res["object_key"])["sinergi-run-id"] == run_id
    assert verify_month(store, bucket, "trainings", "2025-07")["manifest_key"] == res["manifest_key"]


def test_publish_and_catalog_mark_their_timing_stages(weed, bucket):
    from sinergi.timing import recording

    with recording() as rec:
        res = publish(weed.pipeline, bucket=bucket, dataset="empowerment", month="2025-07", run_id="timed",
                      table=make_table(8, seed=31), schema=SCHEMA)
        update_catalog(weed.pipeline, bucket, "lampung", res)
    assert rec.calls["encode Parquet"] == 1 and rec.calls["catalog"] == 1


def test_rerun_same_month_same_bytes_and_replaces(weed, bucket):
    store = weed.pipeline
    t = make_table(200, seed=20, month="2024-02")
    r1 = publish(store, bucket=bucket, dataset="returns", month="2024-02", run_id="r1", table=t, schema=SCHEMA)
    r2 = publish(store, bucket=bucket, dataset="returns", month="2024-02", run_id="r2", table=shuffled(t, 3), schema=SCHEMA)
    assert r2["sha256"] == r1["sha256"] and r2["generation"] == 2 and r2["manifest_key"] != r1["manifest_key"]
    assert json.loads(store.get_bytes(bucket, r2["manifest_key"]))["previous"]["run_id"] == "r1"
    # a smaller re-publication replaces the month: never doubled, never mixed
    smaller = make_table(80, seed=21, month="2024-02")
    r3 = publish(store, bucket=bucket, dataset="returns", month="2024-02", run_id="r3", table=smaller, schema=SCHEMA)
    got = read_glob(store, bucket, "returns")
    assert got.num_rows == 80 and rowset(got) == rowset(smaller)
    v = verify_month(store, bucket, "returns", "2024-02")
    assert (v["state"], v["generation"], v["run_id"], v["sha256"]) == ("committed", 3, "r3", r3["sha256"])
    # same run id again (e.g. an Airflow retry of a succeeded task): new generation, same bytes
    r4 = publish(store, bucket=bucket, dataset="returns", month="2024-02", run_id="r3", table=smaller, schema=SCHEMA)
    assert r4["generation"] == 4 and r4["sha256"] == r3["sha256"]


def test_latest_tracks_newest_month_and_backfill_keeps_it(weed, bucket):
    store = weed.pipeline
    publish(store, bucket=bucket, dataset="complaints", month="2025-08", run_id="a", table=make_table(10, 1, "2025-08"), schema=SCHEMA)
    publish(store, bucket=bucket, dataset="complaints", month="2025-06", run_id="b", table=make_table(12, 2, "2025-06"), schema=SCHEMA)
    latest = read_latest(store, bucket, "complaints")
    assert (latest["month"], latest["run_id"]) == ("2025-08", "a")
    publish(store, bucket=bucket, dataset="complaints", month="2025-08", run_id="c", table=make_table(10, 1, "2025-08"), schema=SCHEMA)
    latest = read_latest(store, bucket, "complaints")
    assert (latest["month"], latest["run_id"], latest["generation"]) == ("2025-08", "c", 2)
    got = read_glob(store, bucket, "complaints")
    assert got.num_rows == 22 and sorted(set(got["month"].to_pylist())) == [6, 8]


def test_empty_month_is_published_as_zero_rows(weed, bucket):
    store = weed.pipeline
    publish(store, bucket=bucket, dataset="cpmi_registrations", month="2025-01", run_id="a", table=make_table(9, 1, "2025-01"), schema=SCHEMA)
    res = publish(store, bucket=bucket, dataset="cpmi_registrations", month="2025-02", run_id="a", table=SCHEMA.empty_table(), schema=SCHEMA)
    assert res["rows"] == 0 and verify_month(store, bucket, "cpmi_registrations", "2025-02")["state"] == "committed"
    got = read_glob(store, bucket, "cpmi_registrations")
    assert got.num_rows == 9 and got.schema.field("departure_date").type == pa.date32()


def test_invalid_inputs_write_nothing(weed, bucket):
    store = weed.pipeline
    t = make_table(5, seed=4)
    with pytest.raises(ValueError, match="publisher-owned"):
        publish(store, bucket=bucket, dataset="p3mi", month="2025-07", run_id="x", table=t, schema=SCHEMA, manifest_extra={"outputs": []})
    with pytest.raises(ValueError, match="YYYY-MM"):
        publish(store, bucket=bucket, dataset="p3mi", month="2025-7", run_id="x", table=t, schema=SCHEMA)
    with pytest.raises(ValueError, match="run_id"):
        publish(store, bucket=bucket, dataset="p3mi", month="2025-07", run_id="../x", table=t, schema=SCHEMA)
    with pytest.raises(SchemaMismatch):
        publish(store, bucket=bucket, dataset="p3mi", month="2025-07", run_id="x", table=t.append_column("phone", pa.array(["1"] * 5)), schema=SCHEMA)
    assert list(store.list(bucket, "p3mi/")) == [] and list(store.list(bucket, "_manifests/p3mi/")) == []


def test_concurrent_threads_exactly_one_commits(weed, bucket):
    """Four runs read the same pointer, then race for the claim: one wins, three stop before writing."""
    store = weed.pipeline
    base = publish(store, bucket=bucket, dataset="job_orders", month="2025-07", run_id="base", table=make_table(30, 99), schema=SCHEMA)
    n = 4
    barrier = threading.Barrier(n)
    tables = {f"racer{i}": make_table(40 + i, seed=100 + i) for i in range(n)}
    results: dict[str, object] = {}

    def hold(step: str) -> None:
        if step == "pointer_read":
            barrier.wait(timeout=30)

    def run(rid: str) -> None:
        try:
            results[rid] = publish(store, bucket=bucket, dataset="job_orders", month="2025-07", run_id=rid,
                                   table=tables[rid], schema=SCHEMA, on_step=hold)
        except Exception as e:  # noqa: BLE001
            results[rid] = e

    threads = [threading.Thread(target=run, args=(rid,)) for rid in tables]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    winners = [rid for rid, r in results.items() if isinstance(r, dict)]
    losers = [r for r in results.values() if not isinstance(r, dict)]
    assert len(winners) == 1, results
    assert len(losers) == n - 1 and all(isinstance(e, ConcurrentPublishError) for e in losers), losers
    win = results[winners[0]]
    assert win["generation"] == base["generation"] + 1
    v = verify_month(store, bucket, "job_orders", "2025-07")
    assert (v["state"], v["run_id"], v["sha256"]) == ("committed", winners[0], win["sha256"])
    assert rowset(read_glob(store, bucket, "job_orders")) == rowset(tables[winners[0]])
    # the losers left no manifest behind
    manifests = [o.key for o in store.list(bucket, "_manifests/job_orders/2025-07/g")]
    assert len(manifests) == 2


# -- catalog and dictionary -------------------------------------------------------------------------
def test_catalog_concurrent_updates_lose_nothing(weed):
    bucket = weed.embedded.parties["lampung"]
    store = weed.pipeline
    datasets = ["trainings", "empowerment", "health_checks", "stranded_returnees", "training_institutions", "health_facilities"]
    results = {ds: publish(store, bucket=bucket, dataset=ds, month="2025-07", run_id=f"run-{ds}",
                           table=make_table(10 + i, seed=i), schema=SCHEMA) for i, ds in enumerate(datasets)}
    errors: list[Exception] = []

    def upd(ds: str) -> None:
        try:
            update_catalog(store, bucket, "lampung", results[ds], schemas={ds: SCHEMA})
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=upd, args=(ds,)) for ds in datasets]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors
    cat = read_catalog(store, bucket)
    assert set(datasets) <= set(cat["datasets"])
    for i, ds in enumerate(datasets):
        entry = cat["datasets"][ds]
        assert entry["months"]["2025-07"]["rows"] == 10 + i
        assert entry["months"]["2025-07"]["sha256"] == results[ds]["sha256"]
        assert entry["read_path"] == f"s3://{bucket}/{ds}/**/*.parquet"
        assert [f["name"] for f in entry["schema"]] == SCHEMA.names
        assert entry["last_update"]
    # an older generation arriving late never overwrites a newer one
    newer = publish(store, bucket=bucket, dataset="trainings", month="2025-07", run_id="run-2", table=make_table(7, 70), schema=SCHEMA)
    update_catalog(store, bucket, "lampung", "trainings", "2025-07", newer)  # the pipeline's call style
    update_catalog(store, bucket, "lampung", [results["trainings"]])
    assert read_catalog(store, bucket)["datasets"]["trainings"]["months"]["2025-07"]["run_id"] == "run-2"
    with pytest.raises(ValueError):
        update_catalog(store, bucket, "lampung", "returns", newer)


def test_data_dictionary(weed):
    bucket = weed.embedded.parties["kp2mi"]
    store = weed.pipeline
    res = publish(store, bucket=bucket, dataset="placements", month="2025-05", run_id="dict1", table=make_table(25, 5, "2025-05"), schema=SCHEMA)
    update_catalog(store, bucket, "kp2mi", res)
    evil = SCHEMA.set(2, SCHEMA.field("sex").with_metadata({**SCHEMA.field("sex").metadata, b"description": b"Sex <script>x</script> | L/P"}))
    keys = write_data_dictionary(store, bucket, "kp2mi", {"placements": evil})
    assert set(keys.values()) == {DATAPACKAGE_KEY, DICTIONARY_MD_KEY, DICTIONARY_HTML_KEY}
    pkg = json.loads(store.get_bytes(bucket, DATAPACKAGE_KEY))
    assert pkg["profile"] == "data-package"
    res_ = next(r for r in pkg["resources"] if r["name"] == "placements")  # the bucket may hold others
    assert res_["name"] == "placements" and res["object_key"] in res_["path"]
    fields = {f["name"]: f for f in res_["schema"]["fields"]}
    assert fields["sex"]["constraints"]["enum"] == ["L", "P"]  # sinergi.vocab.values("sex")
    assert fields["sex"]["role"] == "quasi_identifier" and fields["sex"]["description_id"] == "Jenis kelamin (L/P)"
    assert fields["nik_token"]["transform"] == "token:nik" and "constraints" not in fields["nik_token"]
    assert fields["departure_date"]["type"] == "date" and fields["dependants"]["type"] == "integer"
    assert res_["sinergi"]["rows_per_month"]["2025-05"] == 25
    assert res_["description_id"]  # registry's Indonesian dataset description
    md = store.get_bytes(bucket, DICTIONARY_MD_KEY).decode()
    assert "## placements" in md and "Tahun lahir" in md and "Year of birth" in md and "\\|" in md
    html = store.get_bytes(bucket, DICTIONARY_HTML_KEY).decode()
    assert "<script>x" not in html and "&lt;script&gt;" in html and "Tanggal keberangkatan" in html
    assert store.head(bucket, CATALOG_KEY) is not None


def test_glob_never_sees_bookkeeping(weed, bucket):
    """Manifests, claims and catalog live outside every dataset prefix."""
    keys = [o.key for o in weed.pipeline.list(bucket)]
    parquet = [k for k in keys if k.endswith(".parquet")]
    assert parquet and all(k.split("/")[-1] == "part-0.parquet" and k.count("/") == 3 for k in parquet)
    assert all(not k.startswith("_") for k in parquet)
    assert data_key("placements", "2025-07") in keys


def test_dictionary_for_the_real_policy():
    """Every shared schema of the sharing policy yields a complete bilingual dictionary entry."""
    from frictionless import Package

    import sinergi.policy as policy_mod
    from sinergi import registry
    from sinergi.publish.catalog import build_datapackage, render_html, render_markdown

    policy = policy_mod.load_policy()
    for party, p in policy.parties.items():
        schemas = {ds: policy_mod.shared_schema(ds, party, policy) for ds in p.datasets}
        assert schemas, party
        pkg = build_datapackage(p.bucket, party, schemas, None)
        for res in pkg["resources"]:
            for f in res["schema"]["fields"]:
                assert f["description"] and f["description_id"] and f["role"] in registry.ROLES, (party, res["name"], f)
                assert f["type"] in ("string", "date", "integer", "boolean"), f
        # one section per dataset, plus contents, partition columns, withheld for privacy and the glossary
        assert render_markdown(pkg).count("\n## ") == len(schemas) + 4
        assert render_html(pkg).count("<h2 ") == len(schemas) + 4
        report = Package.validate_descriptor(pkg)  # the Frictionless Data Package spec
        assert report.valid, [(e.type, e.note) for e in report.errors]
