"""Per-party catalog and data dictionary (``_catalog/`` in each party bucket).

- ``_catalog/catalog.json``: the datasets the party receives, their schemas, rows per month, the
  committed run/generation/sha256 of each month, the rows whose quasi-identifiers were withheld for
  privacy (``months.<YYYY-MM>.withheld``: {column: rows blanked}), the month's spreadsheet extract
  and the last update. Updated after each publish by compare-and-swap (conditional PUT, retried on
  conflict), so concurrent publishes of different datasets never lose each other's entries, and a
  late, older generation never overwrites a newer.
- ``_catalog/datapackage.json``: Frictionless Data Package (checked with ``frictionless`` in the
  tests); one resource per dataset the party receives or has received (the ``indicators`` too), per
  resource ``schema.fields`` with name, type, description (EN), ``description_id`` (Bahasa
  Indonesia), ``role``, ``transform``, ``constraints.enum`` for vocabulary columns
  (``sinergi.vocab.values``) and, for quasi-identifiers, the privacy note with the rows withheld per
  month; the partition columns ``year``/``month`` under ``sinergi.partition_fields``.
- ``_catalog/data_dictionary.md`` / ``.html``: the same, readable (Satu Data Indonesia-style
  variable metadata: name, type, definition EN/ID, role, transformation, allowed values), with a
  table of contents and the glossary of Indonesian terms (``config/glossary.yaml``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from importlib import resources

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
    "dictionary_fields", "glossary", "read_catalog", "rebuild_catalog", "render_html", "render_markdown",
    "update_catalog", "withheld_counts", "withheld_is_exact", "write_data_dictionary",
]
CATALOG_VERSION = 1

_ENTRY_KEYS = ("rows", "run_id", "generation", "sha256", "size", "object_key", "manifest_key", "committed_at", "schema_version",
               "key_version", "key_id")

ROLE_TEXT = {
    "direct_identifier": ("direct identifier (published only transformed)", "pengenal langsung (hanya dipublikasikan setelah ditransformasi)"),
    "quasi_identifier": ("quasi-identifier (counted in the k-anonymity check; may be blank where withheld for privacy)",
                         "pengenal semu (dihitung dalam uji k-anonimitas; dapat kosong bila dikosongkan demi privasi)"),
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
    "aggregate": ("aggregate of the party's own records (small counts suppressed)",
                  "agregat dari data milik pihak ini (angka kecil disamarkan)"),
}
#: What every quasi-identifier says about blanks (k-anonymity withholds values in rows of small groups).
WITHHELD_TEXT = (
    "May be blank where withheld for privacy: in rows whose combination of quasi-identifiers is shared by "
    "fewer than k persons, k-anonymity coarsens or empties this column (kab/kota, kecamatan, education); "
    "the rows blanked per month are in catalog.json (months.<YYYY-MM>.withheld; \"up to\" where only the "
    "k-anonymity steps before suppression were counted).",
    "Dapat kosong bila dikosongkan demi privasi: pada baris yang kombinasi pengenal semunya dimiliki kurang "
    "dari k orang, k-anonimitas mengasarkan atau mengosongkan kolom ini (kab/kota, kecamatan, pendidikan); "
    "jumlah baris yang dikosongkan per bulan ada di catalog.json (months.<YYYY-MM>.withheld; \"up to\" = paling "
    "banyak, bila hanya langkah k-anonimitas sebelum penghapusan baris yang dihitung).",
)
#: The partition columns every reader gets from the folder names (not stored in the files).
PARTITION_FIELDS = (
    {"name": "year", "type": "integer", "arrow_type": "int32",
     "description": "Year of the data month, from the folder name year=YYYY (not stored in the file); "
                    "read it as an integer (DuckDB hive_types, pyarrow/pandas partitioning schema, polars hive_schema)",
     "description_id": "Tahun bulan data, dari nama folder year=YYYY (tidak tersimpan di dalam file); "
                       "dibaca sebagai bilangan bulat"},
    {"name": "month", "type": "integer", "arrow_type": "int32",
     "description": "Month (1-12) of the data month, from the folder name month=MM (zero-padded in the path, "
                    "not stored in the file); read it as an integer, not the text '07'",
     "description_id": "Bulan (1-12) dari nama folder month=MM (dua digit di jalur, tidak tersimpan di dalam "
                       "file); dibaca sebagai bilangan bulat, bukan teks '07'"},
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _dataset_info(dataset: str, schema: pa.Schema | None = None) -> dict[str, str]:
    """Title and descriptions from the registry, else from the schema's own metadata (``indicators``)."""
    try:
        from sinergi import registry

        d = registry.get(dataset)
        return {"title": d.en, "description": d.en, "description_id": d.id, "counting_basis": d.counting_basis}
    except KeyError:
        meta = {k.decode(): v.decode() for k, v in ((schema.metadata if schema is not None else None) or {}).items()}
        if not meta.get("description"):
            return {}
        return {"title": meta["description"], "description": meta["description"],
                "description_id": meta.get("description_id", "")}


@cache
def glossary() -> list[dict[str, str]]:
    """The glossary of Indonesian terms (``config/glossary.yaml``: term, en, id)."""
    import yaml

    entries = yaml.safe_load(resources.files("sinergi.config").joinpath("glossary.yaml").read_text(encoding="utf-8"))
    for e in entries:
        if set(e) != {"term", "en", "id"} or not all(e.values()):
            raise ValueError(f"config/glossary.yaml: each entry needs term, en and id: {e}")
    return entries


def withheld_is_exact(manifest: Mapping) -> bool:
    """Whether the manifest's disclosure report counts the withheld rows itself (else the catalog's
    count is the k-anonymity fallback: an upper bound)."""
    share = manifest.get("share_report")
    return isinstance(share, Mapping) and isinstance((share.get("disclosure") or {}).get("withheld"), Mapping)


def withheld_counts(manifest: Mapping) -> dict[str, int] | None:
    """Rows whose value in a column was withheld for privacy, from a run manifest: the disclosure
    report's ``withheld`` when present, else the k-anonymity ``drop`` steps (rows blanked before any
    suppression, so an upper bound). None for a release without a share report (``indicators``)."""
    share = manifest.get("share_report")
    if not isinstance(share, Mapping):
        return None
    withheld = (share.get("disclosure") or {}).get("withheld")
    if isinstance(withheld, Mapping):
        return {str(c): int(n) for c, n in sorted(withheld.items())}
    out: dict[str, int] = {}
    for step in (share.get("k_anonymity") or manifest.get("k_anonymity") or {}).get("steps", []):
        columns, _, action = str(step.get("step", "")).rpartition(":")
        if action == "drop":
            for c in columns.split("+"):
                out[c] = out.get(c, 0) + int(step.get("rows_generalised") or 0)
    return dict(sorted(out.items()))


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
    # each entry's manifest: the schema actually published and the rows withheld for privacy
    manifests = {id(e): json.loads(store.get_bytes(bucket, e["manifest_key"])) for e in entries if e.get("manifest_key")}
    given = {ds: schema_fields(s) for ds, s in (schemas or {}).items()}
    infos = {ds: _dataset_info(ds, s) for ds, s in (schemas or {}).items()}

    def update(current: dict | None) -> dict | None:
        cat = json.loads(json.dumps(current)) if current else {
            "catalog_version": CATALOG_VERSION, "bucket": bucket, "party": party, "datasets": {},
        }
        changed = False
        for ds, fields in given.items():
            d = cat["datasets"].setdefault(ds, {"months": {}})
            for k, v in infos[ds].items():
                if d.get(k) != v:
                    d[k] = v
                    changed = True
            if d.get("schema") != fields:
                d["schema"] = fields
                changed = True
        for e in entries:
            ds, month = e["dataset"], e["month"]
            d = cat["datasets"].setdefault(ds, {"months": {}, **_dataset_info(ds)})
            manifest = manifests.get(id(e), {})
            old = d["months"].get(month)
            if old and int(old.get("generation", 0)) >= int(e.get("generation", 0)):
                continue  # a newer generation is already recorded: never go backwards
            if manifest.get("schema") and ds not in given and ("schema" not in d or month >= d.get("latest_month", "")):
                d["schema"] = manifest["schema"]  # the newest month's schema describes the dataset
            d["months"][month] = {k: e[k] for k in _ENTRY_KEYS if k in e}
            withheld = withheld_counts(manifest)
            if withheld is not None:  # never more than the month's rows (the fallback counts before suppression)
                rows = int(e.get("rows", 0))
                d["months"][month]["withheld"] = {c: min(n, rows) for c, n in withheld.items()}
                d["months"][month]["withheld_exact"] = withheld_is_exact(manifest)
            if manifest.get("suppressed_cells") is not None:
                d["months"][month]["suppressed_cells"] = int(manifest["suppressed_cells"])
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
def _frictionless_type(arrow_type: str) -> str:
    """Frictionless type of an Arrow type as ``str(pa.DataType)`` spells it (manifest/catalog schemas)."""
    t = arrow_type.lower()
    if t in ("string", "large_string", "utf8", "large_utf8"):
        return "string"
    if t.startswith("date"):
        return "date"
    if t.startswith(("int", "uint")):
        return "integer"
    if t in ("double", "float", "halffloat") or t.startswith("decimal"):
        return "number"
    if t == "bool":
        return "boolean"
    if t.startswith("timestamp"):
        return "datetime"
    return "any"


def _vocabulary(dataset: str, meta: Mapping[str, str], name: str) -> str | None:
    if meta.get("vocabulary"):
        return meta["vocabulary"]
    source = meta.get("source_column", name)  # policy renames keep the source
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


_FIELD_KEYS = ("name", "type", "nullable")


def dictionary_fields(dataset: str, schema: pa.Schema | list[dict], months: Mapping[str, Mapping] | None = None) -> list[dict]:
    """Frictionless field descriptors for a shared schema (an Arrow schema, or its JSON form as in the
    manifest and catalog); ``months`` (the catalog's) adds each quasi-identifier's rows withheld per month."""
    from sinergi import vocab

    fields = schema_fields(schema) if isinstance(schema, pa.Schema) else list(schema)
    fields_out = []
    for f in fields:
        meta = {k: str(v) for k, v in f.items() if k not in _FIELD_KEYS}
        transform = meta.get("transform") or "keep"
        fd: dict = {
            "name": f["name"],
            "type": _frictionless_type(str(f["type"])),
            "arrow_type": str(f["type"]),
            "description": meta.get("description", ""),
            "description_id": meta.get("description_id", ""),
            "role": meta.get("role", "attribute"),
            "transform": transform,
        }
        if fd["type"] == "date":
            fd["format"] = "default"  # ISO 8601 date
        voc = _vocabulary(dataset, meta, f["name"])
        if voc and transform.split(":")[0] == "keep":
            fd["constraints"] = {"enum": vocab.values(voc)}
            fd["vocabulary"] = voc
        if fd["role"] == "quasi_identifier":
            fd["withheld"], fd["withheld_id"] = WITHHELD_TEXT
            fd["withheld_per_month"] = {
                m: int(v["withheld"].get(f["name"], 0)) for m, v in (months or {}).items() if "withheld" in v
            }
        fields_out.append(fd)
    return fields_out


def _resource(bucket: str, ds: str, schema: pa.Schema | list[dict] | None, entry: Mapping) -> dict:
    info = {**_dataset_info(ds, schema if isinstance(schema, pa.Schema) else None),
            **{k: entry[k] for k in ("title", "description", "description_id") if entry.get(k)}}
    months = entry.get("months", {})
    if isinstance(schema, pa.Schema):
        version = (schema.metadata or {}).get(b"schema_version", b"1").decode()
    else:
        version = str(max((m.get("schema_version") for m in months.values() if m.get("schema_version")), default="1"))
    return {
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
            "partition_fields": [dict(f) for f in PARTITION_FIELDS],
            "rows_per_month": {m: int(v.get("rows", 0)) for m, v in months.items()},
            "withheld_per_month": {m: dict(v["withheld"]) for m, v in months.items() if v.get("withheld")},
            # months whose counts are upper bounds (k-anonymity steps before suppression, not the exact count)
            "withheld_upper_bound": sorted(m for m, v in months.items() if v.get("withheld") and not v.get("withheld_exact")),
            "extracts": {m: v["extract"]["key"] for m, v in months.items() if (v.get("extract") or {}).get("key")},
            "counting_basis": info.get("counting_basis"),
            "schema_version": version,
        },
        "schema": {"fields": dictionary_fields(ds, schema if schema is not None else [], months)},
    }


def build_datapackage(bucket: str, party: str, schemas: Mapping[str, pa.Schema], catalog: dict | None) -> dict:
    """The party's Data Package: every dataset of ``schemas`` (what the policy gives the party) and
    every dataset the catalog records as published (e.g. ``indicators``), in name order."""
    published = (catalog or {}).get("datasets", {})
    resources_ = []
    for ds in sorted(set(schemas) | {d for d, e in published.items() if e.get("schema")}):
        entry = published.get(ds) or {}
        resources_.append(_resource(bucket, ds, schemas.get(ds) or entry.get("schema"), entry))
    return {
        "profile": "data-package",
        "name": f"sinergi-{party}".lower().replace("_", "-"),
        "title": f"Sinergi data shared with {party} (bucket {bucket})",
        "description": "Pseudonymised, minimised monthly datasets of the KP2MI–Lampung data-sharing agreement.",
        "description_id": "Dataset bulanan terpseudonimisasi dan terminimisasi dari perjanjian berbagi data KP2MI–Lampung.",
        "created": _now(),
        "sinergi": {
            "party": party, "bucket": bucket,
            "glossary": glossary(),
            "withheld_note": {"en": WITHHELD_TEXT[0], "id": WITHHELD_TEXT[1]},
        },
        "resources": resources_,
    }


def _md_cell(text: object) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def _withheld_line(res: dict, f: dict) -> str:
    rows = res["sinergi"]["rows_per_month"]
    bound = set(res["sinergi"].get("withheld_upper_bound", ()))
    parts = [f"{m}: {'up to ' if m in bound else ''}{n:,} of {rows.get(m, 0):,} rows"
             for m, n in f.get("withheld_per_month", {}).items() if n]
    return "; ".join(parts)


def render_markdown(package: dict) -> str:
    resources_ = package["resources"]
    party = package["sinergi"]["party"]
    out = [
        f"# Data dictionary / Kamus data — {party}",
        "",
        package["description"],
        "",
        f"_{package['description_id']}_",
        "",
        f"Bucket: `{package['sinergi']['bucket']}` · generated {package['created']} · how to read the data / cara "
        "membaca data: [README.md](README.md) ([index.html](index.html))",
        "",
        "## Contents / Daftar isi",
        "",
        *[f"- [{r['name']}](#{r['name']}) — {r['title']}" for r in resources_],
        "- [Partition columns / Kolom partisi](#partition-columns)",
        "- [Withheld for privacy / Dikosongkan demi privasi](#withheld-for-privacy)",
        "- [Glossary / Glosarium](#glossary)",
        "",
    ]
    for res in resources_:
        s = res["sinergi"]
        out += [
            f'<a id="{res["name"]}"></a>',
            "",
            f"## {res['name']}",
            "",
            f"**EN:** {res['description']}  ",
            f"**ID:** {res['description_id']}",
            "",
            f"Read path / jalur baca: `{s['read_path']}` ({s['partitioning']}) · schema version {s['schema_version']}",
            "",
        ]
        if s["rows_per_month"]:
            out.append("Rows per month / baris per bulan: " + ", ".join(f"{m}: {n:,}" for m, n in s["rows_per_month"].items()))
        else:
            out.append("Not published yet / belum dipublikasikan.")
        out.append("")
        out += [
            "| Column / Kolom | Type / Tipe | Description (EN) | Deskripsi (ID) | Role / Peran | Transformation / Transformasi | Values / Nilai |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in s["partition_fields"]:
            out.append("| " + " | ".join(_md_cell(x) for x in (
                f"`{f['name']}`", f"{f['type']} ({f['arrow_type']})", f["description"], f["description_id"],
                "partition column / kolom partisi", "from the folder name / dari nama folder", "")) + " |")
        for f in res["schema"]["fields"]:
            role_en, role_id = ROLE_TEXT.get(f["role"], (f["role"], f["role"]))
            tr_en, tr_id = _transform_text(f["transform"])
            values = ", ".join(f"`{v}`" for v in f.get("constraints", {}).get("enum", []))
            role = f"{role_en} / {role_id}"
            withheld = _withheld_line(res, f)
            if withheld:
                role += f" — withheld for privacy / dikosongkan demi privasi: {withheld}"
            out.append("| " + " | ".join(_md_cell(x) for x in (
                f"`{f['name']}`", f"{f['type']} ({f['arrow_type']})", f["description"], f["description_id"],
                role, f"{tr_en} / {tr_id}", values,
            )) + " |")
        out.append("")
    out += [
        '<a id="partition-columns"></a>',
        "",
        "## Partition columns / Kolom partisi",
        "",
        "Every dataset is stored as one Parquet file per month under `<dataset>/year=YYYY/month=MM/`. Readers get "
        "`year` and `month` from the folder names as integer columns (they are not inside the files).",
        "",
        "_Setiap dataset disimpan sebagai satu file Parquet per bulan di `<dataset>/year=YYYY/month=MM/`. Kolom "
        "`year` dan `month` dibaca dari nama folder sebagai bilangan bulat (tidak tersimpan di dalam file)._",
        "",
        '<a id="withheld-for-privacy"></a>',
        "",
        "## Withheld for privacy / Dikosongkan demi privasi",
        "",
        WITHHELD_TEXT[0],
        "",
        f"_{WITHHELD_TEXT[1]}_",
        "",
        '<a id="glossary"></a>',
        "",
        "## Glossary / Glosarium",
        "",
        "| Term / Istilah | Meaning (EN) | Arti (ID) |",
        "|---|---|---|",
        *[f"| {_md_cell(g['term'])} | {_md_cell(g['en'])} | {_md_cell(g['id'])} |" for g in package["sinergi"]["glossary"]],
        "",
    ]
    return "\n".join(out)


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Data dictionary — {{ p.sinergi.party }}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;width:100%;margin-bottom:2em}
th,td{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;font-size:.9em}th{background:#f0f0f0}code{background:#f6f6f6}
.id{color:#555;font-style:italic}.part{background:#f7f7fb}.withheld{color:#8a4b00}</style></head><body>
<h1>Data dictionary / Kamus data — {{ p.sinergi.party }}</h1>
<p>{{ p.description }}</p><p class="id" lang="id">{{ p.description_id }}</p>
<p>Bucket <code>{{ p.sinergi.bucket }}</code> · generated {{ p.created }} · how to read the data / cara membaca data:
<a href="index.html">index.html</a> (<a href="README.md">README.md</a>)</p>
<nav><h2 id="contents">Contents / Daftar isi</h2><ul>
{% for r in p.resources %}<li><a href="#{{ r.name }}">{{ r.name }}</a> — {{ r.title }}</li>
{% endfor %}<li><a href="#partition-columns">Partition columns / Kolom partisi</a></li>
<li><a href="#withheld-for-privacy">Withheld for privacy / Dikosongkan demi privasi</a></li>
<li><a href="#glossary">Glossary / Glosarium</a></li></ul></nav>
{% for r in p.resources %}
<h2 id="{{ r.name }}">{{ r.name }}</h2>
<p>{{ r.description }}</p><p class="id" lang="id">{{ r.description_id }}</p>
<p>Read path / jalur baca: <code>{{ r.sinergi.read_path }}</code> ({{ r.sinergi.partitioning }}), schema version {{ r.sinergi.schema_version }}</p>
{% if r.sinergi.rows_per_month %}<p>Rows per month / baris per bulan:
{% for m, n in r.sinergi.rows_per_month.items() %}{{ m }}: {{ "{:,}".format(n) }}{% if not loop.last %}, {% endif %}{% endfor %}</p>
{% else %}<p>Not published yet / <span lang="id">belum dipublikasikan</span>.</p>{% endif %}
<table><thead><tr><th>Column / Kolom</th><th>Type / Tipe</th><th>Description (EN)</th><th>Deskripsi (ID)</th>
<th>Role / Peran</th><th>Transformation / Transformasi</th><th>Values / Nilai</th></tr></thead><tbody>
{% for f in r.sinergi.partition_fields %}<tr class="part"><td><code>{{ f.name }}</code></td><td>{{ f.type }} ({{ f.arrow_type }})</td>
<td>{{ f.description }}</td><td lang="id">{{ f.description_id }}</td><td>partition column<br><span class="id">kolom partisi</span></td>
<td>from the folder name<br><span class="id">dari nama folder</span></td><td></td></tr>
{% endfor %}{% for f in r.schema.fields %}<tr><td><code>{{ f.name }}</code></td><td>{{ f.type }} ({{ f.arrow_type }})</td>
<td>{{ f.description }}</td><td lang="id">{{ f.description_id }}</td><td>{{ roles(f.role)[0] }}<br><span class="id">{{ roles(f.role)[1] }}</span>
{% if withheld(r, f) %}<br><span class="withheld">withheld for privacy / dikosongkan demi privasi: {{ withheld(r, f) }}</span>{% endif %}</td>
<td>{{ transforms(f.transform)[0] }}<br><span class="id">{{ transforms(f.transform)[1] }}</span></td>
<td>{% for v in f.get('constraints', {}).get('enum', []) %}<code>{{ v }}</code>{% if not loop.last %}, {% endif %}{% endfor %}</td></tr>
{% endfor %}</tbody></table>
{% endfor %}
<h2 id="partition-columns">Partition columns / Kolom partisi</h2>
<p>Every dataset is stored as one Parquet file per month under <code>&lt;dataset&gt;/year=YYYY/month=MM/</code>. Readers get
<code>year</code> and <code>month</code> from the folder names as integer columns (they are not inside the files).</p>
<p class="id" lang="id">Setiap dataset disimpan sebagai satu file Parquet per bulan di <code>&lt;dataset&gt;/year=YYYY/month=MM/</code>.
Kolom <code>year</code> dan <code>month</code> dibaca dari nama folder sebagai bilangan bulat (tidak tersimpan di dalam file).</p>
<h2 id="withheld-for-privacy">Withheld for privacy / Dikosongkan demi privasi</h2>
<p>{{ p.sinergi.withheld_note.en }}</p><p class="id" lang="id">{{ p.sinergi.withheld_note.id }}</p>
<h2 id="glossary">Glossary / Glosarium</h2>
<table><thead><tr><th>Term / Istilah</th><th>Meaning (EN)</th><th>Arti (ID)</th></tr></thead><tbody>
{% for g in p.sinergi.glossary %}<tr><td>{{ g.term }}</td><td>{{ g.en }}</td><td lang="id">{{ g.id }}</td></tr>
{% endfor %}</tbody></table>
</body></html>
"""


@cache
def _html_template():
    import jinja2

    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(_HTML)


def render_html(package: dict) -> str:
    return _html_template().render(
        p=package,
        roles=lambda r: ROLE_TEXT.get(r, (r, r)),
        transforms=_transform_text,
        withheld=_withheld_line,
    )


def write_data_dictionary(
    store: ObjectStore, bucket: str, party: str, schemas: Mapping[str, pa.Schema], *, catalog: dict | None = None,
) -> dict[str, str]:
    """Write datapackage.json, data_dictionary.md and .html for the party: the datasets of ``schemas``
    and every dataset the catalog records (its schema from the catalog when not given).

    Row counts, withheld counts and object paths come from the catalog (``catalog``, else read). Returns
    {artefact: key}. Each artefact is one PUT (readers see the old or the new file); the dictionary
    is derived data, so last writer wins is correct here.
    """
    package = build_datapackage(bucket, party, schemas, catalog if catalog is not None else read_catalog(store, bucket))
    store.put_bytes(bucket, DATAPACKAGE_KEY, cas.dumps(package), content_type="application/json")
    store.put_bytes(bucket, DICTIONARY_MD_KEY, render_markdown(package).encode(), content_type="text/markdown; charset=utf-8")
    store.put_bytes(bucket, DICTIONARY_HTML_KEY, render_html(package).encode(), content_type="text/html; charset=utf-8")
    return {"datapackage": DATAPACKAGE_KEY, "markdown": DICTIONARY_MD_KEY, "html": DICTIONARY_HTML_KEY}
