"""Pure structural checks of the generated report HTML (no browser) and of the suppression core."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from markupsafe import escape

from report_checks import cell_texts, numbers, spelled, value_part
from sinergi.indicators.compute import compute_indicators, missing_indicators
from sinergi.indicators.definitions import INDICATORS
from sinergi.indicators.report import cell_id, render_report
from sinergi.indicators.run import party_view
from sinergi.indicators.sample import sample_trusted
from sinergi.indicators.suppress import lone_suppressed_groups, suppress_cells
from sinergi.policy import load_policy


class _Doc(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.stack: list[str] = []
        self.text: dict[str, list[str]] = {}

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.stack.append(tag)

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data):
        if self.stack:
            self.text.setdefault(self.stack[-1], []).append(data)


@pytest.fixture(scope="module")
def inputs():
    return party_view(sample_trusted(["2025-07", "2025-08"], seed=9, scale=3), "lampung", load_policy())


@pytest.fixture(scope="module")
def table(inputs):
    return compute_indicators(inputs, "2025-08")


@pytest.fixture(scope="module")
def html(inputs, table):
    trend = {"2025-07": compute_indicators(inputs, "2025-07", period_names=("month",))}
    return render_report(table, party="lampung", month="2025-08", policy=load_policy(), missing={"x": ["y"]},
                         inputs={k: sorted(v) for k, v in inputs.items()}, trend=trend)


def test_report_is_self_contained(html):
    doc = _Doc()
    doc.feed(html)
    tags = [t for t, _ in doc.tags]
    assert "script" not in tags and "iframe" not in tags
    assert "link" not in tags  # inline CSS only
    for _, attrs in doc.tags:
        for name in ("src", "href", "xlink:href"):
            assert not (attrs.get(name) or "").startswith(("http:", "https:", "//")), attrs
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html and "url(http" not in html and "@import" not in html
    assert html.startswith("<!DOCTYPE html>") and '<html lang="id">' in html
    assert "@media print" in html and "@page" in html  # printable to PDF from the browser


def test_report_has_charts_tables_and_labels(html):
    doc = _Doc()
    doc.feed(html)
    svgs = [a for t, a in doc.tags if t == "svg"]
    assert {a["id"] for a in svgs} >= {"trend-placements", "trend-returns", "map-placements", "country",
                                       "kabkota-placements", "funnel"}
    titles = " ".join(doc.text.get("title", []))
    for needle in ("monthly trend", "negara tujuan", "per kab/kota", "status penanganan", "per 10.000 penduduk",
                   "Laporan Bulanan", "Monthly MoU indicators report"):
        assert needle in titles or needle in html, needle
    assert sum(1 for t, a in doc.tags if t == "rect" and (a.get("class") or "").startswith("bar")) > 10
    rows = [a for t, a in doc.tags if t == "tr" and "data-indicator" in a]
    assert {a["data-indicator"] for a in rows} >= {"placements", "returns", "complaints", "health_fit_rate"}
    for ind in INDICATORS:  # the definitions table cites every work-plan row and both formulas
        assert f"<td>{ind.workplan_row}</td>" in html
        assert str(escape(ind.formula_id)) in html and str(escape(ind.formula)) in html
    assert "Agustus 2025" in html and "August 2025" in html and "sel disamarkan" in html and 'id="missing"' in html


def test_both_languages_and_distinct_wordings(html):
    # method notes in both languages, and "cell suppressed" is never confused with "kab/kota withheld"
    notes = html[html.index('id="metodologi"'):]
    assert "Periode:" in notes and "Periods:" in notes and "Pengendalian pengungkapan" in notes \
        and "Disclosure control" in notes
    assert "kab/kota tidak ditampilkan demi privasi" in notes and "kab/kota withheld for privacy" in notes
    assert "sel disamarkan" in html and "cell suppressed" in html
    assert "Kab/kota tidak diketahui (disamarkan)" not in html  # the old conflated wording is gone


def test_suppressed_values_never_rendered_as_numbers(html, table):
    # Every hatched (suppressed) bar and tile is labelled "sel disamarkan", never with a value ...
    for m in re.finditer(r'<rect class="bar hidden"[^>]*><title>([^<]*)</title>', html):
        assert m.group(1).endswith("sel disamarkan")
    for m in re.finditer(r'<g class="tile hidden"(.*?)</g>', html, re.S):
        assert "sel disamarkan" in m.group(1) and not re.search(r">[^<]*\d[^<]*</text>", m.group(1))
    # ... and every element bound to a suppressed cell (table cells, bars, trend points, map tiles) says
    # so and holds no number but the month it belongs to
    rows = {cell_id(r): r for r in table.to_pylist()}
    suppressed = {cid for cid, r in rows.items() if r["suppressed"]}
    bound = cell_texts(html)
    assert suppressed & set(bound) and len(bound) > 50
    calendar = {"2025", "07", "08"}
    kinds = set()
    for cid, texts in bound.items():
        if cid in suppressed:
            for text in texts:
                assert "sel disamarkan" in text and numbers(text) <= calendar, (cid, text)
                assert not numbers(value_part(text)), (cid, text)
            kinds.add(cid.split("|")[3].split(":")[0])
    assert {"kabkota", "province"} <= kinds
    # and an unsuppressed table cell shows exactly its value
    for cid, texts in bound.items():
        r = rows.get(cid)
        if r and not r["suppressed"] and r["unit"] in ("records", "persons") and r["period"] == "ytd":
            assert any(spelled(r["value"]) in numbers(t) for t in texts), (cid, texts)


def test_a_single_month_gets_a_note_instead_of_a_trend_and_empty_charts_a_sentence(inputs):
    one = {ds: {m: t for m, t in v.items() if m == "2025-07"} for ds, v in inputs.items()}
    table = compute_indicators(one, "2025-07")
    html = render_report(table, party="lampung", month="2025-07", policy=load_policy())
    assert 'id="trend-note"' in html and "two or more months" in html and 'id="trend-placements"' not in html
    # a chart whose every cell is suppressed is one sentence, not an empty hatched chart
    tiny = {ds: {m: t.slice(0, 3) for m, t in v.items()} for ds, v in one.items()}
    html = render_report(compute_indicators(tiny, "2025-07"), party="lampung", month="2025-07", policy=load_policy())
    assert 'id="kabkota-placements"' not in html
    assert "All 3 cells of this chart are suppressed" in html or "cells of this chart are suppressed" in html


def _cells(values: dict) -> dict:
    """A 2-area x 3-value toy table with margins: keys (level, code, dim, value)."""
    cells = {}
    for (level, code, dim, val), v in values.items():
        cells[(level, code, dim, val)] = {"value": v, "parent": "18" if level == "kabkota" else None,
                                          "suppressed": False, "suppression": None}
    return cells


def test_secondary_suppression_protects_row_and_column_totals():
    v = {
        ("kabkota", "1801", "sex", "L"): 3, ("kabkota", "1801", "sex", "P"): 20, ("kabkota", "1801", "total", "total"): 23,
        ("kabkota", "1802", "sex", "L"): 9, ("kabkota", "1802", "sex", "P"): 30, ("kabkota", "1802", "total", "total"): 39,
        ("province", "18", "sex", "L"): 12, ("province", "18", "sex", "P"): 50, ("province", "18", "total", "total"): 62,
        ("total", None, "sex", "L"): 12, ("total", None, "sex", "P"): 50, ("total", None, "total", "total"): 62,
    }
    cells = _cells(v)
    counts = suppress_cells(cells, 5)
    assert cells[("kabkota", "1801", "sex", "L")]["suppression"] == "small_cell"
    assert counts["primary"] == 1 and counts["secondary"] >= 2
    # the row (1801: L + P = total) and the column (L: 1801 + 1802 = province) are both protected
    assert cells[("kabkota", "1801", "sex", "P")]["suppressed"] or cells[("kabkota", "1801", "total", "total")]["suppressed"]
    assert cells[("kabkota", "1802", "sex", "L")]["suppressed"] or cells[("province", "18", "sex", "L")]["suppressed"]
    assert not lone_suppressed_groups(cells)
    assert all(c["value"] is None for c in cells.values() if c["suppressed"])


def test_threshold_is_configurable_and_zero_is_published():
    v = {("kabkota", "1801", "total", "total"): 0, ("kabkota", "1802", "total", "total"): 7,
         ("province", "18", "total", "total"): 7}
    cells = _cells(v)
    suppress_cells(cells, 5)
    assert not any(c["suppressed"] for c in cells.values())
    cells = _cells(v)
    suppress_cells(cells, 10)
    assert cells[("kabkota", "1802", "total", "total")]["suppression"] == "small_cell"
    assert cells[("kabkota", "1801", "total", "total")]["value"] == 0


def test_party_without_national_datasets_still_gets_charts_and_a_missing_note():
    policy = load_policy()
    tabs = party_view(sample_trusted(["2025-07", "2025-08"], seed=4,
                                     datasets=["health_checks", "trainings", "initial_registrations", "empowerment"]),
                      "kp2mi", policy)
    table = compute_indicators(tabs, "2025-08")
    trend = {"2025-07": compute_indicators(tabs, "2025-07", period_names=("month",))}
    html = render_report(table, party="kp2mi", month="2025-08", policy=policy, missing=missing_indicators(tabs),
                         trend=trend)
    doc = _Doc()
    doc.feed(html)
    ids = {a.get("id") for t, a in doc.tags if t == "svg"}
    assert {"trend-health-checks", "kabkota-health-checks"} <= ids and "country" not in ids and "map-placements" not in ids
    missing = html[html.index('id="missing"'):]
    assert "placements" in missing and "complaints" in missing
