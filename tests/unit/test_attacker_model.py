"""The attacker model in the policy (issue 16): knowable columns are quasi-identifiers, dates are
generalised unless a purpose is written, record ids reach only their system's owner as they are,
k counts persons, sensitive columns are l-diverse, and every release reports its measured risk."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml
from test_policy_fixtures import canonical_table, people

from sinergi import registry
from sinergi.policy import PolicyError, default_policy_path, load_policy, release_plan, share
from sinergi.tokens import TOKEN_PATTERN, Keyring

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
KEYRING = Keyring.from_master(b"attacker-model unit test secret!")
REPORT_KEYS = {"attacker_model", "quasi_identifiers", "sensitive", "k_required", "k_achieved", "l_required",
               "l_achieved", "persons_unique_before", "persons_unique_after", "rows_suppressed", "cells_generalised",
               "withheld"}


@pytest.fixture(scope="module")
def policy():
    return load_policy()


def raw() -> dict:
    return yaml.load(default_policy_path().read_text(encoding="utf-8"), Loader=LOADER)


def error_of(tmp_path, data: dict) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.dump(data, Dumper=DUMPER, sort_keys=False), encoding="utf-8")
    with pytest.raises(PolicyError) as e:
        load_policy(path)
    return str(e.value)


def load(tmp_path, data: dict):
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.dump(data, Dumper=DUMPER, sort_keys=False), encoding="utf-8")
    return load_policy(path)


# --- the default policy ----------------------------------------------------------------------------


def test_every_published_knowable_column_is_a_quasi_identifier(policy):
    for party, p in policy.parties.items():
        for name in p.datasets:
            plan = release_plan(policy, name, party)
            ds = registry.get(name)
            for o in plan.columns:
                role = (o.column or ds.column(o.source)).role  # system columns carry their own
                if role == "quasi_identifier" and not o.is_token:
                    assert o.name in plan.quasi_identifiers, (party, name, o.name)
                if o.dtype == "date" and role == "quasi_identifier":
                    assert o.date_grain in ("month", "iso_week", "year") or o.spec.justification, (party, name, o.name)
            assert plan.attacker_model, (party, name)
            assert (plan.counted_over == "persons") == bool(ds.person_key and plan.quasi_identifiers), (party, name)


def test_every_person_record_id_is_a_record_of_its_system(policy):
    """Person-level record ids reach the system's owner as they are and the other party as its token."""
    assert policy.parties["kp2mi"].owns == ["siskop2mi"]
    assert set(policy.parties["lampung"].owns) == {"disnaker", "dinkes", "dinsos"}
    seen = 0
    for party, p in policy.parties.items():
        for name in p.datasets:
            for o in release_plan(policy, name, party).columns:
                col = o.column or registry.get(name).column(o.source)
                if col.issued_by is None:
                    continue
                seen += 1
                owner = col.issued_by in p.owns
                assert o.name == (col.name if owner else f"{col.name}_token"), (party, name, o.name)
                assert o.transform == ("keep:own_record_id" if owner else "token:record")
    assert seen >= 20


def test_sensitive_columns_and_their_harmful_values(policy):
    plan = release_plan(policy, "health_checks", "lampung")
    assert plan.sensitive == ("result",) and plan.sensitive_values == {"result": ("unfit",)} and plan.l == 2
    assert release_plan(policy, "complaints", "kp2mi").sensitive_values == {}  # every complaint type
    assert release_plan(policy, "returns", "lampung").sensitive_values == {"return_status": ("sakit", "meninggal")}
    assert set(release_plan(policy, "stranded_returnees", "kp2mi").sensitive) == {"condition", "referral"}


# --- the validator ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        # a knowable published column left out of the declared quasi-identifiers
        (lambda d: d["parties"]["lampung"]["datasets"]["placements"].update(
            quasi_identifiers=["sex", "age_band", "kabkota_code", "kabkota_bps_code", "province_code"]),
         "parties.lampung.datasets.placements.quasi_identifiers: published column 'education' could be known to "
         "an attacker (registry role quasi_identifier) but is not declared a quasi-identifier"),
        # an exact date without a written purpose
        (lambda d: d["parties"]["lampung"]["datasets"]["complaints"]["columns"].update(complaint_date="keep"),
         "parties.lampung.datasets.complaints.columns.complaint_date: an exact date an attacker could know is "
         "published only for a written 'justification'"),
        (lambda d: d["parties"]["lampung"]["datasets"]["complaints"]["columns"].update(
            channel={"transform": "generalise", "to": "month"}),
         "columns.channel: generalise to month needs a date column, 'channel' is string"),
        # a record id published as is, tokenised by hand, or a record transform on something else
        (lambda d: d["parties"]["lampung"]["datasets"]["placements"]["columns"].update(placement_id="keep"),
         "parties.lampung.datasets.placements.columns.placement_id: 'placement_id' is a siskop2mi record id: use "
         "transform record"),
        (lambda d: d["parties"]["kp2mi"]["datasets"]["health_checks"]["columns"].update(check_id="token"),
         "parties.kp2mi.datasets.health_checks.columns.check_id: 'check_id' is a dinkes record id"),
        (lambda d: d["parties"]["lampung"]["datasets"]["job_orders"]["columns"].update(job_order_id="record"),
         "parties.lampung.datasets.job_orders.columns.job_order_id: transform record applies to a record id"),
        (lambda d: d["parties"]["lampung"].update(owns=["disnaker", "siskop3mi"]),
         "parties.lampung.owns[1]: 'siskop3mi' is not a source system"),
        # steps that leave the same information in another column, or kab/kota before kecamatan
        (lambda d: d["parties"]["lampung"]["datasets"]["placements"].update(
            k_steps=["destination_country:drop", "kabkota_code+kabkota_bps_code:drop"]),
         "parties.lampung.datasets.placements.k_steps[0]: destination_country and destination_country_name carry "
         "the same information"),
        (lambda d: d["parties"]["lampung"]["datasets"]["cpmi_registrations"]["columns"].update(kecamatan_code="keep")
         or d["parties"]["lampung"]["datasets"]["cpmi_registrations"].update(
             k_steps=["kabkota_code+kabkota_bps_code:drop", "kecamatan_code:drop"]),
         "parties.lampung.datasets.cpmi_registrations.k_steps[0]: kecamatan_code (whose code holds the kab/kota) "
         "must be dropped before or with kabkota_code"),
        # the attacker models themselves
        (lambda d: d["attacker_models"].pop("health_checks"),
         "attacker_models: dataset 'health_checks' (received by kp2mi, lampung) has no attacker model"),
        (lambda d: d["attacker_models"]["health_checks"].update(sensitive_values={"result": ["sick"]}),
         "attacker_models.health_checks.sensitive_values.result: 'sick' is not a value of vocabulary 'health_result'"),
        (lambda d: d["attacker_models"]["health_checks"].update(sensitive_values={"sex": ["P"]}),
         "attacker_models.health_checks.sensitive_values.sex: 'sex' is not a sensitive column"),
        (lambda d: d["attacker_models"]["placements"].update(no_person="not a person"),
         "attacker_models.placements.no_person: 'placements' has a person column (nik): k and l apply"),
        (lambda d: d["attacker_models"]["placements"].pop("description_id"),
         "attacker_models.placements.description_id: missing required key"),
        (lambda d: d["parties"]["lampung"]["datasets"]["placements"].update(l=0),
         "parties.lampung.datasets.placements.l: Input should be greater than or equal to 1"),
    ],
)
def test_validator_refuses_releases_that_break_the_attacker_model(tmp_path, mutate, expected):
    data = raw()
    mutate(data)
    assert expected in error_of(tmp_path, data)


def test_an_exact_date_with_a_written_purpose_is_published_as_is(tmp_path):
    data = raw()
    cols = dict(data["parties"]["lampung"]["datasets"]["complaints"]["columns"])
    cols["complaint_date"] = {"transform": "keep", "justification": "Case follow-up needs the day the complaint came in."}
    data["parties"]["lampung"]["datasets"]["complaints"]["columns"] = cols
    pol = load(tmp_path, data)
    plan = release_plan(pol, "complaints", "lampung")
    assert plan.date_grains["complaint_date"] == "day" and "complaint_date" in plan.quasi_identifiers
    assert release_plan(pol, "complaints", "kp2mi").date_grains["complaint_date"] == "month"  # other party unchanged


# --- share(): dates, record ids, persons ------------------------------------------------------------


def no_protection(policy, *datasets):
    pol = policy.model_copy(deep=True)
    for p in pol.parties.values():
        for ds in datasets:
            if ds in p.datasets:
                p.datasets[ds].k = p.datasets[ds].l = 1
    return pol


def test_dates_are_cut_to_their_period(policy, tmp_path):
    data = raw()
    cols = dict(data["parties"]["lampung"]["datasets"]["complaints"]["columns"])
    cols["resolved_date"] = {"transform": "generalise", "to": "iso_week"}
    cols["complaint_date"] = {"transform": "generalise", "to": "year"}
    data["parties"]["lampung"]["datasets"]["complaints"]["columns"] = cols
    pol = no_protection(load(tmp_path, data), "placements", "complaints")
    t = canonical_table("placements", 40, lampung_share=1.0)
    out, rep = share(t, "placements", "lampung", pol, KEYRING)
    src = t.column("departure_date").to_pylist()
    assert out.column("departure_date").to_pylist() == [d.replace(day=1) for d in src]
    assert out.schema.field("departure_date").type == pa.date32()
    assert rep["disclosure"]["dates"] == {"departure_date": "month"}
    c = canonical_table("complaints", 30, lampung_share=1.0)
    days = [dt.date(2025, 1, 1), dt.date(2024, 12, 29), dt.date(2025, 7, 14)] * 10  # Wed, Sun, Mon
    for name in ("complaint_date", "resolved_date"):
        c = c.set_column(c.schema.get_field_index(name), name, pa.array(days, pa.date32()))
    out, _ = share(c, "complaints", "lampung", pol, KEYRING)
    assert out.column("resolved_date").to_pylist()[:3] == [dt.date(2024, 12, 30), dt.date(2024, 12, 23),
                                                          dt.date(2025, 7, 14)]
    assert out.column("complaint_date").to_pylist()[:3] == [dt.date(2025, 1, 1), dt.date(2024, 1, 1),
                                                           dt.date(2025, 1, 1)]


def test_record_ids_link_inside_a_party_and_nowhere_else(policy):
    folks = people(120, seed=3)
    placements = canonical_table("placements", 120, people=folks, lampung_share=1.0)
    returns = canonical_table("returns", 120, people=folks, lampung_share=1.0)
    ids = placements.column("placement_id")
    returns = returns.set_column(returns.schema.get_field_index("placement_id"), "placement_id", ids)
    pol = no_protection(policy, "placements", "returns")
    lp, rep = share(placements, "placements", "lampung", pol, KEYRING)
    lr, _ = share(returns, "returns", "lampung", pol, KEYRING)
    kp, _ = share(placements, "placements", "kp2mi", pol, KEYRING)
    # the owner (kp2mi runs SISKOP2MI) receives its own ids; lampung its own tokens of them
    assert kp.column("placement_id").to_pylist() == ids.to_pylist() and "placement_id_token" not in kp.column_names
    toks = lp.column("placement_id_token")
    assert pc.all(pc.match_substring_regex(toks, TOKEN_PATTERN)).as_py()
    assert toks.to_pylist() == lr.column("placement_id_token").to_pylist()  # returns link to placements
    regs = canonical_table("cpmi_registrations", 120, people=folks, lampung_share=1.0)
    regs = regs.set_column(regs.schema.get_field_index("registration_id"), "registration_id",
                           placements.column("registration_id"))
    lc, _ = share(regs, "cpmi_registrations", "lampung", no_protection(policy, "cpmi_registrations"), KEYRING)
    assert lc.column("registration_id_token").to_pylist() == lp.column("registration_id_token").to_pylist()
    assert set(toks.to_pylist()).isdisjoint(ids.to_pylist())  # SISKOP2MI cannot look them up
    assert rep["key_versions"]["placement_id_token"]["field"] == "record"
    assert rep["key_versions"]["placement_id_token"]["system"] == "siskop2mi"
    # an id spelled alike in two systems is two records: different tokens
    ir = canonical_table("initial_registrations", 5)
    cr = canonical_table("cpmi_registrations", 5, lampung_share=1.0)
    cr = cr.set_column(cr.schema.get_field_index("registration_id"), "registration_id", ir.column("registration_id"))
    a, _ = share(ir, "initial_registrations", "kp2mi", no_protection(policy, "initial_registrations"), KEYRING)
    b, _ = share(cr, "cpmi_registrations", "lampung", no_protection(policy, "cpmi_registrations"), KEYRING)
    c, _ = share(cr, "cpmi_registrations", "kp2mi", no_protection(policy, "cpmi_registrations"), KEYRING)
    assert set(a.column("registration_id_token").to_pylist()).isdisjoint(b.column("registration_id_token").to_pylist())
    assert c.column("registration_id").to_pylist() == ir.column("registration_id").to_pylist()


def test_a_raw_record_id_in_another_column_is_blocked(policy):
    from sinergi.disclosure import LeakError

    pol = no_protection(policy, "trainings")
    t = canonical_table("trainings", 30)
    course = t.column("course_name").to_pylist()
    course[4] = t.column("training_id")[11].as_py()  # an operator pasted a Disnaker record id
    t = t.set_column(t.schema.get_field_index("course_name"), "course_name", pa.array(course))
    with pytest.raises(LeakError, match="value of dropped column training_id"):
        share(t, "trainings", "kp2mi", pol, KEYRING)  # kp2mi does not run Disnaker
    out, _ = share(t, "trainings", "lampung", pol, KEYRING)  # lampung does: its own id is no leak
    assert out.num_rows == 30


@pytest.mark.parametrize("nik", ["token", "drop"])
def test_k_counts_persons_in_a_release(policy, nik):
    """Seven people, each with one health check of the same class except one with six: by rows the
    class of the sixfold person would pass k = 5, by persons it does not. Persons are counted by the
    release's own person token, or (NIK not published) by the pipeline's internal person key."""
    one = people(1, seed=8, kab="1807")
    others = people(6, seed=9, kab="1801")
    t = canonical_table("health_checks", 6, people=one)
    t = pa.concat_tables([t, canonical_table("health_checks", 6, people=others, seed=2)])
    for name, value in (("sex", "P"), ("facility_id", "F-01"), ("result", "fit")):
        t = t.set_column(t.schema.get_field_index(name), name, pa.array([value] * 12))
    t = t.set_column(t.schema.get_field_index("birth_date"), "birth_date", pa.array([dt.date(1995, 1, 1)] * 12))
    t = t.set_column(t.schema.get_field_index("check_date"), "check_date", pa.array([dt.date(2025, 7, 2)] * 12))
    pol = policy.model_copy(deep=True)
    entry = pol.parties["lampung"].datasets["health_checks"]
    entry.k_steps = []
    entry.columns = {**entry.columns, "nik": entry.columns["full_name"] if nik == "drop" else entry.columns["nik"]}
    out, rep = share(t, "health_checks", "lampung", pol, KEYRING)
    assert ("nik_token" in out.column_names) == (nik == "token")
    assert out.num_rows == 6 and set(out.column("kabkota_code").to_pylist()) == {"1801"}
    d = rep["disclosure"]
    assert d["counted_over"] == "persons" and d["k_achieved"] == 6 and d["rows_suppressed"] == 6
    assert d["persons_in"] == 7 and d["persons_unique_before"] == round(1 / 7, 4) and d["persons_unique_after"] == 0


def test_every_release_reports_its_measured_risk(policy):
    for name in ("placements", "health_checks", "complaints", "p3mi"):
        party = "lampung"
        t = canonical_table(name, 300, lampung_share=1.0)
        out, rep = share(t, name, party, policy, KEYRING)
        d = rep["disclosure"]
        assert REPORT_KEYS <= set(d), name
        plan = release_plan(policy, name, party)
        assert d["attacker_model"] == plan.attacker_model and d["quasi_identifiers"] == list(plan.quasi_identifiers)
        assert d["rows_suppressed"] == sum(rep["rows_suppressed"].values())
        for col, n in d["withheld"].items():
            assert col in plan.quasi_identifiers and 0 < n <= out.num_rows
            assert d["cells_generalised"][col] >= n
            assert out.column(col).null_count >= n
        if name == "p3mi":
            assert d["counted_over"] is None and d["k_required"] is None and d["exempt"]
        else:
            assert d["k_required"] == 5 and (d["k_achieved"] is None or d["k_achieved"] >= 5)
            assert d["persons_unique_after"] in (0.0, None)
            assert d["persons_unique_before"] > 0.5  # 300 random people on these columns: mostly unique
        if plan.sensitive:
            assert d["l_required"] == 2 and (d["l_achieved"] is None or d["l_achieved"] >= 2)


def test_registry_checks_issued_by():
    from importlib import resources

    from sinergi.registry import RegistryError
    from sinergi.registry import load as load_registry

    text = resources.files("sinergi.config").joinpath("datasets.yaml").read_text(encoding="utf-8")
    assert load_registry(text)["returns"].column("placement_id").issued_by == "siskop2mi"
    bad_system = text.replace("name: check_id, type: string, role: direct_identifier, issued_by: dinkes",
                              "name: check_id, type: string, role: direct_identifier, issued_by: puskesmas")
    with pytest.raises(RegistryError, match=r"health_checks.columns\[check_id\].issued_by: 'puskesmas' is not a source"):
        load_registry(bad_system)
    not_an_id = text.replace("name: check_id, type: string, role: direct_identifier, issued_by: dinkes",
                             "name: check_id, type: string, role: attribute, issued_by: dinkes")
    with pytest.raises(RegistryError, match=r"columns\[check_id\].issued_by: only a string direct_identifier"):
        load_registry(not_an_id)
