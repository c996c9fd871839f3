"""The Sinergi Data Docs index of a month: every dataset's latest validation, its outcome and links.

Each validation leaves a small status record (:func:`status_record`: outcome, counts, quarantine per
rule, stop reasons, where its GX site is) at ``data-docs/_index/<YYYY-MM>/runs/<dataset>/<run>/status.json``
in the quarantine zone and under ``<SINERGI_HOME>/data-docs/`` locally, next to the GX sites
(``data-docs/<dataset>/<YYYY-MM>/<run>/``). The month's ``index.html`` beside ``runs/`` is rendered
from the records alone, so it can be rebuilt at any time from a listing.

Concurrency: the 13 datasets validate in parallel and each rebuilds the index after writing its
record. A rebuild lists the records, renders, writes, then lists again and repeats if the listing
changed. The last write of the index is always followed by a listing equal to the one it was
rendered from, and every record was written before its writer's own last listing, so the index
finally in place lists every record (no lock, no lost update; rebuilding twice gives the same bytes).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from sinergi.layout import QUARANTINE_BUCKET, quarantine_key, run_segment
from sinergi.months import Month

DOCS_ROOT = "data-docs"
INDEX_DIR = "_index"
MAX_REBUILDS = 10

OUTCOME_TEXT = {
    "passed": ("Passed", "Lolos"),
    "warnings": ("Passed with warnings", "Lolos dengan peringatan"),
    "quarantined": ("Quarantined as designed", "Sebagian baris dikarantina sesuai aturan"),
    "stopped": ("Stopped: not published", "Dihentikan: tidak dipublikasikan"),
    "missing": ("Not validated this month", "Belum divalidasi bulan ini"),
}


def index_prefix(month: Month | str) -> str:
    """``data-docs/_index/<YYYY-MM>/`` (the month's index.html and its ``runs/`` records)."""
    return f"{DOCS_ROOT}/{INDEX_DIR}/{Month.of(month)}/"


def index_key(month: Month | str) -> str:
    return f"{index_prefix(month)}index.html"


def record_key(dataset: str, month: Month | str, run_id: str) -> str:
    return f"{index_prefix(month)}runs/{dataset}/{run_segment(run_id)}/status.json"


def local_index_path(home: Path, month: Month | str) -> Path:
    return Path(home) / index_key(month)


def outcome(stopped: bool, quarantined: int, warnings: Iterable[str]) -> str:
    if stopped:
        return "stopped"
    if quarantined:
        return "quarantined"
    return "warnings" if list(warnings) else "passed"


def status_record(res, site: Path | None, *, validated_at: str | None = None) -> dict:
    """The status record of a ``sinergi.validate.ValidationResult``; ``site`` is the run's local GX
    site folder (None when GX did not run, e.g. the column types stopped the month)."""
    seg = run_segment(res.run_id)
    page = suite_page = None
    if site is not None:
        site = Path(site)
        pages = sorted(p.relative_to(site).as_posix() for p in (site / "validations").rglob("*.html"))
        suites = sorted(p.relative_to(site).as_posix() for p in (site / "expectations").rglob("*.html"))
        page, suite_page = (pages[-1] if pages else None), (suites[0] if suites else None)
    counts = dict(res.counts)
    return {
        "dataset": res.dataset,
        "month": str(res.month),
        "run_id": str(res.run_id),
        "run": seg,
        "validated_at": validated_at or datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "outcome": outcome(res.stopped, counts.get("quarantined", 0), res.warnings),
        "counts": counts,
        "stop_reasons": list(res.stop_reasons),
        "warnings": list(res.warnings),
        "site": f"{res.dataset}/{res.month}/{seg}/" if site is not None else None,
        "page": page,
        "suite_page": suite_page,
        "quarantine": f"s3://{QUARANTINE_BUCKET}/{quarantine_key(res.dataset, res.month, res.run_id)}",
    }


def latest(records: Iterable[Mapping]) -> dict[str, dict]:
    """The latest record per dataset (by validation time, then run)."""
    out: dict[str, dict] = {}
    for r in sorted(records, key=lambda r: (r["validated_at"], r["run"])):
        out[r["dataset"]] = dict(r)
    return out


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sinergi Data Docs {{ month }}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em auto;max-width:90em;padding:0 1em;color:#222}
table{border-collapse:collapse;width:100%;margin:1em 0 2em}th,td{border:1px solid #ccc;padding:.35em .5em;vertical-align:top;
text-align:left;font-size:.92em}th{background:#f0f0f0}.id{color:#555;font-style:italic}code{background:#f6f6f6}
.o-passed{background:#e8f5e9}.o-warnings{background:#e3f2fd}.o-quarantined{background:#fff8e1}.o-stopped{background:#ffebee}
.o-missing{background:#f5f5f5;color:#666}ul{margin:.2em 0;padding-left:1.2em}.num{text-align:right;white-space:nowrap}
.run code{font-size:.8em;word-break:break-all}.links a{white-space:nowrap}
</style></head><body>
<h1>Sinergi Data Docs — {{ month }}</h1>
<p>The latest validation of each dataset this month, from the status records under <code>runs/</code>.
<em>Quarantined as designed</em>: rows failing a <code>quarantine</code> rule were held back with their reasons
(<code>s3://{{ bucket }}/&lt;dataset&gt;/{{ month }}/&lt;run&gt;/quarantine.parquet</code>) and the rest was
published; <em>Stopped</em>: a <code>stop</code> rule failed and the dataset was not published this month.</p>
<p class="id" lang="id">Validasi terakhir setiap dataset bulan ini. <em>Dikarantina sesuai aturan</em>: baris yang
melanggar aturan berseveritas <code>quarantine</code> ditahan beserta alasannya, sisanya dipublikasikan;
<em>Dihentikan</em>: aturan <code>stop</code> gagal, dataset tidak dipublikasikan bulan ini.</p>
<table><thead><tr><th>Dataset</th><th>Outcome / Hasil</th><th class="num">Extracted</th><th class="num">Valid</th>
<th class="num">Quarantined</th><th>Quarantined per rule / stop reasons</th><th>Run</th><th>Validated (UTC)</th>
<th>Data Docs</th></tr></thead><tbody>
{% for ds in datasets %}{% set r = latest.get(ds) %}
{% if r %}<tr class="o-{{ r.outcome }}" data-dataset="{{ ds }}" data-outcome="{{ r.outcome }}">
<td><strong>{{ ds }}</strong></td>
<td>{{ text[r.outcome][0] }}<br><span class="id" lang="id">{{ text[r.outcome][1] }}</span></td>
<td class="num">{{ "{:,}".format(r.counts.extracted) }}</td><td class="num">{{ "{:,}".format(r.counts.valid) }}</td>
<td class="num">{{ "{:,}".format(r.counts.quarantined) }}</td>
<td>{% if r.counts.by_rule %}<ul>{% for rule, n in r.counts.by_rule|dictsort %}<li><code>{{ rule }}</code>: {{ "{:,}".format(n) }}</li>{% endfor %}</ul>{% endif %}
{% if r.stop_reasons %}<ul>{% for s in r.stop_reasons %}<li><strong>stop</strong>: {{ s }}</li>{% endfor %}</ul>{% endif %}
{% if r.warnings %}<details><summary>{{ r.warnings|length }} warning(s)</summary><ul>{% for w in r.warnings %}<li>{{ w }}</li>{% endfor %}</ul></details>{% endif %}</td>
<td class="run"><code>{{ r.run_id }}</code></td><td>{{ r.validated_at }}</td>
<td class="links">{% if r.page %}<a href="{{ up }}{{ r.site }}{{ r.page }}">validation</a><br><a href="{{ up }}{{ r.site }}{{ r.suite_page }}">suite</a><br><a href="{{ up }}{{ r.site }}index.html">site</a>{% else %}none (GX did not run){% endif %}</td></tr>
{% else %}<tr class="o-missing" data-dataset="{{ ds }}" data-outcome="missing"><td><strong>{{ ds }}</strong></td>
<td>{{ text.missing[0] }}<br><span class="id" lang="id">{{ text.missing[1] }}</span></td><td colspan="7"></td></tr>{% endif %}
{% endfor %}</tbody></table>
{% if runs|length > latest|length %}
<h2>Every validation this month</h2>
<table><thead><tr><th>Dataset</th><th>Run</th><th>Validated (UTC)</th><th>Outcome</th><th>Data Docs</th></tr></thead><tbody>
{% for r in runs %}<tr class="o-{{ r.outcome }}"><td>{{ r.dataset }}</td><td><code>{{ r.run_id }}</code></td><td>{{ r.validated_at }}</td>
<td>{{ text[r.outcome][0] }}</td><td>{% if r.page %}<a href="{{ up }}{{ r.site }}{{ r.page }}">validation</a>{% endif %}</td></tr>
{% endfor %}</tbody></table>{% endif %}
</body></html>
"""


@cache
def _template():
    import jinja2

    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(_HTML)


def render_index(month: Month | str, records: Iterable[Mapping], datasets: Iterable[str] | None = None) -> str:
    """The month's index page (self-contained: inline style, no script, nothing loaded)."""
    from sinergi import registry

    records = sorted((dict(r) for r in records), key=lambda r: (r["dataset"], r["validated_at"], r["run"]))
    last = latest(records)
    names = list(datasets) if datasets is not None else sorted(registry.names())
    names += sorted(set(last) - set(names))
    return _template().render(
        month=str(Month.of(month)), datasets=names, latest=last, runs=records, text=OUTCOME_TEXT,
        up="../../", bucket=QUARANTINE_BUCKET,
    )


def _rebuild(listing: Callable[[], dict[str, str]], read: Callable[[str], bytes],
             write: Callable[[bytes], None], month: Month | str) -> int:
    """Render from a listing, write, and repeat while the listing changed meanwhile; returns the
    number of records in the index written last."""
    seen = listing()
    for _ in range(MAX_REBUILDS):
        records = [json.loads(read(k)) for k in sorted(seen)]
        write(render_index(month, records).encode("utf-8"))
        now = listing()
        if now == seen:
            return len(records)
        seen = now
    raise RuntimeError(f"Data Docs index {month}: records kept changing over {MAX_REBUILDS} rebuilds")


def rebuild_store_index(store, month: Month | str, bucket: str = QUARANTINE_BUCKET) -> int:
    """Rebuild ``data-docs/_index/<YYYY-MM>/index.html`` in the quarantine zone from its records."""
    prefix = f"{index_prefix(month)}runs/"
    return _rebuild(
        lambda: {o.key: o.etag for o in store.list(bucket, prefix) if o.key.endswith(".json")},
        lambda k: store.get_bytes(bucket, k),
        lambda data: store.put_bytes(bucket, index_key(month), data, content_type="text/html; charset=utf-8"),
        month,
    )


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def rebuild_local_index(home: Path, month: Month | str) -> int:
    """Rebuild ``<home>/data-docs/_index/<YYYY-MM>/index.html`` from the local records."""
    runs = Path(home) / index_prefix(month) / "runs"

    def listing() -> dict[str, str]:
        return {p.relative_to(runs).as_posix(): f"{p.stat().st_mtime_ns}:{p.stat().st_size}"
                for p in runs.rglob("*.json")} if runs.is_dir() else {}

    return _rebuild(listing, lambda k: (runs / k).read_bytes(),
                    lambda data: _atomic_write(local_index_path(home, month), data), month)


def write_record(record: Mapping, *, store=None, home: Path | None = None, bucket: str = QUARANTINE_BUCKET) -> None:
    """Write a status record (to the store and/or under ``home``) and rebuild the month's index there."""
    data = json.dumps(record, indent=1, sort_keys=True).encode("utf-8")
    key = record_key(record["dataset"], record["month"], record["run_id"])
    if home is not None:
        _atomic_write(Path(home) / key, data)
        rebuild_local_index(home, record["month"])
    if store is not None:
        store.put_bytes(bucket, key, data, content_type="application/json")
        rebuild_store_index(store, record["month"], bucket)
