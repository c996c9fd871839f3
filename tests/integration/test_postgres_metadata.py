"""Production metadata database: ``airflow db migrate`` and a DAG run against PostgreSQL (a fresh
database created and dropped here), proving nothing in the DAGs or the task layer is SQLite-bound."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from sinergi.local import localairflow
from support import fresh_pg_database, pg_query

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

MONTH = "2025-07"
# p3mi → job_orders: a reference dataset and a dataset resolving it (task-group dependency),
# each with the mapped share/publish per party.
DATASETS = ["p3mi", "job_orders"]


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    import importlib.util

    # Airflow 3.3 opens an async engine next to the sync one; for PostgreSQL that is asyncpg.
    assert importlib.util.find_spec("asyncpg"), (
        "asyncpg is not installed: Airflow 3.3 cannot use a PostgreSQL metadata database without it "
        "(add asyncpg to requirements.txt; the official Airflow image ships it)"
    )
    with fresh_pg_database("sinergi_af") as url:
        yield url


@pytest.fixture(scope="module")
def pg_env(weed, pg_database, tmp_path_factory) -> dict[str, str]:
    from sinergi.simulate import simulate

    sources = tmp_path_factory.mktemp("pg-sources")
    simulate(sources, month=MONTH, months=1, scale="demo", seed=5)
    base = dict(os.environ)
    base["AIRFLOW_HOME"] = str(tmp_path_factory.mktemp("pg-airflow-home"))
    base["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = pg_database
    env = localairflow.airflow_env(weed.home, base)
    env["SINERGI_EXPORTS_DIR"] = str(sources)
    env["SINERGI_DISNAKER_DB_URL"] = f"sqlite:///{sources / 'disnaker.sqlite'}"
    return env


def test_db_migrate_on_postgres(pg_env, pg_database, tmp_path):
    log = tmp_path / "migrate.log"
    localairflow.migrate(pg_env, log)
    tables = {r[0] for r in pg_query(pg_database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"dag", "dag_run", "task_instance", "asset", "asset_event", "backfill", "alembic_version"} <= tables
    assert "sqlite" not in log.read_text().lower().split("sql_alchemy_conn")[0][-200:]


def test_dag_runs_with_postgres_metadata(pg_env, pg_database, tmp_path):
    log = tmp_path / "dags-test.log"
    localairflow.migrate(pg_env, tmp_path / "migrate.log")
    localairflow.dags_test("national", MONTH, pg_env, log, datasets=DATASETS)
    runs = pg_query(pg_database, "SELECT run_id, state, conf FROM dag_run WHERE dag_id = %s", "sinergi_national_monthly")
    assert runs and all(state == "success" for _, state, _ in runs), runs
    conf = runs[0][2]
    conf = json.loads(conf) if isinstance(conf, str) else conf
    assert conf["month"] == MONTH
    states = dict(pg_query(pg_database, "SELECT task_id || ':' || map_index, state FROM task_instance "
                                      "WHERE dag_id = %s", "sinergi_national_monthly"))
    for ds in DATASETS:
        assert states[f"{ds}.extract:-1"] == "success", states
        assert any(k.startswith(f"{ds}.publish:") and v == "success" for k, v in states.items()), states
    # the other datasets were skipped by the `datasets` param, not failed
    assert states["returns.extract:-1"] == "skipped", states
    # the Asset events with their counts are in the PostgreSQL metadata too
    events = pg_query(pg_database, "SELECT a.name, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
                                 "WHERE e.source_dag_id = %s", "sinergi_national_monthly")
    names = {n for n, _ in events}
    assert {"sinergi.lampung.p3mi", "sinergi.lampung.job_orders"} <= names, names
    for _, extra in events:
        extra = json.loads(extra) if isinstance(extra, str) else extra
        assert extra["month"] == MONTH
        assert {"extracted", "valid", "quarantined", "suppressed", "published"} <= set(extra)
