"""Resolution of the one master secret that all token keys derive from (see sinergi.tokens).

Order (first hit wins), following the project's connection convention (sinergi.settings):

1. the Airflow Connection ``sinergi_master_secret``: through ``lookup(conn_id)`` — the callable the
   DAG layer passes (Airflow's secrets backend; it may return a Connection, a string or None) —
   else from env ``AIRFLOW_CONN_SINERGI_MASTER_SECRET`` in JSON (``{"conn_type": "generic",
   "password": "<secret>"}``) or URI (``generic://:<secret>@``) form, parsed without importing
   Airflow. The secret is the Connection's password (or ``extra.master_secret``);
2. env ``SINERGI_MASTER_SECRET``;
3. the embedded default: ``<SINERGI_HOME>/secrets/master.key`` (``SINERGI_HOME`` env, default
   ``<repo>/.local``), generated once with ``secrets.token_bytes(32)``, mode 0600, in a 0700 dir.

Secret text may be ``hex:<hex>``, ``base64:<b64>``, 64 plain hex digits (decoded) or any other
string (its UTF-8 bytes); it must carry at least 16 bytes. The secret is never logged or put in an
exception message; manifests record only ``Keyring.version_label`` (fingerprint id + version).
"""

from __future__ import annotations

import base64
import binascii
import inspect
import logging
import os
import re
import secrets as _stdlib_secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sinergi import settings

log = logging.getLogger(__name__)

CONN_ID = "sinergi_master_secret"
CONN_ENV = f"AIRFLOW_CONN_{CONN_ID.upper()}"
SECRET_ENV = "SINERGI_MASTER_SECRET"
HOME_ENV = "SINERGI_HOME"
MIN_BYTES = 16


class SecretError(RuntimeError):
    """The master secret is missing, malformed or too short (message never contains the secret)."""


def sinergi_home() -> Path:
    return settings.home()


def decode_secret(text: str | bytes, where: str) -> bytes:
    if isinstance(text, bytes | bytearray):
        raw = bytes(text)
    else:
        s = text.strip()
        try:
            if s.startswith("hex:"):
                raw = bytes.fromhex(s[4:])
            elif s.startswith("base64:"):
                raw = base64.b64decode(s[7:], validate=True)
            elif re.fullmatch(r"[0-9a-fA-F]{64}", s):
                raw = bytes.fromhex(s)
            else:
                raw = s.encode("utf-8")
        except (ValueError, binascii.Error):
            raise SecretError(f"master secret from {where} is not valid hex/base64") from None
    if len(raw) < MIN_BYTES:
        raise SecretError(f"master secret from {where} is too short (need >= {MIN_BYTES} bytes)")
    return raw


def _positional_arity(fn: Callable) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: assume the (conn_id) protocol
        return 1
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 1
    return sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty)


def _secret_of(found: Any) -> str | bytes | None:
    """The secret in whatever the lookup returned: a Connection-like object, a string or bytes."""
    if found is None or isinstance(found, str | bytes | bytearray):
        return found or None
    extra = getattr(found, "extra", None) or {}
    if isinstance(extra, str):
        import json

        try:
            extra = json.loads(extra)
        except ValueError:
            extra = {}
    return getattr(found, "password", None) or (extra.get("master_secret") if isinstance(extra, dict) else None)


def _generate(path: Path) -> bytes:
    """Create the key file atomically (link from a temp file): concurrent first runs agree."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{_stdlib_secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, _stdlib_secrets.token_bytes(32))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
        log.info("generated a new master secret file at %s", path)
    except FileExistsError:
        pass  # someone else won the race: use theirs
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


def _from_file(path: Path) -> bytes:
    if not path.exists():
        return _generate(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("master secret file %s is accessible by group/others (mode %o); use 0600", path, mode)
    return decode_secret(path.read_bytes(), str(path))


def _connection(lookup: Callable | None) -> tuple[str, Any] | None:
    if lookup is not None and _positional_arity(lookup) == 0:
        found = lookup()  # a zero-argument callable returning the secret itself is accepted too
        if found:
            return "lookup", found
    elif lookup is not None:
        found = lookup(CONN_ID)
        if found:
            return "lookup", found
    conn = settings.airflow_connection(CONN_ID)  # env AIRFLOW_CONN_SINERGI_MASTER_SECRET (JSON or URI)
    return (CONN_ENV, conn) if conn is not None else None


def master_secret(lookup: Callable | None = None, *, home: str | os.PathLike | None = None) -> bytes:
    """Resolve the master secret (see the module docstring for the order)."""
    try:
        hit = _connection(lookup)
    except (ValueError, TypeError):
        raise SecretError(f"the {CONN_ID} connection cannot be parsed") from None
    if hit is not None:
        where, found = hit
        value = _secret_of(found)
        if not value:
            raise SecretError(f"the {CONN_ID} connection (from {where}) has no password")
        return decode_secret(value, where)
    if os.environ.get(SECRET_ENV):
        return decode_secret(os.environ[SECRET_ENV], SECRET_ENV)
    base = Path(home) if home is not None else sinergi_home()
    return _from_file(base / "secrets" / "master.key")


def master_secret_source(lookup: Callable | None = None, *, home: str | os.PathLike | None = None) -> str:
    """Where master_secret() takes the secret from (for logs; never the secret itself)."""
    hit = _connection(lookup)
    if hit is not None:
        return hit[0]
    if os.environ.get(SECRET_ENV):
        return SECRET_ENV
    base = Path(home) if home is not None else sinergi_home()
    return str(base / "secrets" / "master.key")
