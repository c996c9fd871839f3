"""The sharing policy: loading/validation, share() (filters, transforms, tokens, schema), new recipients."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml
from test_policy_fixtures import canonical_table, people

from sinergi import registry
from sinergi.chunks import TableSource
from sinergi.disclosure import LeakError
from sinergi.policy import (
    PERSONAL_ROLES,
    PolicyError,
    default_policy_path,
    load_policy,
    release_plan,
    share,
    shared_schema,
    validate_policy,
)
from sinergi.tokens import TOKEN_PATTERN, Keyring

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
KEYRING = Keyring.from_master(b"unit-test master secret, 32 bytes")


@pytest.fixture(scope="module")
def policy():
    return load_policy()


def raw_policy() -> dict:
    return yaml.load(default_policy_path().read_text(encoding="utf-8"), Loader=LOADER)


def write(tmp_path, data: dict):
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.dump(data, Dumper=DUMPER, sort_keys=False), encoding="utf-8")
    return path


def error_of(tmp_path, data: dict) -> str:
    with pytest.raises(PolicyError) as e:
        load_policy(write(tmp_path, data))
    return str(e.value)


# --- the default policy -----------------------------------------------------------------------


def test_default_policy_parties_and_recipients(policy):
    assert list(policy.parties) == ["kp2mi", "lampung"]
    assert policy.parties["kp2mi"].bucket == "kp2mi-share" and policy.parties["lampung"].bucket == "lampung-share"
    assert policy.parties["kp2mi"].pihak == "PIHAK KESATU" and policy.parties["lampung"].pihak == "PIHAK KEDUA"
    for ds in registry.names("national"):
        # kp2mi (through BP3MI Lampung) gets the Lampung-origin person datasets under its own keys, to
        # link them with the provincial ones; the reference registers (p3mi, job orders) are its own.
        expected = ["lampung"] if ds in ("p3mi", "job_orders") else ["kp2mi", "lampung"]
        assert policy.recipients(ds) == expected, ds
    for ds in registry.names("provincial"):
        assert policy.recipients(ds) == ["kp2mi", "lampung"], ds
    assert policy.recipients("nope") == []


def test_every_entry_cites_purpose_article_and_workplan(policy):
    for party in policy.parties.values():
        for name, entry in party.datasets.items():
            assert "Pasal" in entry.mou_article, (party.name, name)
            assert entry.workplan and len(entry.purpose) > 30


def test_every_personal_column_has_an_explicit_transform(policy):
    for party in policy.parties.values():
        for name, entry in party.datasets.items():
            for col in registry.get(name).columns:
                if col.role in PERSONAL_ROLES:
                    assert col.name in entry.columns, (party.name, name, col.name)
                if col.role == "direct_identifier":
                    assert entry.columns[col.name].transform != "keep"


# --- validation errors ------------------------------------------------------------------------


def test_unknown_transform_names_the_path(tmp_path):
    data = raw_policy()
    data["parties"]["lampung"]["datasets"]["placements"]["columns"]["nik"] = "hash"
    msg = error_of(tmp_path, data)
    assert "parties.lampung.datasets.placements.columns.nik: unknown transform 'hash'" in msg
    assert str(tmp_path) in msg


def test_unknown_transform_in_long_form(tmp_path):
    data = raw_policy()
    data["parties"]["lampung"]["datasets"]["placements"]["columns"]["nik"] = {"transform": "encrypt"}
    assert "parties.lampung.datasets.placements.columns.nik: unknown transform 'encrypt'" in error_of(tmp_path, data)


def test_missing_direct_identifier_is_a_load_error(tmp_path):
    data = raw_policy()
    del data["parties"]["lampung"]["datasets"]["placements"]["columns"]["passport_number"]
    msg = error_of(tmp_path, data)
    assert ("parties.lampung.datasets.placements.columns: direct_identifier column 'passport_number' "
            "needs an explicit transform") in msg


def test_missing_quasi_identifier_and_sensitive_are_load_errors(tmp_path):
    data = raw_policy()
    del data["parties"]["kp2mi"]["datasets"]["health_checks"]["columns"]["result"]
    del data["parties"]["lampung"]["datasets"]["returns"]["columns"]["sex"]
    msg = error_of(tmp_path, data)
    assert "parties.kp2mi.datasets.health_checks.columns: sensitive column 'result'" in msg
    assert "parties.lampung.datasets.returns.columns: quasi_identifier column 'sex'" in msg
    # YAML anchors: lampung's health_checks shares the same mapping, so it fails too
    assert "parties.lampung.datasets.health_checks.columns: sensitive column 'result'" in msg


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["parties"]["lampung"]["datasets"].update(placementz={"purpose": "x" * 20, "mou_article": "Pasal 4",
                                                                          "columns": {}}),
         "parties.lampung.datasets.placementz: unknown dataset 'placementz'"),
        (lambda d: d["parties"]["lampung"]["datasets"]["job_orders"]["columns"].update(salary="keep"),
         "parties.lampung.datasets.job_orders.columns.salary: dataset 'job_orders' has no column 'salary'"),
        (lambda d: d["parties"]["lampung"]["datasets"]["placements"]["columns"].update(nik="keep"),
         "parties.lampung.datasets.placements.columns.nik: keeping a direct identifier needs a written 'justification'"),
        (lambda d: d["parties"]["lampung"]["datasets"]["placements"]["columns"].update(
            birth_date={"transform": "generalise", "to": "age_band"}),
         "parties.lampung.datasets.placements.columns.birth_date: generalise to age_band needs 'reference'"),
        (lambda d: d["parties"]["lampung"]["datasets"]["placements"]["columns"].update(
            birth_date={"transform": "generalise", "to": "age_band", "reference": "nik"}),
         "parties.lampung.datasets.placements.columns.birth_date.reference: 'nik' is not a date column"),
        (lambda d: d["parties"]["lampung"]["datasets"]["placements"]["columns"].update(
            sex={"transform": "generalise", "to": "birth_year"}),
         "columns.sex: generalise to birth_year needs a date column, 'sex' is string"),
        (lambda d: d["parties"]["lampung"]["datasets"]["job_orders"]["columns"].update(quota="token"),
         "parties.lampung.datasets.job_orders.columns.quota: transform token needs a string column"),
        (lambda d: d["parties"]["lampung"]["datasets"]["placements"].update(row_filter={"column": "kabkota", "prefix": "18"}),
         "parties.lampung.datasets.placements.row_filter.column: dataset 'placements' has no column 'kabkota'"),
        (lambda d: d["parties"]["lampung"]["datasets"]["placements"].update(
            row_filter={"column": "kabkota_code", "prefix": "18", "in": ["1801"]}),
         "parties.lampung.datasets.placements.row_filter: a column condition needs exactly one of"),
        (lambda d: d["parties"]["lampung"]["datasets"]["placements"].update(row_filter={"column": "province_code", "equals": 18}),
         "parties.lampung.datasets.placements.row_filter: value 18 does not match the type of column 'province_code'"),
        (lambda d: d["parties"]["lampung"]["datasets"]["placements"].update(row_filter="province_code == '18'"),
         "parties.lampung.datasets.placements.row_filter"),
        (lambda d: d["parties"]["lampung"].update(bucket="kp2mi-share"),
         "parties.lampung.bucket: 'kp2mi-share' is already used by party 'kp2mi'"),
        (lambda d: d["parties"]["lampung"].update(bucket="Lampung_Share"),
         "parties.lampung.bucket: 'Lampung_Share' is not a valid S3 bucket name"),
        (lambda d: d["parties"]["lampung"].update(colour="red"), "parties.lampung.colour: unknown key"),
        (lambda d: d["parties"]["lampung"].pop("credentials"), "parties.lampung.credentials: missing required key"),
        (lambda d: d["parties"]["lampung"]["datasets"]["placements"].update(k_steps=["sex:10"]),
         "parties.lampung.datasets.placements.k_steps[0]: only an age_band column can be widened"),
        (lambda d: d["parties"]["lampung"]["datasets"]["placements"].update(k_steps=["phone:drop"]),
         "parties.lampung.datasets.placements.k_steps[0]: 'phone' is not a quasi-identifier"),
        (lambda d: d["parties"]["lampung"]["datasets"]["placements"]["columns"].update(nik={"transform": "token", "as": "sex"}),
         "output column name(s) ['sex'] would be produced twice"),
    ],
)
def test_invalid_policies_fail_with_precise_messages(tmp_path, mutate, expected):
    data = raw_policy()
    mutate(data)
    assert expected in error_of(tmp_path, data)


def test_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("parties: [unclosed\n")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(bad)
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")
    with pytest.raises(PolicyError, match="mapping at the top level"):
        validate_policy(["x"])


# --- share() ----------------------------------------------------------------------------------


def test_share_output_schema_is_deterministic_and_documented(policy):
    t = canonical_table("placements", 400)
    out1, rep1 = share(t, "placements", "lampung", policy, KEYRING)
    out2, rep2 = share(t, "placements", "lampung", policy, KEYRING)
    assert out1.equals(out2) and json.dumps(rep1, sort_keys=True) == json.dumps(rep2, sort_keys=True)
    schema = shared_schema("placements", "lampung", policy)
    assert out1.schema.equals(schema, check_metadata=True)
    # chunk by chunk (as the pipeline reads a month): the same release and report
    out3, rep3 = share(TableSource(t, rows=37), "placements", "lampung", policy, KEYRING)
    assert out3.equals(out1) and json.dumps(rep3, sort_keys=True) == json.dumps(rep1, sort_keys=True)
    assert schema.field("nik_token").type == pa.string()
    assert schema.field("age_band").type == pa.string()
    assert schema.field("departure_date").type == pa.date32()
    for f in schema:
        meta = {k.decode(): v.decode() for k, v in f.metadata.items()}
        assert meta["description"] and meta["description_id"] and meta["transform"], f.name
    assert schema.field("nik_token").metadata[b"transform"] == b"token:person"
    for gone in ("nik", "full_name", "passport_number", "phone", "address", "birth_date", "epmi_number", "_source_file"):
        assert gone not in out1.column_names
    # an empty month gives the same schema (also with zero-chunk columns)
    for nothing in (t.slice(0, 0), t.schema.empty_table()):
        empty, rep = share(nothing, "placements", "lampung", policy, KEYRING)
        assert empty.schema.equals(schema) and empty.num_rows == 0 and rep["rows_in"] == 0


def test_share_report_reconciles_and_records_key_versions(policy):
    t = canonical_table("placements", 600)
    out, rep = share(t, "placements", "lampung", policy, KEYRING)
    assert rep["rows_in"] == 600
    assert rep["rows_in"] == rep["rows_out"] + rep["rows_filtered_out"] + sum(rep["rows_suppressed"].values())
    assert rep["rows_out"] == out.num_rows
    assert rep["key_versions"]["nik_token"]["label"] == KEYRING.version_label
    assert rep["key_versions"]["nik_token"]["field"] == "person"
    assert rep["transforms"]["nik"] == "token:person" and rep["transforms"]["passport_number"] == "drop"
    assert rep["transforms"]["address"] == "generalise:region"
    assert rep["k_anonymity"]["k_requested"] == 5 and rep["k_anonymity"]["k_achieved"] >= 5
    assert rep["columns_out"] == out.column_names
    assert "epmi_number" not in out.column_names and rep["transforms"]["epmi_number"] == "drop"
    json.dumps(rep)  # JSON-able
    assert all(pc.match_substring_regex(out.column("nik_token"), TOKEN_PATTERN).to_pylist())


def test_row_filter_keeps_lampung_origin_only(policy):
    t = canonical_table("placements", 500, lampung_share=0.5)
    lampung_rows = sum(1 for k in t.column("kabkota_code").to_pylist() if k.startswith("18"))
    out, rep = share(t, "placements", "lampung", policy, KEYRING)
    assert rep["rows_filtered_out"] == 500 - lampung_rows
    assert set(out.column("province_code").to_pylist()) == {"18"}
    assert all(k.startswith("18") for k in out.column("kabkota_code").drop_null().to_pylist())


def test_row_filter_in_and_not_null(tmp_path):
    data = raw_policy()
    data["parties"]["lampung"]["datasets"]["job_orders"]["row_filter"] = {
        "all": [{"column": "destination_country", "in": ["TW", "HK"]}, {"not": {"column": "valid_until", "not_null": False}}]}
    pol = load_policy(write(tmp_path, data))
    t = canonical_table("job_orders", 300)
    t = t.set_column(t.schema.get_field_index("valid_until"), "valid_until",
                     pa.array([None if i % 3 == 0 else dt.date(2025, 9, 1) for i in range(300)], pa.date32()))
    out, rep = share(t, "job_orders", "lampung", pol, KEYRING)
    assert set(out.column("destination_country").to_pylist()) <= {"TW", "HK"}
    assert out.column("valid_until").null_count == 0
    assert rep["row_filter"].startswith("(destination_country in")


def test_same_person_same_token_across_datasets_within_a_party(policy):
    folks = people(300, seed=11)
    placements = canonical_table("placements", 300, people=folks)
    returns = canonical_table("returns", 300, people=folks)
    # reformatting the NIK in one source must not split the person
    returns = returns.set_column(returns.schema.get_field_index("nik"), "nik",
                                 pc.binary_join_element_wise(pc.utf8_slice_codeunits(returns["nik"], 0, 6), " ",
                                                             pc.utf8_slice_codeunits(returns["nik"], 6, 16), ""))
    k1 = {"k": 1}
    pol = policy.model_copy(deep=True)
    for ds in ("placements", "returns"):  # compare every row: no k, no l (return_status is sensitive)
        pol.parties["lampung"].datasets[ds].k = pol.parties["lampung"].datasets[ds].l = 1
    a, _ = share(placements, "placements", "lampung", pol, KEYRING)
    b, _ = share(returns, "returns", "lampung", pol, KEYRING)
    assert a.num_rows == b.num_rows == 300 and k1
    assert a.column("nik_token").to_pylist() == b.column("nik_token").to_pylist()
    # and across months: another run (another month's table) gives the same tokens
    c, _ = share(canonical_table("placements", 300, seed=2, people=folks), "placements", "lampung", pol, KEYRING)
    assert c.column("nik_token").to_pylist() == a.column("nik_token").to_pylist()


def test_token_sets_of_different_parties_are_disjoint(policy):
    t = canonical_table("initial_registrations", 400)
    pol = policy.model_copy(deep=True)
    for p in ("kp2mi", "lampung"):
        pol.parties[p].datasets["initial_registrations"].k = 1
    a, ra = share(t, "initial_registrations", "kp2mi", pol, KEYRING)
    b, rb = share(t, "initial_registrations", "lampung", pol, KEYRING)
    ta, tb = set(a.column("nik_token").to_pylist()), set(b.column("nik_token").to_pylist())
    assert len(ta) == len(tb) == len(set(t.column("nik").to_pylist()))
    assert ta.isdisjoint(tb)
    assert ra["key_versions"]["nik_token"]["label"] == rb["key_versions"]["nik_token"]["label"]


def test_age_band_and_birth_year(tmp_path):
    data = raw_policy()
    cols = data["parties"]["lampung"]["datasets"]["placements"]["columns"]
    data["parties"]["lampung"]["datasets"]["placements"]["k"] = 1
    for party in ("kp2mi", "lampung"):  # the steps widen age_band, which birth_year replaces below
        data["parties"][party]["datasets"]["placements"].pop("k_steps")
    pol = load_policy(write(tmp_path, data))
    t = canonical_table("placements", 3, lampung_share=1.0)
    births = [dt.date(1990, 6, 15)] * 3
    deps = [dt.date(2025, 6, 14), dt.date(2025, 6, 15), dt.date(1989, 1, 1)]  # before/at birthday; negative age
    t = t.set_column(t.schema.get_field_index("birth_date"), "birth_date", pa.array(births, pa.date32()))
    t = t.set_column(t.schema.get_field_index("departure_date"), "departure_date", pa.array(deps, pa.date32()))
    out, _ = share(t, "placements", "lampung", pol, KEYRING)
    assert out.column("age_band").to_pylist() == ["30-34", "35-39", None]

    cols["birth_date"] = {"transform": "generalise", "to": "birth_year"}
    pol = load_policy(write(tmp_path, data))
    out, _ = share(t, "placements", "lampung", pol, KEYRING)
    assert out.schema.field("birth_year").type == pa.int64()
    assert out.column("birth_year").to_pylist() == [1990, 1990, 1990]
    assert "age_band" not in out.column_names


def test_share_refuses_unknown_pairs_wrong_key_version_and_missing_columns(policy):
    t = canonical_table("complaints", 10)
    with pytest.raises(PolicyError, match="does not receive dataset 'job_orders'"):
        share(canonical_table("job_orders", 10), "job_orders", "kp2mi", policy, KEYRING)
    with pytest.raises(PolicyError, match="unknown party"):
        share(t, "complaints", "dinkes", policy, KEYRING)
    with pytest.raises(PolicyError, match="key version 2"):
        share(t, "complaints", "lampung", policy, Keyring.from_master(b"unit-test master secret, 32 bytes", 2))
    with pytest.raises(PolicyError, match=r"lacks column\(s\) \['nik'\]"):
        share(t.drop_columns(["nik"]), "complaints", "lampung", policy, KEYRING)


def no_k(policy, dataset):
    pol = policy.model_copy(deep=True)
    for party in pol.parties.values():
        if dataset in party.datasets:
            party.datasets[dataset].k = 1  # every row survives, so the leaky row is published
    return pol


def test_leak_guard_blocks_a_release_with_a_raw_nik(policy):
    policy = no_k(policy, "trainings")
    t = canonical_table("trainings", 50)
    course = t.column("course_name").to_pylist()
    course[7] = f"Bahasa Mandarin - peserta {t.column('nik')[7].as_py()}"  # an operator pasted a NIK
    t = t.set_column(t.schema.get_field_index("course_name"), "course_name", pa.array(course))
    with pytest.raises(LeakError) as e:
        share(t, "trainings", "kp2mi", policy, KEYRING)
    assert e.value.column == "course_name" and e.value.pattern == "nik"
    assert t.column("nik")[7].as_py() not in str(e.value)


def test_leak_guard_blocks_a_dropped_name_in_a_kept_column(policy):
    policy = no_k(policy, "trainings")
    t = canonical_table("trainings", 50)
    course = t.column("course_name").to_pylist()
    course[3] = t.column("full_name")[9].as_py().lower()
    t = t.set_column(t.schema.get_field_index("course_name"), "course_name", pa.array(course))
    with pytest.raises(LeakError, match="value of dropped column full_name"):
        share(t, "trainings", "lampung", policy, KEYRING)


# --- a new recipient is configuration only ----------------------------------------------------

DINKES = """
title: Dinas Kesehatan Provinsi Lampung
pihak: PIHAK KEDUA
organisation: Dinas Kesehatan Provinsi Lampung (perangkat daerah of PIHAK KEDUA)
contact: Kepala Dinas Kesehatan Provinsi Lampung
bucket: dinkes-lampung-share
credentials: dinkes-lampung-reader
owns: [dinkes]
datasets:
  health_facilities:
    purpose: Supervise the licensed health facilities for CPMI together with BP3MI (annex 3.1, 3.4).
    mou_article: "Pasal 4 huruf e; Lampiran Rencana Kerja No. 3.1, 3.4"
    workplan: ["3.1", "3.4"]
    columns: {facility_id: keep, facility_name: keep, facility_type: keep, license_number: keep,
              license_valid_until: keep, kabkota_code: keep}
  health_checks:
    purpose: Provide and monitor health-check services for CPMI and PMI (annex 3.2).
    mou_article: "Pasal 5 ayat (2) huruf a; Lampiran Rencana Kerja No. 3.2"
    workplan: ["3.2"]
    k: 10
    columns:
      check_id: record
      nik: token
      full_name: drop
      sex: keep
      birth_date: {transform: generalise, to: age_band, width: 10, reference: check_date}
      kabkota_code: keep
      kabkota_bps_code: drop
      facility_id: keep
      check_date: {transform: generalise, to: iso_week}
      result: keep
      destination_country: drop
"""


def test_dinkes_lampung_is_configuration_only(tmp_path):
    data = raw_policy()
    data["parties"]["dinkes_lampung"] = yaml.safe_load(DINKES)
    pol = load_policy(write(tmp_path, data))
    assert pol.parties["dinkes_lampung"].bucket == "dinkes-lampung-share"
    assert pol.recipients("health_checks") == ["kp2mi", "lampung", "dinkes_lampung"]
    assert "dinkes_lampung" not in pol.recipients("complaints")
    assert "dinkes_lampung" not in pol.recipients("placements")
    assert set(pol.parties["dinkes_lampung"].datasets) == {"health_facilities", "health_checks"}

    folks = people(200, seed=5)
    t = canonical_table("health_checks", 400, people=folks)
    out, rep = share(t, "health_checks", "dinkes_lampung", pol, KEYRING)
    assert out.schema.equals(shared_schema("health_checks", "dinkes_lampung", pol))
    assert out.column_names == ["check_id", "nik_token", "sex", "age_band", "kabkota_code", "facility_id",
                                "check_date", "result", "data_quality_flags"]
    assert rep["k_anonymity"]["k_requested"] == 10 and (rep["k_anonymity"]["k_achieved"] or 10) >= 10
    assert rep["disclosure"]["k_required"] == 10 and rep["disclosure"]["counted_over"] == "persons"
    assert all(b.endswith("9") for b in out.column("age_band").drop_null().to_pylist())  # 10-year bands
    # Dinkes runs the check register: its own check ids reach it as they are; weeks start on Monday
    assert out.num_rows and all(c.startswith("CI-2507-") for c in out.column("check_id").to_pylist())
    assert {d.weekday() for d in out.column("check_date").drop_null().to_pylist()} <= {0}
    lamp, _ = share(t, "health_checks", "lampung", pol, KEYRING)
    assert set(out.column("nik_token").to_pylist()).isdisjoint(lamp.column("nik_token").to_pylist())
    assert rep["bucket"] == "dinkes-lampung-share"

    from sinergi import ropa

    md, html = ropa.render(pol, "dinkes_lampung")
    assert "health_checks" in md and "complaints" not in md and "dinkes-lampung-share" in html


def test_policy_copy_is_independent(policy):
    other = copy.deepcopy(policy)
    other.parties["lampung"].datasets["placements"].k = 2
    assert policy.k_for("placements", "lampung") == 5 and other.k_for("placements", "lampung") == 2


def test_share_marks_its_timing_stages(policy):
    """The benchmarks read share()'s stages through sinergi.timing (not by patching private names)."""
    from sinergi.timing import recording

    with recording() as rec:
        share(canonical_table("placements", 40), "placements", "lampung", policy, KEYRING)
    assert {"tokens", "k-anonymity", "leak guard"} <= set(rec.calls)
    assert rec.calls["k-anonymity"] == rec.calls["leak guard"] == 1 and rec.calls["tokens"] >= 1


def test_data_quality_flags_reach_every_party_as_an_attribute():
    """Validation's per-row warnings (registry.DATA_QUALITY_FLAGS) are published to every party
    with every dataset, whatever the policy lists, and never count as a quasi-identifier."""
    pol = load_policy()
    t = canonical_table("placements", 300, people=people(150, seed=2))
    flags = ["kabkota_matches_nik" if i % 7 == 0 else ("vocab:job_title;nik_birth_date_sex" if i % 11 == 0 else None)
             for i in range(t.num_rows)]
    want = dict(zip(t["placement_id"].to_pylist(), flags, strict=True))
    flagged = t.append_column(registry.DATA_QUALITY_FLAGS, pa.array(flags, pa.string()))
    for party in pol.recipients("placements"):
        plan = release_plan(pol, "placements", party)
        assert registry.DATA_QUALITY_FLAGS not in plan.quasi_identifiers
        out, _ = share(flagged, "placements", party, pol, KEYRING)
        field = out.schema.field(registry.DATA_QUALITY_FLAGS)
        assert field.metadata[b"role"] == b"attribute" and out.schema.equals(shared_schema("placements", party, pol))
        if "placement_id" in out.column_names:
            got = dict(zip(out["placement_id"].to_pylist(), out[registry.DATA_QUALITY_FLAGS].to_pylist(), strict=True))
            assert got and all(want[k] == v for k, v in got.items()), party
        assert pc.count(out[registry.DATA_QUALITY_FLAGS]).as_py() > 0, party
        # a table validated before the column existed shares it as null
        old, _ = share(t, "placements", party, pol, KEYRING)
        assert old[registry.DATA_QUALITY_FLAGS].null_count == old.num_rows
