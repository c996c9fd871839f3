"""The draft impact assessment (Bahasa Indonesia) is generated from the policy and the measured risk,
says it is a draft, and leaves every judgement to the data protection officers."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from sinergi import dpia
from sinergi.policy import load_policy, release_plan


@pytest.fixture(scope="module")
def policy():
    return load_policy()


class _Checker(HTMLParser):
    VOID = {"meta", "br", "hr", "img", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


@pytest.mark.parametrize("party", ["kp2mi", "lampung"])
def test_draft_covers_every_dataset_in_bahasa(policy, party):
    md, html = dpia.render(policy, party)
    assert md.startswith("# Draf Penilaian Dampak Pelindungan Data Pribadi")
    assert "**Status: DRAF, belum disetujui.**" in md and "<strong>Status: DRAF, belum disetujui.</strong>" in html
    assert "UU 27/2022 Pasal 34" in md
    for letter in "abcdefg":  # the criteria of Pasal 34 ayat (2), one row each
        assert re.search(rf"^\| {letter} \| ", md, re.M), letter
    for name in policy.parties[party].datasets:
        assert f"### {name}" in md and f"<h3>{name}</h3>" in html
        model = policy.attacker_models[name]
        assert " ".join(model.description_id.split()) in md
        plan = release_plan(policy, name, party)
        if plan.quasi_identifiers:
            assert f"Pengenal semu (k = {plan.k} orang per kelas): {', '.join(plan.quasi_identifiers)}" in md
    assert "belum dipublikasikan" in md  # no measurements given: said so, nothing invented
    assert md.count(dpia.BLANK) >= 10  # the officers' judgements are blanks, not pipeline output
    assert "Kesimpulan: [ ] pemrosesan dapat dilanjutkan" in md
    assert not re.search(r"\d{16}", md)  # no personal data (no NIK-like number)
    checker = _Checker()
    checker.feed(html)
    assert checker.errors == [] and checker.stack == []


def test_specific_data_and_matching_are_flagged_from_the_policy(policy):
    md, _ = dpia.render(policy, "lampung")
    row_b = next(line for line in md.splitlines() if line.startswith("| b |"))
    assert "health_checks" in row_b and "returns" in row_b and "stranded_returnees" in row_b
    row_e = next(line for line in md.splitlines() if line.startswith("| e |"))
    assert "ya: token orang yang sama menghubungkan" in row_e and "placements" in row_e
    assert "Pemerintah Provinsi Lampung (Disnaker as coordinator) sendiri mengelola dinkes, dinsos, disnaker" in md


def test_measured_risk_fills_the_risk_table(policy):
    measured = {"health_checks": {"month": "2025-07", "manifest_key": "m.json", "rows_published": 2183, "disclosure": {
        "counted_over": "persons", "k_required": 5, "k_achieved": 6, "l_required": 2, "l_achieved": 2,
        "persons_in": 2187, "persons_unique_before": 0.2931, "persons_unique_after": 0.0, "rows_suppressed": 4,
        "withheld": {"facility_id": 945}}}}
    md, html = dpia.render(policy, "kp2mi", measured)
    row = next(line for line in md.splitlines() if line.startswith("| health_checks | 5 / 6"))
    assert "| 2 / 2 | 29.3 % → 0.0 % | 4 | 2025-07 |" in row
    assert "ya: sampai 2187 orang dalam satu rilis bulanan (health_checks, terukur)" in md
    assert "sel yang dikosongkan per kolom: facility_id 945" in md
    assert "29.3 % → 0.0 %" in html
