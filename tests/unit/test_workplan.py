"""The annex work plan as configuration (config/workplan.yaml): every row of the signed annex, every
work-plan tag of the registry, the policy and the indicators names one of them, and the coverage
table says for each row and party whether it has data, indicators, or why not."""

from __future__ import annotations

import copy
from importlib import resources

import pytest
import yaml

from sinergi import registry
from sinergi.errors import ConfigError
from sinergi.indicators.definitions import INDICATORS
from sinergi.indicators.workplan import coverage, parse_workplan, row_ids, rows
from sinergi.policy import load_policy

# The annex (Lampiran Rencana Kerja) of MoU.60/02.01/KS.01/VII/2025, row by row, as signed.
ANNEX = ["1a", "1b", "1c", "1d", "1e", "2.1", "2.2", "2.3", "3.1", "3.2", "3.3", "3.4", "4a", "4b", "4c", "4d", "4e",
         "5.1", "5.2a", "5.2b", "5.2c", "5.2d", "5.3a", "5.3b", "5.3c", "5.4"]
TEXT = resources.files("sinergi.config").joinpath("workplan.yaml").read_text(encoding="utf-8")


def test_every_annex_row_with_its_text_in_both_languages():
    assert list(row_ids()) == ANNEX
    by_id = {r.id: r for r in rows()}
    assert "pemetaan Supply dan Demand" in by_id["1a"].activity.id
    assert "dipulangkan akibat meninggal atau sakit" in by_id["3.3"].activity.id
    assert "Monev fasilitas pelayanan kesehatan" in by_id["3.4"].activity.id
    assert "Terlantar" in by_id["5.3b"].activity.id and "pos pengaduan" in by_id["5.2d"].activity.id
    for r in rows():
        assert r.activity.en and r.output.id and r.output.en and r.program.id and r.stage.en


def test_every_work_plan_tag_names_an_annex_row():
    known = set(ANNEX)
    for name in registry.names():
        assert set(registry.get(name).workplan) <= known, (name, registry.get(name).workplan)
    policy = load_policy()
    for party, p in policy.parties.items():
        for ds, entry in p.datasets.items():
            assert entry.workplan and set(entry.workplan) <= known, (party, ds, entry.workplan)
    for ind in INDICATORS:
        assert set(ind.workplan_rows) <= known, ind.id


def test_the_tags_checked_against_the_annex():
    """Row 3.3 is the data of workers repatriated sick or deceased (returns); 3.4 is the supervision of
    health facilities; a stranded returnee is 5.3b; CPMI training is 2.1 (2.2 is families)."""
    tags = {n: set(registry.get(n).workplan) for n in registry.names()}
    assert "3.3" in tags["returns"] and "3.4" not in tags["returns"] and "5.3a" in tags["returns"]
    assert tags["stranded_returnees"] == {"5.3b"}
    assert tags["trainings"] == {"2.1"} and {"2.2", "2.3"} <= tags["empowerment"]
    assert "3.4" in tags["health_facilities"] and {"5.2b", "5.2d", "5.3c"} <= tags["complaints"]
    policy = load_policy()
    for party in policy.recipients("returns"):
        assert "3.3" in policy.entry("returns", party).workplan and "5.3a" in policy.entry("returns", party).workplan
    for party in policy.recipients("stranded_returnees"):
        assert policy.entry("stranded_returnees", party).workplan == ["5.3b"]


def test_a_row_without_an_indicator_must_say_why():
    served = {r for i in INDICATORS for r in i.workplan_rows}
    for r in rows():
        assert r.id in served or r.why is not None, r.id
    assert {"1a", "1b", "1c", "1d", "4b", "5.1", "5.2c", "5.4"} == {r.id for r in rows() if r.id not in served}
    data = yaml.safe_load(TEXT)
    bad = copy.deepcopy(data)
    bad["rows"]["5.1"]["program"] = "9"
    with pytest.raises(ConfigError, match=r"workplan.yaml: rows.5.1.program: '9' is not one of the programs"):
        parse_workplan(bad)
    bad = copy.deepcopy(data)
    bad["rows"]["1a"]["activity"] = {"id": "x"}
    with pytest.raises(ConfigError, match=r"workplan.yaml: rows.1a.activity: expected \{id: <Bahasa Indonesia>"):
        parse_workplan(bad)


def test_coverage_per_party():
    policy = load_policy()
    year = [f"2025-{m:02d}" for m in range(1, 13)]
    months = {ds: year for ds in registry.names()}
    lampung = {c["row"].id: c for c in coverage(policy, "lampung", months)}
    kp2mi = {c["row"].id: c for c in coverage(policy, "kp2mi", months)}
    assert len(lampung) == len(kp2mi) == len(ANNEX)
    assert lampung["4d"]["status"] == "indicator" and "placements" in lampung["4d"]["party_indicators"]
    assert lampung["3.3"]["status"] == "indicator" and lampung["3.3"]["months"] == {"returns": 12}
    # Lampung receives job orders and the P3MI register (data, no indicator yet, and why); KP2MI does not
    assert lampung["1a"]["status"] == "data" and lampung["1a"]["why"].en.startswith("Job orders")
    assert kp2mi["1a"]["status"] == "none" and "not shared with this party" in kp2mi["1a"]["why"].en
    # rows no data system covers yet: none, with the annex reason
    for row in ("1c", "5.1", "5.2c"):
        assert lampung[row]["status"] == "none" and lampung[row]["datasets"] == [] and lampung[row]["why"]
    # an indicator without a validated month this year is "data", not "indicator"
    empty = {c["row"].id: c for c in coverage(policy, "lampung", {})}
    assert empty["4d"]["status"] == "data" and "No month" in empty["4d"]["why"].en
