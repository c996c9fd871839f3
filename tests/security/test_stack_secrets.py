"""The compose stack refuses placeholder and weak secrets: docker/check_secrets.py — what the
sinergi-preflight service runs before anything else starts — run as a process with the values of
docker/.env.example, with weak ones, and with good ones. Every refusal names the variable and never
prints the value."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docker" / "check_secrets.py"


def example() -> dict[str, str]:
    values = {}
    for line in (ROOT / "docker" / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            values[k.strip()] = v.strip()
    return values


def good() -> dict[str, str]:
    env = example()
    env.update({
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24), "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW_FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "SINERGI_ADMIN_PASSWORD": secrets.token_urlsafe(18),
        "AIRFLOW_CONN_SINERGI_MASTER_SECRET": json.dumps({"conn_type": "generic",
                                                          "password": "hex:" + secrets.token_hex(32)}),
        "AIRFLOW_CONN_SINERGI_DISNAKER_DB": json.dumps({"conn_type": "mysql", "host": "db", "login": "ro",
                                                        "password": secrets.token_urlsafe(20), "schema": "disnaker"}),
    })
    for who in ("PIPELINE", "KP2MI", "LAMPUNG"):
        env[f"SINERGI_S3_{who}_ACCESS_KEY"] = "SNG" + secrets.token_hex(8).upper()
        env[f"SINERGI_S3_{who}_SECRET_KEY"] = secrets.token_urlsafe(32)
    return env


def run(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"]}
    return subprocess.run([sys.executable, str(SCRIPT)], env=base | env, capture_output=True, text=True, timeout=60)


def test_the_example_file_is_refused_naming_every_placeholder():
    env = example()
    r = run(env)
    assert r.returncode == 1, r.stdout + r.stderr
    for name in ("POSTGRES_PASSWORD", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY", "AIRFLOW_FERNET_KEY",
                 "SINERGI_ADMIN_PASSWORD", "SINERGI_S3_PIPELINE_ACCESS_KEY", "SINERGI_S3_PIPELINE_SECRET_KEY",
                 "SINERGI_S3_KP2MI_SECRET_KEY", "SINERGI_S3_LAMPUNG_SECRET_KEY", "AIRFLOW_CONN_SINERGI_MASTER_SECRET",
                 "AIRFLOW_CONN_SINERGI_DISNAKER_DB"):
        assert f"- {name} " in r.stderr, name
    assert "refusing to start the stack" in r.stderr


def test_good_values_pass():
    r = run(good())
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(("name", "value", "why"), [
    ("POSTGRES_PASSWORD", "Sinergi2025!", "too short"),
    ("POSTGRES_PASSWORD", "MyPassword-for-the-database-2025", "placeholder or contains a guessable word"),
    ("AIRFLOW_JWT_SECRET", "a" * 40, "too few characters"),
    ("AIRFLOW_FERNET_KEY", "change-me-to-a-fernet-key", "not a Fernet key"),
    ("SINERGI_S3_KP2MI_SECRET_KEY", "changeme" * 5, "placeholder"),
    ("SINERGI_S3_LAMPUNG_ACCESS_KEY", "lampung", "shorter than 16"),
    ("AIRFLOW_CONN_SINERGI_MASTER_SECRET", '{"conn_type": "generic", "password": "correct horse battery staple"}',
     "passphrase"),
    ("AIRFLOW_CONN_SINERGI_MASTER_SECRET", '{"conn_type": "generic", "password": "hex:' + "ab" * 16 + '"}', "16 bytes"),
    ("AIRFLOW_CONN_SINERGI_MASTER_SECRET", '{"conn_type": "generic", "password": "hex:' + "00" * 32 + '"}',
     "not random"),
])
def test_each_weak_value_is_refused_by_name(name, value, why):
    env = good() | {name: value}
    r = run(env)
    assert r.returncode == 1 and f"- {name} " in r.stderr and why in r.stderr, r.stderr
    assert value not in r.stderr and value not in r.stdout  # never echoed
    assert r.stderr.count("\n  - ") == 1  # only that one


def test_parties_may_not_share_a_key():
    env = good()
    env["SINERGI_S3_LAMPUNG_SECRET_KEY"] = env["SINERGI_S3_KP2MI_SECRET_KEY"]
    r = run(env)
    assert r.returncode == 1 and "must all differ" in r.stderr
