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
    assert "health data" in md and "DPIA" in md  # specific personal data flagged


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
    entry["quasi_identifiers"] = ["sex", "age_band", "kabkota_code"]
    entry["k_steps"] = ["age_band:20", "kabkota_code:drop"]
    entry["k"] = 7
    path = tmp_path / "p.yaml"
    path.write_text(yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False), encoding="utf-8")
    pol = load_policy(path)

    plan = release_plan(pol, "placements", "lampung")
    assert plan.quasi_identifiers == ("sex", "age_band", "kabkota_code") and plan.k == 7
    assert plan.step_labels == ["age_band:20", "kabkota_code:drop"]
    md, html = ropa.render(pol, "lampung")
    section = md.split("### `placements`")[1].split("\n### ")[0]
    assert ("k = 7 over sex, age_band, kabkota_code; further generalisation of rows in smaller classes: "
            "age_band:20, kabkota_code:drop (") in section
    assert "k = 7 over sex, age_band, kabkota_code; further generalisation of rows in smaller classes: " \
           "age_band:20, kabkota_code:drop (" in html

    # share(): 30 distinct people, k = 7 — every step runs, in the plan's order, over the plan's QIs
    t = canonical_table("placements", 30, people=people(30, seed=4))
    _, rep = share(t, "placements", "lampung", pol, Keyring.from_master(b"unit-test master secret, 32 bytes"))
    k = rep["k_anonymity"]
    assert k["quasi_identifiers"] == list(plan.quasi_identifiers) and k["k_requested"] == plan.k
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
                expected = (f"k = {plan.k} over {', '.join(plan.quasi_identifiers)}; further generalisation of rows "
                            f"in smaller classes: {', '.join(plan.step_labels)} (")
            else:
                expected = f"k = {plan.k} over no quasi-identifiers (not applicable)"
            assert expected in section, (party, name)
            assert f"**Token keys:** {', '.join(plan.token_fields) or 'none'}" in section, (party, name)
