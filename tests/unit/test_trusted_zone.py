"""The trusted zone (issue 15): validate_step writes each validated month — every valid row, no direct
identifier, persons as the internal person_key — to s3://sinergi-trusted/<dataset>/year=/month=/part-0.parquet,
with one PUT, after the month reconciled; a stopped month leaves it untouched. Real extract and GX
validation on simulated sources, on the in-memory store of tests/support.py."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import sinergi.simulate as simulate_mod
from sinergi import registry
from sinergi.chunks import TableSource
from sinergi.errors import DatasetStopped, ReconciliationError
from sinergi.layout import STAGING_BUCKET, TRUSTED_BUCKET, trusted_key
from sinergi.pipeline import RunContext, extract_step, ledger, share_step, validate_step
from sinergi.pipeline.trusted import PERSON_KEY, read_trusted, record_ids, trusted_months, write_trusted
from sinergi.settings import Settings
from sinergi.tokens import TOKEN_PATTERN, tokenise
from support import MemoryStore

MONTH = "2025-07"


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    out = tmp_path_factory.mktemp("sources")
    simulate_mod.simulate(out, month=MONTH, months=1, scale="demo", seed=5, defect_rate=0.05)
    return out


@pytest.fixture
def ctx(sources, tmp_path):
    env = {"SINERGI_HOME": str(tmp_path / "home"), "SINERGI_EXPORTS_DIR": str(sources),
           "SINERGI_DISNAKER_DB_URL": f"sqlite:///{sources / 'disnaker.sqlite'}",
           "SINERGI_MASTER_SECRET": "hex:" + "5a" * 32}
    return RunContext(store=MemoryStore(), home=tmp_path / "home", settings=Settings(environ=env))


def _valid(ctx, ref) -> pa.Table:
    return pq.read_table(io.BytesIO(ctx.store.get_bytes(STAGING_BUCKET, ref["valid_key"])))


def _trusted(ctx, dataset) -> pa.Table:
    return pq.read_table(io.BytesIO(ctx.store.get_bytes(TRUSTED_BUCKET, trusted_key(dataset, MONTH))))


def test_a_validated_month_lands_in_the_trusted_zone_without_identifiers(ctx):
    ref = validate_step(extract_step("placements", MONTH, "run-1", ctx), ctx)
    valid, trusted = _valid(ctx, ref), _trusted(ctx, "placements")
    counts = ref["counts"]
    assert trusted.num_rows == valid.num_rows == counts["valid"] == counts["trusted"] > 0
    assert counts["quarantined"] > 0  # the trusted zone holds the valid rows only
    identifiers = registry.get("placements").columns_with_role("direct_identifier")
    assert {"nik", "full_name", "passport_number", "phone", "address", "epmi_number"} <= set(identifiers)
    records = record_ids("placements")  # kept, but keyed with the zone's own key (de-duplication)
    assert set(records) == {"placement_id", "registration_id"}
    assert not (set(identifiers) - set(records)) & set(trusted.column_names)
    for c in records:
        assert pc.all(pc.match_substring_regex(trusted.column(c).drop_null(), TOKEN_PATTERN)).as_py(), c
    assert not [c for c in trusted.column_names if c.startswith("_")]
    # everything else stays as validated (quasi-identifiers too: indicators count the records)
    kept = [c for c in valid.column_names if c not in identifiers and not c.startswith("_")]
    assert trusted.select(kept).equals(valid.select(kept))
    # the person key is the NIK under the zone's internal key, never a party's token
    expected = tokenise(valid.column("nik"), ctx.keyring.internal_key("person"), "nik")
    assert trusted.column(PERSON_KEY).combine_chunks().equals(expected)
    assert pc.all(pc.match_substring_regex(trusted.column(PERSON_KEY), TOKEN_PATTERN)).as_py()
    shared = pq.read_table(io.BytesIO(ctx.store.get_bytes(STAGING_BUCKET, share_step(ref, "lampung", ctx)["shared_key"])))
    assert not set(shared.column("nik_token").to_pylist()) & set(trusted.column(PERSON_KEY).to_pylist())
    # no raw identifier value anywhere in the object's text columns
    raw = {v for c in identifiers for v in valid.column(c).drop_null().cast(pa.string()).to_pylist() if len(v) >= 6}
    for name in trusted.column_names:
        if pa.types.is_string(trusted.schema.field(name).type):
            assert not raw & set(trusted.column(name).drop_null().to_pylist()), name
    niks = set(valid.column("nik").to_pylist())
    assert not any(niks & set(trusted.column(c).cast(pa.string()).drop_null().to_pylist()) for c in trusted.column_names)


def test_one_person_has_one_key_across_datasets(ctx):
    refs = {ds: validate_step(extract_step(ds, MONTH, "run-1", ctx), ctx)
            for ds in ("initial_registrations", "cpmi_registrations")}
    by_nik = {}
    for ds, ref in refs.items():
        valid, trusted = _valid(ctx, ref), _trusted(ctx, ds)
        by_nik[ds] = dict(zip(valid.column("nik").to_pylist(), trusted.column(PERSON_KEY).to_pylist(), strict=True))
    both = set(by_nik["initial_registrations"]) & set(by_nik["cpmi_registrations"])
    assert both  # registered at the kab/kota labour office (Disnaker) and in SISKOP2MI in the same month
    assert all(by_nik["initial_registrations"][n] == by_nik["cpmi_registrations"][n] for n in both)


def test_a_rerun_replaces_the_month_with_one_put(ctx):
    first = validate_step(extract_step("returns", MONTH, "run-1", ctx), ctx)
    before = ctx.store.get_bytes(TRUSTED_BUCKET, trusted_key("returns", MONTH))
    validate_step(extract_step("returns", MONTH, "run-2", ctx), ctx)
    puts = [k for b, k, _ in ctx.store.puts if b == TRUSTED_BUCKET]
    assert puts == [trusted_key("returns", MONTH)] * 2  # one PUT per run, nothing else in the zone
    assert ctx.store.get_bytes(TRUSTED_BUCKET, trusted_key("returns", MONTH)) == before  # same input, same bytes
    assert trusted_months(ctx.store, "returns") == [MONTH]
    assert read_trusted(ctx.store, "returns", MONTH, columns=["return_id", "nope"]).column_names == ["return_id"]
    assert read_trusted(ctx.store, "returns", "2025-06") is None
    assert ctx.store.metadata(TRUSTED_BUCKET, trusted_key("returns", MONTH))["sinergi-rows"] == str(
        first["counts"]["valid"])


def test_a_stopped_month_leaves_the_trusted_zone_untouched(ctx):
    validate_step(extract_step("p3mi", MONTH, "run-1", ctx), ctx)
    before = ctx.store.get_bytes(TRUSTED_BUCKET, trusted_key("p3mi", MONTH))
    for month in ("2025-04", "2025-05", "2025-06"):
        ledger.record_volume(ctx.store, "p3mi", month, 100_000)  # the volume gate now stops July
    with pytest.raises(DatasetStopped):
        validate_step(extract_step("p3mi", MONTH, "run-2", ctx), ctx)
    assert ctx.store.get_bytes(TRUSTED_BUCKET, trusted_key("p3mi", MONTH)) == before
    assert len([k for b, k, _ in ctx.store.puts if b == TRUSTED_BUCKET]) == 1


def test_a_count_mismatch_is_refused_before_anything_is_written(ctx):
    ds = registry.get("stranded_returnees")
    table = pa.Table.from_pylist([{"case_id": "TL-1", "nik": "1807014507950001", "full_name": "X"}],
                                 schema=ds.arrow_schema)
    with pytest.raises(ReconciliationError, match="2 rows were valid but 1 reached the trusted zone"):
        write_trusted(ctx.store, TableSource(table), "stranded_returnees", MONTH, ctx.keyring, run_id="r",
                      expected_rows=2)
    assert ctx.store.head(TRUSTED_BUCKET, trusted_key("stranded_returnees", MONTH)) is None
    # an empty month is an (empty) object with the zone's schema
    out = write_trusted(ctx.store, TableSource(ds.arrow_schema.empty_table()), "stranded_returnees", MONTH,
                        ctx.keyring, run_id="r", expected_rows=0)
    empty = read_trusted(ctx.store, "stranded_returnees", MONTH)
    assert out["rows"] == empty.num_rows == 0 and PERSON_KEY in empty.column_names and "nik" not in empty.column_names


def test_the_trusted_write_is_a_timing_stage_of_validate(ctx):
    from sinergi import timing

    with timing.recording() as recorder:
        validate_step(extract_step("complaints", MONTH, "run-1", ctx), ctx)
    assert recorder.calls["validate/trusted write"] == 1
    assert recorder.seconds["validate/trusted write"] <= recorder.seconds["validate"]
