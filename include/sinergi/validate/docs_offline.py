"""Make a GX Data Docs site load nothing from the network (rewriting the generated pages).

GX 1.24 pages load jQuery, Bootstrap, bootstrap-table, the datepicker, Font Awesome, a dark-mode
stylesheet and Vega from public CDNs, and its logo from an S3 bucket; GX ships none of them. Offline
(the operator's laptop, CI, a strict network policy) the pages lose their styling and the index
table, which bootstrap-table fills on the client, stays empty. So after GX builds a site:

- every CDN asset GX links is pointed at a copy vendored in ``sinergi/validate/static/vendor``
  (the npm files, byte-identical to what the CDNs serve; versions, sources and licences in
  ``static/vendor/SOURCES.md``), copied into the site's ``static/vendor/``;
- ``integrity``/``crossorigin`` attributes go (Chromium refuses a ``crossorigin`` script from
  ``file://``), and relative ``static/`` links are re-anchored on each page's real depth (GX 1.24.1
  writes the validation page's favicon link one ``../`` short);
- the Vega scripts and the dark-mode stylesheet are dropped (no Sinergi expectation renders a chart;
  the stylesheet is 880 KB), as are GX's static files no page uses (fonts, a 2.5 MB gif);
- anything still loaded from outside the site (a URL a future GX adds) is removed and logged, so a
  page never makes a network request; ``<a href>`` navigation links stay.

Pure file rewriting: no GX import.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

VENDOR_DIR = Path(__file__).parent / "static" / "vendor"

#: CDN URL exactly as GX 1.24.1's templates write it -> file under static/vendor/ (None: drop the tag)
VENDOR: dict[str, str | None] = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper/popper.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/js/bootstrap.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/css/bootstrap.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table/extensions/filter-control/bootstrap-table-filter-control.min.js",
    # GX links the 1.19.0 filter-control CSS (two spellings); the 1.19.1 files serve both
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table/extensions/filter-control/bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "bootstrap-table/extensions/filter-control/bootstrap-table-filter-control.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker/js/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": None,
    "https://cdn.jsdelivr.net/npm/vega@5": None,
    "https://cdn.jsdelivr.net/npm/vega-lite@5": None,
    "https://cdn.jsdelivr.net/npm/vega-embed@6": None,
}
_TAG = r"<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*[\"']{url}[\"'][^>]*?>(?:\s*</script>)?\s*"
_DROP_RE = re.compile("|".join(_TAG.format(url=re.escape(u)) for u, rel in VENDOR.items() if rel is None))
# GX's own logos (navbar <img>, an inline CSS background) -> the copy GX puts in every site
_LOGO_RE = re.compile(r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/[A-Za-z_-]+\.png"
                      r"(?:\?d=[0-9TZ.]+)?")
_SRI_RE = re.compile(r"\s+(?:integrity|crossorigin)=\"[^\"]*\"")
_STATIC_REL_RE = re.compile(r"((?:src|href)=[\"'])(?:\./|(?:\.\./)+)static/")
# what is still loaded from outside the site after the rewrite (an <a href> only navigates: allowed)
_EXTERNAL_TAG_RE = re.compile(r"<(?:script|link|img|iframe|source|embed|object)\b[^>]*?\b(?:src|href|data)\s*=\s*"
                              r"[\"']?(?:https?:)?//[^>]*>(?:\s*</(?:script|iframe|object)>)?", re.I)
_EXTERNAL_CSS_RE = re.compile(r"url\(\s*[\"']?(?:https?:)?//[^)]*\)|@import\s+[^;]*?(?:https?:)?//[^;]*;", re.I)
_REF_RE = re.compile(r"(?:src|href)=[\"']([^\"'#?]+)|url\(\s*[\"']?([^\"')?#]+)")


def make_offline(site: Path) -> list[str]:
    """Rewrite every page of the GX site under ``site`` (the folder of its index.html) to load only
    files inside the site; returns the external references that had to be removed (logged)."""
    site = Path(site)
    shutil.copytree(VENDOR_DIR, site / "static" / "vendor", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("SOURCES.md"))
    removed: list[str] = []
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        up = os.path.relpath(site, page.parent).replace(os.sep, "/")  # "." for index.html
        new = _DROP_RE.sub("", text)
        for url, rel in VENDOR.items():
            if rel is not None:
                new = new.replace(url, f"{up}/static/vendor/{rel}")
        new = _LOGO_RE.sub(f"{up}/static/images/logo-long.png", new)
        new = _SRI_RE.sub("", new)
        new = _STATIC_REL_RE.sub(lambda m, up=up: f"{m.group(1)}{up}/static/", new)
        for rx in (_EXTERNAL_TAG_RE, _EXTERNAL_CSS_RE):
            left = rx.findall(new)
            if left:
                removed += left
                log.warning("Data Docs %s: removed %d external load(s) the offline rewrite does not know: %s",
                            page.relative_to(site), len(left), [x[:120] for x in left])
                new = rx.sub("", new)
        if new != text:
            page.write_text(new, encoding="utf-8")
    _drop_unused_static(site)
    return removed


def _drop_unused_static(site: Path) -> None:
    """Delete the static files no page or stylesheet references (GX copies ~4 MB into every site;
    its pages inline their CSS and use only the logo and the favicon). Licence files stay."""
    used: set[Path] = set()
    todo = list(site.rglob("*.html"))
    while todo:
        f = todo.pop()
        for a, b in _REF_RE.findall(f.read_text(encoding="utf-8", errors="replace")):
            ref = a or b
            if "://" in ref or ref.startswith(("data:", "mailto:", "javascript:")):
                continue
            target = (f.parent / ref).resolve()
            if target.is_file() and target not in used:
                used.add(target)
                if target.suffix == ".css":
                    todo.append(target)
    static = site / "static"
    for f in list(static.rglob("*")):
        if f.is_file() and f.resolve() not in used and not f.name.startswith("LICENSE"):
            f.unlink()
    for d in sorted(static.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()
