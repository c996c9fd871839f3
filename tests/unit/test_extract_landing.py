"""Landing of extracts as received (sha256, idempotent keys) and where sources are (SourceConfig).

Landing is unit-tested against ``DirStore`` (tests/support.py), a tiny implementation of the ObjectStore
protocol over a temp dir; tests/integration/test_extract_sql.py lands into a real SeaweedFS when the
lead's weed fixture is available.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pytest

from sinergi import registry
from sinergi.extract import LandingConflictError, SourceConfig, extract
from sinergi.extract.landing import land
from sinergi.layout import LANDING_BUCKET
from sinergi.settings import Connection, connection_url
from support import DirStore

try:  # helpers shared with the file-extraction tests (tests/unit is not a package)
    from test_extract_files import MONTH, file_path, make_rows, write_csv
except ImportError:  # pragma: no cover - if tests/unit becomes a package
    from .test_extract_files import MONTH, file_path, make_rows, write_csv


@pytest.fixture
def store(tmp_path) -> DirStore:
    s = DirStore(tmp_path / "store")
    s.ensure_bucket(LANDING_BUCKET)
    return s


def _source(tmp_path: Path, n=10, seed=1) -> Path:
    ds = registry.get("placements")
    headers, rows = make_rows(ds, n, seed)
    return write_csv(file_path(tmp_path / "exports", ds, "csv"), headers, rows, encoding="cp1252")


def _cfg(tmp_path):
    return SourceConfig(tmp_path / "exports", "sqlite://")


def test_file_landed_as_received_with_checksum(tmp_path, store):
    path = _source(tmp_path)
    result = extract("placements", MONTH, _cfg(tmp_path), landing=store, run_id="manual__2025-08-01T00:00:00+00:00")
    src = result.sources[0]
    raw = path.read_bytes()
    assert src["sha256"] == hashlib.sha256(raw).hexdigest() and src["bytes"] == len(raw)
    key = src["landing_key"]
    # one run-id rule for every zone (sinergi.layout.run_segment)
    assert key == "siskop2mi/placements/2025-07/manual__2025-08-01T00_00_00_00_00/PENEMPATAN_PMI_202507.csv"
    assert store.get_bytes(LANDING_BUCKET, key) == raw  # byte for byte (cp1252, title block and all)
    assert store.metadata(LANDING_BUCKET, key)["sha256"] == src["sha256"]
    pointer = json.loads(store.get_bytes(LANDING_BUCKET, "siskop2mi/placements/2025-07/_latest.json"))
    assert pointer["landing_key"] == key and pointer["sha256"] == src["sha256"]


def test_rerun_same_content_is_idempotent(tmp_path, store):
    _source(tmp_path)
    first = extract("placements", MONTH, _cfg(tmp_path), landing=store, run_id="run1")
    second = extract("placements", MONTH, _cfg(tmp_path), landing=store, run_id="run2")
    assert second.sources[0]["landing_key"] == first.sources[0]["landing_key"]
    assert second.sources[0]["reused"] is True
    data_keys = [o.key for o in store.list(LANDING_BUCKET, "siskop2mi/placements/2025-07/") if not o.key.endswith(".json")]
    assert data_keys == [first.sources[0]["landing_key"]]  # no duplicate for readers
    assert first.table.equals(second.table)


def test_changed_source_gets_new_run_folder_and_pointer(tmp_path, store):
    _source(tmp_path, seed=1)
    first = extract("placements", MONTH, _cfg(tmp_path), landing=store, run_id="run1")
    _source(tmp_path, n=11, seed=2)
    second = extract("placements", MONTH, _cfg(tmp_path), landing=store, run_id="run2")
    assert second.sources[0]["sha256"] != first.sources[0]["sha256"]
    assert "/run2/" in second.sources[0]["landing_key"]
    assert store.head(LANDING_BUCKET, first.sources[0]["landing_key"]) is not None  # history kept
    pointer = json.loads(store.get_bytes(LANDING_BUCKET, "siskop2mi/placements/2025-07/_latest.json"))
    assert pointer["run_id"] == "run2" and second.table.num_rows == 11


def test_same_run_different_bytes_is_a_conflict(tmp_path, store):
    kw = dict(system="siskop2mi", dataset="placements", month=MONTH, run_id="r1", filename="f.csv", source="f.csv")
    a = land(store, data=b"a;b\n1;2\n", **kw)
    assert land(store, data=b"a;b\n1;2\n", **kw)["landing_key"] == a["landing_key"]
    store.delete(LANDING_BUCKET, "siskop2mi/placements/2025-07/_latest.json")  # force the write path
    with pytest.raises(LandingConflictError, match="already holds different bytes"):
        land(store, data=b"a;b\n9;9\n", **kw)


def test_large_file_path_upload(tmp_path, store, monkeypatch):
    from sinergi.extract import landing as landing_mod

    monkeypatch.setattr(landing_mod, "IN_MEMORY_LIMIT", 10)
    p = tmp_path / "big.csv"
    p.write_bytes(b"x" * 1000)
    rec = land(store, system="s", dataset="d", month=MONTH, run_id="r", filename="big.csv", path=p, source="big.csv")
    assert store.get_bytes(LANDING_BUCKET, rec["landing_key"]) == p.read_bytes()
    assert store.metadata(LANDING_BUCKET, rec["landing_key"])["sha256"] == hashlib.sha256(b"x" * 1000).hexdigest()
    assert rec["sha256"] == hashlib.sha256(b"x" * 1000).hexdigest()


def test_large_file_is_landed_while_it_is_parsed(tmp_path, store, monkeypatch):
    """Above IN_MEMORY_LIMIT the file is landed from disk in the background; the stream reports the
    landing (key, sha256) once it completes, and a header error still leaves the file landed."""
    from sinergi.extract import landing as landing_mod

    monkeypatch.setattr(landing_mod, "IN_MEMORY_LIMIT", 10)
    path = _source(tmp_path, n=50)
    plain = extract("placements", MONTH, _cfg(tmp_path), run_id="plain").table  # reference: no store
    res = extract("placements", MONTH, _cfg(tmp_path), landing=store, run_id="big")
    assert res.table.equals(plain) and res.complete and not res.pending_landings
    rec = res.sources[0]
    assert rec["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert store.get_bytes(LANDING_BUCKET, rec["landing_key"]) == path.read_bytes()

    path.write_text("nothing;useful\n1;2\n")
    with pytest.raises(Exception, match="no header row"):
        extract("placements", MONTH, _cfg(tmp_path), landing=store, run_id="broken")
    assert any("/broken/" in o.key for o in store.list(LANDING_BUCKET)), sorted(o.key for o in store.list(LANDING_BUCKET))


def test_landing_before_header_errors(tmp_path, store):
    """A file that fails header mapping is still landed (evidence of what was received)."""
    ds = registry.get("p3mi")
    p = file_path(tmp_path / "exports", ds, "csv")
    p.write_text("nothing;useful\n1;2\n")
    with pytest.raises(Exception, match="no header row"):
        extract("p3mi", MONTH, _cfg(tmp_path), landing=store, run_id="r")
    assert any(o.key.endswith("P3MI_202507.csv") for o in store.list(LANDING_BUCKET))


# ----------------------------------------------------------------------------------- SourceConfig


def test_source_config_defaults(tmp_path):
    cfg = SourceConfig.from_env(environ={"SINERGI_HOME": str(tmp_path)})
    assert cfg.exports_dir == (tmp_path / "sources").resolve()
    assert cfg.disnaker_db_url == f"sqlite:///{(tmp_path / 'sources').resolve() / 'disnaker.sqlite'}"


def test_source_config_env_and_airflow_connection(tmp_path):
    env = {"SINERGI_EXPORTS_DIR": str(tmp_path / "x"),
           "AIRFLOW_CONN_SINERGI_DISNAKER_DB": json.dumps({"conn_type": "postgres", "host": "db", "port": 5432,
                                                           "login": "u", "password": "p@ss", "schema": "disnaker"})}
    cfg = SourceConfig.from_env(environ=env)
    assert cfg.exports_dir == (tmp_path / "x").resolve()
    assert cfg.disnaker_db_url == "postgresql+psycopg2://u:p%40ss@db:5432/disnaker"
    assert "p%40ss" not in repr(cfg) and "***" in repr(cfg)
    env["AIRFLOW_CONN_SINERGI_DISNAKER_DB"] = "mysql://root@127.0.0.1:3306/test"
    assert SourceConfig.from_env(environ=env).disnaker_db_url == "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4"
    env["SINERGI_DISNAKER_DB_URL"] = "sqlite:////tmp/x.sqlite"  # the Connection wins (sinergi.settings)
    assert SourceConfig.from_env(environ=env).disnaker_db_url == "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4"
    del env["AIRFLOW_CONN_SINERGI_DISNAKER_DB"]
    assert SourceConfig.from_env(environ=env).disnaker_db_url == "sqlite:////tmp/x.sqlite"


def test_source_config_lookup(tmp_path):
    calls = []

    def lookup(conn_id):
        calls.append(conn_id)
        return Connection(conn_type="mariadb", host="h", login="l", schema="s") if conn_id == "sinergi_disnaker_db" else None

    cfg = SourceConfig.from_env(lookup=lookup, environ={"SINERGI_HOME": str(tmp_path)})
    # the exports folder is asked for first (it may be a Connection too: sinergi.settings)
    assert calls == ["sinergi_exports", "sinergi_disnaker_db"] and cfg.disnaker_db_url.startswith("mysql+pymysql://l@h/s")
    cfg = SourceConfig.from_env(lookup=lambda _: "postgresql+psycopg2://a@b/c", environ={})
    assert cfg.disnaker_db_url == "postgresql+psycopg2://a@b/c"
    assert connection_url("sqlite:///rel.db") == "sqlite:///rel.db"


def test_table_schema_is_pa(tmp_path, store):
    _source(tmp_path)
    t = extract("placements", MONTH, _cfg(tmp_path), landing=store, run_id="r").table
    assert isinstance(t, pa.Table) and t.schema.field("_source_row").type == pa.int64()
