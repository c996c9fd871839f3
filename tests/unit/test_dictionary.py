"""The data dictionary of the real sharing policy: complete, bilingual, honest about blanks, valid Frictionless."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from frictionless import Package

import sinergi.policy as policy_mod
from sinergi.indicators.compute import INDICATORS_SCHEMA
from sinergi.publish.catalog import (
    PARTITION_FIELDS,
    build_datapackage,
    glossary,
    render_html,
    render_markdown,
    withheld_counts,
)
from sinergi.publish.writer import schema_fields

README = Path(__file__).parents[2] / "README.md"
POLICY = policy_mod.load_policy()


def _catalog(party: str) -> dict:
    """A catalog as update_catalog leaves it: placements published for two months (rows withheld in
    one), and the indicators, which the policy does not list."""
    bucket = POLICY.parties[party].bucket
    months = {
        "2025-06": {"rows": 40, "object_key": "placements/year=2025/month=06/part-0.parquet", "sha256": "a" * 64,
                    "withheld": {}},
        "2025-07": {"rows": 50, "object_key": "placements/year=2025/month=07/part-0.parquet", "sha256": "b" * 64,
                    "withheld": {"kabkota_bps_code": 11, "kabkota_code": 11, "job_title": 50},
                    "withheld_exact": True,
                    "extract": {"key": "_extracts/placements/2025-07.xlsx", "source_sha256": "b" * 64}},
    }
    return {"bucket": bucket, "party": party, "datasets": {
        "placements": {"months": months, "schema": []},
        "indicators": {"months": {"2025-07": {"rows": 900, "object_key": "indicators/year=2025/month=07/part-0.parquet",
                                              "suppressed_cells": 12}},
                       "schema": schema_fields(INDICATORS_SCHEMA), "title": "MoU indicators",
                       "description": "MoU indicators per month", "description_id": "Indikator MoU"},
    }}


@pytest.fixture(scope="module", params=sorted(POLICY.parties))
def package(request) -> tuple[str, dict]:
    party = request.param
    p = POLICY.parties[party]
    schemas = {ds: policy_mod.shared_schema(ds, party, POLICY) for ds in p.datasets}
    return party, build_datapackage(p.bucket, party, schemas, _catalog(party))


def test_datapackage_is_valid_frictionless_and_lists_every_dataset(package):
    party, pkg = package
    report = Package.validate_descriptor(pkg)
    assert report.valid, [(e.type, e.note) for e in report.errors]
    names = [r["name"] for r in pkg["resources"]]
    assert names == sorted(set(POLICY.parties[party].datasets) | {"indicators", "placements"} & set(names))
    assert "indicators" in names  # published, though the policy does not list it
    ind = next(r for r in pkg["resources"] if r["name"] == "indicators")
    assert ind["description_id"] == "Indikator MoU" and ind["sinergi"]["rows_per_month"] == {"2025-07": 900}
    assert [f["name"] for f in ind["schema"]["fields"]] == INDICATORS_SCHEMA.names
    # a broken descriptor is caught by the same check (the test can fail)
    bad = {**pkg, "resources": [{**pkg["resources"][0], "name": "Not A Name!"}]}
    assert not Package.validate_descriptor(bad).valid


def test_every_field_is_described_in_both_languages_and_quasi_identifiers_say_they_may_be_blank(package):
    from sinergi import registry

    _, pkg = package
    qis = 0
    for res in pkg["resources"]:
        assert res["description"] and res["description_id"], res["name"]
        assert [f["name"] for f in res["sinergi"]["partition_fields"]] == ["year", "month"]
        assert all(f["type"] == "integer" for f in res["sinergi"]["partition_fields"])
        for f in res["schema"]["fields"]:
            assert f["description"] and f["description_id"] and f["role"] in registry.ROLES, (res["name"], f)
            if f["role"] == "quasi_identifier":
                qis += 1
                assert "blank where withheld for privacy" in f["withheld"]
                assert "dikosongkan demi privasi" in f["withheld_id"]
                assert "withheld_per_month" in f
    assert qis >= 5
    placements = next((r for r in pkg["resources"] if r["name"] == "placements"), None)
    if placements is not None:
        job = next(f for f in placements["schema"]["fields"] if f["name"] == "job_title")
        assert job["withheld_per_month"] == {"2025-06": 0, "2025-07": 50}
        assert placements["sinergi"]["extracts"] == {"2025-07": "_extracts/placements/2025-07.xlsx"}


def test_markdown_and_html_have_contents_partitions_withheld_counts_and_the_glossary(package):
    party, pkg = package
    md, html = render_markdown(pkg), render_html(pkg)
    names = [r["name"] for r in pkg["resources"]]
    contents = md.split("## Contents / Daftar isi", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"^- \[([a-z0-9_]+)\]\(#\1\)", contents, re.M) == names
    for r in names:
        assert f'<a id="{r}"></a>' in md and f'<h2 id="{r}">' in html and f'href="#{r}"' in html
    assert md.count("\n## ") == len(names) + 4  # + contents, partition columns, withheld, glossary
    assert md.count("| `year` | integer (int32) |") == len(names) and html.count('<tr class="part">') == 2 * len(names)
    if "placements" in names:
        assert "withheld for privacy / dikosongkan demi privasi: 2025-07: 50 of 50 rows |" in md
        # a count from the k-anonymity steps alone (no disclosure report count) is an upper bound, and says so
        p = POLICY.parties[party]
        catalog = _catalog(party)
        catalog["datasets"]["placements"]["months"]["2025-07"]["withheld_exact"] = False
        schemas = {ds: policy_mod.shared_schema(ds, party, POLICY) for ds in p.datasets}
        bound = render_markdown(build_datapackage(p.bucket, party, schemas, catalog))
        assert "withheld for privacy / dikosongkan demi privasi: 2025-07: up to 50 of 50 rows |" in bound
    for g in glossary():
        assert f"| {g['term']} | {g['en']} | {g['id']} |" in md
    assert "<h2 id=\"glossary\">" in html and "Nomor Induk Kependudukan" in html


def test_one_glossary_the_readme_and_the_dictionary_share():
    section = README.read_text(encoding="utf-8").split("\n## Glossary", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (?!term |---)(.+?) \| (.+?) \|$", section, re.M)
    assert rows and {t: m for t, m in rows} == {g["term"]: g["en"] for g in glossary()}
    assert all(g["id"] and g["id"] != g["en"] for g in glossary())


def test_withheld_counts_from_a_manifest():
    k = {"steps": [{"step": "age_band:10", "rows_generalised": 30},
                   {"step": "kecamatan_code:drop", "rows_generalised": 12},
                   {"step": "kabkota_code+kabkota_bps_code:drop", "rows_generalised": 4}]}
    assert withheld_counts({"share_report": {"k_anonymity": k}}) == {
        "kabkota_bps_code": 4, "kabkota_code": 4, "kecamatan_code": 12}
    # the disclosure report's own count wins when the share report carries it
    exact = {"k_anonymity": k, "disclosure": {"withheld": {"kecamatan_code": 9}}}
    assert withheld_counts({"share_report": exact}) == {"kecamatan_code": 9}
    assert withheld_counts({"share_report": {"k_anonymity": {"steps": []}}}) == {}
    assert withheld_counts({"kind": "indicators"}) is None


def test_partition_fields_match_what_the_readers_return():
    from sinergi.publish.readers import PARTITION_COLUMNS

    assert tuple(f["name"] for f in PARTITION_FIELDS) == PARTITION_COLUMNS
    assert {f["arrow_type"] for f in PARTITION_FIELDS} == {"int32"}
