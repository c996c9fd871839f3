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

The secret must be at least 32 random bytes. Text is given as ``hex:<hex>``, ``base64:<b64>`` or 64
plain hex digits (decoded); anything else is taken as its bytes and refused if it is printable text
only — a passphrase, a placeholder such as ``change-me`` — since those carry far less than 32 random
bytes. The generated default file holds 32 raw random bytes.

Fails closed: only when nothing is configured anywhere is the embedded default used (generated on
first use); a lookup that fails, a configured value that cannot be decoded and a default file that
cannot be read (or that group/others can read) are errors, never a reason to generate a new key —
a new key silently changes every token and breaks every link across months. Whether the secret is
still the one the existing publications were made with is checked by :func:`verify_key_history`
before anything is tokenised.

The secret is never logged or put in an exception message; manifests and catalogs record only the
derived key id (``Keyring.key_id``, HKDF — not a hash of the secret) and the key version.
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

from sinergi.errors import ConfigError, TransientError
from sinergi.private import create_private
from sinergi.settings import HOME_ENV, MASTER_SECRET_CONN_ID, Settings, conn_env

log = logging.getLogger(__name__)

CONN_ID = MASTER_SECRET_CONN_ID
CONN_ENV = conn_env(CONN_ID)
SECRET_ENV = "SINERGI_MASTER_SECRET"
__all__ = ["CONN_ENV", "CONN_ID", "HOME_ENV", "SECRET_ENV", "SecretError", "SecretsBackendError", "decode_secret",
           "key_history", "master_secret", "master_secret_source", "verify_key_history"]
MIN_BYTES = 32
_HOW = ("give 32 random bytes as hex:<64 hex digits> or base64:<44 characters>, e.g. "
        "python -c \"import secrets; print('hex:' + secrets.token_hex(32))\"")


class SecretError(ConfigError):
    """The master secret is missing, malformed, too weak or not the one in use (message never
    contains the secret)."""


class SecretsBackendError(TransientError):
    """The secrets backend failed to answer: retried; never answered with a newly generated key."""


def _printable_text(raw: bytes) -> bool:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in " \t\r\n" for c in text)


def decode_secret(text: str | bytes, where: str) -> bytes:
    """The secret's bytes (see the module docstring for the accepted forms and strength)."""
    if isinstance(text, bytes | bytearray):
        if not _printable_text(bytes(text)):
            raw = bytes(text)  # raw random bytes (the generated default file)
            if len(raw) < MIN_BYTES:
                raise SecretError(f"master secret from {where} is too short ({len(raw)} bytes; need >= {MIN_BYTES})")
            return raw
        text = bytes(text).decode("utf-8")
    s = text.strip()
    encoded = s.startswith(("hex:", "base64:")) or re.fullmatch(r"[0-9a-fA-F]{64}", s) is not None
    try:
        if s.startswith("hex:"):
            raw = bytes.fromhex(s[4:])
        elif s.startswith("base64:"):
            raw = base64.b64decode(s[7:], validate=True)
        elif encoded:
            raw = bytes.fromhex(s)
        else:
            raw = s.encode("utf-8")
    except (ValueError, binascii.Error):
        raise SecretError(f"master secret from {where} is not valid hex/base64; {_HOW}") from None
    if not encoded:
        raise SecretError(f"master secret from {where} is plain text (a passphrase or placeholder), not random "
                          f"bytes; {_HOW}")
    if len(raw) < MIN_BYTES:
        raise SecretError(f"master secret from {where} is too short ({len(raw)} bytes; need >= {MIN_BYTES}); {_HOW}")
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
    """The embedded default: generated only if the file does not exist — never in place of one that
    exists but cannot be read or decoded."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raw = create_private(path, lambda: _stdlib_secrets.token_bytes(MIN_BYTES))
        log.info("using the master secret file at %s (generated on first use)", path)
        return decode_secret(raw, str(path))
    except OSError as e:
        raise SecretError(f"the master secret file {path} cannot be checked ({e.strerror}); no new key is "
                          "generated in its place") from None
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise SecretError(f"the master secret file {path} is accessible by group/others (mode {mode:o}): "
                          "chmod 600 it and treat the secret as exposed (rotate: new secret + key_version bump)")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SecretError(f"the master secret file {path} cannot be read ({e.strerror}); no new key is generated "
                          "in its place") from None
    return decode_secret(data, str(path))


def _found(settings: Settings):
    try:
        return settings.master_secret()
    except ConfigError:
        raise SecretError(f"the {CONN_ID} connection cannot be parsed") from None
    except Exception as e:  # noqa: BLE001 - a failing secrets backend is not "nothing configured"
        raise SecretsBackendError(f"looking up the {CONN_ID} connection failed ({type(e).__name__}); no new key "
                                  "is generated in its place: fix the secrets backend and retry") from None


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


# -- is it still the same secret? ----------------------------------------------------------------------
def key_history(store, bucket: str) -> list[dict]:
    """The key versions a party bucket's publications were made with, oldest first: the catalog's
    ``key_versions`` (``[{"version", "key_id", "since", "first_month"}]``); for a catalog written before
    the history was kept, what the latest manifest of each dataset records."""
    from sinergi.publish.catalog import read_catalog

    catalog = read_catalog(store, bucket) or {}
    if catalog.get("key_versions"):
        return list(catalog["key_versions"])
    seen: dict[int, str] = {}
    for entry in (catalog.get("datasets") or {}).values():
        months = entry.get("months") or {}
        if not months or not months[max(months)].get("manifest_key"):
            continue
        manifest = json.loads(store.get_bytes(bucket, months[max(months)]["manifest_key"]))
        for described in (manifest.get("key_versions") or {}).values():
            if isinstance(described, dict) and described.get("key_id"):
                seen[int(described["version"])] = described["key_id"]
    return [{"version": v, "key_id": k, "since": None} for v, k in sorted(seen.items())]


def verify_key_history(store, buckets: list[str], keyring) -> None:
    """Stop before tokenising if this master secret (its derived key id) or key version is not the one
    the existing publications were made with. A new master secret is adopted only with a new
    ``key_version`` in policy.yaml — a deliberate rotation — never silently."""
    for bucket in buckets:
        history = key_history(store, bucket)
        if not history:
            continue
        last = history[-1]
        since = f" since {last['since']}" if last.get("since") else ""
        if keyring.version < int(last["version"]):
            raise SecretError(
                f"policy key_version {keyring.version} is older than key version {last['version']} already used in "
                f"s3://{bucket}{since}: going back would re-issue retired tokens; set key_version >= {last['version']}")
        if keyring.version == int(last["version"]) and keyring.key_id != last["key_id"]:
            raise SecretError(
                f"the master secret is not the one the publications in s3://{bucket} were made with (key version "
                f"{last['version']}{since}, key id {last['key_id']}; this secret derives key id {keyring.key_id}). "
                f"Every token would change and links across months would break. Restore the secret "
                f"(connection {CONN_ID!r}); if it was replaced on purpose, also raise key_version in policy.yaml "
                "(a rotation, recorded in each party's catalog and record of processing)")
