"""The indicator table is configuration (config/indicators.yaml): loaded into the Indicator
dataclasses, checked on load, and every mistake names its key path."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from importlib import resources

import pytest
import yaml

from sinergi.indicators.definitions import (
    BY_ID,
    DEFAULT_THRESHOLD,
    INDICATORS,
    PLACED_WITHIN_DAYS,
    SOURCE_DATASETS,
    IndicatorConfigError,
    load_indicators,
    parse_indicators,
)

TEXT = resources.files("sinergi.config").joinpath("indicators.yaml").read_text(encoding="utf-8")


def raw() -> dict:
    return copy.deepcopy(yaml.safe_load(TEXT))


def error_of(data) -> str:
    with pytest.raises(IndicatorConfigError) as e:
        parse_indicators(data)
    return str(e.value)


def test_the_shipped_table_loads():
    settings, indicators = load_indicators()
    assert indicators == INDICATORS and [i.id for i in indicators] == list(raw()["indicators"])
    assert (DEFAULT_THRESHOLD, PLACED_WITHIN_DAYS) == (settings["small_cell_threshold"], settings["placed_within_days"])
    assert BY_ID["cpmi_verified"].parts == ("cpmi_registered|verification_status|terverifikasi",)
    assert BY_ID["trained_placed_6m"].also_needs == ("placements",)
    assert f"0-{PLACED_WITHIN_DAYS} days" in BY_ID["trained_placed_6m"].formula
    assert BY_ID["complaints_resolved"].where == {"workflow_status": ("Selesai",)}
    assert BY_ID["health_facilities_licensed"].valid_at_period_end == "license_valid_until"
    assert all(isinstance(i.workplan_row, str) for i in INDICATORS)
    assert SOURCE_DATASETS[0] == "cpmi_registrations" and len(set(SOURCE_DATASETS)) == len(SOURCE_DATASETS)
    # both languages; persons counted through the trusted zone's key, never a party's token
    assert all(i.formula and i.formula_id for i in INDICATORS)
    assert f"0-{PLACED_WITHIN_DAYS} hari" in BY_ID["trained_placed_6m"].formula_id
    assert {i.distinct for i in INDICATORS if i.unit == "persons" and i.kind == "count"} == {"person_key"}
    assert "nik_token" not in TEXT
    from sinergi.indicators.definitions import PERSON_KEY
    from sinergi.pipeline.trusted import PERSON_KEY as TRUSTED_PERSON_KEY

    assert PERSON_KEY == TRUSTED_PERSON_KEY  # spelled twice so the DAG-parse import stays light
    # yearly targets (Art. 7): per year, for the province and optionally per kab/kota, with a direction
    placements = BY_ID["placements"].targets[2025]
    assert placements.province == 24000 and len(placements.kabkota) == 15 and placements.direction == "at_least"
    assert BY_ID["complaint_days_to_resolution_median"].targets[2025].direction == "at_most"
    assert BY_ID["placements"].workplan_rows == ("4d", "4c")


@pytest.mark.parametrize("change, expected", [
    (lambda d: d["indicators"]["placements"].update(kind="countt"),
     "indicators.yaml: indicators.placements.kind: 'countt' is not one of count, sum"),
    (lambda d: d["indicators"]["placements"].update(colour="blue"),
     "indicators.yaml: indicators.placements.colour: unknown key"),
    (lambda d: d["indicators"]["placements"].pop("unit"),
     "indicators.yaml: indicators.placements.unit: missing required key"),
    (lambda d: d["indicators"]["cpmi_trained"].update(workplan_row=2.1),
     "indicators.yaml: indicators.cpmi_trained.workplan_row: expected non-empty text, got 2.1 (quote it"),
    (lambda d: d["indicators"]["placements"].update(dimensions=["destination_country", "sexx"]),
     "indicators.yaml: indicators.placements.dimensions[1]: dataset 'placements' has no column 'sexx'"),
    (lambda d: d["indicators"]["placements"].update(dataset="placement"),
     "indicators.yaml: indicators.placements.dataset: unknown dataset 'placement'"),
    (lambda d: d["indicators"]["cpmi_verified"]["parts"][0].update(indicator="health_checks"),
     "indicators.yaml: indicators.cpmi_verified.parts[0].indicator: 'health_checks' is not a count indicator defined above"),
    (lambda d: d["indicators"]["returns_sick_deceased"]["parts"][1].update(dimension="education"),
     "indicators.yaml: indicators.returns_sick_deceased.parts[1].dimension: 'returns' is not broken down by 'education'"),
    (lambda d: d["indicators"]["health_fit_rate"].pop("denominator"),
     "indicators.yaml: indicators.health_fit_rate.denominator: an indicator of kind rate needs 'denominator'"),
    (lambda d: d["indicators"]["health_fit_rate"].update(denominator="health_checkz"),
     "indicators.yaml: indicators.health_fit_rate.denominator: 'health_checkz' is not an indicator defined above"),
    (lambda d: d["indicators"]["cpmi_verified"].update(dimensions=["sex"]),
     "indicators.yaml: indicators.cpmi_verified.dimensions: does not apply to an indicator of kind alias"),
    (lambda d: d["indicators"]["complaints_resolved"].update(where={"workflow_status": []}),
     "indicators.yaml: indicators.complaints_resolved.where.workflow_status: expected a list of at least one"),
    (lambda d: d["indicators"]["complaints_resolved"].update(date_in_period="resolved_at"),
     "indicators.yaml: indicators.complaints_resolved.date_in_period: dataset 'complaints' has no column 'resolved_at'"),
    (lambda d: d["indicators"]["placements"].update(title={"en": "Placed"}),
     "indicators.yaml: indicators.placements.title: expected {en:"),
    (lambda d: d["indicators"]["placements"].update(small_cell="no"),
     "indicators.yaml: indicators.placements.small_cell: expected true or false"),
    (lambda d: d["settings"].update(small_cell_threshold=1),
     "indicators.yaml: settings.small_cell_threshold: expected a whole number >= 2, got 1"),
    (lambda d: d.update(extra={}), "indicators.yaml: extra: unknown key"),
    (lambda d: d["indicators"]["placements"].update(formula="Rows of placements."),
     "indicators.yaml: indicators.placements.formula: expected {en: <formula in English>, id:"),
    (lambda d: d["indicators"]["health_facilities_licensed"].update(distinct="person_key"),
     "indicators.yaml: indicators.health_facilities_licensed.distinct: dataset 'health_facilities' has no person_key"),
    (lambda d: d["indicators"]["placements"]["targets"][2025]["kabkota"].update({"3201": 10}),
     "indicators.yaml: indicators.placements.targets.2025.kabkota.3201: not a Lampung kab/kota Kemendagri code"),
    (lambda d: d["indicators"]["cpmi_verified_rate"]["targets"].update({2025: {"province": 90}}),
     "indicators.yaml: indicators.cpmi_verified_rate.targets.2025.province: a ratio target lies between 0 and 1"),
    (lambda d: d["indicators"]["placements"]["targets"].update({"2027": {"province": 1}}),
     "indicators.yaml: indicators.placements.targets.2027: a target year is a number such as 2025"),
    (lambda d: d["indicators"]["placements"]["targets"].update({2027: {"lampung": 1}}),
     "indicators.yaml: indicators.placements.targets.2027: expected {province: <value>}"),
    (lambda d: d["indicators"]["placements"].update(target_direction="more"),
     "indicators.yaml: indicators.placements.target_direction: 'more' is not one of at_least, at_most"),
    (lambda d: d["indicators"]["returns"].update(target_direction="at_most"),
     "indicators.yaml: indicators.returns.target_direction: only applies together with targets"),
])
def test_a_mistake_names_its_key_path(change, expected):
    data = raw()
    change(data)
    assert expected in error_of(data)


def test_an_indicator_may_only_refer_to_earlier_ones():
    data = raw()
    items = list(data["indicators"].items())
    rate = dict(items)["cpmi_verified_rate"]
    data["indicators"] = {"cpmi_verified_rate": rate, **{k: v for k, v in items if k != "cpmi_verified_rate"}}
    assert "indicators.yaml: indicators.cpmi_verified_rate.numerator: 'cpmi_verified' is not an indicator defined above" \
        in error_of(data)


def test_invalid_yaml_names_the_file():
    with pytest.raises(IndicatorConfigError, match="indicators.yaml: not valid YAML"):
        load_indicators("indicators: [unclosed")


def test_loading_the_table_stays_light():
    """The indicators DAG imports SOURCE_DATASETS at parse time: no Arrow, no pydantic."""
    code = ("import sys, sinergi.indicators.definitions as d; assert d.SOURCE_DATASETS; "
            "print(sorted(m for m in ('pyarrow', 'numpy', 'pydantic', 'sinergi.policy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.stdout.strip() == "[]"
