"""Data Docs in a real browser (headless Chromium) from file://: a validation page and the month's index
make no network request, show each rule's severity and why, and call quarantine what it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from sinergi.validate import validate
from sinergi.validate.datadocs import publish_docs
from sinergi.validate.docs_index import local_index_path
from support import DirStore, chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MONTH = "2026-10"
RUN = "manual__2026-11-01T03:00:00+07:00"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> dict:
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
    from test_validate import REFS, _placements_with_defects

    home = tmp_path_factory.mktemp("docs-home")
    t, _, _ = _placements_with_defects()
    res = validate(t, "placements", MONTH, RUN, references=REFS, history=[400] * 3, docs_dir=home)
    publish_docs(DirStore(tmp_path_factory.mktemp("s3")), res, home)
    page = next(Path(res.docs_path).parent.rglob("validations/**/*.html"))
    return {"home": home, "res": res, "page": page, "site_index": Path(res.docs_path),
            "month_index": local_index_path(home, MONTH)}


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def open_offline(browser, path: Path):
    """Open a file:// page; returns (page, requests to anything but a local file, console errors)."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    network: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "about:")) else network.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri(), wait_until="load", timeout=120_000)
    page.evaluate("document.fonts.ready.then(() => true)")  # the web fonts too (they load after "load")
    page.wait_for_timeout(500)
    return page, network, errors


def test_validation_page_offline_with_severity_why_and_quarantined(browser, site):
    page, network, errors = open_offline(browser, site["page"])
    try:
        assert network == [] and errors == []
        overview = page.locator("text=Status:").locator("..").inner_text()
        assert "Quarantined as designed" in overview and "Failed" not in overview
        rules = page.locator("table", has_text="nik_shape").first
        assert rules.is_visible()
        row = rules.locator("tr", has_text="age_15_70").first
        assert row.is_visible()
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        n = site["res"].counts["by_rule"]["age_15_70"]
        assert cells[1:4] == ["age_15_70", "quarantine", f"{n} row" + ("s" if n != 1 else "")], cells
        assert "UU 18/2017" in cells[4]  # the rule's why, as written in the suite
        # Bootstrap's stylesheet applied (vendored, loaded from the site): the table is styled
        assert page.evaluate("getComputedStyle(document.querySelector('table.table')).borderCollapse") == "collapse"
        # Font Awesome's font loaded from the site: the warning icon has a glyph width
        assert page.locator("i.fa-exclamation-triangle").first.bounding_box()["width"] > 5
    finally:
        page.close()


def test_gx_site_index_renders_its_table_offline(browser, site):
    page, network, errors = open_offline(browser, site["site_index"])
    try:
        assert network == [] and errors == []
        # bootstrap-table (vendored) fills the table on the client from a JavaScript array
        row = page.locator("table tbody tr", has_text=f"{MONTH}-manual__2026-11-01T03_00_00_07_00").first
        assert row.is_visible() and "Quarantined as designed" in row.inner_text()
        text = page.locator("body").inner_text()
        assert "Quarantined as designed" in text and "Failed" not in text
    finally:
        page.close()


def test_month_index_offline_lists_outcomes_and_links_work(browser, site):
    page, network, errors = open_offline(browser, site["month_index"])
    try:
        assert network == [] and errors == []
        row = page.locator('tr[data-dataset="placements"]')
        assert "Quarantined as designed" in row.inner_text()
        assert "age_15_70" in row.inner_text()
        assert page.locator('tr[data-dataset="p3mi"]').inner_text().count("Not validated this month") == 1
        with page.expect_navigation():
            row.locator("a", has_text="validation").click()
        assert page.url == site["page"].resolve().as_uri()
        assert "Quarantined as designed" in page.locator("body").inner_text()
        assert network == []
    finally:
        page.close()
