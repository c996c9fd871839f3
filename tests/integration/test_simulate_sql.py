"""The Disnaker database written through SQLAlchemy to PostgreSQL and MariaDB (real servers)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from sinergi import registry
from sinergi.simulate import read_ledger, simulate
from support import db_reachable

PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
MARIADB = "mysql+pymysql://root@127.0.0.1:3306/test"
SQL_DATASETS = [n for n in registry.names() if registry.get(n).source.kind == "sql"]


@pytest.fixture
def pg_url():
    if not db_reachable(PG):
        pytest.fail("PostgreSQL not reachable on 127.0.0.1:5432: start it (.ci/run does)")
    schema = f"sim_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    yield f"{PG}?options=-csearch_path%3D{schema}", schema
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def mariadb_url():
    if not db_reachable(MARIADB):
        pytest.fail("MariaDB not reachable on 127.0.0.1:3306: start it (.ci/run does)")
    db = f"sim_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(MARIADB)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4"))
    yield MARIADB.rsplit("/", 1)[0] + f"/{db}?charset=utf8mb4", db
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP DATABASE `{db}`"))
    admin.dispose()


def _dump(url: str) -> dict[str, list[tuple]]:
    eng = sa.create_engine(url)
    out = {}
    try:
        for name in SQL_DATASETS:
            ds = registry.get(name)
            t = sa.Table(ds.source.table, sa.MetaData(), autoload_with=eng)
            pk = t.c[ds.column(ds.record_id).headers[0]]
            with eng.connect() as conn:
                out[name] = [tuple(r) for r in conn.execute(sa.select(t).order_by(pk))]
    finally:
        eng.dispose()
    return out


def _check_same_as_sqlite(tmp_path, url):
    args = dict(month="2025-07", months=2, scale="demo", seed=21, defect_rate=0.05)
    ref = simulate(tmp_path / "sqlite", **args)
    res = simulate(tmp_path / "server", dinas_db_url=url, **args)
    assert res.dinas_db_url == url
    assert not (tmp_path / "server" / "disnaker.sqlite").exists()
    server, local = _dump(url), _dump(ref.dinas_db_url)
    for name in SQL_DATASETS:
        assert len(server[name]) == len(local[name]) > 0, name
        # same values on every backend (timestamps/dates compare as Python objects)
        assert [tuple(str(v) for v in r) for r in server[name]] == [tuple(str(v) for v in r) for r in local[name]]
    ledger = read_ledger(res.ledger_path)
    assert [e for e in ledger if e["file"].startswith("db:")] == \
        [e for e in read_ledger(ref.ledger_path) if e["file"].startswith("db:")]
    # the monthly view the extractor uses (business date and entry month; the register whole)
    from sinergi.extract.sql import month_filter
    from sinergi.months import Month

    eng = sa.create_engine(url)
    with eng.connect() as conn:
        for name in SQL_DATASETS:
            ds = registry.get(name)
            table = sa.Table(ds.source.table, sa.MetaData(), autoload_with=eng)
            for month in ("2025-07", "2025-08"):
                where, _ = month_filter(ds, table, Month.parse(month), f"db:{ds.source.table}")
                n = conn.execute(sa.select(sa.func.count()).select_from(table).where(where)).scalar()
                assert n == res.rows[(name, month)], (name, month)
    eng.dispose()
    # re-running replaces the tables (no duplicate keys, same content)
    simulate(tmp_path / "server", dinas_db_url=url, **args)
    assert _dump(url) == server


@pytest.mark.postgres
def test_disnaker_db_on_postgresql(tmp_path, pg_url):
    url, schema = pg_url
    _check_same_as_sqlite(tmp_path, url)
    eng = sa.create_engine(PG)
    with eng.connect() as conn:
        tables = {r[0] for r in conn.execute(sa.text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = :s"), {"s": schema})}
    eng.dispose()
    assert tables == {registry.get(n).source.table for n in SQL_DATASETS}


@pytest.mark.mariadb
def test_disnaker_db_on_mariadb(tmp_path, mariadb_url):
    url, db = mariadb_url
    _check_same_as_sqlite(tmp_path, url)
    eng = sa.create_engine(url)
    insp = sa.inspect(eng)
    cols = {c["name"]: c for c in insp.get_columns("pendaftaran_awal")}
    eng.dispose()
    assert {"id_pendaftaran", "nik", "tgl_daftar", "created_at", "updated_at"} <= set(cols)
