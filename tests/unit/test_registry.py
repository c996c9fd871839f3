"""The dataset registry: the dataset facts validation and the simulator use live in datasets.yaml, and a
malformed registry is refused at load time with the key path in the message."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from sinergi import registry
from sinergi.errors import ConfigError, PermanentError
from sinergi.registry import RegistryError


def _raw() -> dict:
    text = resources.files("sinergi.config").joinpath("datasets.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _load(raw: dict) -> dict[str, registry.Dataset]:
    return registry.load(yaml.safe_dump(raw, sort_keys=False))


def test_the_committed_registry_loads_and_carries_the_dataset_facts():
    ds = registry.get("placements")
    assert ds.date_order == ("registration_date", "opp_date", "departure_date")
    assert ds.event_date == "departure_date" and not ds.snapshot
    assert ds.references == {"p3mi_id": "p3mi", "job_order_id": "job_orders"}
    assert registry.get("job_orders").snapshot and registry.get("health_facilities").snapshot
    future = {(n, c.name) for n, d in registry.datasets().items() for c in d.columns if c.future_allowed}
    assert future == {("cpmi_registrations", "verification_date"), ("job_orders", "valid_until"),
                      ("trainings", "end_date"), ("health_facilities", "license_valid_until"),
                      *((n, "updated_at") for n in ("initial_registrations", "trainings", "training_institutions",
                                                    "empowerment"))}
    # every NIK column is precision-sensitive; long ids are flagged one by one
    sensitive = {(n, c.name) for n, d in registry.datasets().items() for c in d.columns if c.precision_sensitive}
    assert sensitive == {(n, "nik") for n, d in registry.datasets().items() if "nik" in d.column_names} | {
        ("placements", "epmi_number")}
    # closed vocabularies: what breaks identity or a reported count (the others warn)
    closed = {c.vocabulary for d in registry.datasets().values() for c in d.columns if c.closed}
    assert closed == {"sex", "verification_status", "complaint_status", "return_status", "health_result",
                      "empowerment_participant"}
    assert not ds.column("job_title").closed and ds.column("sex").closed
    # the Disnaker events say which date places a row in a month; the register is pulled whole
    assert {n: d.month_by for n, d in registry.datasets().items() if d.source.kind == "sql"} == {
        "initial_registrations": "registration_date", "trainings": "start_date", "training_institutions": None,
        "empowerment": "program_date"}
    # a description with a comma is one value, not a stray key (it was cut at the comma before)
    assert ds.column("sex").en == "Sex (L = male, P = female)"
    names = registry.names()
    for d in registry.datasets().values():
        for target in d.references.values():
            assert names.index(target) < names.index(d.name)  # referenced datasets are processed first


def _placements(raw: dict) -> dict:
    return raw["placements"]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda r: _placements(r).update(date_order=["registration_date", "x"]),
     "datasets.yaml: placements.date_order[1]: no column 'x'"),
    (lambda r: _placements(r).update(date_order=["registration_date", "nik"]),
     "datasets.yaml: placements.date_order[1]: column 'nik' is a string, not a date"),
    (lambda r: _placements(r).update(date_order=["opp_date", "opp_date"]),
     "datasets.yaml: placements.date_order: a column is listed twice"),
    (lambda r: _placements(r).update(event_date="departure"),
     "datasets.yaml: placements.event_date: no column 'departure'"),
    (lambda r: _placements(r).update(snapshot="yes"),
     "datasets.yaml: placements.snapshot: must be true or false"),
    (lambda r: _placements(r).update(refrences={"p3mi_id": "p3mi"}),
     "datasets.yaml: placements: unknown key(s) ['refrences']"),
    (lambda r: _placements(r)["references"].update(job_order_id="job_order"),
     "datasets.yaml: placements.references.job_order_id: no dataset 'job_order'"),
    (lambda r: _placements(r)["references"].update(order_id="job_orders"),
     "datasets.yaml: placements.references.order_id: no column 'order_id'"),
    (lambda r: r["p3mi"].update(references={"kabkota_code": "placements"}),
     "datasets.yaml: references form a cycle"),
    (lambda r: _placements(r)["columns"][1].update(future_allowed=True),
     "datasets.yaml: placements.columns[registration_id].future_allowed: only a date column"),
    (lambda r: _placements(r)["columns"][4].update({"P = female)": None}),
     "datasets.yaml: placements.columns[sex]: unknown key(s) ['P = female)']"),
    (lambda r: _placements(r)["columns"][3].update(precision_sensitive=True),
     "datasets.yaml: placements.columns[full_name].precision_sensitive: only an identifier"),
    (lambda r: _placements(r)["columns"][2].update(precision_sensitive=False),
     "datasets.yaml: placements.columns[nik].precision_sensitive: a NIK column always is"),
    (lambda r: _placements(r)["columns"][2].update(closed=True),
     "datasets.yaml: placements.columns[nik].closed: only a vocabulary column"),
    (lambda r: _placements(r).update(month_by="departure_date"),
     "datasets.yaml: placements.month_by: only a SQL source"),
    (lambda r: r["trainings"].pop("month_by"),
     "datasets.yaml: trainings.month_by: a SQL source of events needs the date column"),
    (lambda r: r["trainings"].update(month_by="nik"),
     "datasets.yaml: trainings.month_by: column 'nik' is a string, not a date"),
])
def test_a_malformed_registry_is_refused_naming_the_key_path(edit, message):
    raw = _raw()
    edit(raw)
    with pytest.raises(RegistryError) as err:
        _load(raw)
    assert str(err.value).startswith(message), str(err.value)
    assert isinstance(err.value, ConfigError) and isinstance(err.value, PermanentError)


def test_a_valid_edit_loads():
    raw = _raw()
    raw["returns"]["date_order"] = ["departure_date", "return_date"]
    assert _load(raw)["returns"].date_order == ("departure_date", "return_date")
