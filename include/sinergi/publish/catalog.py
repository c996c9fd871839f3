"""Per-party catalog and data dictionary (``_catalog/`` in each party bucket).

- ``_catalog/catalog.json``: the datasets the party receives, their schemas, rows per month, the
  committed run/generation/sha256 of each month and the last update. Updated after each publish by
  compare-and-swap (conditional PUT, retried on conflict), so concurrent publishes of different
  datasets never lose each other's entries, and a late, older generation never overwrites a newer.
- ``_catalog/datapackage.json``: Frictionless Data Package; per resource ``schema.fields`` with
  name, type, description (EN), ``description_id`` (Bahasa Indonesia), ``role``, ``transform`` and
  ``constraints.enum`` for vocabulary columns (``sinergi.vocab.values``).
- ``_catalog/data_dictionary.md`` / ``.html``: the same, readable (Satu Data Indonesia-style
  variable metadata: name, type, definition EN/ID, role, transformation, allowed values).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import pyarrow as pa

from sinergi.layout import (
    CATALOG_KEY,
    DATAPACKAGE_KEY,
    DICTIONARY_HTML_KEY,
    DICTIONARY_MD_KEY,
    data_glob,
    pointer_key,
)
from sinergi.months import MonthError
from sinergi.objectstore import ObjectStore
from sinergi.publish import cas
from sinergi.publish.writer import schema_fields
from sinergi.timing import stage

# The catalog keys live in sinergi.layout; re-exported here for the catalog's readers.
__all__ = [
    "CATALOG_KEY", "DATAPACKAGE_KEY", "DICTIONARY_HTML_KEY", "DICTIONARY_MD_KEY", "build_datapackage",
    "dictionary_fields", "read_catalog", "rebuild_catalog", "render_html", "render_markdown",
    "update_catalog", "write_data_dictionary",
]
CATALOG_VERSION = 1

_ENTRY_KEYS = ("rows", "run_id", "generation", "sha256", "size", "object_key", "manifest_key", "committed_at", "schema_version",
               "key_version", "key_id")

ROLE_TEXT = {
    "direct_identifier": ("direct identifier (published only transformed)", "pengenal langsung (hanya dipublikasikan setelah ditransformasi)"),
    "quasi_identifier": ("quasi-identifier (counted in the k-anonymity check)", "pengenal semu (dihitung dalam uji k-anonimitas)"),
    "sensitive": ("sensitive attribute", "atribut sensitif"),
    "attribute": ("attribute", "atribut"),
}
TRANSFORM_TEXT = {
    "keep": ("published as validated", "dipublikasikan sesuai hasil validasi"),
    "token": (
        "pseudonym: keyed HMAC-SHA256 of the normalised value; the key is specific to this party and the kind "
        "of value (one 'person' key for every NIK column), so a person's token matches across this party's datasets",
        "pseudonim: HMAC-SHA256 berkunci dari nilai ternormalisasi; kuncinya khusus untuk pihak ini dan jenis nilainya "
        "(satu kunci 'person' untuk semua kolom NIK), sehingga token orang yang sama cocok di semua dataset pihak ini",
    ),
    "generalise": ("generalised to a coarser value", "digeneralisasi menjadi nilai yang lebih kasar"),
    "drop": ("not published", "tidak dipublikasikan"),
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _dataset_info(dataset: str) -> dict[str, str]:
    try:
        from sinergi import registry

        d = registry.get(dataset)
        return {"title": d.en, "description": d.en, "description_id": d.id, "counting_basis": d.counting_basis}
    except KeyError:
        return {}


# -- catalog ----------------------------------------------------------------------------------------
def _flatten(args: tuple) -> tuple[list[dict], list[str]]:
    entries, labels = [], []
    for a in args:
        if isinstance(a, str):
            labels.append(a)
        elif isinstance(a, Mapping):
            entries.append(dict(a))
        elif isinstance(a, Iterable):
            sub, sub_labels = _flatten(tuple(a))
            entries += sub
            labels += sub_labels
        else:
            raise TypeError(f"update_catalog: expected PublishResult dicts, got {type(a).__name__}")
    return entries, labels


def update_catalog(
    store: ObjectStore,
    bucket: str,
    party: str,
    *results: Mapping | Iterable[Mapping] | str,
    schemas: Mapping[str, pa.Schema] | None = None,
) -> dict:
    """Record publish results (``PublishResult`` dicts, or iterables of them) in the party's
    catalog; returns the catalog. Plain strings among ``results`` (a dataset name, a month) are
    checked against the results, for call sites that name them: ``update_catalog(s, b, p, ds, m, r)``.

    ``schemas`` (dataset → shared schema) refreshes the schema shown for a dataset; without it the
    catalog keeps the schema it has (or reads it from the entry's manifest on first sight).
    """
    with stage("catalog"):
        return _update_catalog(store, bucket, party, results, schemas)


def _update_catalog(store: ObjectStore, bucket: str, party: str, results: tuple,
                    schemas: Mapping[str, pa.Schema] | None) -> dict:
    entries, labels = _flatten(results)
    named = {e["dataset"] for e in entries} | {e["month"] for e in entries}
    if any(label not in named for label in labels):
        raise ValueError(f"update_catalog: {labels} do not match the results given ({sorted(named)})")
    for e in entries:
        if e.get("bucket", bucket) != bucket:
            raise ValueError(f"entry for bucket {e['bucket']!r} given to the catalog of {bucket!r}")
    manifest_schemas: dict[str, list] = {}
    for e in entries:  # first sight of a dataset without a given schema: take it from the manifest
        ds = e["dataset"]
        if (not schemas or ds not in schemas) and ds not in manifest_schemas and e.get("manifest_key"):
            manifest_schemas[ds] = json.loads(store.get_bytes(bucket, e["manifest_key"])).get("schema", [])
    given = {ds: schema_fields(s) for ds, s in (schemas or {}).items()}

    def update(current: dict | None) -> dict | None:
        cat = json.loads(json.dumps(current)) if current else {
            "catalog_version": CATALOG_VERSION, "bucket": bucket, "party": party, "datasets": {},
        }
        changed = False
        for ds, fields in given.items():
            d = cat["datasets"].setdefault(ds, {"months": {}, **_dataset_info(ds)})
            if d.get("schema") != fields:
                d["schema"] = fields
                changed = True
        for e in entries:
            ds, month = e["dataset"], e["month"]
            d = cat["datasets"].setdefault(ds, {"months": {}, **_dataset_info(ds)})
            if "schema" not in d and ds in manifest_schemas:
                d["schema"] = manifest_schemas[ds]
            old = d["months"].get(month)
            if old and int(old.get("generation", 0)) >= int(e.get("generation", 0)):
                continue  # a newer generation is already recorded: never go backwards
            d["months"][month] = {k: e[k] for k in _ENTRY_KEYS if k in e}
            d["months"] = dict(sorted(d["months"].items()))
            d["read_path"] = data_glob(bucket, ds)
            d["total_rows"] = sum(int(m.get("rows", 0)) for m in d["months"].values())
            d["last_update"] = max(filter(None, (m.get("committed_at") for m in d["months"].values())), default=None)
            d["latest_month"] = max(d["months"])
            _record_key_version(cat, e)
            changed = True
        if not changed and current is not None:
            return None
        cat["datasets"] = dict(sorted(cat["datasets"].items()))
        cat["updated_at"] = _now()
        return cat

    return cas.cas_update(store, bucket, CATALOG_KEY, update)


def _record_key_version(cat: dict, entry: Mapping) -> None:
    """``key_versions``: when each token key version (and key id) was first published to this party —
    the rotation record sinergi.secrets.verify_key_history checks and the record of processing shows."""
    if entry.get("key_version") is None:
        return
    history = cat.setdefault("key_versions", [])
    current = {"version": int(entry["key_version"]), "key_id": entry.get("key_id")}
    if not history or {k: history[-1].get(k) for k in current} != current:
        history.append({**current, "since": entry.get("committed_at") or _now(), "first_month": entry["month"],
                        "first_dataset": entry["dataset"]})


def read_catalog(store: ObjectStore, bucket: str) -> dict | None:
    return cas.read_json(store, bucket, CATALOG_KEY)[0]


def _is_pointer(key: str, dataset: str, month: str) -> bool:
    try:
        return key == pointer_key(dataset, month)
    except MonthError:  # not a month folder: not a publication record
        return False


def rebuild_catalog(store: ObjectStore, bucket: str, party: str) -> dict:
    """Re-derive every catalog entry from the committed month pointers (repair / audit)."""
    entries = []
    for info in store.list(bucket, "_manifests/"):
        parts = info.key.split("/")
        if len(parts) == 4 and parts[3] == "_current.json" and _is_pointer(info.key, parts[1], parts[2]):
            entries.append({**json.loads(store.get_bytes(bucket, info.key)), "bucket": bucket})
    return update_catalog(store, bucket, party, entries)


# -- data dictionary --------------------------------------------------------------------------------
_FRICTIONLESS_TYPES = (
    (pa.types.is_string, "string"), (pa.types.is_large_string, "string"), (pa.types.is_date, "date"),
    (pa.types.is_integer, "integer"), (pa.types.is_floating, "number"), (pa.types.is_boolean, "boolean"),
    (pa.types.is_timestamp, "datetime"), (pa.types.is_decimal, "number"),
)


def _frictionless_type(t: pa.DataType) -> str:
    for test, name in _FRICTIONLESS_TYPES:
        if test(t):
            return name
    return "any"


def _vocabulary(dataset: str, field: pa.Field) -> str | None:
    meta = field.metadata or {}
    if b"vocabulary" in meta:
        return meta[b"vocabulary"].decode()
    source = meta.get(b"source_column", field.name.encode()).decode()  # policy renames keep the source
    try:
        from sinergi import registry

        return registry.get(dataset).column(source).vocabulary
    except KeyError:
        return None


def _transform_text(transform: str) -> tuple[str, str]:
    kind, _, detail = transform.partition(":")
    en, id_ = TRANSFORM_TEXT.get(kind, (transform, transform))
    if detail:
        en, id_ = f"{en} ({detail.replace('_', ' ')})", f"{id_} ({detail.replace('_', ' ')})"
    return en, id_


def dictionary_fields(dataset: str, schema: pa.Schema) -> list[dict]:
    """Frictionless field descriptors for a shared schema."""
    from sinergi import vocab

    fields = []
    for f in schema:
        meta = {k.decode(): v.decode() for k, v in (f.metadata or {}).items()}
        transform = meta.get("transform") or "keep"
        fd: dict = {
            "name": f.name,
            "type": _frictionless_type(f.type),
            "arrow_type": str(f.type),
            "description": meta.get("description", ""),
            "description_id": meta.get("description_id", ""),
            "role": meta.get("role", "attribute"),
            "transform": transform,
        }
        if pa.types.is_date(f.type):
            fd["format"] = "default"  # ISO 8601 date
        voc = _vocabulary(dataset, f)
        if voc and transform.split(":")[0] == "keep":
            fd["constraints"] = {"enum": vocab.values(voc)}
            fd["vocabulary"] = voc
        fields.append(fd)
    return fields


def build_datapackage(bucket: str, party: str, schemas: Mapping[str, pa.Schema], catalog: dict | None) -> dict:
    resources = []
    for ds in sorted(schemas):
        info = _dataset_info(ds)
        months = ((catalog or {}).get("datasets", {}).get(ds) or {}).get("months", {})
        res = {
            "name": ds,
            "profile": "data-resource",
            "path": [m["object_key"] for m in months.values()] or f"{ds}/",
            "format": "parquet",
            "mediatype": "application/vnd.apache.parquet",
            "title": info.get("title", ds),
            "description": info.get("description", ""),
            "description_id": info.get("description_id", ""),
            "sinergi": {
                "read_path": data_glob(bucket, ds),
                "partitioning": "hive: year=YYYY/month=MM",
                "rows_per_month": {m: int(v.get("rows", 0)) for m, v in months.items()},
                "counting_basis": info.get("counting_basis"),
                "schema_version": (schemas[ds].metadata or {}).get(b"schema_version", b"1").decode(),
            },
            "schema": {"fields": dictionary_fields(ds, schemas[ds])},
        }
        resources.append(res)
    return {
        "profile": "data-package",
        "name": f"sinergi-{party}".lower().replace("_", "-"),
        "title": f"Sinergi data shared with {party} (bucket {bucket})",
        "description": "Pseudonymised, minimised monthly datasets of the KP2MI–Lampung data-sharing agreement.",
        "description_id": "Dataset bulanan terpseudonimisasi dan terminimisasi dari perjanjian berbagi data KP2MI–Lampung.",
        "created": _now(),
        "sinergi": {"party": party, "bucket": bucket},
        "resources": resources,
    }


def _md_cell(text: object) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def render_markdown(package: dict) -> str:
    out = [
        f"# Data dictionary / Kamus data — {package['sinergi']['party']}",
        "",
        package["description"],
        "",
        f"_{package['description_id']}_",
        "",
        f"Bucket: `{package['sinergi']['bucket']}` · generated {package['created']}",
        "",
    ]
    for res in package["resources"]:
        s = res["sinergi"]
        out += [
            f"## {res['name']}",
            "",
            f"**EN:** {res['description']}  ",
            f"**ID:** {res['description_id']}",
            "",
            f"Read path / jalur baca: `{s['read_path']}` ({s['partitioning']}) · schema version {s['schema_version']}",
            "",
        ]
        if s["rows_per_month"]:
            out.append("Rows per month / baris per bulan: " + ", ".join(f"{m}: {n}" for m, n in s["rows_per_month"].items()))
            out.append("")
        out += [
            "| Column / Kolom | Type / Tipe | Description (EN) | Deskripsi (ID) | Role / Peran | Transformation / Transformasi | Values / Nilai |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in res["schema"]["fields"]:
            role_en, role_id = ROLE_TEXT.get(f["role"], (f["role"], f["role"]))
            tr_en, tr_id = _transform_text(f["transform"])
            values = ", ".join(f"`{v}`" for v in f.get("constraints", {}).get("enum", []))
            out.append(
                "| " + " | ".join(_md_cell(x) for x in (
                    f"`{f['name']}`", f"{f['type']} ({f['arrow_type']})", f["description"], f["description_id"],
                    f"{role_en} / {role_id}", f"{tr_en} / {tr_id}", values,
                )) + " |"
            )
        out.append("")
    return "\n".join(out)


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Data dictionary — {{ p.sinergi.party }}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;width:100%;margin-bottom:2em}
th,td{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;font-size:.9em}th{background:#f0f0f0}code{background:#f6f6f6}
.id{color:#555;font-style:italic}</style></head><body>
<h1>Data dictionary / Kamus data — {{ p.sinergi.party }}</h1>
<p>{{ p.description }}</p><p class="id" lang="id">{{ p.description_id }}</p>
<p>Bucket <code>{{ p.sinergi.bucket }}</code> · generated {{ p.created }}</p>
{% for r in p.resources %}
<h2 id="{{ r.name }}">{{ r.name }}</h2>
<p>{{ r.description }}</p><p class="id" lang="id">{{ r.description_id }}</p>
<p>Read path / jalur baca: <code>{{ r.sinergi.read_path }}</code> ({{ r.sinergi.partitioning }}), schema version {{ r.sinergi.schema_version }}</p>
{% if r.sinergi.rows_per_month %}<p>Rows per month / baris per bulan:
{% for m, n in r.sinergi.rows_per_month.items() %}{{ m }}: {{ n }}{% if not loop.last %}, {% endif %}{% endfor %}</p>{% endif %}
<table><thead><tr><th>Column / Kolom</th><th>Type / Tipe</th><th>Description (EN)</th><th>Deskripsi (ID)</th>
<th>Role / Peran</th><th>Transformation / Transformasi</th><th>Values / Nilai</th></tr></thead><tbody>
{% for f in r.schema.fields %}<tr><td><code>{{ f.name }}</code></td><td>{{ f.type }} ({{ f.arrow_type }})</td>
<td>{{ f.description }}</td><td lang="id">{{ f.description_id }}</td><td>{{ roles(f.role)[0] }}<br><span class="id">{{ roles(f.role)[1] }}</span></td>
<td>{{ transforms(f.transform)[0] }}<br><span class="id">{{ transforms(f.transform)[1] }}</span></td>
<td>{% for v in f.get('constraints', {}).get('enum', []) %}<code>{{ v }}</code>{% if not loop.last %}, {% endif %}{% endfor %}</td></tr>
{% endfor %}</tbody></table>
{% endfor %}
</body></html>
"""


def render_html(package: dict) -> str:
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_HTML).render(
        p=package,
        roles=lambda r: ROLE_TEXT.get(r, (r, r)),
        transforms=_transform_text,
    )


def write_data_dictionary(
    store: ObjectStore, bucket: str, party: str, schemas: Mapping[str, pa.Schema]
) -> dict[str, str]:
    """Write datapackage.json, data_dictionary.md and .html for the party's shared schemas.

    Row counts and object paths come from the catalog (if present). Returns {artefact: key}.
    Each artefact is one PUT (readers see the old or the new file); the dictionary is derived
    data, so last writer wins is correct here.
    """
    package = build_datapackage(bucket, party, schemas, read_catalog(store, bucket))
    store.put_bytes(bucket, DATAPACKAGE_KEY, cas.dumps(package), content_type="application/json")
    store.put_bytes(bucket, DICTIONARY_MD_KEY, render_markdown(package).encode(), content_type="text/markdown; charset=utf-8")
    store.put_bytes(bucket, DICTIONARY_HTML_KEY, render_html(package).encode(), content_type="text/html; charset=utf-8")
    return {"datapackage": DATAPACKAGE_KEY, "markdown": DICTIONARY_MD_KEY, "html": DICTIONARY_HTML_KEY}
