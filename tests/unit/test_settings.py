"""One precedence for every connection and secret (sinergi.settings): the DAG layer's Connection
lookup, then AIRFLOW_CONN_<ID>, then the SINERGI_* variable, then the embedded default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sinergi import secrets
from sinergi.errors import ConfigError
from sinergi.extract import SourceConfig
from sinergi.settings import Connection, Settings, conn_env


def _lookup(answers: dict):
    asked: list[str] = []

    def lookup(conn_id):
        asked.append(conn_id)
        return answers.get(conn_id)

    lookup.asked = asked
    return lookup


def _creds(home: Path, name: str = "pipeline") -> None:
    (home / "credentials").mkdir(parents=True)
    (home / "credentials" / f"{name}.env").write_text(
        "AWS_ACCESS_KEY_ID=FILEKEY\nAWS_SECRET_ACCESS_KEY=filesecret\nAWS_ENDPOINT_URL=http://127.0.0.1:9999\n")


S3_CONN = {"conn_type": "aws", "login": "ENVCONN", "password": "envconnsecret",
           "extra": {"endpoint_url": "http://s3.example:8333"}}


def test_object_store_identity_follows_the_one_precedence(tmp_path):
    _creds(tmp_path)
    env = {"SINERGI_HOME": str(tmp_path)}
    assert Settings(environ=env).pipeline_s3().access_key == "FILEKEY"  # 4. embedded default
    env |= {"SINERGI_S3_ACCESS_KEY": "SINERGIKEY", "SINERGI_S3_SECRET_KEY": "s", "SINERGI_S3_ENDPOINT": "http://e:1"}
    assert Settings(environ=env).pipeline_s3().access_key == "SINERGIKEY"  # 3. SINERGI_*
    env[conn_env("sinergi_s3")] = json.dumps(S3_CONN)
    s3 = Settings(environ=env).pipeline_s3()
    assert (s3.access_key, s3.endpoint) == ("ENVCONN", "http://s3.example:8333")  # 2. AIRFLOW_CONN_
    lookup = _lookup({"sinergi_s3": Connection(conn_type="aws", login="BACKEND", password="b", host="h", port=1)})
    s3 = Settings(lookup=lookup, environ=env).pipeline_s3()
    assert (s3.access_key, s3.endpoint) == ("BACKEND", "http://h:1")  # 1. the secrets backend
    assert "b" not in repr(s3).replace("BACKEND", "")


def test_exports_folder_follows_the_one_precedence(tmp_path):
    env = {"SINERGI_HOME": str(tmp_path)}
    assert Settings(environ=env).exports_dir() == (tmp_path / "sources").resolve()
    env["SINERGI_EXPORTS_DIR"] = str(tmp_path / "from-env")
    assert Settings(environ=env).exports_dir() == (tmp_path / "from-env").resolve()
    env[conn_env("sinergi_exports")] = json.dumps({"conn_type": "fs", "extra": {"path": str(tmp_path / "conn")}})
    assert Settings(environ=env).exports_dir() == (tmp_path / "conn").resolve()
    lookup = _lookup({"sinergi_exports": Connection(conn_type="fs", extra={"path": str(tmp_path / "backend")})})
    assert Settings(lookup=lookup, environ=env).exports_dir() == (tmp_path / "backend").resolve()


def test_disnaker_connection_beats_the_environment_url(tmp_path):
    """Behaviour fix: the Airflow Connection used to lose to SINERGI_DISNAKER_DB_URL for this one
    database, while the store and the master secret put the Connection first. Now all agree."""
    env = {"SINERGI_HOME": str(tmp_path), "SINERGI_EXPORTS_DIR": str(tmp_path / "x")}
    assert Settings(environ=env).disnaker_db_url() == f"sqlite:///{(tmp_path / 'x').resolve() / 'disnaker.sqlite'}"
    env["SINERGI_DISNAKER_DB_URL"] = "sqlite:////tmp/from-env.sqlite"
    assert SourceConfig.from_env(environ=env).disnaker_db_url == "sqlite:////tmp/from-env.sqlite"
    env[conn_env("sinergi_disnaker_db")] = "postgres://reader:pw@db.dinas:5432/disnaker"
    assert SourceConfig.from_env(environ=env).disnaker_db_url == "postgresql+psycopg2://reader:pw@db.dinas:5432/disnaker"
    lookup = _lookup({"sinergi_disnaker_db": Connection(conn_type="mariadb", host="m", login="ro", schema="d")})
    assert SourceConfig.from_env(lookup=lookup, environ=env).disnaker_db_url == "mysql+pymysql://ro@m/d?charset=utf8mb4"
    assert lookup.asked == ["sinergi_exports", "sinergi_disnaker_db"]


def test_master_secret_follows_the_one_precedence(tmp_path):
    env = {"SINERGI_HOME": str(tmp_path)}
    generated = secrets.master_secret(settings=Settings(environ=env))  # 4. generated once under the home
    assert (tmp_path / "secrets" / "master.key").read_bytes() == generated
    env["SINERGI_MASTER_SECRET"] = "hex:" + "11" * 32
    assert secrets.master_secret(settings=Settings(environ=env)) == bytes.fromhex("11" * 32)
    env[conn_env("sinergi_master_secret")] = json.dumps({"conn_type": "generic", "password": "hex:" + "22" * 32})
    assert secrets.master_secret(settings=Settings(environ=env)) == bytes.fromhex("22" * 32)
    lookup = _lookup({"sinergi_master_secret": Connection(conn_type="generic", password="hex:" + "33" * 32)})
    assert secrets.master_secret(settings=Settings(lookup=lookup, environ=env)) == bytes.fromhex("33" * 32)
    assert secrets.master_secret_source(settings=Settings(lookup=lookup, environ=env)).startswith("connection")


def test_a_configured_but_incomplete_source_is_an_error_not_skipped(tmp_path):
    _creds(tmp_path)
    env = {"SINERGI_HOME": str(tmp_path), conn_env("sinergi_s3"): json.dumps({"conn_type": "aws", "login": "only"})}
    with pytest.raises(ConfigError, match="AIRFLOW_CONN_SINERGI_S3: the object-store connection needs"):
        Settings(environ=env).pipeline_s3()
    env = {"SINERGI_HOME": str(tmp_path), "SINERGI_S3_ACCESS_KEY": "k"}
    with pytest.raises(ConfigError, match="SINERGI_S3_SECRET_KEY"):
        Settings(environ=env).pipeline_s3()


def test_an_unparsable_connection_names_the_variable_not_its_text(tmp_path):
    env = {"SINERGI_HOME": str(tmp_path), conn_env("sinergi_s3"): "{not json, password=hunter2"}
    with pytest.raises(ConfigError) as err:
        Settings(environ=env).pipeline_s3()
    assert "AIRFLOW_CONN_SINERGI_S3" in str(err.value) and "hunter2" not in str(err.value)


def test_alert_recipients_from_the_smtp_connection_else_the_environment():
    conn = Connection(conn_type="smtp", host="smtp.example", extra={"to": "a@x.example, b@x.example"})
    assert Settings(lookup=_lookup({"sinergi_smtp": conn}), environ={"SINERGI_ALERT_TO": "c@x.example"}).alert_recipients() \
        == ["a@x.example", "b@x.example"]
    env = {conn_env("sinergi_smtp"): json.dumps({"conn_type": "smtp", "host": "h", "extra": {"to": ["d@x.example"]}})}
    assert Settings(environ=env).alert_recipients() == ["d@x.example"]
    assert Settings(environ={"SINERGI_ALERT_TO": "c@x.example,"}).alert_recipients() == ["c@x.example"]
    assert Settings(environ={}).alert_recipients() == []


def test_heavy_pool_slots_default_and_override():
    assert Settings(environ={}).heavy_pool_slots() == 2
    assert Settings(environ={"SINERGI_HEAVY_POOL_SLOTS": "6"}).heavy_pool_slots() == 6
    for bad in ("0", "two", "-1"):
        with pytest.raises(ConfigError, match="SINERGI_HEAVY_POOL_SLOTS"):
            Settings(environ={"SINERGI_HEAVY_POOL_SLOTS": bad}).heavy_pool_slots()
