"""Keyed pseudonymous tokens: HKDF key derivation and vectorised HMAC-SHA256 tokenisation.

One master secret (``sinergi.secrets.master_secret``) yields, by HKDF (RFC 5869, SHA-256), one key
per *party* x *field kind* x key version::

    key = HKDF(master, salt="sinergi/hkdf/v1", info="sinergi/token/<party>/<field>/v<version>", L=32)

The field kind is what the value identifies ("person" for the NIK in every dataset, "passport",
"phone", ...), not the dataset, so within a party the same person gets the same token in every
dataset and every month (linkage), while different parties get unrelated tokens (no linkage
between recipients). Bumping the key version changes every token (rotation after a compromise).

Field kind ``record`` (:data:`sinergi.safeguards.RECORD_FIELD`): a source system's record id
(``placement_id``, ``check_id``, ...) sent to a party that does not own that system. The value is
namespaced by the issuing system before hashing (``siskop2mi:PN-2507-000123``), so one id spelled
alike in two systems gets two tokens, while the same placement id gets the same token in
``placements`` and ``returns`` of that recipient (links inside its own datasets keep working). The
owner of the system cannot look its ids up in the token column, and the two parties' record tokens
never match (tokens_records).

Link keys (:func:`link_keys`): the first 64 bits of the same HMAC, as int64 — what the pipeline
counts persons with inside a release (k over people, with ``Keyring.internal_key("person")``);
never published.

Token format: ``"t_" + the first 128 bits of HMAC-SHA256(key, normalise(value))`` written as 32
"letter-hex" characters (the hex digits 0-f spelled a-p). 128 bits keep the collision probability
negligible (~n^2 / 2^129; < 1e-20 for 100M values). Tokens contain no digits at all, so no scanner —
our leak guard or a recipient's DLP tool — can mistake one for a NIK, phone or passport number
(plain hex does: a 32-char hex string holds a run of 16 decimal digits about 1% of the time).

Speed (benchmarks/bench_tokens.py): the HMAC is computed once per *distinct* value (dictionary
encoding, then ``take``); for each one the two padded key blocks are pre-hashed, so a token costs two
``copy()`` of a primed SHA-256 state, two updates and two digests (C calls; no re-keying); values come
out of Arrow as bytes in one C call for fixed-width columns (NIK), and the hex/prefix formatting is
vectorised in numpy into one Arrow buffer. The optional ``engine="duckdb"`` computes the same HMAC
(``sha256(opad || sha256(ipad || v))``) in DuckDB, which only pays off when several cores are given
(``threads>1``); per core it is slower than the loop above. Both agree with ``hmac.new`` (tested).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sinergi.safeguards import NORMALISERS, RECORD_FIELD  # the names the policy may use; implemented here

TOKEN_PREFIX = "t_"
TOKEN_HEX_CHARS = 32  # 128 bits
TOKEN_PATTERN = r"^t_[a-p]{32}$"
_LETTER_HEX = "abcdefghijklmnop"  # hex digit d is spelled _LETTER_HEX[d]
HKDF_SALT = b"sinergi/hkdf/v1"
_DUCKDB_MIN_UNIQUE = 2048  # below this the DuckDB connection set-up costs more than it saves


# --- HKDF (RFC 5869) -------------------------------------------------------------------------


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or b"\0" * 32, ikm, hashlib.sha256).digest()


def hkdf_expand(prk: bytes, info: bytes, length: int = 32) -> bytes:
    if length > 255 * 32:
        raise ValueError("HKDF-SHA256 output is limited to 8160 bytes")
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def hkdf(ikm: bytes, *, salt: bytes, info: bytes, length: int = 32) -> bytes:
    return hkdf_expand(hkdf_extract(salt, ikm), info, length)


# --- keyring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Keyring:
    """Derives per-party, per-field token keys from the master secret. Never prints a key."""

    _prk: bytes = field(repr=False)
    version: int
    key_id: str  # short fingerprint of the master secret (not of any derived key)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_master(cls, master_secret: bytes, version: int = 1) -> Keyring:
        if not isinstance(master_secret, bytes | bytearray) or len(master_secret) < 16:
            raise ValueError("the master secret must be at least 16 bytes")
        if not isinstance(version, int) or version < 1:
            raise ValueError("key version must be a positive integer")
        prk = hkdf_extract(HKDF_SALT, bytes(master_secret))
        key_id = hkdf_expand(prk, b"sinergi/key-id", 4).hex()
        return cls(_prk=prk, version=version, key_id=key_id)

    def key(self, party: str, field: str) -> bytes:
        if not party or not field or "/" in party or "/" in field:
            raise ValueError("party and field must be non-empty and must not contain '/'")
        k = (party, field)
        if k not in self._cache:
            info = f"sinergi/token/{party}/{field}/v{self.version}".encode()
            self._cache[k] = hkdf_expand(self._prk, info, 32)
        return self._cache[k]

    def internal_key(self, field: str) -> bytes:
        """The trusted zone's own key for ``field`` (e.g. ``"person"``): it links records inside the
        pipeline (person-level indicators, k-anonymity counted over persons) and never keys anything
        a party receives. Independent of the policy's key version, so a rotation of the parties'
        tokens does not break the trusted zone's links across months."""
        if not field or "/" in field:
            raise ValueError("field must be non-empty and must not contain '/'")
        k = ("/internal", field)
        if k not in self._cache:
            self._cache[k] = hkdf_expand(self._prk, f"sinergi/internal/{field}".encode(), 32)
        return self._cache[k]

    @property
    def version_label(self) -> str:
        """What manifests record: fingerprint id + version, e.g. ``3f9a12c0-v1``."""
        return f"{self.key_id}-v{self.version}"

    def describe(self, party: str, field: str) -> dict:
        return {"field": field, "key_id": self.key_id, "version": self.version, "label": self.version_label,
                "algorithm": "HMAC-SHA256/HKDF-SHA256", "token_bits": TOKEN_HEX_CHARS * 4, "party": party}


# --- normalisation ---------------------------------------------------------------------------


def normalise(values: pa.Array | pa.ChunkedArray, kind: str) -> pa.Array:
    """Canonical form before hashing, so formatting differences do not split one person in two.

    nik: digits only; passport: upper case, no whitespace; phone: digits and a leading '+';
    email: lower case, trimmed; text: trimmed, inner whitespace collapsed. Empty -> null.
    """
    if kind not in NORMALISERS:
        raise ValueError(f"unknown normaliser {kind!r}; known: {', '.join(NORMALISERS)}")
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
        arr = pc.cast(arr, pa.string())
    if kind == "nik":
        # fast path: a clean NIK column (the normal case after extraction) needs no regex rewrite
        clean = pc.all(pc.utf8_is_digit(arr)).as_py() is not False
        out = arr if clean else pc.replace_substring_regex(arr, r"[^0-9]", "")
    elif kind == "passport":
        out = pc.utf8_upper(pc.replace_substring_regex(arr, r"\s+", ""))
    elif kind == "phone":
        trimmed = pc.utf8_trim_whitespace(arr)
        plus = pc.starts_with(trimmed, "+")
        digits = pc.replace_substring_regex(trimmed, r"[^0-9]", "")
        out = pc.if_else(plus, pc.binary_join_element_wise("+", digits, ""), digits)
    elif kind == "email":
        out = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
    else:
        out = pc.replace_substring_regex(pc.utf8_trim_whitespace(arr), r"\s+", " ")
    return pc.if_else(pc.equal(out, ""), pa.scalar(None, pa.string()), out)


# --- HMAC ------------------------------------------------------------------------------------


def _pads(key: bytes) -> tuple[bytes, bytes]:
    block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def _as_bytes_list(values: pa.Array) -> list[bytes]:
    """UTF-8 bytes of each (non-null) string; a C-speed path when all values have the same width."""
    arr = values.cast(pa.binary()) if not pa.types.is_binary(values.type) else values
    if len(arr) and arr.null_count == 0:
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=len(arr) + 1, offset=arr.offset * 4)
        widths = np.diff(offsets)
        w = int(widths[0])
        if w > 0 and (widths == w).all() and arr.buffers()[2] is not None:
            data = np.frombuffer(arr.buffers()[2], dtype=np.uint8, count=w * len(arr), offset=int(offsets[0]))
            fixed = data.view(f"S{w}")
            if not (data.reshape(-1, w)[:, -1] == 0).any():  # numpy S dtype would strip trailing NULs
                return fixed.tolist()
    return arr.to_pylist()


_HEX = np.frombuffer(_LETTER_HEX.encode(), dtype=np.uint8)


def _format_tokens(digests: list[bytes]) -> pa.Array:
    """``t_`` + letter-hex of the first 16 bytes of each digest, built as one Arrow buffer (no per-value str)."""
    n = len(digests)
    raw = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(n, 32)[:, : TOKEN_HEX_CHARS // 2]
    width = len(TOKEN_PREFIX) + TOKEN_HEX_CHARS
    out = np.empty((n, width), dtype=np.uint8)
    out[:, : len(TOKEN_PREFIX)] = np.frombuffer(TOKEN_PREFIX.encode(), dtype=np.uint8)
    out[:, len(TOKEN_PREFIX)::2] = _HEX[raw >> 4]
    out[:, len(TOKEN_PREFIX) + 1::2] = _HEX[raw & 0x0F]
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out.tobytes()))


try:  # CPython's built-in SHA-256: its copy() is a plain struct copy, ~30% faster here than OpenSSL's EVP copy
    from _sha256 import sha256 as _sha256
except ImportError:  # pragma: no cover
    _sha256 = hashlib.sha256


def _digests(values: list[bytes], key: bytes) -> list[bytes]:
    """HMAC-SHA256 with the two padded key blocks hashed once: per value two ``copy()`` of a primed
    SHA-256 state, two updates, two digests — the cheapest exact HMAC available from the standard
    library (OpenSSL's HMAC_CTX copy and ``hmac.digest`` are slower per call)."""
    ipad, opad = _pads(key)
    inner, outer = _sha256(ipad).copy, _sha256(opad).copy
    digests = []
    append = digests.append
    for v in values:
        i = inner()
        i.update(v)
        o = outer()
        o.update(i.digest())
        append(o.digest())
    return digests


def _tokens_python(values: list[bytes], key: bytes) -> pa.Array:
    digests = _digests(values, key)
    return _format_tokens(digests) if digests else pa.array([], pa.string())


def _tokens_duckdb(values: pa.Array, key: bytes, threads: int | None) -> pa.Array:
    import duckdb

    ipad, opad = _pads(key)
    con = duckdb.connect(config={"preserve_insertion_order": True, **({"threads": threads} if threads else {})})
    try:
        src = pa.table({"v": values})  # noqa: F841 - scanned by DuckDB's replacement scan
        con.register("src", src)
        sql = (
            f"SELECT '{TOKEN_PREFIX}' || translate(substr(sha256(?::BLOB || unhex(sha256(?::BLOB || encode(v)))), 1, "
            f"{TOKEN_HEX_CHARS}), '0123456789abcdef', '{_LETTER_HEX}') AS t FROM src"
        )
        res = con.execute(sql, [opad, ipad]).arrow()
        table = res.read_all() if isinstance(res, pa.RecordBatchReader) else res
    finally:
        con.close()
    out = table.column("t").combine_chunks()
    if len(out) != len(values):  # pragma: no cover - defensive
        raise RuntimeError("tokenisation lost rows")
    return out.cast(pa.string())


def _have_duckdb() -> bool:
    try:
        import duckdb  # noqa: F401
    except ImportError:  # pragma: no cover
        return False
    return True


def tokens_for_unique(values: pa.Array, key: bytes, *, engine: str = "auto", threads: int | None = None) -> pa.Array:
    """Tokens for an array of non-null strings (ideally distinct); same length and order."""
    if engine == "auto":
        engine = "duckdb" if threads and threads > 1 and len(values) >= _DUCKDB_MIN_UNIQUE and _have_duckdb() else "python"
    if engine == "duckdb":
        return _tokens_duckdb(values, key, threads)
    if engine == "python":
        return _tokens_python(_as_bytes_list(values), key)
    raise ValueError(f"unknown engine {engine!r}")


def tokenise(
    values: pa.Array | pa.ChunkedArray,
    key: bytes,
    kind: str = "text",
    *,
    engine: str = "auto",
    threads: int | None = None,
) -> pa.Array:
    """Normalise, then HMAC-SHA256 every distinct value once; nulls (and empties) stay null."""
    norm = normalise(values, kind)
    if len(norm) == 0:
        return pa.array([], pa.string())
    encoded = pc.dictionary_encode(norm)
    dictionary = encoded.dictionary
    if len(dictionary) == 0:
        return pa.nulls(len(norm), pa.string())
    toks = tokens_for_unique(dictionary, key, engine=engine, threads=threads)
    return pc.take(toks, encoded.indices)


def token(value: str, key: bytes, kind: str = "text") -> str | None:
    """One token (convenience/reference)."""
    out = tokenise(pa.array([value], pa.string()), key, kind, engine="python")
    return out[0].as_py()


def record_values(values: pa.Array | pa.ChunkedArray, system: str) -> pa.Array:
    """A record id in the form its ``record`` token is computed from: ``<system>:<id>`` (id trimmed,
    inner whitespace collapsed; empty -> null)."""
    if not system or ":" in system:
        raise ValueError("the issuing system must be a non-empty name without ':'")
    norm = normalise(values, "text")
    return pc.binary_join_element_wise(pa.scalar(f"{system}:"), norm, "")


def tokenise_records(values: pa.Array | pa.ChunkedArray, key: bytes, system: str, **kw) -> pa.Array:
    """Tokens of record ids issued by ``system`` (key: ``Keyring.key(party, RECORD_FIELD)``)."""
    return tokenise(record_values(values, system), key, "text", **kw)


def link_keys(values: pa.Array | pa.ChunkedArray, key: bytes, kind: str = "nik") -> pa.Array:
    """int64 link keys: the first 64 bits of HMAC-SHA256(key, normalise(value)), once per distinct
    value (the same digest as :func:`tokenise`, so equal values give equal keys); null stays null.
    What ``share()`` counts persons with (k over people); never published. 64 bits: a collision
    among 10M persons has probability ~3e-6, and would only merge two persons' counts."""
    norm = normalise(values, kind)
    if len(norm) == 0:
        return pa.array([], pa.int64())
    encoded = pc.dictionary_encode(norm)
    dictionary = encoded.dictionary
    if len(dictionary) == 0:
        return pa.nulls(len(norm), pa.int64())
    digests = _digests(_as_bytes_list(dictionary), key)
    raw = np.frombuffer(b"".join(d[:8] for d in digests), dtype=">i8").astype(np.int64)
    return pc.take(pa.array(raw, pa.int64()), encoded.indices)


__all__ = [
    "HKDF_SALT", "RECORD_FIELD", "TOKEN_HEX_CHARS", "TOKEN_PATTERN", "TOKEN_PREFIX", "Keyring", "hkdf", "hkdf_expand",
    "hkdf_extract", "link_keys", "normalise", "record_values", "token", "tokenise", "tokenise_records",
    "tokens_for_unique",
]
