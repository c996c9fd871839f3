"""Record of processing (RoPA) per party, generated from the sharing policy, the registry and the
measured risk of the latest releases.

``render(policy, party, measured=None) -> (markdown, html)``: one readable document per receiving
party listing every dataset it receives — purpose, MoU article and work-plan rows, row filter,
counting basis, the attacker model, each shared column with its transform, the columns withheld,
the quasi-identifiers and sensitive columns with k and l, how dates and record ids are published,
token keys (key version, never a key), the retention note — and who can re-identify what (a party
that owns a source system is not anonymous to itself). It prints the release plan
(``sinergi.policy.plan.release_plan``) that ``share()`` applies — the same output columns,
quasi-identifiers, k, l and generalisation steps, computed by the same code — so it cannot drift
from what is actually published.

Measured risk: the publisher regenerates the record after every publish, reading the disclosure
report of each dataset's latest committed manifest in the party's bucket
(:func:`latest_measurements`); a dataset not yet published shows the plan's guarantees and says
that the figures follow its first publication. It states no safeguard that no artefact backs: the
impact assessment (UU 27/2022 Pasal 34) is a *draft* generated next to it (``sinergi.dpia``) for the
data protection officers to complete, not an approved DPIA.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sinergi import registry
from sinergi.layout import DPIA_HTML_KEY, DPIA_MD_KEY
from sinergi.policy import Policy, release_plan
from sinergi.policy.plan import SYSTEM_COLUMNS

SYSTEM_COLUMN_NAMES = frozenset(c.name for c in SYSTEM_COLUMNS)

TRANSFORM_TEXT = {
    "drop": "not shared (dropped)",
    "keep": "shared as is",
}
GRAIN_TEXT = {"month": "month", "iso_week": "ISO week", "year": "year", "day": "exact day (justified)"}


@dataclass
class _Row:
    output: str
    source: str
    role: str
    transform: str
    description: str


def _transform_text(spec, out=None) -> str:
    if spec.transform == "token":
        return "pseudonymised: keyed HMAC-SHA256 token"
    if spec.transform == "record":
        if out is not None and not out.is_token:
            return f"record id of {out.system}, which this party runs: shared as is"
        system = out.system if out is not None else "its system"
        return (f"record id of {system}, which this party does not run: keyed HMAC-SHA256 token of this party "
                f"('record' key), so {system} cannot look it up")
    if spec.transform == "generalise":
        if spec.to == "birth_year":
            return "generalised to year of birth"
        if spec.to == "age_band":
            return f"generalised to {spec.band_width}-year age band at {spec.reference}"
        if spec.to in ("month", "iso_week", "year"):
            return f"generalised to the {GRAIN_TEXT[spec.to]} (the date shown is the period's first day)"
        return "generalised to region: dropped; kab/kota (and kecamatan) codes are shared as their own columns"
    if spec.transform == "keep" and spec.justification:
        return f"shared as is - justification: {spec.justification}"
    return TRANSFORM_TEXT[spec.transform]


# -- measured risk ----------------------------------------------------------------------------------
def latest_measurements(store, bucket: str, datasets: Iterable[str]) -> dict[str, dict]:
    """{dataset: {"month", "manifest_key", "rows_published", "disclosure"}} from each dataset's latest
    committed manifest in ``bucket`` (datasets never published, or published before disclosure
    reports existed, are left out)."""
    from sinergi.publish import read_latest

    out = {}
    for ds in datasets:
        pointer = read_latest(store, bucket, ds)
        if not pointer or not pointer.get("manifest_key"):
            continue
        manifest = json.loads(store.get_bytes(bucket, pointer["manifest_key"]))
        disclosure = (manifest.get("share_report") or {}).get("disclosure")
        if disclosure:
            out[ds] = {"month": manifest.get("month") or pointer.get("month"), "manifest_key": pointer["manifest_key"],
                       "rows_published": manifest.get("rows_published"), "disclosure": disclosure}
    return out


def _share(x) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def measured_lines(m: Mapping | None, lang: str = "en") -> list[str]:
    """The measured risk of one release in words (English or Bahasa Indonesia)."""
    if not m:
        return ["not yet published: the guarantees above hold for every release; the measured figures "
                "appear here after the first publication" if lang == "en" else
                "belum dipublikasikan: jaminan di atas berlaku untuk setiap rilis; angka terukur muncul "
                "setelah publikasi pertama"]
    d = m["disclosure"]
    withheld = ", ".join(f"{c} {n}" for c, n in d.get("withheld", {}).items()) or ("none" if lang == "en" else "tidak ada")
    if d.get("counted_over") is None:
        return [f"{m['month']}: {d.get('exempt') or 'no quasi-identifiers'}" if lang == "en" else
                f"{m['month']}: {d.get('exempt') or 'tanpa pengenal semu'}"]
    if lang == "en":
        return [
            f"month {m['month']} ({m.get('rows_published')} rows published; manifest `{m['manifest_key']}`)",
            f"k achieved {d.get('k_achieved')} (required {d.get('k_required')}, counted over {d.get('counted_over')}); "
            f"l achieved {d.get('l_achieved') if d.get('l_required') else '-'} (required {d.get('l_required') or '-'})",
            f"persons unique on the quasi-identifiers: {_share(d.get('persons_unique_before'))} before disclosure "
            f"control, {_share(d.get('persons_unique_after'))} after",
            f"rows suppressed {d.get('rows_suppressed')}; cells withheld (blanked) per column: {withheld}",
        ]
    return [
        f"bulan {m['month']} ({m.get('rows_published')} baris dipublikasikan; manifest `{m['manifest_key']}`)",
        f"k tercapai {d.get('k_achieved')} (disyaratkan {d.get('k_required')}, dihitung atas "
        f"{'orang' if d.get('counted_over') == 'persons' else 'baris'}); l tercapai "
        f"{d.get('l_achieved') if d.get('l_required') else '-'} (disyaratkan {d.get('l_required') or '-'})",
        f"orang yang unik pada pengenal semu: {_share(d.get('persons_unique_before'))} sebelum kendali "
        f"pengungkapan, {_share(d.get('persons_unique_after'))} sesudahnya",
        f"baris disupresi {d.get('rows_suppressed')}; sel yang dikosongkan per kolom: {withheld}",
    ]


# -- who can re-identify what -----------------------------------------------------------------------
def reidentification(policy: Policy, party_name: str) -> list[str]:
    """Who can re-identify whom in this party's releases (English)."""
    party = policy.party(party_name)
    own = sorted({registry.get(d).source.system for d in party.datasets} & set(party.owns))
    foreign = sorted({registry.get(d).source.system for d in party.datasets} - set(party.owns))
    others = [n for n in policy.parties if n != party_name]
    lines = []
    if own:
        lines.append(
            f"**{party.title} itself** runs {', '.join(own)}: the record ids of those systems reach it as they are, "
            "and it holds the source records with their NIKs, so it can re-identify every row of the datasets that "
            "come from its own systems (it is not anonymous to itself). Through its person tokens it can then link "
            "those persons to its rows of every other dataset it receives.")
    if foreign:
        owners = {s: policy.owners(s) for s in foreign}
        lines.append(
            f"**Records from {', '.join(foreign)}** ("
            + "; ".join(f"{s} run by {', '.join(o) or 'no recipient'}" for s, o in owners.items())
            + f") reach {party_name} with their record ids replaced by {party_name}'s own keyed tokens: neither "
            f"{party_name} nor the system's owner can look a row up by its id, and the person tokens never match "
            "another party's.")
    if others:
        lines.append(
            f"**The other party** ({', '.join(others)}) knows every column of the records of its own systems. Given "
            f"{party_name}'s release it could single out nobody on the quasi-identifiers (every class holds >= k "
            "persons), but it also knows the attributes that are not quasi-identifiers (statuses, channels) and could "
            "narrow a class with them: residual risk, contained by the bucket access (only this party's key reads "
            "this bucket) and MoU Pasal 10.")
    lines += [
        "**A neighbour or any outsider** who knows a person's quasi-identifiers finds a class of at least k persons "
        "(at most 1 in k chance of picking her row) and, where the class holds a harmful value of a sensitive column, "
        "at least l distinct values of it.",
        "**The pipeline operator** (who holds the master secret and the trusted zone) can re-identify every person: "
        "keys, landing and trusted zones are owner-only and never leave the pipeline.",
    ]
    return lines


# -- context ----------------------------------------------------------------------------------------
def _context(policy: Policy, party_name: str, measured: Mapping[str, dict] | None = None) -> dict:
    party = policy.party(party_name)
    measured = measured or {}
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
            rows.append(_Row(o.name if o else "-", col.name, col.role, f"{label}: {_transform_text(spec, o)}",
                             o.en if o else col.en))
        rows += [_Row(o.name, o.source, o.role, "keep: added by validation, shared with every party", o.en)
                 for o in plan.columns if o.source in SYSTEM_COLUMN_NAMES]
        datasets.append({
            "name": dname, "en": ds.en, "id": ds.id, "scope": ds.scope, "counting_basis": ds.counting_basis,
            "system": ds.source.system,
            "purpose": " ".join(entry.purpose.split()), "mou_article": entry.mou_article,
            "workplan": ", ".join(entry.workplan) or "-",
            "row_filter": entry.row_filter.describe() if entry.row_filter else "all rows",
            "rows": rows, "withheld": plan.columns_not_shared, "qis": list(plan.quasi_identifiers), "k": plan.k,
            "l": plan.l, "sensitive": list(plan.sensitive), "sensitive_values": plan.sensitive_values,
            "steps": plan.step_labels, "tokens": plan.token_fields, "notes": " ".join((entry.notes or "").split()),
            "specific": entry.specific_data, "attacker": plan.attacker_model, "counted_over": plan.counted_over,
            "no_person": plan.no_person, "dates": plan.date_grains, "records": plan.record_columns,
            "measured": measured.get(dname), "plan": plan,
        })
    return {
        "party": party, "policy": policy, "datasets": datasets,
        "retention": " ".join(policy.retention_for(party_name).split()),
        "agreement": policy.agreement, "reidentification": reidentification(policy, party_name),
        "specific": [d["name"] for d in datasets if d["specific"]],
    }


def _k_text(d: dict) -> str:
    if not d["qis"]:
        reason = f" - {d['no_person']}" if d["no_person"] else ""
        return f"k = {d['k']} over no quasi-identifiers (not applicable{reason})"
    return (f"k = {d['k']} over {', '.join(d['qis'])} (counted over {d['counted_over']}); further generalisation of "
            f"rows in smaller classes: {', '.join(d['steps']) or '-'} (such rows show a wider age band or an empty "
            "value); then suppression")


def _l_text(d: dict) -> str:
    if not d["sensitive"]:
        return "no sensitive column published"
    parts = []
    for c in d["sensitive"]:
        v = d["sensitive_values"].get(c)
        parts.append(f"{c} (harmful values: {', '.join(v)})" if v else f"{c} (every value)")
    return f"l = {d['l']} distinct values in every class holding a harmful value of: {'; '.join(parts)}"


def _dates_text(d: dict) -> str:
    return ", ".join(f"{c}: {GRAIN_TEXT[g]}" for c, g in d["dates"].items()) or "no date published"


def _records_text(d: dict) -> str:
    return "; ".join(f"{c}: {how}" for c, how in d["records"].items()) or "none"


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


SAFEGUARDS = [
    "Attacker model (policy `attacker_models`): a neighbour, relative, co-worker or recruiter who knows a person's "
    "quasi-identifiers (sex, age, home kab/kota and kecamatan, education, destination, job, P3MI, facility, "
    "institution, and roughly when each step happened), and the other party, which knows every column of the records "
    "of its own systems. Every published column such a person could know is a quasi-identifier of the release (the "
    "policy validator refuses a release that leaves one out).",
    "Direct identifiers are dropped or replaced by tokens: HMAC-SHA256 of the normalised value with a key derived "
    "(HKDF-SHA256) for this recipient and field from a master secret held by the pipeline; tokens (`t_` + 32 letters "
    "a-p encoding 128 bits, never a digit) match across this recipient's datasets and months and never match another "
    "recipient's.",
    "Record ids of a source system are shared as they are only with a party that runs that system; any other party "
    "receives its own keyed token of them (key field `record`, namespaced by the system), so links inside its own "
    "datasets keep working while the system's owner cannot look its ids up and the two parties' releases cannot be "
    "joined on them.",
    "Dates of a person's events are published as their month (or ISO week, or year) unless a written justification "
    "for the exact day is recorded below; the date shown is the first day of its period.",
    "k-anonymity over persons: every class of the quasi-identifiers holds at least k distinct persons (not rows). "
    "l-diversity: a class holding a harmful value of a sensitive column (health result, complaint type, return "
    "status, condition on arrival) holds at least l distinct values of it. Rows in failing classes are generalised "
    "further and, failing that, suppressed; the manifest reports k and l achieved, the share of persons unique before "
    "and after, rows suppressed and cells withheld per column.",
    "Leak guard: every release is scanned for raw NIK, phone, passport and e-mail patterns and for values of dropped "
    "or tokenised identifier columns (including record ids sent as tokens) before it is published.",
    "Limits (residual risk): k and l hold per release and month; a recipient that links its own releases by token "
    "combines their quasi-identifiers (composition), and the owner of a source system also knows attributes that are "
    "not quasi-identifiers. Pseudonymised data remains personal data (UU 27/2022); it is not opened to the public "
    "(MoU Pasal 10 ayat 2).",
]


def _dpia_text(c: dict) -> str:
    specific = ", ".join(f"`{n}`" for n in c["specific"]) or "none"
    return ("**No impact assessment has been approved for these releases.** UU 27/2022 Pasal 34 requires one for "
            f"processing of specific personal data (here: {specific}), at large scale, and for matching datasets, "
            f"which the person tokens do. A draft generated from this policy and the measured risk is published "
            f"next to this record (`{DPIA_MD_KEY}`, `{DPIA_HTML_KEY}`) for the data protection officers of both "
            "parties to complete and sign.")


def render_markdown(policy: Policy, party: str, measured: Mapping[str, dict] | None = None) -> str:
    c = _context(policy, party, measured)
    p, a = c["party"], c["agreement"]
    out = [
        f"# Record of processing — {p.title} (`{p.name}`)",
        "",
        "_Generated from the sharing policy (`config/policy.yaml`, version "
        f"{policy.version}) and the latest manifests of this bucket; do not edit by hand._",
        "",
        "## Recipient",
        "",
        f"- **Party:** {p.pihak} — {' '.join(p.organisation.split()) or p.title}",
        f"- **Liaison:** {p.contact or '-'}",
        f"- **Bucket:** `{p.bucket}` (read-only key `{p.credentials}`)",
        f"- **Source systems it runs:** {', '.join(p.owns) or 'none'}",
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
        *[f"- {s}" for s in SAFEGUARDS],
        f"- Key version {policy.key_version} (the manifest records the key fingerprint id, never the key).",
        "",
        "## Who can re-identify what",
        "",
        *[f"- {line}" for line in c["reidentification"]],
        "",
        "## Impact assessment",
        "",
        _dpia_text(c),
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
            f"- **Attacker model:** {d['attacker'] or '-'}",
            f"- **k-anonymity:** {_k_text(d)}",
            f"- **l-diversity:** {_l_text(d)}",
            f"- **Dates:** {_dates_text(d)}",
            f"- **Record ids:** {_records_text(d)}",
            f"- **Token keys:** {', '.join(d['tokens']) or 'none'}",
            "- **Measured risk:** " + "; ".join(measured_lines(d["measured"])),
        ]
        if d["specific"]:
            out.append(f"- **Specific personal data (UU 27/2022 Pasal 4):** {d['specific']}; an impact assessment "
                       "is required (Pasal 34): see the draft named above.")
        if d["notes"]:
            out.append(f"- **Notes:** {d['notes']}")
        out += ["", "| published column | source column | role | transform | description |", "|---|---|---|---|---|"]
        for r in d["rows"]:
            out.append(f"| `{r.output}` | `{r.source}` | {r.role} | {_md_escape(r.transform)} | {_md_escape(r.description)} |")
        out += ["", f"Withheld (not shared): {', '.join(f'`{w}`' for w in d['withheld']) or 'none'}"]
    return "\n".join(out) + "\n"


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _md_inline(text: str) -> str:
    """Escape, then render the two inline marks the shared texts use (``**bold**`` and backticks)."""
    import re

    t = _e(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", t)


def render_html(policy: Policy, party: str, measured: Mapping[str, dict] | None = None) -> str:
    c = _context(policy, party, measured)
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
        f"<p><em>Generated from the sharing policy (config/policy.yaml, version {policy.version}) and the latest "
        "manifests of this bucket; do not edit by hand.</em></p>",
        "<h2>Recipient</h2><ul>",
        f"<li><strong>Party:</strong> {_e(p.pihak)} — {_e(' '.join(p.organisation.split()) or p.title)}</li>",
        f"<li><strong>Liaison:</strong> {_e(p.contact or '-')}</li>",
        f"<li><strong>Bucket:</strong> <code>{_e(p.bucket)}</code> (read-only key <code>{_e(p.credentials)}</code>)</li>",
        f"<li><strong>Source systems it runs:</strong> {_e(', '.join(p.owns) or 'none')}</li>",
        "<li>The recipient is responsible for the confidentiality, use and security of what it receives (MoU Pasal 10).</li>",
        "</ul><h2>Legal basis</h2><ul>",
        f"<li>{_e(' '.join(a.title.split()))} — Nomor {_e(' / '.join(a.numbers))}, signed {_e(a.signed)}, "
        f"valid {a.valid_years} years.</li>",
        *[f"<li>{_e(item)}</li>" for item in a.legal],
        "</ul><h2>Safeguards</h2><ul>",
        *[f"<li>{_md_inline(s)}</li>" for s in SAFEGUARDS],
        f"<li>Key version {policy.key_version} (the manifest records the key fingerprint id, never the key).</li>",
        "</ul><h2>Who can re-identify what</h2><ul>",
        *[f"<li>{_md_inline(line)}</li>" for line in c["reidentification"]],
        f"</ul><h2>Impact assessment</h2><p>{_md_inline(_dpia_text(c))}</p>",
        f"<h2>Retention</h2><p>{_e(c['retention'])}</p>",
        "<h2>Datasets</h2><table><tr><th>dataset</th><th>purpose</th><th>MoU basis</th><th>work-plan rows</th>"
        "<th>rows shared</th></tr>",
    ]
    for d in c["datasets"]:
        parts.append(f"<tr><td><code>{_e(d['name'])}</code></td><td>{_e(d['purpose'])}</td><td>{_e(d['mou_article'])}</td>"
                     f"<td>{_e(d['workplan'])}</td><td>{_e(d['row_filter'])}</td></tr>")
    parts.append("</table>")
    for d in c["datasets"]:
        parts += [
            f'<h3 id="{_e(d["name"])}"><code>{_e(d["name"])}</code> — {_e(d["en"])}</h3>',
            f"<p><em>{_e(d['id'])}</em></p><ul>",
            f"<li><strong>Purpose:</strong> {_e(d['purpose'])}</li>",
            f"<li><strong>Basis:</strong> {_e(d['mou_article'])} (work-plan rows: {_e(d['workplan'])})</li>",
            f"<li><strong>Rows shared:</strong> {_e(d['row_filter'])}</li>",
            f"<li><strong>Counting basis:</strong> {_e(d['counting_basis'])}</li>",
            f"<li><strong>Attacker model:</strong> {_e(d['attacker'] or '-')}</li>",
            f"<li><strong>k-anonymity:</strong> {_e(_k_text(d))}</li>",
            f"<li><strong>l-diversity:</strong> {_e(_l_text(d))}</li>",
            f"<li><strong>Dates:</strong> {_e(_dates_text(d))}</li>",
            f"<li><strong>Record ids:</strong> {_e(_records_text(d))}</li>",
            f"<li><strong>Token keys:</strong> {_e(', '.join(d['tokens']) or 'none')}</li>",
            f"<li><strong>Measured risk:</strong> {_md_inline('; '.join(measured_lines(d['measured'])))}</li>",
        ]
        if d["specific"]:
            parts.append(f"<li><strong>Specific personal data (UU 27/2022 Pasal 4):</strong> {_e(d['specific'])}; "
                         "an impact assessment is required (Pasal 34): see the draft named above.</li>")
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


def render(policy: Policy, party: str, measured: Mapping[str, dict] | None = None,
           key_history: list[dict] | None = None) -> tuple[str, str]:
    """(markdown, html) record of processing for ``party`` (``measured``: :func:`latest_measurements`;
    ``key_history``: the catalog's ``key_versions``, since when each token key version is in use)."""
    markdown, html = render_markdown(policy, party, measured), render_html(policy, party, measured)
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
