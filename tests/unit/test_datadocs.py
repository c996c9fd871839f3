"""Data Docs: Sinergi's outcome and every rule's severity and why on the validation page, pages that load
nothing from the network, file-system-safe folders, and the month's index across datasets."""

from __future__ import annotations

import base64
import hashlib
import html as htmllib
import json
import re
import threading
from pathlib import Path

import pyarrow as pa
import pytest
from test_validate import REFS, _placements_with_defects
from test_validate_synth import canonical_table

from sinergi.layout import QUARANTINE_BUCKET, local_data_docs_dir, run_segment
from sinergi.validate import docs_index, docs_offline, suites, validate
from sinergi.validate.datadocs import publish_docs
from support import DirStore

pytestmark = pytest.mark.slow

MONTH = "2026-10"
RUN = "manual__2026-11-01T03:00:00+07:00"  # as Airflow gives it: ':' and '+'
STOP_RUN = "scheduled__2026-11-01T03:00:00+00:00"
GX_TEMPLATES = Path(__import__("great_expectations").__file__).parent / "render" / "view" / "templates"


def text_of(page: Path) -> str:
    h = re.sub(r"<script.*?</script>|<style.*?</style>", " ", page.read_text(encoding="utf-8"), flags=re.S)
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", h)))


def validation_page(res) -> Path:
    pages = list(Path(res.docs_path).parent.rglob("validations/**/*.html"))
    assert len(pages) == 1, pages
    return pages[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    home = tmp_path_factory.mktemp("docs-home")
    t, _, _ = _placements_with_defects()
    out = {
        # rows fail quarantine rules, nothing stops: quarantined as designed
        "placements": validate(t, "placements", MONTH, RUN, references=REFS, history=[400] * 3, docs_dir=home),
        # a stale export: the freshness gate (severity stop) fails
        "health_checks": validate(canonical_table("health_checks", 80, "2026-07"), "health_checks", MONTH, STOP_RUN,
                                  references=REFS, docs_dir=home),
    }
    mistyped = canonical_table("stranded_returnees", 40, MONTH)
    i = mistyped.schema.get_field_index("received_date")
    mistyped = mistyped.set_column(i, "received_date", pa.array([str(v) for v in mistyped["received_date"].to_pylist()]))
    out["stranded_returnees"] = validate(mistyped, "stranded_returnees", MONTH, "typed", docs_dir=home)  # GX never runs
    assert out["placements"].counts["quarantined"] > 0 and not out["placements"].stopped
    assert out["health_checks"].stopped and out["stranded_returnees"].stopped
    assert out["stranded_returnees"].docs_path is None
    return home, out


def test_validation_page_shows_the_outcome_and_every_rules_severity_and_why(runs):
    _, res = runs
    text = text_of(validation_page(res["placements"]))
    assert "Status: Quarantined as designed" in text and "Status: Failed" not in text
    assert "Data asset: placements" in text  # GX writes None for our batches
    spec = suites.load("placements")
    skipped = {s["rule"] for s in res["placements"].summary["skipped"]}
    shown = [r for r in spec.rules if r.rule not in skipped]
    assert len(shown) > 30
    for rule in shown:
        assert re.sub(r"\s+", " ", rule.why) in text, rule.rule
        assert f"{rule.rule} {rule.severity}" in text, rule.rule
    for rule, n in res["placements"].counts["by_rule"].items():  # the rows each quarantine rule held back
        assert f"{rule} quarantine {n:,} row" in text, rule
    stopped = text_of(validation_page(res["health_checks"]))
    assert "Status: Stopped: not published this month" in stopped
    assert re.search(r"freshness stop \S", stopped)


def test_suite_page_carries_severity_and_why_as_notes(runs):
    _, res = runs
    site = Path(res["placements"].docs_path).parent
    text = text_of(next(site.glob("expectations/*.html")))
    why = next(r.why for r in suites.load("placements").rules if r.rule == "nik_shape")
    assert "Severity: quarantine" in text and re.sub(r"\s+", " ", why) in text


def test_gx_site_index_says_quarantined_not_failed(runs):
    _, res = runs
    index = Path(res["placements"].docs_path).read_text(encoding="utf-8")
    assert "'_validation_success_text': 'Quarantined as designed'" in index
    assert "ge-failed-icon" not in index and "'Failed'" not in index


def test_folders_are_file_system_safe(runs):
    home, res = runs
    site = Path(res["placements"].docs_path).parent
    assert site == local_data_docs_dir(home, "placements", MONTH, RUN)
    assert site.name == run_segment(RUN) == "manual__2026-11-01T03_00_00_07_00"
    paths = [p.relative_to(home).as_posix() for p in Path(home).rglob("*")]
    assert paths and not [p for p in paths if re.search(r"[^A-Za-z0-9._/-]", p)]
    assert any(f"/{MONTH}-{run_segment(RUN)}/" in p for p in paths)  # GX's own run folder too


EXTERNAL = re.compile(r"<(?:script|link|img|iframe|source)\b[^>]*?\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//"
                      r"|url\(\s*[\"']?(?:https?:)?//|@import", re.I)
LOCAL_REF = re.compile(r"<(?:script|link|img)\b[^>]*?\b(?:src|href)=[\"']([^\"'#?]+)")


def test_pages_load_only_files_inside_the_site(runs):
    _, res = runs
    for name in ("placements", "health_checks"):
        site = Path(res[name].docs_path).parent
        pages = list(site.rglob("*.html"))
        assert len(pages) == 3
        for page in pages:
            text = page.read_text(encoding="utf-8")
            assert not EXTERNAL.findall(text), (page, EXTERNAL.findall(text)[:3])
            assert "integrity=" not in text and "crossorigin=" not in text
            refs = LOCAL_REF.findall(text)
            assert any("static/vendor/bootstrap-table/bootstrap-table.min.js" in r for r in refs)
            for ref in refs:
                assert (page.parent / ref).resolve().is_file(), (page.name, ref)
        for css in site.rglob("*.css"):
            assert not EXTERNAL.findall(css.read_text(encoding="utf-8")), css
        static = {p.relative_to(site / "static").as_posix() for p in (site / "static").rglob("*") if p.is_file()}
        assert "images/glossary_scroller.gif" not in static and not any(s.startswith("fonts/") for s in static)
        assert "vendor/fontawesome/webfonts/fa-solid-900.woff2" in static and "vendor/jquery/LICENSE.txt" in static
        assert sum(p.stat().st_size for p in site.rglob("*") if p.is_file()) < 2_000_000


def test_every_cdn_url_in_gx_templates_is_vendored_or_dropped():
    """A GX upgrade that links a new CDN asset fails here (the rewrite would remove it with a warning)."""
    urls = set()
    for tpl in GX_TEMPLATES.rglob("*.j2"):
        urls |= set(re.findall(r"<(?:script|link)\b[^>]*?(?:src|href)=\"(https?://[^\"]+)\"", tpl.read_text()))
    assert len(urls) >= 15
    assert urls <= set(docs_offline.VENDOR), sorted(urls - set(docs_offline.VENDOR))


def test_vendored_assets_are_the_published_files_with_their_licences():
    vendor = docs_offline.VENDOR_DIR
    sources = (vendor / "SOURCES.md").read_text()
    listed = dict(re.findall(r"^\| `([^`]+)` \| [\d,]+ \| `([0-9a-f]{64})` \|$", sources, re.M))
    files = {p.relative_to(vendor).as_posix(): p for p in vendor.rglob("*")
             if p.is_file() and not p.name.startswith("LICENSE") and p.name != "SOURCES.md"}
    assert set(listed) == set(files)
    for rel, p in files.items():
        assert hashlib.sha256(p.read_bytes()).hexdigest() == listed[rel], rel
        top = vendor / rel.split("/")[0]
        assert list(top.glob("LICENSE*")), f"{top.name} has no licence file"
    assert set(r for r in docs_offline.VENDOR.values() if r) <= set(files)
    # the SRI hashes GX's own templates carry match the vendored bytes
    templates = " ".join(t.read_text() for t in GX_TEMPLATES.rglob("*.j2"))
    for url, rel in docs_offline.VENDOR.items():
        m = re.search(re.escape(url) + r"\"\s+integrity=\"sha384-([^\"]+)\"", templates)
        if m:
            digest = base64.b64encode(hashlib.sha384((vendor / rel).read_bytes()).digest()).decode()
            assert digest == m.group(1), url


def test_unknown_external_loads_are_removed_and_logged(tmp_path, caplog):
    site = tmp_path / "site"
    (site / "static" / "images").mkdir(parents=True)
    (site / "static" / "images" / "logo-long.png").write_bytes(b"png")
    (site / "index.html").write_text(
        '<html><head><script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>'
        '<script src="https://cdn.example.org/new-widget.js"></script>'
        '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css" />'
        '<style>.x{background:url(https://example.org/bg.png)}</style></head>'
        '<body><img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=20250101T000000Z">'
        '<a href="https://greatexpectations.io">docs</a></body></html>')
    removed = docs_offline.make_offline(site)
    page = (site / "index.html").read_text()
    assert "./static/vendor/jquery/jquery.min.js" in page and "./static/images/logo-long.png" in page
    assert "new-widget" not in page and "example.org/bg.png" not in page and "bootstrap-dark" not in page
    assert '<a href="https://greatexpectations.io">' in page  # navigation only: kept
    assert len(removed) == 2 and any("new-widget" in r for r in removed)
    assert any("new-widget" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")


def test_month_index_lists_every_dataset_with_its_outcome(runs, tmp_path):
    home, res = runs
    store = DirStore(tmp_path / "s3")
    records = {name: publish_docs(store, r, home) for name, r in res.items()}
    assert records["placements"]["outcome"] == "quarantined"
    assert records["health_checks"]["outcome"] == "stopped" and records["stranded_returnees"]["page"] is None
    local = docs_index.local_index_path(home, MONTH)
    assert local == Path(home) / "data-docs" / "_index" / MONTH / "index.html"
    stored = store.get_bytes(QUARANTINE_BUCKET, f"data-docs/_index/{MONTH}/index.html").decode()
    assert local.read_text(encoding="utf-8") == stored
    rows = dict(re.findall(r'data-dataset="([a-z0-9_]+)" data-outcome="([a-z]+)"', stored))
    from sinergi import registry

    assert set(rows) == set(registry.names())
    assert rows["placements"] == "quarantined" and rows["health_checks"] == "stopped"
    assert rows["stranded_returnees"] == "stopped" and rows["p3mi"] == "missing"
    text = text_of(local)
    for rule, n in res["placements"].counts["by_rule"].items():
        assert f"{rule} : {n:,}" in text
    assert "Quarantined as designed" in text and "Failed" not in text
    assert any(s in text for s in res["health_checks"].stop_reasons)
    assert "none (GX did not run)" in text
    links = re.findall(r'href="([^"]+)"', local.read_text(encoding="utf-8"))
    assert len(links) == 6  # validation, suite and site of the two datasets GX ran on
    for link in links:
        assert (local.parent / link).resolve().is_file(), link
    # the uploaded site sits at the same relative place in the quarantine zone
    site = records["placements"]["site"]
    assert store.head(QUARANTINE_BUCKET, f"data-docs/{site}{records['placements']['page']}") is not None
    # rebuilding from the same records gives the same bytes
    docs_index.rebuild_store_index(store, MONTH)
    assert store.get_bytes(QUARANTINE_BUCKET, f"data-docs/_index/{MONTH}/index.html").decode() == stored


def _record(dataset: str, run: str, at: str, outcome: str = "passed") -> dict:
    return {"dataset": dataset, "month": "2031-01", "run_id": run, "run": run_segment(run), "validated_at": at,
            "outcome": outcome, "counts": {"extracted": 3, "valid": 3, "quarantined": 0, "by_rule": {}},
            "stop_reasons": [], "warnings": [], "site": None, "page": None, "suite_page": None, "quarantine": ""}


def test_concurrent_validations_all_reach_the_index(weed):
    """13 datasets finishing at once on the real store: no index write loses another's record."""
    from sinergi import registry

    names = registry.names()
    errors: list[Exception] = []

    def finish(ds: str) -> None:
        try:
            docs_index.write_record(_record(ds, f"run:{ds}+1", "2031-02-01T00:00:00Z"), store=weed.pipeline)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=finish, args=(ds,)) for ds in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    page = weed.pipeline.get_bytes(QUARANTINE_BUCKET, docs_index.index_key("2031-01")).decode()
    assert dict(re.findall(r'data-dataset="([a-z0-9_]+)" data-outcome="([a-z]+)"', page)) == {n: "passed" for n in names}
    # a later run of one dataset replaces it in the summary table; both runs stay listed below
    docs_index.write_record(_record("p3mi", "rerun", "2031-02-02T00:00:00Z", "quarantined"), store=weed.pipeline)
    page = weed.pipeline.get_bytes(QUARANTINE_BUCKET, docs_index.index_key("2031-01")).decode()
    assert 'data-dataset="p3mi" data-outcome="quarantined"' in page and "Every validation this month" in page
    keys = [o.key for o in weed.pipeline.list(QUARANTINE_BUCKET, "data-docs/_index/2031-01/runs/")]
    assert len(keys) == len(names) + 1 and all(":" not in k and "+" not in k for k in keys)
    assert json.loads(weed.pipeline.get_bytes(QUARANTINE_BUCKET, keys[0]))["month"] == "2031-01"
