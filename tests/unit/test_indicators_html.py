"""Pure structural checks of the generated report HTML (no browser) and of the suppression core."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from sinergi.indicators.compute import compute_indicators
from sinergi.indicators.definitions import INDICATORS
from sinergi.indicators.report import render_report
from sinergi.indicators.sample import sample_tables
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
def html():
    policy = load_policy()
    tabs = sample_tables("lampung", policy, ["2025-07", "2025-08"], seed=9)
    table = compute_indicators(tabs, "2025-08")
    trend = {"2025-07": compute_indicators(tabs, "2025-07", period_names=("month",))}
    return render_report(table, party="lampung", month="2025-08", policy=policy, missing={"x": ["y"]},
                         inputs={k: sorted(v) for k, v in tabs.items()}, trend=trend)


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
    assert html.startswith("<!DOCTYPE html>") and '<html lang="id">' in html


def test_report_has_charts_tables_and_labels(html):
    doc = _Doc()
    doc.feed(html)
    svgs = [a for t, a in doc.tags if t == "svg"]
    assert len(svgs) >= 5
    assert {a["id"] for a in svgs} >= {"trend", "country", "kabkota-placements", "funnel"}
    titles = " ".join(doc.text.get("title", []))
    for needle in ("Tren bulanan", "negara tujuan", "per kab/kota", "status penanganan", "Laporan Bulanan"):
        assert needle in titles
    assert sum(1 for t, a in doc.tags if t == "rect" and a.get("class") == "bar") > 10
    rows = [a for t, a in doc.tags if t == "tr" and "data-indicator" in a]
    assert {a["data-indicator"] for a in rows} >= {"placements", "returns", "complaints", "health_fit_rate"}
    for ind in INDICATORS:  # the definitions table cites every work-plan row
        assert f"<td>{ind.workplan_row}</td>" in html
    assert "Agustus 2025" in html and "disamarkan" in html and 'id="missing"' in html


def test_suppressed_values_never_rendered_as_numbers(html):
    # Every hatched (suppressed) bar is labelled "disamarkan", never with a value.
    import re

    for m in re.finditer(r'<rect class="bar"[^>]*fill="url\(#hatch-[^"]+\)"><title>([^<]*)</title>', html):
        assert m.group(1).endswith("disamarkan")


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
    tabs = sample_tables("kp2mi", policy, ["2025-08"], seed=4,
                         datasets=["health_checks", "trainings", "initial_registrations", "empowerment"])
    table = compute_indicators(tabs, "2025-08")
    from sinergi.indicators.compute import missing_indicators

    html = render_report(table, party="kp2mi", month="2025-08", policy=policy, missing=missing_indicators(tabs))
    doc = _Doc()
    doc.feed(html)
    ids = {a.get("id") for t, a in doc.tags if t == "svg"}
    assert {"trend", "kabkota-health-checks"} <= ids and "country" not in ids
    missing = html[html.index('id="missing"'):]
    assert "placements" in missing and "complaints" in missing
