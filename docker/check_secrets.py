#!/usr/bin/env python3
"""Refuse to start the compose stack with a placeholder or weak secret (the `sinergi-preflight`
service runs this before PostgreSQL, Redis, SeaweedFS or Airflow start; compose's ``${VAR:?}`` only
refuses *empty* values, so ``change-me`` from docker/.env.example would otherwise be used).

    python docker/check_secrets.py      # reads the environment; exit 0 = fine, 1 = refused

Each problem names the variable and says how to make a good value; no value is ever printed.
Standard library only (it runs in the Airflow image before anything else is up).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import sys
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"change[-_ ]?me|changeme|example|placeholder|secret|password|passw0rd|admin|default|"
                         r"todo|xxx|^test|^demo|your[-_]|^minio|^seaweed", re.I)
GENERATE = "python -c \"import secrets; print(secrets.token_urlsafe(32))\""
FERNET = "python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\""
MASTER = "python -c \"import secrets; print('hex:' + secrets.token_hex(32))\""

#: variable -> minimum length (characters of a random string)
SECRETS = {
    "POSTGRES_PASSWORD": 20,
    "AIRFLOW_JWT_SECRET": 32,
    "AIRFLOW_API_SECRET_KEY": 32,
    "SINERGI_ADMIN_PASSWORD": 16,
    "SINERGI_S3_PIPELINE_SECRET_KEY": 32,
    "SINERGI_S3_KP2MI_SECRET_KEY": 32,
    "SINERGI_S3_LAMPUNG_SECRET_KEY": 32,
}
ACCESS_KEYS = ("SINERGI_S3_PIPELINE_ACCESS_KEY", "SINERGI_S3_KP2MI_ACCESS_KEY", "SINERGI_S3_LAMPUNG_ACCESS_KEY")


def _weak(value: str, minimum: int) -> str | None:
    """Why ``value`` is not an acceptable secret (None: acceptable). Never quotes the value."""
    if not value:
        return "is empty"
    if PLACEHOLDER.search(value):
        return "is a placeholder or contains a guessable word (change-me, password, secret, admin, example ...)"
    if len(value) < minimum:
        return f"is too short ({len(value)} characters; at least {minimum} random characters)"
    if len(set(value)) < min(12, minimum // 2):
        return "repeats too few characters to be random"
    return None


def _master_secret(raw: str) -> str | None:
    """The master secret connection: JSON or URI form, password hex:/base64: of >= 32 bytes."""
    password = None
    try:
        if raw.strip().startswith("{"):
            doc = json.loads(raw)
            password = doc.get("password") or (doc.get("extra") or {}).get("master_secret")
        else:
            from urllib.parse import unquote, urlsplit

            password = unquote(urlsplit(raw).password or "") or None
    except (ValueError, AttributeError):
        return "cannot be parsed as an Airflow Connection (JSON or URI form)"
    if not password:
        return "has no password (the master secret)"
    try:
        if password.startswith("hex:"):
            secret = bytes.fromhex(password[4:])
        elif password.startswith("base64:"):
            secret = base64.b64decode(password[7:], validate=True)
        else:
            return "holds a passphrase, not random bytes: give them as hex:<64 hex digits> or base64:<...>"
    except (ValueError, binascii.Error):
        return "password is not valid hex/base64 (still the placeholder?)"
    if len(secret) < 32:
        return f"holds {len(secret)} bytes; at least 32 random bytes are needed"
    if len(set(secret)) < 8:
        return "holds bytes that are not random (too few distinct values)"
    return None


def _fernet(value: str) -> str | None:
    try:
        key = base64.urlsafe_b64decode(value.encode())
    except (ValueError, binascii.Error):
        key = b""
    if len(key) != 32 or PLACEHOLDER.search(value):
        return "is not a Fernet key (32 url-safe base64 bytes)"
    return None


def problems(env: Mapping[str, str]) -> list[str]:
    found = []
    for name, minimum in SECRETS.items():
        why = _weak(env.get(name, ""), minimum)
        if why:
            found.append(f"{name} {why}; generate one: {GENERATE}")
    for name in ACCESS_KEYS:
        value = env.get(name, "")
        if not value or PLACEHOLDER.search(value) or len(value) < 16:
            found.append(f"{name} is a placeholder or shorter than 16 characters; generate one: "
                         "python -c \"import secrets; print('SNG' + secrets.token_hex(8).upper())\"")
    for group in (ACCESS_KEYS, tuple(k for k in SECRETS if k.startswith("SINERGI_S3_"))):
        values = [env.get(k, "") for k in group]
        if len(set(values)) < len(values) and all(values):
            found.append(f"{', '.join(group)} must all differ (one identity per party)")
    why = _fernet(env.get("AIRFLOW_FERNET_KEY", ""))
    if why:
        found.append(f"AIRFLOW_FERNET_KEY {why}; generate one: {FERNET}")
    why = _master_secret(env.get("AIRFLOW_CONN_SINERGI_MASTER_SECRET", ""))
    if why:
        found.append(f"AIRFLOW_CONN_SINERGI_MASTER_SECRET {why}; e.g. "
                     '{"conn_type": "generic", "password": "hex:<64 hex digits>"} with ' + MASTER)
    if env.get("SINERGI_VIEWER_USER"):
        why = _weak(env.get("SINERGI_VIEWER_PASSWORD", ""), 16)
        if why:
            found.append(f"SINERGI_VIEWER_PASSWORD {why}; generate one: {GENERATE}")
    disnaker = env.get("AIRFLOW_CONN_SINERGI_DISNAKER_DB", "")
    if re.search(r"change[-_ ]?me", disnaker, re.I):
        found.append("AIRFLOW_CONN_SINERGI_DISNAKER_DB still holds the placeholder password change-me")
    return found


def main() -> int:
    found = problems(os.environ)
    if found:
        print("sinergi-preflight: refusing to start the stack — fix these in docker/.env:", file=sys.stderr)
        for p in found:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print("sinergi-preflight: secrets look random and none is a placeholder")
    return 0


if __name__ == "__main__":
    sys.exit(main())
