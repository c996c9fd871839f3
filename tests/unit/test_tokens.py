"""Token keys (HKDF), tokenisation (normalisation, HMAC, engines) and master-secret resolution."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import stat
from urllib.parse import quote

import pyarrow as pa
import pytest

from sinergi import secrets as sec
from sinergi.tokens import (
    RECORD_FIELD,
    TOKEN_PATTERN,
    Keyring,
    hkdf,
    link_keys,
    normalise,
    record_values,
    token,
    tokenise,
    tokenise_records,
)

MASTER = bytes(range(32))


def reference(key: bytes, normalised: str) -> str:
    digest = hmac.new(key, normalised.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
    return "t_" + digest.translate(str.maketrans("0123456789abcdef", "abcdefghijklmnop"))


def test_hkdf_rfc5869_test_case_1():
    ikm = bytes([0x0B] * 22)
    salt = bytes(range(0x0D))
    info = bytes(range(0xF0, 0xFA))
    okm = hkdf(ikm, salt=salt, info=info, length=42)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_hkdf_matches_cryptography_if_installed():
    import cryptography.hazmat.primitives.kdf.hkdf as crypto
    from cryptography.hazmat.primitives import hashes

    ours = hkdf(MASTER, salt=b"s", info=b"i", length=32)
    theirs = crypto.HKDF(algorithm=hashes.SHA256(), length=32, salt=b"s", info=b"i").derive(MASTER)
    assert ours == theirs


def test_keyring_keys_are_per_party_and_field_and_version():
    kr = Keyring.from_master(MASTER)
    assert kr.key("lampung", "person") == Keyring.from_master(MASTER).key("lampung", "person")
    assert len(kr.key("lampung", "person")) == 32
    keys = {kr.key(p, f) for p in ("kp2mi", "lampung") for f in ("person", "passport")}
    assert len(keys) == 4
    assert Keyring.from_master(MASTER, version=2).key("lampung", "person") != kr.key("lampung", "person")
    assert Keyring.from_master(b"another master secret!!").key_id != kr.key_id
    assert re.fullmatch(r"[0-9a-f]{8}-v1", kr.version_label)


def test_keyring_never_shows_key_material():
    kr = Keyring.from_master(MASTER)
    text = repr(kr) + json.dumps(kr.describe("lampung", "person"))
    assert MASTER.hex() not in text and kr.key("lampung", "person").hex() not in text
    assert "_prk" not in repr(kr)


def test_keyring_rejects_short_secret_and_bad_names():
    with pytest.raises(ValueError):
        Keyring.from_master(b"short")
    with pytest.raises(ValueError):
        Keyring.from_master(MASTER).key("a/b", "person")


def test_normalisation_before_hashing():
    nik = normalise(pa.array([" 1801-0101 0190 0001 ", "1801010101900001", "", None]), "nik").to_pylist()
    assert nik == ["1801010101900001", "1801010101900001", None, None]
    assert normalise(pa.array([" c 1234567", "C1234567 "]), "passport").to_pylist() == ["C1234567"] * 2
    assert normalise(pa.array(["+62 812-3456-7890", "0812 3456 7890"]), "phone").to_pylist() == [
        "+6281234567890", "081234567890"]
    assert normalise(pa.array([" Budi@Contoh.ID "]), "email").to_pylist() == ["budi@contoh.id"]
    with pytest.raises(ValueError):
        normalise(pa.array(["x"]), "hash")


@pytest.mark.parametrize("engine", ["duckdb", "python"])
def test_tokens_match_reference_hmac(engine):
    key = Keyring.from_master(MASTER).key("lampung", "person")
    values = ["1801010101900001", "é ünïcode", "back\\x41slash", "a" * 100, "1801010101900001", None]
    out = tokenise(pa.array(values), key, "text", engine=engine).to_pylist()
    assert out[:5] == [reference(key, v) for v in values[:5]]
    assert out[5] is None
    assert out[0] == out[4]
    assert all(re.fullmatch(TOKEN_PATTERN, t) for t in out[:5])


def test_engines_agree_on_many_values_and_chunked_input():
    key = Keyring.from_master(MASTER).key("kp2mi", "person")
    values = [f"18{i:014d}" for i in range(5000)] * 2
    chunked = pa.chunked_array([values[:3000], values[3000:]])
    a = tokenise(chunked, key, "nik", engine="duckdb")
    b = tokenise(pa.array(values), key, "nik", engine="python")
    assert a.equals(b)
    assert len(set(a.to_pylist())) == 5000
    assert tokenise(pa.array(values), key, "nik").equals(b)  # auto engine


def test_formatting_variants_get_the_same_token():
    key = Keyring.from_master(MASTER).key("lampung", "person")
    assert token(" 1801 0101 0190 0001", key, "nik") == token("1801010101900001", key, "nik")
    assert token("1801010101900001", key, "nik") == reference(key, "1801010101900001")


def test_empty_and_all_null_inputs():
    key = Keyring.from_master(MASTER).key("lampung", "person")
    assert tokenise(pa.array([], pa.string()), key, "nik").to_pylist() == []
    assert tokenise(pa.array([None, " "], pa.string()), key, "nik").to_pylist() == [None, None]


# --- master secret ----------------------------------------------------------------------------


@pytest.fixture
def env(monkeypatch, tmp_path):
    for name in (sec.CONN_ENV, sec.SECRET_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(sec.HOME_ENV, str(tmp_path))
    return monkeypatch


def test_secret_from_connection_json_and_uri(env, tmp_path):
    s = "hex:" + "3c" * 16 + "a5" * 16
    env.setenv(sec.CONN_ENV, json.dumps({"conn_type": "generic", "password": s}))
    assert sec.master_secret() == bytes.fromhex("3c" * 16 + "a5" * 16)
    assert sec.master_secret_source() == sec.CONN_ENV
    b64 = "base64:" + base64.b64encode(bytes(range(32))).decode()  # '+' and '/' survive the URI form
    env.setenv(sec.CONN_ENV, f"generic://:{quote(b64, safe='')}@")
    assert sec.master_secret() == bytes(range(32))
    env.setenv(sec.CONN_ENV, json.dumps({"conn_type": "generic", "extra": {"master_secret": "hex:" + "ab" * 32}}))
    assert sec.master_secret() == bytes.fromhex("ab" * 32)
    assert not (tmp_path / "secrets").exists()


def test_secret_from_the_dag_layers_lookup(env, tmp_path):
    from sinergi.settings import Connection

    asked = []
    backend_secret = "hex:" + "7e" * 32

    def lookup(conn_id):
        asked.append(conn_id)
        return Connection(conn_type="generic", password=backend_secret)

    env.setenv(sec.SECRET_ENV, "11" * 32)  # the lookup (secrets backend) wins, as for every connection
    assert sec.master_secret(lookup) == bytes.fromhex("7e" * 32)
    assert asked == [sec.CONN_ID]
    assert sec.master_secret(lambda conn_id: "base64:" + "QUJD" * 11) == b"ABC" * 11
    assert sec.master_secret(lambda: b"\x01" * 32) == b"\x01" * 32  # zero-argument lookup, raw bytes
    assert sec.master_secret(lambda conn_id: None) == bytes.fromhex("11" * 32)  # falls through


def test_secret_order_env_then_file(env, tmp_path):
    env.setenv(sec.SECRET_ENV, "11" * 32)
    assert sec.master_secret() == bytes.fromhex("11" * 32)
    assert sec.master_secret_source() == sec.SECRET_ENV
    env.delenv(sec.SECRET_ENV)
    assert sec.master_secret() == (tmp_path / "secrets" / "master.key").read_bytes()
    assert sec.master_secret_source().endswith("master.key")


def test_embedded_default_secret_is_generated_once_with_0600(env, tmp_path):
    home = tmp_path / "elsewhere"
    first = sec.master_secret(home=home)
    path = home / "secrets" / "master.key"
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sec.master_secret(home=home) == first
    assert [p.name for p in path.parent.iterdir()] == ["master.key"]  # no temp files left
    assert Keyring.from_master(first).key("lampung", "person") == Keyring.from_master(
        sec.master_secret(home=home)).key("lampung", "person")


def test_secret_errors_never_contain_the_secret(env):
    env.setenv(sec.SECRET_ENV, "tooshort")
    with pytest.raises(sec.SecretError) as e:
        sec.master_secret()
    assert "tooshort" not in str(e.value)
    env.setenv(sec.CONN_ENV, json.dumps({"conn_type": "generic", "login": "x"}))
    with pytest.raises(sec.SecretError, match="has no password"):
        sec.master_secret()
    env.setenv(sec.CONN_ENV, "{not json")
    with pytest.raises(sec.SecretError, match="cannot be parsed"):
        sec.master_secret()
    with pytest.raises(sec.SecretError):
        sec.decode_secret("hex:zz-not-hex-but-long-enough", "test")


def test_secret_module_does_not_import_airflow():
    import subprocess
    import sys

    code = "import sys, sinergi.secrets, sinergi.tokens, sinergi.policy, sinergi.ropa; print('airflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.stdout.strip() == "False"


def test_fixed_width_fast_path_handles_slices_and_odd_values():
    from sinergi.tokens import _as_bytes_list

    arr = pa.array([f"18{i:014d}" for i in range(10)])
    assert _as_bytes_list(arr.slice(3, 4)) == [f"18{i:014d}".encode() for i in range(3, 7)]
    assert _as_bytes_list(pa.array(["ab\x00", "cd\x00"])) == [b"ab\x00", b"cd\x00"]  # trailing NUL kept
    assert _as_bytes_list(pa.array(["a", "bcd", "é"])) == [b"a", b"bcd", "é".encode()]
    key = Keyring.from_master(MASTER).key("lampung", "person")
    sliced = tokenise(arr.slice(3, 4), key, "nik").to_pylist()
    assert sliced == [reference(key, f"18{i:014d}") for i in range(3, 7)]


def test_record_tokens_are_namespaced_by_the_issuing_system():
    key = Keyring.from_master(b"r" * 32).key("lampung", RECORD_FIELD)
    ids = pa.array(["PN-2507-000001", " PN-2507-000001 ", None, "", "REG-0001"])
    assert record_values(ids, "siskop2mi").to_pylist() == [
        "siskop2mi:PN-2507-000001", "siskop2mi:PN-2507-000001", None, None, "siskop2mi:REG-0001"]
    toks = tokenise_records(ids, key, "siskop2mi").to_pylist()
    assert toks[0] == toks[1] == token("siskop2mi:PN-2507-000001", key) and toks[2] is None and toks[3] is None
    assert re.fullmatch(TOKEN_PATTERN, toks[4])
    # the same spelling issued by another system is another record; and never the person token of it
    assert tokenise_records(ids, key, "disnaker").to_pylist()[4] != toks[4]
    assert toks[4] != token("REG-0001", key)
    with pytest.raises(ValueError):
        record_values(ids, "a:b")


def test_link_keys_are_the_first_64_bits_of_the_same_hmac():
    key = Keyring.from_master(b"l" * 32).internal_key("person")
    niks = pa.array(["1801014507950001", "1801 0145 0795 0001", None, "1801014507950002"])
    keys = link_keys(niks, key, "nik").to_pylist()
    assert keys[0] == keys[1] and keys[2] is None and keys[3] != keys[0]
    digest = hmac.new(key, b"1801014507950001", hashlib.sha256).digest()
    assert keys[0] == int.from_bytes(digest[:8], "big", signed=True)
    assert link_keys(pa.array([], pa.string()), key).to_pylist() == []
    assert link_keys(pa.array([None, None], pa.string()), key).to_pylist() == [None, None]
