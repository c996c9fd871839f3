"""The reading kit in each party bucket, refreshed after every publish.

- ``_catalog/README.md`` and ``_catalog/index.html`` (the same text, in English and Bahasa
  Indonesia): what the bucket holds, and how to read any month of any dataset with the party's key
  file in DuckDB, pandas, polars or a spreadsheet. The snippets are ``sinergi.publish.readers``'
  (the same ``sinergi summary`` prints); they read the key file, so the kit holds no secret.
- ``_extracts/<dataset>/<YYYY-MM>.xlsx``: the spreadsheet route. Each published month of each
  dataset, as the party received it plus integer ``year`` and ``month`` columns, with an ``about``
  sheet (source object and checksum, column descriptions). An analyst with only a spreadsheet
  downloads it with the same key (any S3 client, or the snippet); DuckDB's ``COPY … TO 'x.xlsx'``
  needs the ``excel`` extension, which is not installable offline, and a CSV loses the leading zeros
  of codes. Months over :data:`EXTRACT_MAX_ROWS` rows get none (the catalog says why). Extracts live
  under ``_*``, outside every read glob; the catalog records each one with the sha256 of the Parquet
  it was made from, so a re-published month gets a new extract and an unchanged one is not redone.
- the data dictionary (``sinergi.publish.catalog``), for every dataset of the policy and every
  dataset published (the ``indicators`` included).

:func:`write_party_kit` writes all three; the pipeline's publish step and the indicators run call it
after updating the catalog. Everything here is derived from the catalog and the policy, so any
writer regenerates the same kit, and the last one wins.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Mapping
from functools import cache

import pyarrow as pa
import pyarrow.parquet as pq

from sinergi.layout import CATALOG_KEY, README_HTML_KEY, README_KEY, data_glob, extract_key, extracts_prefix
from sinergi.months import Month
from sinergi.objectstore import ObjectStore
from sinergi.publish import cas
from sinergi.publish.catalog import WITHHELD_TEXT, glossary, update_catalog, write_data_dictionary
from sinergi.publish.readers import ENGINES, READER_REQUIREMENTS, read_snippet
from sinergi.publish.xlsx import write_xlsx
from sinergi.timing import stage

log = logging.getLogger(__name__)

#: Months larger than this get no spreadsheet extract (a spreadsheet of more rows is slow to open and
#: filter; Excel's hard limit is 1,048,575 rows): read them with DuckDB, pandas or polars.
EXTRACT_MAX_ROWS = 250_000
MAX_ROUNDS = 5


# -- spreadsheet extracts ---------------------------------------------------------------------------
def extract_table(table: pa.Table, month: Month | str) -> pa.Table:
    """The party's month as the extract holds it: its columns, then ``year`` and ``month`` (int32)."""
    m = Month.of(month)
    n = table.num_rows
    return (table.append_column("year", pa.array([m.year] * n, pa.int32()))
                 .append_column("month", pa.array([m.month] * n, pa.int32())))


def _about(dataset: str, month: str, entry: Mapping, schema: list[dict] | None) -> list[tuple[str, str]]:
    lines = [
        ("dataset", dataset), ("month / bulan", month), ("rows / baris", f"{int(entry.get('rows', 0)):,}"),
        ("source / sumber", entry.get("object_key", "")), ("sha256 of the source Parquet", entry.get("sha256", "")),
        ("run", str(entry.get("run_id", ""))), ("generation", str(entry.get("generation", ""))),
        ("year, month", "the data month as integers / bulan data sebagai bilangan bulat"),
        ("blank cells / sel kosong", f"{WITHHELD_TEXT[0]} / {WITHHELD_TEXT[1]}"),
    ]
    for f in schema or []:
        lines.append((f["name"], f"{f.get('description', '')} / {f.get('description_id', '')}"))
    return lines


def _extract_state(entry: Mapping) -> str:
    """"done" (extract of this very object), "skip" (recorded as too large) or "todo"."""
    ex = entry.get("extract") or {}
    if ex.get("source_sha256") != entry.get("sha256"):
        return "todo"
    return "done" if ex.get("key") else "skip"


def write_extracts(store: ObjectStore, bucket: str, catalog: Mapping | None) -> list[str]:
    """Write the missing or stale XLSX extracts of the catalog's months; returns the keys written."""
    written: list[str] = []
    records: dict[tuple[str, str], dict] = {}
    for ds, d in sorted(((catalog or {}).get("datasets") or {}).items()):
        for month, entry in sorted(d.get("months", {}).items()):
            if _extract_state(entry) != "todo" or not entry.get("object_key") or not entry.get("sha256"):
                continue
            rows = int(entry.get("rows", 0))
            if rows > EXTRACT_MAX_ROWS:
                records[(ds, month)] = {"source_sha256": entry["sha256"], "key": None,
                                        "reason": f"{rows:,} rows: more than a spreadsheet extract holds "
                                                  f"({EXTRACT_MAX_ROWS:,}); read it with DuckDB, pandas or polars"}
                continue
            data = store.get_bytes(bucket, entry["object_key"])
            if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                continue  # re-published meanwhile: the catalog update that follows brings the new month here
            with stage("spreadsheet extract"):
                table = extract_table(pq.read_table(io.BytesIO(data)), month)
                xlsx = write_xlsx(table, sheet=f"{ds} {month}", about=_about(ds, month, entry, d.get("schema")))
            key = extract_key(ds, month)
            store.put_bytes(bucket, key, xlsx,
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            records[(ds, month)] = {"source_sha256": entry["sha256"], "key": key, "rows": table.num_rows,
                                    "bytes": len(xlsx)}
            written.append(key)
    if records:
        _record_extracts(store, bucket, records)
    return written


def _record_extracts(store: ObjectStore, bucket: str, records: Mapping[tuple[str, str], dict]) -> None:
    """Note each extract in its catalog month (compare-and-swap), only where the month still holds the
    object the extract was made from."""
    def update(current: dict | None) -> dict | None:
        if current is None:
            return None
        cat = json.loads(json.dumps(current))
        changed = False
        for (ds, month), rec in records.items():
            entry = cat.get("datasets", {}).get(ds, {}).get("months", {}).get(month)
            if entry and entry.get("sha256") == rec["source_sha256"] and entry.get("extract") != rec:
                entry["extract"] = rec
                changed = True
        return cat if changed else None

    cas.cas_update(store, bucket, CATALOG_KEY, update)


# -- README.md / index.html -------------------------------------------------------------------------
def _example(datasets: list[dict]) -> str | None:
    published = [d["name"] for d in datasets if d["months"]]
    for preferred in ("placements", "indicators"):
        if preferred in published:
            return preferred
    return published[0] if published else (datasets[0]["name"] if datasets else None)


def kit_model(bucket: str, party: str, catalog: Mapping | None, title: str = "") -> dict:
    """What the README and index.html say, from the catalog (the same for every writer)."""
    datasets = []
    for ds, d in sorted(((catalog or {}).get("datasets") or {}).items()):
        months = d.get("months", {})
        datasets.append({
            "name": ds, "title": d.get("title") or ds, "description_id": d.get("description_id", ""),
            "months": sorted(months), "rows": sum(int(m.get("rows", 0)) for m in months.values()),
            "read_path": data_glob(bucket, ds),
            "extracts": [m for m, e in sorted(months.items()) if (e.get("extract") or {}).get("key")],
        })
    example = _example(datasets)
    key_file = f"{party}.env"
    return {
        "party": party, "title": title or party, "bucket": bucket, "key_file": key_file,
        "updated": (catalog or {}).get("updated_at", ""), "datasets": datasets, "example": example,
        "snippets": {e: read_snippet(party, bucket, example, engine=e, credentials_path=key_file)
                     for e in ENGINES} if example else {},
        "requirements": " ".join(READER_REQUIREMENTS),
        "extracts_prefix": extracts_prefix(example or "<dataset>"),
        "glossary": glossary(),
        "links": [("data_dictionary.html", "data dictionary (every column, EN/ID) / kamus data"),
                  ("datapackage.json", "Frictionless Data Package (machine-readable dictionary)"),
                  ("catalog.json", "rows per month, checksums, rows withheld for privacy / baris per bulan"),
                  ("record_of_processing.html", "record of processing / catatan pemrosesan data pribadi")],
        "reports": f"_reports/<YYYY-MM>/laporan-{party}-<YYYY-MM>.html",
    }


_SECTIONS = [
    ("contents", "Contents", "Daftar isi"),
    ("datasets", "What is in this bucket", "Isi bucket ini"),
    ("setup", "Set up once", "Persiapan (sekali saja)"),
    ("duckdb", "DuckDB", "DuckDB"),
    ("pandas", "pandas", "pandas"),
    ("polars", "polars", "polars"),
    ("spreadsheet", "Spreadsheet", "Lembar kerja"),
    ("year-month", "The year and month columns", "Kolom year dan month"),
    ("documents", "Other documents", "Dokumen lain"),
    ("glossary", "Glossary", "Glosarium"),
]

_MD = """# Sinergi — reading kit / panduan membaca data: {{ m.title }}

This bucket, `s3://{{ m.bucket }}`, holds the data the KP2MI–Lampung data-sharing agreement gives to
**{{ m.title }}**: pseudonymised, minimised, one Parquet file per month of each dataset. Read it with the
key file you received, `{{ m.key_file }}` (access key, secret and endpoint). The key is secret: keep it out of
e-mail, chats and code repositories. Nothing in this kit contains it; the code below reads it from the file.

_Bucket ini, `s3://{{ m.bucket }}`, berisi data yang dibagikan perjanjian KP2MI–Lampung kepada **{{ m.title }}**:
terpseudonimisasi, terminimisasi, satu file Parquet per bulan untuk setiap dataset. Bacalah dengan file kunci
yang Anda terima, `{{ m.key_file }}`. Kunci itu rahasia: jangan dikirim lewat surel, obrolan, atau repositori
kode. Panduan ini tidak memuat kunci; kode di bawah membacanya dari file tersebut._

Catalog updated / katalog diperbarui: {{ m.updated }}

## Contents / Daftar isi
{% for id, en, in_ in sections[1:] %}
- [{{ en }}{% if in_ != en %} / {{ in_ }}{% endif %}](#{{ id }}){% endfor %}

<a id="datasets"></a>
## What is in this bucket / Isi bucket ini

| Dataset | Description / Deskripsi | Months / Bulan | Rows / Baris | Spreadsheet extracts / Ekstrak XLSX |
|---|---|---|---|---|
{% for d in m.datasets %}| `{{ d.name }}` | {{ d.title }}{% if d.description_id %} / _{{ d.description_id }}_{% endif %} | {{ d.months|join(", ") or "—" }} | {{ "{:,}".format(d.rows) }} | {{ d.extracts|join(", ") or "—" }} |
{% endfor %}
Each month is one file, `<dataset>/year=YYYY/month=MM/part-0.parquet`; read every month at once with
`s3://{{ m.bucket }}/<dataset>/**/*.parquet`. Everything else (catalog, manifests, extracts, reports) lives
under folders starting with `_`, which that path never matches.

_Setiap bulan adalah satu file, `<dataset>/year=YYYY/month=MM/part-0.parquet`; semua bulan dibaca sekaligus
dengan `s3://{{ m.bucket }}/<dataset>/**/*.parquet`. Selebihnya (katalog, manifest, ekstrak, laporan) ada di
folder berawalan `_`, yang tidak pernah tercakup jalur itu._

<a id="setup"></a>
## Set up once / Persiapan (sekali saja)

```bash
pip install {{ m.requirements }}
```

or, from the Sinergi repository, `pip install "sinergi[reader]"` (the same packages; no Airflow). Put
`{{ m.key_file }}` in the folder you work in. The examples read `{{ m.example }}`: for another dataset
replace its name in the path.

_atau, dari repositori Sinergi, `pip install "sinergi[reader]"` (paket yang sama, tanpa Airflow). Simpan
`{{ m.key_file }}` di folder kerja Anda. Contoh di bawah membaca `{{ m.example }}`: untuk dataset lain ganti
namanya pada jalur._
{% for engine, en, in_ in [("duckdb", "DuckDB", "DuckDB"), ("pandas", "pandas", "pandas"), ("polars", "polars", "polars")] %}
<a id="{{ engine }}"></a>
## {{ en }}

```python
{{ m.snippets[engine] }}```
{% if engine == "polars" %}
`hive_partitioning=True` matters: on a `**` glob polars otherwise drops `year` and `month` without a word.

_`hive_partitioning=True` penting: tanpanya polars diam-diam membuang kolom `year` dan `month`._
{% endif %}{% endfor %}
<a id="spreadsheet"></a>
## Spreadsheet / Lembar kerja (Excel, LibreOffice, Google Sheets)

Every month of every dataset is also a spreadsheet: `_extracts/<dataset>/<YYYY-MM>.xlsx`, the same columns
plus `year` and `month`, codes kept as text (leading zeros stay), and an `about` sheet describing each column.
Download them with any S3 client and your key (endpoint from `{{ m.key_file }}`, path-style addressing), e.g.
`aws s3 cp --recursive s3://{{ m.bucket }}/{{ m.extracts_prefix }} . --endpoint-url <AWS_ENDPOINT_URL>`,
or with this script:

_Setiap bulan setiap dataset juga tersedia sebagai lembar kerja: `_extracts/<dataset>/<YYYY-MM>.xlsx`, kolom yang
sama ditambah `year` dan `month`, kode tetap teks (angka nol di depan tidak hilang), dan lembar `about` yang
menjelaskan setiap kolom. Unduh dengan klien S3 apa pun memakai kunci Anda, atau dengan skrip ini:_

```python
{{ m.snippets.spreadsheet }}```

A month larger than {{ "{:,}".format(max_rows) }} rows has no extract: read it with DuckDB, pandas or polars, or write
the part you need to a file you open in a spreadsheet, e.g. in DuckDB `COPY (SELECT …) TO 'part.csv' (HEADER)`
(mark code columns as text when you import a CSV).

_Bulan dengan lebih dari {{ "{:,}".format(max_rows) }} baris tidak punya ekstrak: baca dengan DuckDB, pandas, atau polars._

<a id="year-month"></a>
## The year and month columns / Kolom year dan month

`year` and `month` come from the folder names (`year=2025/month=07`), not from inside the files. Every
example above reads them as integers (DuckDB `hive_types`, a pyarrow partitioning schema, polars
`hive_schema`), so `WHERE month = 7` works and months sort correctly; without that, DuckDB reads `month` as
the text `'07'`.

_`year` dan `month` berasal dari nama folder, bukan dari isi file. Semua contoh di atas membacanya sebagai
bilangan bulat, sehingga `WHERE month = 7` berfungsi dan urutan bulan benar._

Blank quasi-identifiers / pengenal semu yang kosong: {{ withheld[0] }}

_{{ withheld[1] }}_

<a id="documents"></a>
## Other documents / Dokumen lain

{% for href, text in m.links %}- [`_catalog/{{ href }}`]({{ href }}) — {{ text }}
{% endfor %}- `{{ m.reports }}` — monthly indicators report / laporan bulanan indikator

<a id="glossary"></a>
## Glossary / Glosarium

| Term / Istilah | Meaning (EN) | Arti (ID) |
|---|---|---|
{% for g in m.glossary %}| {{ g.term }} | {{ g.en }} | {{ g.id }} |
{% endfor %}"""

_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sinergi reading kit — {{ m.title }}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;line-height:1.45}
table{border-collapse:collapse;width:100%;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;
font-size:.92em;text-align:left}th{background:#f0f0f0}code{background:#f4f4f4}pre{background:#f4f4f4;padding:.8em;
overflow-x:auto;font-size:.85em}.id{color:#555;font-style:italic}</style></head><body>
<h1>Sinergi — reading kit / <span lang="id">panduan membaca data</span>: {{ m.title }}</h1>
<p>This bucket, <code>s3://{{ m.bucket }}</code>, holds the data the KP2MI–Lampung data-sharing agreement gives to
<strong>{{ m.title }}</strong>: pseudonymised, minimised, one Parquet file per month of each dataset. Read it with the
key file you received, <code>{{ m.key_file }}</code>. The key is secret: keep it out of e-mail, chats and code
repositories. Nothing in this kit contains it; the code below reads it from the file.</p>
<p class="id" lang="id">Bucket ini berisi data yang dibagikan perjanjian KP2MI–Lampung kepada <strong>{{ m.title }}</strong>:
terpseudonimisasi, terminimisasi, satu file Parquet per bulan untuk setiap dataset. Bacalah dengan file kunci yang Anda
terima, <code>{{ m.key_file }}</code>. Kunci itu rahasia; panduan ini tidak memuatnya.</p>
<p>Catalog updated / katalog diperbarui: {{ m.updated }}</p>
<nav><h2 id="contents">Contents / Daftar isi</h2><ul>
{% for id, en, in_ in sections[1:] %}<li><a href="#{{ id }}">{{ en }}{% if in_ != en %} / <span lang="id">{{ in_ }}</span>{% endif %}</a></li>
{% endfor %}</ul></nav>
<h2 id="datasets">What is in this bucket / <span lang="id">Isi bucket ini</span></h2>
<table><thead><tr><th>Dataset</th><th>Description / Deskripsi</th><th>Months / Bulan</th><th>Rows / Baris</th>
<th>Spreadsheet extracts / Ekstrak XLSX</th></tr></thead><tbody>
{% for d in m.datasets %}<tr><td><code>{{ d.name }}</code></td><td>{{ d.title }}<br><span class="id" lang="id">{{ d.description_id }}</span></td>
<td>{{ d.months|join(", ") or "—" }}</td><td>{{ "{:,}".format(d.rows) }}</td><td>{{ d.extracts|join(", ") or "—" }}</td></tr>
{% endfor %}</tbody></table>
<p>Each month is one file, <code>&lt;dataset&gt;/year=YYYY/month=MM/part-0.parquet</code>; read every month at once with
<code>s3://{{ m.bucket }}/&lt;dataset&gt;/**/*.parquet</code>. Everything else lives under folders starting with
<code>_</code>, which that path never matches.</p>
<p class="id" lang="id">Setiap bulan adalah satu file; semua bulan dibaca sekaligus dengan jalur di atas. Selebihnya ada di
folder berawalan <code>_</code>.</p>
<h2 id="setup">Set up once / <span lang="id">Persiapan (sekali saja)</span></h2>
<pre><code>pip install {{ m.requirements }}</code></pre>
<p>or, from the Sinergi repository, <code>pip install "sinergi[reader]"</code> (the same packages; no Airflow). Put
<code>{{ m.key_file }}</code> in the folder you work in. The examples read <code>{{ m.example }}</code>: for another
dataset replace its name in the path.</p>
<p class="id" lang="id">Simpan <code>{{ m.key_file }}</code> di folder kerja Anda. Contoh di bawah membaca
<code>{{ m.example }}</code>: untuk dataset lain ganti namanya pada jalur.</p>
{% for engine, en in [("duckdb", "DuckDB"), ("pandas", "pandas"), ("polars", "polars")] %}
<h2 id="{{ engine }}">{{ en }}</h2>
<pre><code class="language-python">{{ m.snippets[engine] }}</code></pre>
{% if engine == "polars" %}<p><code>hive_partitioning=True</code> matters: on a <code>**</code> glob polars otherwise drops
<code>year</code> and <code>month</code> without a word.</p><p class="id" lang="id"><code>hive_partitioning=True</code> penting:
tanpanya polars diam-diam membuang kolom <code>year</code> dan <code>month</code>.</p>{% endif %}
{% endfor %}
<h2 id="spreadsheet">Spreadsheet / <span lang="id">Lembar kerja</span> (Excel, LibreOffice, Google Sheets)</h2>
<p>Every month of every dataset is also a spreadsheet: <code>_extracts/&lt;dataset&gt;/&lt;YYYY-MM&gt;.xlsx</code>, the same
columns plus <code>year</code> and <code>month</code>, codes kept as text, and an <code>about</code> sheet describing each
column. Download them with any S3 client and your key (endpoint from <code>{{ m.key_file }}</code>, path-style), e.g.
<code>aws s3 cp --recursive s3://{{ m.bucket }}/{{ m.extracts_prefix }} . --endpoint-url &lt;AWS_ENDPOINT_URL&gt;</code>,
or with this script:</p>
<p class="id" lang="id">Setiap bulan setiap dataset juga tersedia sebagai lembar kerja, kolom yang sama ditambah
<code>year</code> dan <code>month</code>, kode tetap teks, dan lembar <code>about</code>. Unduh dengan klien S3 apa pun
memakai kunci Anda, atau dengan skrip ini:</p>
<pre><code class="language-python">{{ m.snippets.spreadsheet }}</code></pre>
<p>A month larger than {{ "{:,}".format(max_rows) }} rows has no extract: read it with DuckDB, pandas or polars, or write the part
you need to a file, e.g. in DuckDB <code>COPY (SELECT …) TO 'part.csv' (HEADER)</code>.</p>
<p class="id" lang="id">Bulan dengan lebih dari {{ "{:,}".format(max_rows) }} baris tidak punya ekstrak: baca dengan DuckDB,
pandas, atau polars.</p>
<h2 id="year-month">The year and month columns / <span lang="id">Kolom year dan month</span></h2>
<p><code>year</code> and <code>month</code> come from the folder names (<code>year=2025/month=07</code>), not from inside the
files. Every example above reads them as integers, so <code>WHERE month = 7</code> works and months sort correctly; without
that, DuckDB reads <code>month</code> as the text <code>'07'</code>.</p>
<p class="id" lang="id"><code>year</code> dan <code>month</code> berasal dari nama folder, bukan dari isi file. Semua contoh
membacanya sebagai bilangan bulat.</p>
<p>Blank quasi-identifiers: {{ withheld[0] }}</p><p class="id" lang="id">{{ withheld[1] }}</p>
<h2 id="documents">Other documents / <span lang="id">Dokumen lain</span></h2><ul>
{% for href, text in m.links %}<li><a href="{{ href }}"><code>_catalog/{{ href }}</code></a> — {{ text }}</li>
{% endfor %}<li><code>{{ m.reports }}</code> — monthly indicators report / laporan bulanan indikator</li></ul>
<h2 id="glossary">Glossary / <span lang="id">Glosarium</span></h2>
<table><thead><tr><th>Term / Istilah</th><th>Meaning (EN)</th><th>Arti (ID)</th></tr></thead><tbody>
{% for g in m.glossary %}<tr><td>{{ g.term }}</td><td>{{ g.en }}</td><td lang="id">{{ g.id }}</td></tr>
{% endfor %}</tbody></table>
</body></html>
"""


@cache
def _templates():
    import jinja2

    md = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True).from_string(_MD)
    html = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(_HTML)
    return md, html


def render_kit(model: dict) -> tuple[str, str]:
    """(README.md, index.html) of the reading kit."""
    args = {"m": model, "sections": _SECTIONS, "withheld": WITHHELD_TEXT, "max_rows": EXTRACT_MAX_ROWS}
    md, html = _templates()
    return md.render(**args), html.render(**args)


def write_reading_kit(store: ObjectStore, bucket: str, party: str, catalog: Mapping | None,
                      title: str = "") -> dict[str, str]:
    md, html = render_kit(kit_model(bucket, party, catalog, title))
    store.put_bytes(bucket, README_KEY, md.encode("utf-8"), content_type="text/markdown; charset=utf-8")
    store.put_bytes(bucket, README_HTML_KEY, html.encode("utf-8"), content_type="text/html; charset=utf-8")
    return {"readme": README_KEY, "index": README_HTML_KEY}


def write_party_kit(store: ObjectStore, party: str, policy, schemas: Mapping[str, pa.Schema] | None = None) -> dict:
    """Refresh everything an analyst of ``party`` reads besides the data: the spreadsheet extracts of
    new months, the data dictionary (every dataset of the policy and every dataset published), the
    README and index.html. ``schemas`` records schemas the policy does not know (the indicators') in
    the catalog first. Returns the keys written."""
    from sinergi.policy import shared_schema

    bucket = policy.parties[party].bucket
    all_schemas = {ds: shared_schema(ds, party, policy) for ds in policy.parties[party].datasets} | dict(schemas or {})
    extracts: list[str] = []
    with stage("reading kit"):
        if schemas:
            update_catalog(store, bucket, party, schemas=schemas)
        # Publishes of other datasets update the catalog meanwhile: render from the catalog as read,
        # then check it did not change; the writer whose check passes last leaves a kit of the final
        # catalog (every catalog update is followed by its writer's own kit and check).
        for _ in range(MAX_ROUNDS):
            catalog, etag = cas.read_json(store, bucket, CATALOG_KEY)
            new = write_extracts(store, bucket, catalog)
            if new:  # noted in the catalog
                extracts += new
                catalog, etag = cas.read_json(store, bucket, CATALOG_KEY)
            keys = write_data_dictionary(store, bucket, party, all_schemas, catalog=catalog)
            keys.update(write_reading_kit(store, bucket, party, catalog, policy.parties[party].title))
            now = store.head(bucket, CATALOG_KEY)
            if (now.etag if now else None) == etag:
                break
        else:
            log.warning("reading kit of %s: the catalog kept changing; the next publish refreshes the kit", party)
    log.info("reading kit of %s in s3://%s: %d new spreadsheet extract(s)", party, bucket, len(extracts))
    return {**keys, "extracts": extracts}


