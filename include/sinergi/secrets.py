"""The one master secret that all token keys derive from (see sinergi.tokens): decoding, and the
embedded default's generation. *Where* it comes from is resolved by :class:`sinergi.settings.Settings`
with the project's one precedence (first hit wins):

1. the Airflow Connection ``sinergi_master_secret`` through the DAG layer's ``lookup`` (Airflow's
   secrets backend; it may return a Connection, a string or None — a zero-argument callable
   returning the secret itself is accepted too);
2. env ``AIRFLOW_CONN_SINERGI_MASTER_SECRET`` in JSON (``{"conn_type": "generic", "password":
   "<secret>"}``) or URI (``generic://:<secret>@``) form. The secret is the Connection's password
   (or ``extra.master_secret``);
3. env ``SINERGI_MASTER_SECRET``;
4. the embedded default: ``<SINERGI_HOME>/secrets/master.key``, generated once with
   ``secrets.token_bytes(32)``, mode 0600, in a 0700 dir.

Secret text may be ``hex:<hex>``, ``base64:<b64>``, 64 plain hex digits (decoded) or any other
string (its UTF-8 bytes); it must carry at least 16 bytes. The secret is never logged or put in an
exception message; manifests record only ``Keyring.version_label`` (fingerprint id + version).
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import logging
import os
import re
import secrets as _stdlib_secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sinergi.errors import ConfigError
from sinergi.private import create_private
from sinergi.settings import HOME_ENV, MASTER_SECRET_CONN_ID, Settings, conn_env

log = logging.getLogger(__name__)

CONN_ID = MASTER_SECRET_CONN_ID
CONN_ENV = conn_env(CONN_ID)
SECRET_ENV = "SINERGI_MASTER_SECRET"
__all__ = ["CONN_ENV", "CONN_ID", "HOME_ENV", "SECRET_ENV", "SecretError", "decode_secret", "master_secret",
           "master_secret_source"]
MIN_BYTES = 16


class SecretError(ConfigError):
    """The master secret is missing, malformed or too short (message never contains the secret)."""


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


def _settings(lookup: Callable | None, home: str | os.PathLike | None, settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    if lookup is not None and _positional_arity(lookup) == 0:
        secret_only = lookup
        lookup = lambda conn_id: secret_only() if conn_id == CONN_ID else None  # noqa: E731
    environ = None if home is None else {**os.environ, HOME_ENV: str(home)}
    return Settings(lookup=lookup, environ=environ)


def _secret_of(found: Any) -> str | bytes | None:
    """The secret in whatever was found: a Connection(-like) object, a string or bytes."""
    if found is None or isinstance(found, str | bytes | bytearray):
        return found or None
    extra = getattr(found, "extra", None) or {}
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except ValueError:
            extra = {}
    return getattr(found, "password", None) or (extra.get("master_secret") if isinstance(extra, dict) else None)


def _from_file(path: Path) -> bytes:
    if not path.exists():
        raw = create_private(path, lambda: _stdlib_secrets.token_bytes(32))
        log.info("using the master secret file at %s (generated on first use)", path)
        return raw
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("master secret file %s is accessible by group/others (mode %o); use 0600", path, mode)
    return decode_secret(path.read_bytes(), str(path))


def _found(settings: Settings):
    try:
        return settings.master_secret()
    except ConfigError:
        raise SecretError(f"the {CONN_ID} connection cannot be parsed") from None


def master_secret(lookup: Callable | None = None, *, home: str | os.PathLike | None = None,
                  settings: Settings | None = None) -> bytes:
    """Resolve the master secret (see the module docstring for the order); ``settings`` (with its
    own lookup and environment) replaces ``lookup`` and ``home``."""
    settings = _settings(lookup, home, settings)
    found = _found(settings)
    if found is None:
        return _from_file(settings.master_secret_file())
    value = _secret_of(found.value)
    if not value:
        raise SecretError(f"the {CONN_ID} connection (from {found.where}) has no password")
    return decode_secret(value, found.where)


def master_secret_source(lookup: Callable | None = None, *, home: str | os.PathLike | None = None,
                         settings: Settings | None = None) -> str:
    """Where master_secret() takes the secret from (for logs; never the secret itself)."""
    settings = _settings(lookup, home, settings)
    found = _found(settings)
    return found.where if found is not None else str(settings.master_secret_file())
