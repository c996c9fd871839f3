"""The analyst's kit in each party bucket, against a real SeaweedFS after real pipeline runs.

Two months of p3mi, job_orders and placements go through extract → validate → share → publish, then
the indicators of Lampung. Each party's ``_catalog/README.md`` is read back with the party's own key
and every Python snippet in it runs in a fresh interpreter where ``sinergi`` cannot be imported
(``python -I -S`` with only the installed packages on the path): it must return every published
month with the manifest's row count and ``year``/``month`` as integers. The data dictionary is checked
with ``frictionless``; the spreadsheet extracts with openpyxl.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest
from frictionless import Package

from conftest import start_store
from sinergi.layout import (
    CATALOG_KEY,
    DATAPACKAGE_KEY,
    DICTIONARY_MD_KEY,
    README_HTML_KEY,
    README_KEY,
    data_key,
    extract_key,
    manifest_prefix,
)
from sinergi.objectstore import AccessDenied
from sinergi.publish import publish, read_catalog, read_pointer, update_catalog
from sinergi.publish.kit import write_party_kit
from sinergi.settings import Settings, credentials_dir, read_env_file

pytestmark = pytest.mark.slow

MONTHS = ("2025-06", "2025-07")
DATASETS = ("p3mi", "job_orders", "placements")
PARTIES = ("kp2mi", "lampung")
ENGINES = ("duckdb", "pandas", "polars", "spreadsheet")


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    from sinergi.indicators.run import run_for_party
    from sinergi.pipeline.context import RunContext
    from sinergi.pipeline.steps import extract_step, publish_step, recipients, share_step, validate_step
    from sinergi.simulate import simulate

    home = tmp_path_factory.mktemp("kit-home")
    sources = tmp_path_factory.mktemp("kit-sources")
    simulate(sources, month=MONTHS[0], months=len(MONTHS), scale="demo", seed=19)
    running = start_store(home)  # a store of its own: only this module's publications in the buckets
    try:
        env = {"SINERGI_HOME": str(home), "SINERGI_EXPORTS_DIR": str(sources),
               "SINERGI_MASTER_SECRET": "hex:" + "19" * 32}
        ctx = RunContext(store=running.pipeline, home=home, settings=Settings(environ=env))
        for month in MONTHS:
            for ds in DATASETS:
                ref = validate_step(extract_step(ds, month, f"kit-{month}", ctx), ctx)
                for party in recipients(ds, ctx):
                    publish_step(share_step(ref, party, ctx), ctx)
        run_for_party(running.pipeline, "lampung", MONTHS[-1], ctx.policy, home, run_id="kit-indicators")
        yield {"store": running, "policy": ctx.policy, "home": home}
    finally:
        running.embedded.down()


def _bucket(kit, party: str) -> str:
    return kit["policy"].parties[party].bucket


def _published(kit, party: str, dataset: str) -> dict[str, int]:
    """Month -> rows, from each month's committed manifest (the pointer names it)."""
    store, bucket = kit["store"].pipeline, _bucket(kit, party)
    out = {}
    months = {o.key.split("/")[2] for o in store.list(bucket, f"_manifests/{dataset}/") if o.key.count("/") >= 3}
    for month in sorted(months):
        pointer = read_pointer(store, bucket, dataset, month)
        manifest = json.loads(store.get_bytes(bucket, pointer["manifest_key"]))
        out[month] = int(manifest["rows_published"])
    return out


def _readme(kit, party: str) -> str:
    """The README as the party reads it, with its own key."""
    return kit["store"].client_for(party).get_bytes(_bucket(kit, party), README_KEY).decode("utf-8")


def _snippets(readme: str) -> dict[str, str]:
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    found = {re.search(r"\((\w+)\)$", b.splitlines()[0]).group(1): b for b in blocks}
    assert len(blocks) == len(found) == len(ENGINES), list(found)
    return found


_PROLOGUE = """import importlib.util, json, sys
sys.path.append({site!r})  # the installed packages only: no .pth files, so no editable sinergi
assert importlib.util.find_spec("sinergi") is None, "sinergi must not be importable here"
"""
_EPILOGUE = {
    "duckdb": """counts = {f"{y}-{m:02d}": int(n) for (y, m), n in df.groupby(["year", "month"]).size().items()}
print("RESULT " + json.dumps({"counts": counts, "types": [str(df["year"].dtype), str(df["month"].dtype)]}))
""",
    "polars": """counts = {f"{y}-{m:02d}": n for y, m, n in df.group_by("year", "month").len().iter_rows()}
print("RESULT " + json.dumps({"counts": counts, "types": [str(df.schema["year"]), str(df.schema["month"])]}))
""",
    "spreadsheet": """import openpyxl
counts, types = {}, set()
for path in sorted(out.glob("*.xlsx")):
    wb = openpyxl.load_workbook(path, read_only=True)
    rows = wb.worksheets[0].iter_rows(values_only=True)
    header = next(rows)
    y, m = header.index("year"), header.index("month")
    for r in rows:
        types |= {type(r[y]).__name__, type(r[m]).__name__}
        key = f"{r[y]}-{r[m]:02d}"
        counts[key] = counts.get(key, 0) + 1
    wb.close()
print("RESULT " + json.dumps({"counts": counts, "types": sorted(types)}))
""",
}
_EPILOGUE["pandas"] = _EPILOGUE["duckdb"]
_TYPES = {"duckdb": ["int32", "int32"], "pandas": ["int32[pyarrow]", "int32[pyarrow]"],
          "polars": ["Int32", "Int32"], "spreadsheet": ["int"]}


def run_isolated(code: str, engine: str, party: str, kit, workdir: Path) -> dict:
    """Run a snippet as a pasted script in a fresh interpreter, next to the party's key file."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(credentials_dir(kit["home"]) / f"{party}.env", workdir / f"{party}.env")
    script = workdir / f"{engine}.py"
    script.write_text(_PROLOGUE.format(site=sysconfig.get_paths()["purelib"]) + code + _EPILOGUE[engine])
    out = subprocess.run([sys.executable, "-I", "-S", script.name], cwd=workdir, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("party", PARTIES)
def test_readme_snippets_return_every_month_with_the_manifest_counts(kit, party, engine, tmp_path):
    snippet = _snippets(_readme(kit, party))[engine]
    assert "sinergi" not in snippet.replace(f"'{party}'", "")
    expected = _published(kit, party, "placements")
    assert list(expected) == list(MONTHS) and all(expected.values())
    got = run_isolated(snippet, engine, party, kit, tmp_path)
    assert got["counts"] == expected
    assert got["types"] == _TYPES[engine]


def test_snippets_read_any_dataset_by_its_name(kit, tmp_path):
    """'For another dataset replace its name in the path': the indicators, which only the catalog knows."""
    snippet = _snippets(_readme(kit, "lampung"))["polars"].replace("placements", "indicators")
    expected = _published(kit, "lampung", "indicators")
    assert list(expected) == [MONTHS[-1]]
    assert run_isolated(snippet, "polars", "lampung", kit, tmp_path)["counts"] == expected


@pytest.mark.parametrize("party", PARTIES)
def test_kit_is_bilingual_lists_every_dataset_and_holds_no_secret(kit, party):
    store, bucket = kit["store"].client_for(party), _bucket(kit, party)
    readme, html = _readme(kit, party), store.get_bytes(bucket, README_HTML_KEY).decode("utf-8")
    for heading in ("Set up once / Persiapan (sekali saja)", "What is in this bucket / Isi bucket ini",
                    "Spreadsheet / Lembar kerja", "Glossary / Glosarium"):
        assert heading in readme, heading
    assert 'lang="id"' in html and "Daftar isi" in html and "<pre><code" in html
    catalog = json.loads(store.get_bytes(bucket, CATALOG_KEY))
    for ds, entry in catalog["datasets"].items():
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{ds}` |"))
        assert ", ".join(sorted(entry["months"])) in row, row
        assert f'<code>{ds}</code>' in html
    assert "indicators" in catalog["datasets"] or party != "lampung"
    secrets = {v for k, v in read_env_file(credentials_dir(kit["home"]) / f"{party}.env").items()
               if k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    secrets |= {v for k, v in read_env_file(credentials_dir(kit["home"]) / "pipeline.env").items()
                if k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    assert len(secrets) == 4
    for text in (readme, html):
        assert not [s for s in secrets if s in text]
        assert kit["store"].endpoint.split("://")[-1] not in text  # read from the key file, never written in
    other = next(p for p in PARTIES if p != party)
    with pytest.raises(AccessDenied):
        store.get_bytes(_bucket(kit, other), README_KEY)


@pytest.mark.parametrize("party", PARTIES)
def test_dictionary_is_valid_frictionless_and_counts_what_was_withheld(kit, party):
    store, bucket = kit["store"].pipeline, _bucket(kit, party)
    package = json.loads(store.get_bytes(bucket, DATAPACKAGE_KEY))
    report = Package.validate_descriptor(package)
    assert report.valid, [(e.type, e.note) for e in report.errors]
    catalog = read_catalog(store, bucket)
    resources = {r["name"]: r for r in package["resources"]}
    assert set(catalog["datasets"]) <= set(resources)
    assert set(kit["policy"].parties[party].datasets) <= set(resources)
    if party == "lampung":
        assert resources["indicators"]["sinergi"]["rows_per_month"] == _published(kit, party, "indicators")
    placements = resources["placements"]
    assert placements["sinergi"]["rows_per_month"] == _published(kit, party, "placements")
    withheld_any = 0
    for month in MONTHS:
        entry = catalog["datasets"]["placements"]["months"][month]
        manifest = json.loads(store.get_bytes(bucket, entry["manifest_key"]))
        k = manifest["share_report"]["k_anonymity"]
        table = pq.read_table(io.BytesIO(store.get_bytes(bucket, data_key("placements", month))))
        assert entry["withheld_exact"] is ("withheld" in (manifest["share_report"].get("disclosure") or {}))
        for column, n in entry["withheld"].items():
            withheld_any += n
            assert n <= entry["rows"]
            # every blanked row that survived suppression is an empty cell in the published month
            assert table.column(column).null_count >= n - k["rows_suppressed"], (month, column)
            assert n <= k["rows_in"]
        for f in placements["schema"]["fields"]:
            if f["role"] == "quasi_identifier":
                assert f["withheld_per_month"][month] == entry["withheld"].get(f["name"], 0)
                assert "withheld for privacy" in f["withheld"]
    assert withheld_any > 0, "a demo month withholds kab/kota or kecamatan for small groups"
    md = store.get_bytes(bucket, DICTIONARY_MD_KEY).decode()
    assert "## Contents / Daftar isi" in md and "## Glossary / Glosarium" in md and "| `month` | integer" in md


def test_extracts_follow_the_publications(kit):
    store, bucket, party = kit["store"].pipeline, _bucket(kit, "kp2mi"), "kp2mi"
    catalog = read_catalog(store, bucket)
    entry = catalog["datasets"]["placements"]["months"][MONTHS[0]]
    assert entry["extract"]["key"] == extract_key("placements", MONTHS[0])
    assert entry["extract"]["source_sha256"] == entry["sha256"]
    wb = openpyxl.load_workbook(io.BytesIO(store.get_bytes(bucket, entry["extract"]["key"])), read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    about = dict(wb.worksheets[1].iter_rows(min_row=2, values_only=True))
    wb.close()
    table = pq.read_table(io.BytesIO(store.get_bytes(bucket, entry["object_key"])))
    assert list(rows[0]) == [*table.column_names, "year", "month"] and len(rows) - 1 == table.num_rows
    assert about["sha256 of the source Parquet"] == entry["sha256"]
    # nothing new: no extract is rewritten
    assert write_party_kit(store, party, kit["policy"])["extracts"] == []
    # a re-published month (new generation, new bytes) gets a new extract
    smaller = table.slice(0, table.num_rows - 1)
    result = publish(store, bucket=bucket, dataset="placements", month=MONTHS[0], run_id="kit-again", table=smaller,
                     schema=table.schema)
    update_catalog(store, bucket, party, result)
    assert write_party_kit(store, party, kit["policy"])["extracts"] == [extract_key("placements", MONTHS[0])]
    again = read_catalog(store, bucket)["datasets"]["placements"]["months"][MONTHS[0]]
    assert again["extract"]["source_sha256"] == again["sha256"] == hashlib.sha256(
        store.get_bytes(bucket, again["object_key"])).hexdigest()
    assert again["extract"]["rows"] == smaller.num_rows
    assert not [o.key for o in store.list(bucket, "_extracts/") if not o.key.endswith(".xlsx")]
    assert all(o.key.startswith("_manifests/") for o in store.list(bucket, manifest_prefix("placements", MONTHS[0])))


def test_sinergi_summary_prints_the_readme_snippets(kit):
    """`make run` / `sinergi summary` print the kit's snippets (with the local key file's path)."""
    from sinergi.local.report import summary_text

    text = summary_text(MONTHS[-1], kit["home"])
    for party in PARTIES:
        cred = str(credentials_dir(kit["home"]) / f"{party}.env")
        section = text.split(f"== {party} ", 1)[1].split("\n== ", 1)[0]
        printed = "\n".join(line.removeprefix("     ") for line in section.splitlines()).replace(cred, f"{party}.env")
        for engine, snippet in _snippets(_readme(kit, party)).items():
            assert snippet.strip() in printed, (party, engine)
        assert f"s3://{_bucket(kit, party)}/{README_KEY}" in section


def test_concurrent_publishes_leave_a_kit_of_every_month(kit):
    """Six months published at once, each followed by its kit: the README, the dictionary and the
    extracts in place at the end cover all of them (no writer's older view of the catalog wins)."""
    import threading

    store, party = kit["store"].pipeline, "lampung"
    bucket = _bucket(kit, party)
    table = pq.read_table(io.BytesIO(store.get_bytes(bucket, data_key("placements", MONTHS[-1]))))
    months = [f"2024-{m:02d}" for m in range(1, 7)]
    errors: list[Exception] = []

    def one(i: int, month: str) -> None:
        try:
            part = table.slice(0, 5 + i)
            result = publish(store, bucket=bucket, dataset="placements", month=month, run_id=f"burst-{i}", table=part,
                             schema=table.schema)
            update_catalog(store, bucket, party, result)
            write_party_kit(store, party, kit["policy"])
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i, m)) for i, m in enumerate(months)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    catalog = read_catalog(store, bucket)
    placements = catalog["datasets"]["placements"]["months"]
    assert set(months) <= set(placements)
    readme = _readme(kit, party)
    row = next(line for line in readme.splitlines() if line.startswith("| `placements` |"))
    assert ", ".join(sorted(placements)) in row
    package = json.loads(store.get_bytes(bucket, DATAPACKAGE_KEY))
    res = next(r for r in package["resources"] if r["name"] == "placements")
    assert {m: 5 + i for i, m in enumerate(months)}.items() <= res["sinergi"]["rows_per_month"].items()
    for i, m in enumerate(months):
        assert placements[m]["extract"]["rows"] == 5 + i and placements[m]["extract"]["source_sha256"] == placements[m]["sha256"]
