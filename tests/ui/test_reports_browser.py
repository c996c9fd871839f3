"""Both reports in a real browser (Debian's Chromium, headless, driven by Playwright): the monthly report
and the yearly evaluation of each party, made by the real code from a trusted zone of 12 sample months
on the in-memory store, are opened from disk; every chart and the map are drawn (SVG elements present,
laid out with a size, filled), nothing is fetched from the network, the print layout yields a PDF,
and no suppressed cell shows its value anywhere in the page (its true value comes from the same
months computed without disclosure control)."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from report_checks import numbers, spelled, value_part
from sinergi.indicators.definitions import BY_ID
from sinergi.indicators.report import cell_id
from sinergi.indicators.run import compute_for_party, run_for_party
from sinergi.indicators.sample import sample_trusted
from sinergi.indicators.yearly import run_yearly
from sinergi.layout import TRUSTED_BUCKET, trusted_key
from sinergi.policy import load_policy
from support import MemoryStore, chromium

pytestmark = [pytest.mark.browser]

MONTHS = [f"2025-{m:02d}" for m in range(1, 13)]
MONTH = "2025-12"


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """The reports of both parties, and the unprotected truth of every cell they could show."""
    policy, store = load_policy(), MemoryStore()
    home = tmp_path_factory.mktemp("reports")
    trusted = sample_trusted(MONTHS, seed=19, scale=2)
    for ds, by_month in trusted.items():
        for m, t in by_month.items():
            buf = io.BytesIO()
            pq.write_table(t, buf)
            store.put_bytes(TRUSTED_BUCKET, trusted_key(ds, m), buf.getvalue())
    out = {}
    for party in policy.parties:
        monthly = run_for_party(store, party, MONTH, policy, home)
        yearly = run_yearly(store, party, 2025, policy, home)
        truth, protected = {}, {}
        for m in MONTHS:  # threshold 1: nothing is small, so every cell keeps its true value
            for r in compute_for_party(trusted, party, m, policy, threshold=1)[0].to_pylist():
                truth[cell_id(r)] = r["value"]
            for r in compute_for_party(trusted, party, m, policy)[0].to_pylist():
                protected[cell_id(r)] = r
        out[party] = {"monthly": Path(monthly["report_path"]), "yearly": Path(yearly["report_path"]),
                      "truth": truth, "protected": protected}
    return out


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _open(browser, path: Path):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, requests


def _charts_are_drawn(page) -> int:
    """Every SVG chart has a laid-out box and drawn marks; returns how many."""
    charts = page.locator("svg.chart")
    n = charts.count()
    for i in range(n):
        chart = charts.nth(i)
        box = chart.bounding_box()
        assert box and box["width"] > 150 and box["height"] > 60, chart.get_attribute("id")
        marks = chart.locator("rect.bar, circle.pt, path.line, g.tile").count()
        assert marks > 0, chart.get_attribute("id")
    return n


def _no_suppressed_value(page, report) -> int:
    """Every element bound to a suppressed cell reads "sel disamarkan" and never holds its true value."""
    cells = page.eval_on_selector_all("[data-cell]", "els => els.map(e => [e.dataset.cell, e.textContent])")
    checked = 0
    for cid, text in cells:
        r = report["protected"][cid]
        if not r["suppressed"]:
            continue
        true, unit = report["truth"][cid], BY_ID[r["indicator_id"]].unit
        assert "sel disamarkan" in text, (cid, text)
        assert not numbers(value_part(text)), (cid, text)  # no number at all where the value would be
        if true:
            token = f"{true * 100:.1f}" if unit == "ratio" else f"{true:.1f}" if unit == "days" else spelled(true)
            assert token not in numbers(text.replace(r["ref_month"], "")), (cid, text, true)
        checked += 1
    return checked


def test_monthly_report_renders_charts_and_map(browser, reports, tmp_path):
    for party, report in reports.items():
        page, requests = _open(browser, report["monthly"])
        assert "Laporan Bulanan Indikator" in page.title() and "Monthly MoU indicators report" in page.title()
        assert _charts_are_drawn(page) >= 8
        assert page.locator("svg.trend").count() >= 6  # the last 12 months, one small chart per indicator
        assert page.locator("svg#trend-placements circle.pt").count() == 12
        tiles = page.locator("svg#map-placements g.tile")
        assert tiles.count() == 15
        fills = {tiles.nth(i).locator("rect").get_attribute("fill") for i in range(15)}
        assert len(fills) >= 3 and "#eeeeee" not in fills  # coloured by the data, not the blank template
        for i in range(tiles.count()):
            tile = tiles.nth(i)
            if "hidden" in (tile.get_attribute("class") or ""):
                assert tile.locator("rect").get_attribute("fill").startswith("url(#hatch")
        assert _no_suppressed_value(page, report) > 0
        page.screenshot(path=str(tmp_path / f"monthly-{party}.png"), full_page=True)
        assert (tmp_path / f"monthly-{party}.png").stat().st_size > 50_000
        page.close()
        assert all(u.startswith(("file://", "data:")) for u in requests), requests


def test_yearly_evaluation_renders_and_prints(browser, reports, tmp_path):
    for party, report in reports.items():
        page, requests = _open(browser, report["yearly"])
        assert "Laporan Pemantauan dan Evaluasi" in page.title() and "Yearly monitoring and evaluation" in page.title()
        assert _charts_are_drawn(page) >= 12
        assert page.locator("svg#targets rect.bar").count() >= 5
        assert page.locator("svg#map-placements g.tile").count() == 15
        assert page.locator("#coverage tbody tr").count() == 26
        assert page.locator("#evaluation tbody tr").count() >= 15
        assert _no_suppressed_value(page, report) > 0
        page.screenshot(path=str(tmp_path / f"yearly-{party}.png"), full_page=True)
        # printable: the print stylesheet applies (table of contents hidden) and Chromium makes a PDF
        page.emulate_media(media="print")
        assert page.locator("ol.toc").is_hidden()
        pdf = page.pdf(format="A4", print_background=True)
        assert pdf.startswith(b"%PDF") and len(pdf) > 100_000
        page.close()
        assert all(u.startswith(("file://", "data:")) for u in requests), requests
