"""Record of processing (RoPA) per party, generated from the sharing policy and the registry.

``render(policy, party) -> (markdown, html)``: one readable document per receiving party listing
every dataset it receives — purpose, MoU article and work-plan rows, row filter, counting basis,
each shared column with its transform, the columns withheld, k-anonymity settings, token keys (key
version, never a key) and the retention note. It prints the release plan
(``sinergi.policy.plan.release_plan``) that ``share()`` applies — the same output columns,
quasi-identifiers, k and generalisation steps, computed by the same code — so it cannot drift from
what is actually published; the publisher writes it next to the data in the party's bucket.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from sinergi import registry
from sinergi.policy import Policy, release_plan
from sinergi.policy.plan import SYSTEM_COLUMNS

SYSTEM_COLUMN_NAMES = frozenset(c.name for c in SYSTEM_COLUMNS)

TRANSFORM_TEXT = {
    "drop": "not shared (dropped)",
    "keep": "shared as is",
}


@dataclass
class _Row:
    output: str
    source: str
    role: str
    transform: str
    description: str


def _transform_text(spec) -> str:
    if spec.transform == "token":
        return "pseudonymised: keyed HMAC-SHA256 token"
    if spec.transform == "generalise":
        if spec.to == "birth_year":
            return "generalised to year of birth"
        if spec.to == "age_band":
            return f"generalised to {spec.band_width}-year age band at {spec.reference}"
        return "generalised to region: dropped; kab/kota (and kecamatan) codes are shared as their own columns"
    if spec.transform == "keep" and spec.justification:
        return f"shared as is - justification: {spec.justification}"
    return TRANSFORM_TEXT[spec.transform]


def _context(policy: Policy, party_name: str) -> dict:
    party = policy.party(party_name)
    datasets = []
    for dname, entry in party.datasets.items():
        ds = registry.get(dname)
        plan = release_plan(policy, dname, party_name)
        by_source = {o.source: o for o in plan.columns}
        rows = []
        for col in ds.columns:
            spec = entry.columns.get(col.name)
            if spec is None:
                continue
            o = by_source.get(col.name)
            label = o.transform if o else spec.describe()
            rows.append(_Row(o.name if o else "-", col.name, col.role, f"{label}: {_transform_text(spec)}",
                             o.en if o else col.en))
        rows += [_Row(o.name, o.source, o.role, "keep: added by validation, shared with every party", o.en)
                 for o in plan.columns if o.source in SYSTEM_COLUMN_NAMES]
        datasets.append({
            "name": dname, "en": ds.en, "id": ds.id, "scope": ds.scope, "counting_basis": ds.counting_basis,
            "purpose": " ".join(entry.purpose.split()), "mou_article": entry.mou_article,
            "workplan": ", ".join(entry.workplan) or "-",
            "row_filter": entry.row_filter.describe() if entry.row_filter else "all rows",
            "rows": rows, "withheld": plan.columns_not_shared, "qis": list(plan.quasi_identifiers), "k": plan.k,
            "steps": plan.step_labels, "tokens": plan.token_fields, "notes": " ".join((entry.notes or "").split()),
            "specific": entry.specific_data,
        })
    return {
        "party": party, "policy": policy, "datasets": datasets,
        "retention": " ".join(policy.retention_for(party_name).split()),
        "agreement": policy.agreement,
    }


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(policy: Policy, party: str) -> str:
    c = _context(policy, party)
    p, a = c["party"], c["agreement"]
    out = [
        f"# Record of processing — {p.title} (`{p.name}`)",
        "",
        "_Generated from the sharing policy (`config/policy.yaml`, version "
        f"{policy.version}); do not edit by hand._",
        "",
        "## Recipient",
        "",
        f"- **Party:** {p.pihak} — {' '.join(p.organisation.split()) or p.title}",
        f"- **Liaison:** {p.contact or '-'}",
        f"- **Bucket:** `{p.bucket}` (read-only key `{p.credentials}`)",
        "- **Processing:** data are pseudonymised and minimised for this recipient before publication; "
        "the recipient is responsible for the confidentiality, use and security of what it receives (MoU Pasal 10).",
        "",
        "## Legal basis",
        "",
        f"- {' '.join(a.title.split())} — Nomor {' / '.join(a.numbers)}, signed {a.signed}, valid {a.valid_years} years.",
        *[f"- {item}" for item in a.legal],
        "",
        "## Safeguards",
        "",
        "- Direct identifiers are dropped or replaced by tokens: HMAC-SHA256 of the normalised value with a key "
        "derived (HKDF-SHA256) for this recipient and field from a master secret held by the pipeline; tokens "
        "(`t_` + 32 letters a-p encoding 128 bits, never a digit) match across this recipient's datasets and months and never match "
        f"another recipient's. Key version {policy.key_version} (the manifest records the key fingerprint id, never the key).",
        "- Minimisation: only the columns listed below are shared; every other column is withheld.",
        "- k-anonymity over the quasi-identifiers of each release; rows in smaller classes are generalised further "
        "and, failing that, suppressed (counted in the manifest). Limits: no l-diversity guarantee for sensitive "
        "values; linking releases over time with tokens can narrow classes.",
        "- Leak guard: every release is scanned for raw NIK, phone, passport and e-mail patterns and for values of "
        "dropped identifier columns before it is published.",
        "- Pseudonymised data remains personal data (UU 27/2022); it is not opened to the public (MoU Pasal 10 ayat 2).",
        "",
        "## Retention",
        "",
        c["retention"],
        "",
        "## Datasets",
        "",
        "| dataset | purpose | MoU basis | work-plan rows | rows shared |",
        "|---|---|---|---|---|",
    ]
    for d in c["datasets"]:
        out.append(f"| `{d['name']}` | {_md_escape(d['purpose'])} | {_md_escape(d['mou_article'])} | "
                   f"{d['workplan']} | {_md_escape(d['row_filter'])} |")
    for d in c["datasets"]:
        out += [
            "",
            f"### `{d['name']}` — {d['en']}",
            "",
            f"_{d['id']}_",
            "",
            f"- **Purpose:** {d['purpose']}",
            f"- **Basis:** {d['mou_article']} (work-plan rows: {d['workplan']})",
            f"- **Rows shared:** {d['row_filter']}",
            f"- **Counting basis:** {d['counting_basis']}",
            f"- **k-anonymity:** k = {d['k']} over {', '.join(d['qis']) or 'no quasi-identifiers (not applicable)'}"
            + (f"; further generalisation of rows in smaller classes: {', '.join(d['steps'])} (such rows show a "
               "wider age band or an empty value); then suppression" if d["qis"] else ""),
            f"- **Token keys:** {', '.join(d['tokens']) or 'none'}",
        ]
        if d["specific"]:
            out.append(f"- **Specific personal data (UU 27/2022 Pasal 4):** {d['specific']}; covered by a DPIA (Pasal 34).")
        if d["notes"]:
            out.append(f"- **Notes:** {d['notes']}")
        out += ["", "| published column | source column | role | transform | description |", "|---|---|---|---|---|"]
        for r in d["rows"]:
            out.append(f"| `{r.output}` | `{r.source}` | {r.role} | {_md_escape(r.transform)} | {_md_escape(r.description)} |")
        out += ["", f"Withheld (not shared): {', '.join(f'`{w}`' for w in d['withheld']) or 'none'}"]
    return "\n".join(out) + "\n"


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def render_html(policy: Policy, party: str) -> str:
    c = _context(policy, party)
    p, a = c["party"], c["agreement"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Record of processing — {_e(p.title)}</title>",
        "<style>body{font-family:sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}"
        "th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}"
        "th{background:#f3f3f3}code{background:#f6f6f6;padding:0 .2rem}</style></head><body>",
        f"<h1>Record of processing — {_e(p.title)} (<code>{_e(p.name)}</code>)</h1>",
        f"<p><em>Generated from the sharing policy (config/policy.yaml, version {policy.version}); do not edit by hand.</em></p>",
        "<h2>Recipient</h2><ul>",
        f"<li><strong>Party:</strong> {_e(p.pihak)} — {_e(' '.join(p.organisation.split()) or p.title)}</li>",
        f"<li><strong>Liaison:</strong> {_e(p.contact or '-')}</li>",
        f"<li><strong>Bucket:</strong> <code>{_e(p.bucket)}</code> (read-only key <code>{_e(p.credentials)}</code>)</li>",
        "<li>The recipient is responsible for the confidentiality, use and security of what it receives (MoU Pasal 10).</li>",
        "</ul><h2>Legal basis</h2><ul>",
        f"<li>{_e(' '.join(a.title.split()))} — Nomor {_e(' / '.join(a.numbers))}, signed {_e(a.signed)}, "
        f"valid {a.valid_years} years.</li>",
        *[f"<li>{_e(item)}</li>" for item in a.legal],
        "</ul><h2>Safeguards</h2><ul>",
        "<li>Direct identifiers are dropped or replaced by keyed HMAC-SHA256 tokens (per-recipient, per-field keys "
        f"derived with HKDF-SHA256; <code>t_</code> + 32 letters a-p encoding 128 bits). Key version {policy.key_version}; "
        "manifests record the key fingerprint id, never the key.</li>",
        "<li>Minimisation: only the columns listed below are shared.</li>",
        "<li>k-anonymity per release, with further generalisation and then suppression (counted in the manifest); "
        "no l-diversity guarantee; linking releases over time can narrow classes.</li>",
        "<li>Leak guard for raw NIK, phone, passport, e-mail patterns and values of dropped identifier columns.</li>",
        "<li>Pseudonymised data remains personal data (UU 27/2022); not opened to the public (MoU Pasal 10 ayat 2).</li>",
        f"</ul><h2>Retention</h2><p>{_e(c['retention'])}</p>",
        "<h2>Datasets</h2><table><tr><th>dataset</th><th>purpose</th><th>MoU basis</th><th>work-plan rows</th>"
        "<th>rows shared</th></tr>",
    ]
    for d in c["datasets"]:
        parts.append(f"<tr><td><code>{_e(d['name'])}</code></td><td>{_e(d['purpose'])}</td><td>{_e(d['mou_article'])}</td>"
                     f"<td>{_e(d['workplan'])}</td><td>{_e(d['row_filter'])}</td></tr>")
    parts.append("</table>")
    for d in c["datasets"]:
        k_text = (f"k = {d['k']} over {_e(', '.join(d['qis']))}; further generalisation of rows in smaller classes: "
                  f"{_e(', '.join(d['steps']) or '-')} (such rows show a wider age band or an empty value); "
                  "then suppression") if d["qis"] else f"k = {d['k']}; no quasi-identifiers (not applicable)"
        parts += [
            f'<h3 id="{_e(d["name"])}"><code>{_e(d["name"])}</code> — {_e(d["en"])}</h3>',
            f"<p><em>{_e(d['id'])}</em></p><ul>",
            f"<li><strong>Purpose:</strong> {_e(d['purpose'])}</li>",
            f"<li><strong>Basis:</strong> {_e(d['mou_article'])} (work-plan rows: {_e(d['workplan'])})</li>",
            f"<li><strong>Rows shared:</strong> {_e(d['row_filter'])}</li>",
            f"<li><strong>Counting basis:</strong> {_e(d['counting_basis'])}</li>",
            f"<li><strong>k-anonymity:</strong> {k_text}</li>",
            f"<li><strong>Token keys:</strong> {_e(', '.join(d['tokens']) or 'none')}</li>",
        ]
        if d["specific"]:
            parts.append(f"<li><strong>Specific personal data (UU 27/2022 Pasal 4):</strong> {_e(d['specific'])}; "
                         "covered by a DPIA (Pasal 34).</li>")
        if d["notes"]:
            parts.append(f"<li><strong>Notes:</strong> {_e(d['notes'])}</li>")
        parts.append("</ul><table><tr><th>published column</th><th>source column</th><th>role</th><th>transform</th>"
                     "<th>description</th></tr>")
        for r in d["rows"]:
            parts.append(f"<tr><td><code>{_e(r.output)}</code></td><td><code>{_e(r.source)}</code></td><td>{_e(r.role)}</td>"
                         f"<td>{_e(r.transform)}</td><td>{_e(r.description)}</td></tr>")
        parts.append(f"</table><p>Withheld (not shared): {_e(', '.join(d['withheld']) or 'none')}</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _key_rows(history: list[dict] | None) -> list[tuple[str, str, str, str]]:
    return [(str(h.get("version")), str(h.get("key_id")), str(h.get("since") or "before the history was kept"),
             f"{h.get('first_dataset') or ''} {h.get('first_month') or ''}".strip()) for h in history or []]


def render(policy: Policy, party: str, key_history: list[dict] | None = None) -> tuple[str, str]:
    """(markdown, html) record of processing for ``party``; ``key_history`` (the catalog's
    ``key_versions``) says since when each token key version has been in use."""
    markdown, html = render_markdown(policy, party), render_html(policy, party)
    rows = _key_rows(key_history)
    if rows:
        markdown += ("\n## Token key versions\n\nA new version changes every token (key rotation).\n\n"
                     "| Key version | Key id | In use since | First release |\n|---|---|---|---|\n"
                     + "".join(f"| {v} | `{k}` | {s} | {f} |\n" for v, k, s, f in rows))
        table = "".join(f"<tr><td>{_e(v)}</td><td><code>{_e(k)}</code></td><td>{_e(s)}</td><td>{_e(f)}</td></tr>"
                        for v, k, s, f in rows)
        html = html.replace("</body></html>", "<h2>Token key versions</h2><p>A new version changes every token "
                            "(key rotation).</p><table><tr><th>Key version</th><th>Key id</th><th>In use since</th>"
                            f"<th>First release</th></tr>{table}</table></body></html>")
    return markdown, html
