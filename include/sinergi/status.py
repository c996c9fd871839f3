"""The operator's month at a glance: party × dataset × month, built from the pipeline's own records.

Read, through the pipeline identity, only bookkeeping objects — never data:

* each party bucket's month pointer (``_manifests/<dataset>/<YYYY-MM>/_current.json``) and, for the
  committed generation, the owner's full run manifest (``sinergi-ledger/publications/<bucket>/…``,
  ``layout.owner_record_key``; the party's own manifest when the owner record is missing): counts,
  top quarantine rules, warnings, rows filtered out and suppressed, k and l achieved, the run;
* the validation status records beside the Data Docs (``sinergi.validate.docs_index``) and the
  failure records (``layout.failures_prefix``) in the quarantine zone: what was *tried* for the
  month, so a month whose latest attempt failed shows as failed (nothing published) or stale (an
  older generation is still in place);
* the landing zone's pointer of the month (``_latest.json``: when the source arrived), the
  producer feedback workbooks (``layout.feedback_prefix``) and the month's report (existence only).

:func:`build_matrix` returns a JSON-able model; :func:`render_html` renders it (the Airflow plugin
``sinergi_airflow.ui`` serves both, and the objects the links point to).
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field

from sinergi import deadlines, registry
from sinergi.layout import (
    LEDGER_BUCKET,
    QUARANTINE_BUCKET,
    failures_prefix,
    feedback_key,
    feedback_prefix,
    owner_record_key,
    pointer_key,
    report_key,
)
from sinergi.months import JAKARTA, Month, parse_instant
from sinergi.objectstore import ObjectNotFound, ObjectStore, StoreError

#: Quarantine rules shown per cell (the rest are summed in the manifest link).
TOP_RULES = 3
#: Months shown when none are asked for: the latest ones with any record, gaps included.
DEFAULT_MONTHS = 3

STATES = {
    "published": "published",
    "stale": "stale: a later run failed or did not publish; an older generation is in place",
    "failed": "failed: nothing published for this month",
    "missing": "not run",
}


@dataclass
class Attempt:
    """The latest thing that happened to a dataset-month (a validation or a task failure)."""

    run_id: str
    at: str  # ISO UTC
    failed: bool
    step: str | None = None
    reason: str | None = None


@dataclass
class Cell:
    party: str
    bucket: str
    dataset: str
    scope: str
    month: str
    state: str = "missing"
    generation: int | None = None
    run_id: str | None = None
    committed_at: str | None = None
    extracted: int | None = None
    published: int | None = None
    quarantined: int | None = None
    top_rules: list[tuple[str, int]] = field(default_factory=list)
    warnings: int | None = None
    filtered_out: int | None = None
    suppressed: int | None = None
    k_achieved: int | None = None
    l_achieved: int | None = None
    due: str = ""
    late: bool = False
    source_arrived: str | None = None
    source_late: bool = False
    manifest: tuple[str, str] | None = None  # (bucket, key) of the full manifest
    data_docs: tuple[str, str] | None = None  # (bucket, key) of the validation page (or the site)
    feedback: list[tuple[str, str]] = field(default_factory=list)
    report: tuple[str, str] | None = None
    latest_attempt: Attempt | None = None
    problem: str | None = None  # why the cell is failed / stale, one line


# -- reading ----------------------------------------------------------------------------------------
def _json(store: ObjectStore, bucket: str, key: str) -> dict | None:
    try:
        doc = json.loads(store.get_bytes(bucket, key))
    except (ObjectNotFound, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _keys(store: ObjectStore, bucket: str, prefix: str) -> list[str]:
    try:
        return [o.key for o in store.list(bucket, prefix)]
    except ObjectNotFound:
        return []


def _wib(text: str | None) -> str:
    t = parse_instant(text)
    return t.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M WIB") if t else ""


def validation_records(store: ObjectStore, month: Month | str) -> list[dict]:
    """Every validation status record of the month (sinergi.validate.docs_index)."""
    from sinergi.validate.docs_index import index_prefix

    prefix = f"{index_prefix(month)}runs/"
    return [r for k in _keys(store, QUARANTINE_BUCKET, prefix) if k.endswith("/status.json")
            if (r := _json(store, QUARANTINE_BUCKET, k)) and r.get("dataset")]


def failure_records(store: ObjectStore, month: Month | str) -> list[dict]:
    """Every failure record of the month (written by the DAGs' failure callback)."""
    return [r for k in _keys(store, QUARANTINE_BUCKET, failures_prefix(month)) if k.endswith(".json")
            if (r := _json(store, QUARANTINE_BUCKET, k)) and r.get("dataset")]


def _attempts(validations: Iterable[Mapping], failures: Iterable[Mapping], recipients: Callable[[str], list[str]],
              ) -> dict[tuple[str, str | None], Attempt]:
    """The latest attempt per (dataset, party) — party None for the dataset-wide steps (extract,
    validate): a mapped share/publish failure belongs to the party at its map index."""
    out: dict[tuple[str, str | None], Attempt] = {}

    def keep(key, attempt: Attempt) -> None:
        if key not in out or (parse_instant(attempt.at) or _EPOCH) >= (parse_instant(out[key].at) or _EPOCH):
            out[key] = attempt

    for r in validations:
        stopped = r.get("outcome") == "stopped"
        keep((r["dataset"], None), Attempt(str(r.get("run_id")), str(r.get("validated_at") or ""), stopped,
                                           "validate" if stopped else None,
                                           "; ".join(r.get("stop_reasons") or []) or None))
    for r in failures:
        party = None
        index = r.get("map_index")
        if r.get("step") in ("share", "publish") and isinstance(index, int) and index >= 0:
            parties = recipients(r["dataset"])
            party = parties[index] if index < len(parties) else None
        keep((r["dataset"], party), Attempt(str(r.get("run_id")), str(r.get("failed_at") or ""), True,
                                            r.get("step"), r.get("reason")))
    return out


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _docs_key(record: Mapping | None) -> tuple[str, str] | None:
    if not record or not record.get("site"):
        return None
    from sinergi.validate.docs_index import DOCS_ROOT

    return QUARANTINE_BUCKET, f"{DOCS_ROOT}/{record['site']}{record.get('page') or 'index.html'}"


def _suppressed(report: Mapping) -> int:
    value = report.get("rows_suppressed")
    return int(sum(value.values())) if isinstance(value, Mapping) else int(value or 0)


def _fill_from_manifest(cell: Cell, doc: Mapping) -> None:
    counts = doc.get("counts") or {}
    share = doc.get("share_report") or {}
    disclosure = share.get("disclosure") or doc.get("disclosure") or {}
    k_report = doc.get("k_anonymity") or share.get("k_anonymity") or {}
    cell.extracted = counts.get("extracted")
    cell.quarantined = counts.get("quarantined")
    cell.published = doc.get("rows_published")
    rules = counts.get("by_rule") or {}
    cell.top_rules = sorted(((str(r), int(n)) for r, n in rules.items() if n), key=lambda x: (-x[1], x[0]))[:TOP_RULES]
    warned = counts.get("warnings_by_rule") or {}
    cell.warnings = int(sum(int(n) for n in warned.values())) if warned else len(doc.get("warnings") or [])
    cell.filtered_out = int(share.get("rows_filtered_out") or 0)
    cell.suppressed = _suppressed(share)
    cell.k_achieved = disclosure.get("k_achieved", k_report.get("k_achieved"))
    cell.l_achieved = disclosure.get("l_achieved", k_report.get("l_achieved"))


def _cell(store: ObjectStore, party: str, bucket: str, dataset: str, month: Month, attempts: Mapping,
          validations: Mapping[str, dict], now: dt.datetime, memo: dict) -> Cell:
    """One cell; ``memo`` keeps what the parties of a dataset-month share (arrival, feedback)."""
    from sinergi.indicators.quality import arrival

    ds = registry.get(dataset)
    cell = Cell(party=party, bucket=bucket, dataset=dataset, scope=ds.scope, month=str(month))
    due = deadlines.sync_due(month)
    cell.due = due.strftime("%Y-%m-%d %H:%M WIB")
    pointer = _json(store, bucket, pointer_key(dataset, month))
    sources: list = []
    if pointer and pointer.get("manifest_key"):
        owner_key = owner_record_key(bucket, pointer["manifest_key"])
        doc = _json(store, LEDGER_BUCKET, owner_key)
        cell.manifest = (LEDGER_BUCKET, owner_key) if doc else (bucket, pointer["manifest_key"])
        doc = doc or _json(store, bucket, pointer["manifest_key"]) or {}
        _fill_from_manifest(cell, doc)
        sources = doc.get("sources") or []
        cell.state = "published"
        cell.generation = int(pointer.get("generation") or 0)
        cell.run_id = pointer.get("run_id")
        cell.committed_at = pointer.get("committed_at")
        if cell.published is None:
            cell.published = pointer.get("rows")

    # the latest attempt: this party's own (share/publish) or the dataset's (extract/validate)
    mine = [a for a in (attempts.get((dataset, party)), attempts.get((dataset, None))) if a]
    latest = max(mine, key=lambda a: parse_instant(a.at) or _EPOCH) if mine else None
    cell.latest_attempt = latest
    committed = parse_instant(cell.committed_at)
    if latest is not None and latest.run_id != cell.run_id and (committed is None or (parse_instant(latest.at) or _EPOCH) > committed):
        what = f"run {latest.run_id}" + (f" failed at {latest.step}" if latest.failed and latest.step else
                                         " failed" if latest.failed else " did not publish")
        cell.problem = what + (f": {latest.reason}" if latest.reason else "")
        # nothing published and the latest run did not fail: it has not published (yet) — not run
        cell.state = "stale" if cell.state == "published" else ("failed" if latest.failed else "missing")
    elif latest is not None and latest.failed and latest.run_id == cell.run_id and cell.state != "published":
        cell.state, cell.problem = "failed", f"run {latest.run_id} failed at {latest.step}: {latest.reason}"

    # late: committed after the agreed day (or not committed and the day has passed)
    cell.late = committed > due if committed else now > due
    if (dataset, "arrival") not in memo or sources:
        try:
            memo[(dataset, "arrival")] = arrival(store, dataset, month, sources)
        except StoreError:
            memo[(dataset, "arrival")] = None
    arrived = memo[(dataset, "arrival")]
    if arrived is not None:
        cell.source_arrived = arrived.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M WIB")
        try:
            cell.source_late = deadlines.is_late(ds.source.system, month, arrived)
        except Exception:  # noqa: BLE001 - a system without a delivery day is not late
            cell.source_late = False

    validation = validations.get(dataset)
    if cell.run_id:  # the Data Docs of the validation that produced the publication, else the latest
        from sinergi.layout import run_segment

        validation = next((r for r in validations.get(f"{dataset}#all", []) if r.get("run") == run_segment(cell.run_id)),
                          validation)
    cell.data_docs = _docs_key(validation)
    system = ds.source.system
    if (system, "feedback") not in memo:
        memo[(system, "feedback")] = [(QUARANTINE_BUCKET, k) for k in _keys(store, QUARANTINE_BUCKET,
                                                                             feedback_prefix(system, month))
                                      if servable(QUARANTINE_BUCKET, k, ())]
    cell.feedback = list(memo[(system, "feedback")])
    if cell.feedback:  # the workbook first
        wanted = feedback_key(ds.source.system, month)
        cell.feedback.sort(key=lambda bk: (bk[1] != wanted, bk[1]))
    rkey = report_key(party, month)
    if store.head(bucket, rkey) is not None:
        cell.report = (bucket, rkey)
    return cell


def discover_months(store: ObjectStore, buckets: Iterable[str]) -> list[Month]:
    """Months anything was recorded for: committed pointers, validation records, failure records."""
    from sinergi.validate.docs_index import DOCS_ROOT, INDEX_DIR

    found: set[Month] = set()

    def add(text: str) -> None:
        try:
            found.add(Month.parse(text))
        except ValueError:
            pass

    for bucket in buckets:
        for key in _keys(store, bucket, "_manifests/"):
            parts = key.split("/")
            if len(parts) == 4 and parts[3] == "_current.json":
                add(parts[2])
    for prefix in (f"{DOCS_ROOT}/{INDEX_DIR}/", "_failures/"):
        for key in _keys(store, QUARANTINE_BUCKET, prefix):
            add(key[len(prefix):].split("/", 1)[0])
    return sorted(found)


def build_matrix(store: ObjectStore, policy, months: Iterable[Month | str] | None = None, *,
                 last: int = DEFAULT_MONTHS, now: dt.datetime | None = None) -> dict:
    """The matrix party × dataset × month (JSON-able). ``months``: these months; else the ``last``
    months up to the newest month with any record (gaps included, so a month never run shows)."""
    now = now or dt.datetime.now(dt.UTC)
    parties = {name: p for name, p in policy.parties.items()}
    if months is None:
        seen = discover_months(store, [p.bucket for p in parties.values()])
        if seen:
            # the newest months, gaps included, but none before the first month anything was tried
            chosen = max(seen[0], seen[-1].add(-(last - 1))).until(seen[-1])
        else:
            chosen = []
    else:
        chosen = sorted({Month.of(m) for m in months})
    order = registry.names()
    out_months = []
    for month in chosen:
        records = validation_records(store, month)
        failures = failure_records(store, month)
        attempts = _attempts(records, failures, lambda ds: list(policy.recipients(ds)))
        from sinergi.validate.docs_index import latest

        validations: dict = dict(latest(records))
        for r in records:
            validations.setdefault(f"{r['dataset']}#all", []).append(r)
        cells, memo = [], {}
        for party, p in parties.items():
            for dataset in sorted(p.datasets, key=lambda d: order.index(d) if d in order else len(order)):
                cells.append(_cell(store, party, p.bucket, dataset, month, attempts, validations, now, memo))
        out_months.append({
            "month": str(month), "due": deadlines.sync_due(month).strftime("%Y-%m-%d %H:%M WIB"),
            "cells": [_cell_dict(c) for c in cells],
            "failures": [{k: r.get(k) for k in ("dataset", "step", "run_id", "map_index", "reason", "failed_at")}
                         for r in failures],
        })
    return {"generated_at": now.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M WIB"),
            "parties": {name: p.bucket for name, p in parties.items()}, "months": out_months}


def _cell_dict(cell: Cell) -> dict:
    d = asdict(cell)
    d["committed_wib"] = _wib(cell.committed_at)
    return d


# -- rendering --------------------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1em;color:#222;font-size:14px}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.15em;margin:1.2em 0 .4em}
table{border-collapse:collapse;margin:.3em 0 1em}th,td{border:1px solid #ccc;padding:.35em .45em;vertical-align:top;
text-align:left}th{background:#f2f2f2}td.cell{min-width:13em}.num{font-variant-numeric:tabular-nums}
.s-published{background:#eef8ee}.s-stale{background:#fff6db}.s-failed{background:#fde8e8}.s-missing{background:#f6f6f6;color:#666}
.badge{display:inline-block;padding:0 .4em;border-radius:.6em;font-size:.85em;font-weight:600;margin-right:.3em}
.b-published{background:#c8e6c9}.b-stale{background:#ffe082}.b-failed{background:#ef9a9a}.b-missing{background:#ddd}.b-late{background:#ffcc80}
.links a{margin-right:.5em;white-space:nowrap}.muted{color:#666;font-size:.9em}ul{margin:.1em 0;padding-left:1.1em}
code{font-size:.85em;word-break:break-all}
"""


#: Embedded in the Airflow UI, the page is a sandboxed iframe (no popups, no top navigation): a run
#: link moves the UI itself to the run through its router (same origin); the other links open in
#: the frame. Opened on its own, every link is an ordinary link.
_NAVIGATE = """
document.addEventListener('click', function (e) {
  var a = e.target.closest && e.target.closest('a.l-run, a.l-attempt');
  if (!a || window.top === window) return;
  try {
    var h = window.top.history, idx = ((h.state && h.state.idx) || 0) + 1;
    h.pushState({usr: null, key: Math.random().toString(36).slice(2, 10), idx: idx}, '', a.getAttribute('href'));
    window.top.dispatchEvent(new PopStateEvent('popstate', {state: h.state}));
    e.preventDefault();
  } catch (err) { /* not the same origin: follow the link in the frame */ }
});
"""


def _e(v: object) -> str:
    return html.escape("" if v is None else str(v))


def _n(v: object) -> str:
    return "–" if v is None else f"{v:,}" if isinstance(v, int) else _e(v)


def render_html(model: Mapping, *, file_url: Callable[[str, str], str], run_url: Callable[[str, str, str], str],
                title: str = "Sinergi") -> str:
    """The page: one table per month, a row per dataset, a column per party. ``file_url(bucket,
    key)`` and ``run_url(scope, dataset, run_id)`` make the links (served by the plugin)."""
    parties = list(model["parties"])
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
           f"<style>{_CSS}</style></head><body>",
           f"<h1>{_e(title)} — months at a glance</h1>",
           f"<p class='muted'>Read from the manifests, validation records and failure records in the object store "
           f"(never the data). Times in Asia/Jakarta (WIB). Generated {_e(model['generated_at'])}.</p>"]
    if not model["months"]:
        out.append("<p id='no-months'>Nothing has been run yet.</p>")
    for m in model["months"]:
        out.append(f"<h2 id='month-{_e(m['month'])}'>{_e(m['month'])} <span class='muted'>(sync due {_e(m['due'])})</span></h2>")
        out.append("<table class='matrix' data-month='" + _e(m["month"]) + "'><thead><tr><th>Dataset</th>"
                   + "".join(f"<th>{_e(p)}</th>" for p in parties) + "</tr></thead><tbody>")
        rows: dict[str, dict[str, dict]] = {ds: {} for ds in registry.names()}
        for c in m["cells"]:
            rows.setdefault(c["dataset"], {})[c["party"]] = c
        rows = {ds: by_party for ds, by_party in rows.items() if by_party}
        for dataset, by_party in rows.items():
            out.append(f"<tr><th>{_e(dataset)}</th>")
            for p in parties:
                c = by_party.get(p)
                out.append("<td class='muted'>not shared</td>" if c is None else _render_cell(c, file_url, run_url))
            out.append("</tr>")
        out.append("</tbody></table>")
    out.append(f"<script>{_NAVIGATE}</script></body></html>")
    return "".join(out)


def _render_cell(c: Mapping, file_url, run_url) -> str:
    state = c["state"]
    attrs = (f"class='cell s-{state}' data-party='{_e(c['party'])}' data-dataset='{_e(c['dataset'])}' "
             f"data-month='{_e(c['month'])}' data-state='{state}' data-late='{str(c['late']).lower()}'")
    label = "not run" if state == "missing" else state
    parts = [f"<span class='badge b-{state}' title='{_e(STATES[state])}'>{label}</span>"]
    if c["late"]:
        parts.append(f"<span class='badge b-late' title='due {_e(c['due'])}'>late</span>")
    if c["source_late"]:
        parts.append(f"<span class='badge b-late' title='source arrived {_e(c['source_arrived'])}'>source late</span>")
    if c["problem"]:
        parts.append(f"<div class='problem'>{_e(c['problem'])}</div>")
    if c["generation"]:
        parts.append(
            "<div class='num'>"
            f"published <b>{_n(c['published'])}</b> · quarantined {_n(c['quarantined'])} · warnings {_n(c['warnings'])}"
            f"<br>filtered out {_n(c['filtered_out'])} · suppressed {_n(c['suppressed'])} · k {_n(c['k_achieved'])} · "
            f"l {_n(c['l_achieved'])}</div>")
        if c["top_rules"]:
            parts.append("<ul class='rules'>" + "".join(f"<li><code>{_e(r)}</code> {_n(n)}</li>" for r, n in c["top_rules"])
                         + "</ul>")
        parts.append(f"<div class='muted'>g{c['generation']} · committed {_e(c['committed_wib'])}<br>"
                     f"run <code>{_e(c['run_id'])}</code></div>")
    links = []
    if c["run_id"]:
        links.append(f"<a class='l-run' href='{_e(run_url(c['scope'], c['dataset'], c['run_id']))}'>run</a>")
    attempt = c.get("latest_attempt")
    if attempt and attempt["run_id"] != c["run_id"]:
        links.append(f"<a class='l-attempt' href='{_e(run_url(c['scope'], c['dataset'], attempt['run_id']))}'>"
                     "latest run</a>")
    if c["data_docs"]:
        links.append(f"<a class='l-docs' href='{_e(file_url(*c['data_docs']))}'>Data Docs</a>")
    if c["feedback"]:  # the workbook (sorted first)
        links.append(f"<a class='l-feedback' href='{_e(file_url(*c['feedback'][0]))}'>feedback</a>")
    if c["report"]:
        links.append(f"<a class='l-report' href='{_e(file_url(*c['report']))}'>report</a>")
    if c["manifest"]:
        links.append(f"<a class='l-manifest' href='{_e(file_url(*c['manifest']))}'>manifest</a>")
    if links:
        parts.append("<div class='links'>" + "".join(links) + "</div>")
    return f"<td {attrs}>" + "".join(parts) + "</td>"


# -- what the page may serve ------------------------------------------------------------------------
def servable(bucket: str, key: str, party_buckets: Iterable[str]) -> bool:
    """Whether the page may serve ``bucket/key``: bookkeeping only — Data Docs, feedback workbooks
    and failure records (quarantine), owner manifests (ledger), party manifests and reports — never
    a data object, quarantined rows or a landing/staging/trusted object."""
    if ".." in key.split("/") or key.startswith("/"):
        return False
    if bucket == QUARANTINE_BUCKET:
        if key.startswith("_feedback/"):  # the workbooks only: not the per-dataset problem tables behind them
            return key.endswith(".xlsx") and "/problems/" not in key
        return key.startswith(("data-docs/", "_failures/"))
    if bucket == LEDGER_BUCKET:
        return key.startswith("publications/") and "/_manifests/" in key and key.endswith(".json")
    if bucket in set(party_buckets):
        return key.startswith("_reports/") or (key.startswith("_manifests/") and key.endswith(".json"))
    return False
