"""The record of processing is rendered from the policy and cannot drift from what share() publishes."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
import yaml

from sinergi import registry, ropa
from sinergi.policy import default_policy_path, load_policy, shared_schema


@pytest.fixture(scope="module")
def policy():
    return load_policy()


class _Checker(HTMLParser):
    VOID = {"meta", "br", "hr", "img", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)

    def handle_data(self, data):
        self.text.append(data)


@pytest.mark.parametrize("party", ["kp2mi", "lampung"])
def test_every_dataset_and_published_column_is_documented(policy, party):
    md, html = ropa.render(policy, party)
    p = policy.parties[party]
    assert p.title in md and p.bucket in md and p.credentials in md and p.pihak in md
    assert "Retention" in md and "Pasal 10" in md
    for name, entry in p.datasets.items():
        assert f"### `{name}`" in md
        assert " ".join(entry.purpose.split()) in md and entry.mou_article in md
        for field in shared_schema(name, party, policy):
            assert f"| `{field.name}` | `{field.metadata[b'source_column'].decode()}` |" in md, (name, field.name)
            assert f"<code>{field.name}</code>" in html
        for col, spec in entry.columns.items():
            if spec.transform == "drop":
                assert f"| `-` | `{col}` |" in md
        withheld = [c for c in registry.get(name).column_names if c not in entry.columns]
        if withheld:
            assert ", ".join(f"`{w}`" for w in withheld) in md
    others = set(registry.names()) - set(p.datasets)
    for name in others:
        assert f"### `{name}`" not in md


def test_kp2mi_lists_exactly_its_datasets(policy):
    md, _ = ropa.render(policy, "kp2mi")
    assert "### `placements`" in md and "### `complaints`" in md  # Lampung-origin rows, its own keys
    assert "### `p3mi`" not in md and "### `job_orders`" not in md  # not in kp2mi's policy entry
    assert "health data" in md  # specific personal data flagged


@pytest.mark.parametrize("party", ["kp2mi", "lampung"])
def test_no_claim_without_an_artefact(policy, party):
    """The record once said the releases were covered by a DPIA that did not exist: it now says none is
    approved and names the draft the publisher writes next to it."""
    from sinergi.layout import DPIA_HTML_KEY, DPIA_MD_KEY

    md, html = ropa.render(policy, party)
    for text in (md, html):
        assert "covered by a DPIA" not in text and "no l-diversity" not in text
        assert "No impact assessment has been approved" in text
        assert DPIA_MD_KEY in text and DPIA_HTML_KEY in text


def test_attacker_model_and_who_can_reidentify_what(policy):
    md, _ = ropa.render(policy, "lampung")
    assert "## Who can re-identify what" in md
    assert "runs dinkes, dinsos, disnaker" in md and "not anonymous to itself" in md
    assert "siskop2mi run by kp2mi" in md and "The pipeline operator" in md
    for name in policy.parties["lampung"].datasets:
        section = md.split(f"### `{name}`")[1].split("\n### ")[0]
        model = policy.attacker_models[name]
        assert f"**Attacker model:** {' '.join(model.description.split())}" in section, name
        assert "**Measured risk:** not yet published" in section, name
    health = md.split("### `health_checks`")[1].split("\n### ")[0]
    assert "l = 2 distinct values in every class holding a harmful value of: result (harmful values: unfit)" in health
    assert "check_date: month" in health and "check_id: own dinkes record id" in health
    placements = md.split("### `placements`")[1].split("\n### ")[0]
    assert "placement_id_token: token of a siskop2mi record id" in placements
    kp2mi = ropa.render(policy, "kp2mi")[0].split("### `health_checks`")[1].split("\n### ")[0]
    assert "check_id_token: token of a dinkes record id" in kp2mi


def test_measured_risk_from_the_latest_manifest(policy):
    measured = {"health_checks": {"month": "2025-07", "manifest_key": "_manifests/health_checks/2025-07/g000001-r.json",
                                  "rows_published": 2183, "disclosure": {
                                      "counted_over": "persons", "k_required": 5, "k_achieved": 6, "l_required": 2,
                                      "l_achieved": 2, "persons_unique_before": 0.2931, "persons_unique_after": 0.0,
                                      "rows_suppressed": 4, "withheld": {"facility_id": 945}}}}
    md, html = ropa.render(policy, "lampung", measured)
    section = md.split("### `health_checks`")[1].split("\n### ")[0]
    assert "month 2025-07 (2183 rows published" in section
    assert "k achieved 6 (required 5, counted over persons); l achieved 2 (required 2)" in section
    assert "29.3 % before disclosure control, 0.0 % after" in section
    assert "rows suppressed 4; cells withheld (blanked) per column: facility_id 945" in section
    assert "k achieved 6 (required 5" in html


def test_html_is_well_formed_and_escaped(policy, tmp_path):
    data = yaml.load(default_policy_path().read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    data["parties"]["lampung"]["title"] = "Lampung <script>alert(1)</script> & co"
    path = tmp_path / "p.yaml"
    path.write_text(yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False), encoding="utf-8")
    md, html = ropa.render(load_policy(path), "lampung")
    assert "<script>" not in html and "&lt;script&gt;" in html
    checker = _Checker()
    checker.feed(html)
    assert checker.errors == [] and checker.stack == []
    assert html.startswith("<!DOCTYPE html>") and html.count("<table>") == 1 + len(data["parties"]["lampung"]["datasets"])


def test_render_follows_policy_changes(policy):
    changed = policy.model_copy(deep=True)
    changed.parties["lampung"].datasets["placements"].k = 11
    changed.parties["lampung"].datasets["placements"].purpose = "A brand new purpose for the placement data."
    md, _ = ropa.render(changed, "lampung")
    assert "k = 11 over" in md and "A brand new purpose for the placement data." in md
    assert "k = 11 over" not in ropa.render(policy, "lampung")[0]


def test_ropa_prints_the_release_plan_share_applies(tmp_path):
    """The record of processing once recomputed the quasi-identifiers and k-steps (a copy that could
    drift): a policy that overrides both shows exactly what the plan and share() use."""
    from test_policy_fixtures import canonical_table, people

    from sinergi.policy import release_plan, share
    from sinergi.tokens import Keyring

    data = yaml.load(default_policy_path().read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    entry = data["parties"]["lampung"]["datasets"]["placements"]
    qis = list(reversed(release_plan(load_policy(), "placements", "lampung").quasi_identifiers))
    entry["quasi_identifiers"] = qis  # every knowable column, in another order
    entry["k_steps"] = ["age_band:20", "kabkota_code+kabkota_bps_code:drop"]
    entry["k"] = 7
    path = tmp_path / "p.yaml"
    path.write_text(yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False), encoding="utf-8")
    pol = load_policy(path)

    plan = release_plan(pol, "placements", "lampung")
    assert plan.quasi_identifiers == tuple(qis) and plan.k == 7
    assert plan.step_labels == ["age_band:20", "kabkota_code+kabkota_bps_code:drop"]
    md, html = ropa.render(pol, "lampung")
    section = md.split("### `placements`")[1].split("\n### ")[0]
    expected = (f"k = 7 over {', '.join(qis)} (counted over persons); further generalisation of rows in smaller "
                "classes: age_band:20, kabkota_code+kabkota_bps_code:drop (")
    assert expected in section and expected in html

    # share(): 30 distinct people, k = 7 — every step runs, in the plan's order, over the plan's QIs
    t = canonical_table("placements", 30, people=people(30, seed=4))
    _, rep = share(t, "placements", "lampung", pol, Keyring.from_master(b"unit-test master secret, 32 bytes"))
    k = rep["k_anonymity"]
    assert rep["disclosure"]["quasi_identifiers"] == list(plan.quasi_identifiers) and k["k_requested"] == plan.k
    assert [s["step"] for s in k["steps"]] == plan.step_labels


def test_ropa_matches_the_plan_of_every_release(policy):
    """For every party × dataset of the real policy, the k-anonymity line is the release plan's."""
    from sinergi.policy import release_plan

    for party, p in policy.parties.items():
        md, _ = ropa.render(policy, party)
        for name in p.datasets:
            plan = release_plan(policy, name, party)
            section = md.split(f"### `{name}`")[1].split("\n### ")[0]
            if plan.quasi_identifiers:
                expected = (f"k = {plan.k} over {', '.join(plan.quasi_identifiers)} (counted over "
                            f"{plan.counted_over}); further generalisation of rows in smaller classes: "
                            f"{', '.join(plan.step_labels)} (")
            else:
                expected = f"k = {plan.k} over no quasi-identifiers (not applicable - {plan.no_person})"
            assert expected in section, (party, name)
            assert f"**Token keys:** {', '.join(plan.token_fields) or 'none'}" in section, (party, name)
