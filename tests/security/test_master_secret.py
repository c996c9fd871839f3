"""The master secret fails closed, and a key rotation works end to end (real weed, real steps).

- a passphrase, a placeholder or fewer than 32 bytes is refused; a lookup (secrets backend) that
  fails, a default file that cannot be read or that others can read, are errors — never a reason to
  generate a new key;
- a master secret that differs from the one the existing publications were made with stops the run
  before anything is tokenised;
- ``key_version: 2`` rotates: every token changes, the manifest and the catalog record the version,
  the record of processing says since when; going back to version 1 is refused.
"""

from __future__ import annotations

import io
import json
import os
import secrets as stdlib_secrets
import stat

import pyarrow.parquet as pq
import pytest

import sinergi.simulate as simulate_mod
from conftest import start_store
from sinergi import secrets
from sinergi.layout import ROPA_MD_KEY, TRUSTED_BUCKET, trusted_key
from sinergi.pipeline import RunContext, extract_step, publish_step, recipients, share_step, validate_step
from sinergi.publish import read_catalog, read_pointer
from sinergi.settings import Settings

DATASET, MONTH = "empowerment", "2025-07"
SECRET_A = "hex:" + stdlib_secrets.token_hex(32)
SECRET_B = "base64:" + __import__("base64").b64encode(stdlib_secrets.token_bytes(32)).decode()


# -- strength and fail-closed lookup ---------------------------------------------------------------
@pytest.mark.parametrize("weak", [
    "change-me", "change-me-to-64-hex-digits", "correct horse battery staple and a long long tail",
    "hex:" + "ab" * 16,  # 16 bytes
    "base64:" + "QUJD" * 5,  # 15 bytes
    "plain-string-secret-value-which-is-more-than-32-chars",
])
def test_weak_secrets_are_refused_without_echoing_them(weak):
    with pytest.raises(secrets.SecretError) as err:
        secrets.master_secret(settings=Settings(environ={secrets.SECRET_ENV: weak, "SINERGI_HOME": "/nonexistent"}))
    assert weak not in str(err.value) and ("hex:" in str(err.value))


def test_strong_secrets_are_accepted():
    for text in (SECRET_A, SECRET_B, stdlib_secrets.token_hex(32)):
        assert len(secrets.master_secret(settings=Settings(environ={secrets.SECRET_ENV: text}))) == 32


def test_a_failing_secrets_backend_is_an_error_not_a_new_key(tmp_path):
    def backend(conn_id):
        raise ConnectionError("vault unreachable")

    env = {"SINERGI_HOME": str(tmp_path)}
    with pytest.raises(secrets.SecretsBackendError, match="no new key"):
        secrets.master_secret(settings=Settings(lookup=backend, environ=env))
    assert not (tmp_path / "secrets").exists(), "nothing generated in its place"


def test_an_unreadable_or_exposed_default_file_is_an_error_not_a_new_key(tmp_path):
    env = {"SINERGI_HOME": str(tmp_path)}
    first = secrets.master_secret(settings=Settings(environ=env))  # nothing configured: generated once
    path = tmp_path / "secrets" / "master.key"
    assert len(first) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    with pytest.raises(secrets.SecretError, match="group/others"):
        secrets.master_secret(settings=Settings(environ=env))
    path.chmod(0o600)
    path.write_bytes(b"change-me\n")  # someone replaced it with text: refused, not regenerated
    with pytest.raises(secrets.SecretError, match="plain text"):
        secrets.master_secret(settings=Settings(environ=env))
    assert path.read_bytes() == b"change-me\n"
    if os.geteuid() != 0:  # root reads anything: the permission case only exists for other users
        path.chmod(0o000)
        with pytest.raises(secrets.SecretError, match="cannot be read"):
            secrets.master_secret(settings=Settings(environ=env))


# -- same secret as the publications, and rotation (real store, real steps) -------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory):
    sources = tmp_path_factory.mktemp("sources")
    simulate_mod.simulate(sources, month=MONTH, months=1, scale="demo", seed=11)
    running = start_store(tmp_path_factory.mktemp("rotation-home"))
    yield running, sources
    running.embedded.down()


def make_ctx(world, tmp_path, secret: str, key_version: int = 1) -> RunContext:
    running, sources = world
    home = tmp_path / "home"
    env = {"SINERGI_HOME": str(home), "SINERGI_EXPORTS_DIR": str(sources), secrets.SECRET_ENV: secret}
    ctx = RunContext(store=running.pipeline, home=home, settings=Settings(environ=env))
    if key_version != 1:
        ctx.__dict__["policy"] = ctx.policy.model_copy(update={"key_version": key_version})
    return ctx


def run(ctx: RunContext, run_id: str) -> dict:
    ref = validate_step(extract_step(DATASET, MONTH, run_id, ctx), ctx)
    return {party: publish_step(share_step(ref, party, ctx), ctx) for party in recipients(DATASET, ctx)}


def tokens(ctx: RunContext, party: str, result: dict) -> set[str]:
    bucket = ctx.policy.parties[party].bucket
    table = pq.read_table(io.BytesIO(ctx.store.get_bytes(bucket, result["object_key"])))
    col = next(c for c in table.column_names if table.column(c).to_pylist()[:1] and
               str(table.column(c).to_pylist()[0]).startswith("t_"))
    return set(table.column(col).drop_null().to_pylist())


def test_rotation_end_to_end_and_a_changed_secret_stops_the_run(world, tmp_path):
    first = make_ctx(world, tmp_path, SECRET_A)
    v1 = run(first, "run-v1")
    party = next(iter(v1))
    bucket = first.policy.parties[party].bucket
    toks_v1 = tokens(first, party, v1[party])
    assert toks_v1
    manifest = json.loads(first.store.get_bytes(bucket, v1[party]["manifest_key"]))
    assert manifest["key_version"] == 1
    catalog = read_catalog(first.store, bucket)
    assert [(h["version"], h["key_id"]) for h in catalog["key_versions"]] == [(1, first.keyring.key_id)]
    assert catalog["datasets"][DATASET]["months"][MONTH]["key_version"] == 1
    pointer_before = read_pointer(first.store, bucket, DATASET, MONTH)

    # another master secret with the same key version: stopped before anything is tokenised or published
    # (validation writes the trusted zone with internal tokens, so it is the first step to stop)
    trusted_before = first.store.get_bytes(TRUSTED_BUCKET, trusted_key(DATASET, MONTH))
    other = make_ctx(world, tmp_path, SECRET_B)
    extracted = extract_step(DATASET, MONTH, "run-other-secret", other)
    with pytest.raises(secrets.SecretError, match="not the one the publications") as err:
        validate_step(extracted, other)
    assert SECRET_B not in str(err.value) and SECRET_B.split(":", 1)[1] not in str(err.value)
    assert read_pointer(first.store, bucket, DATASET, MONTH) == pointer_before
    assert first.store.get_bytes(TRUSTED_BUCKET, trusted_key(DATASET, MONTH)) == trusted_before

    # rotation: key_version 2 (same secret) — every token changes, and the record says so
    second = make_ctx(world, tmp_path, SECRET_A, key_version=2)
    v2 = run(second, "run-v2")
    toks_v2 = tokens(second, party, v2[party])
    assert len(toks_v2) == len(toks_v1) and not toks_v1 & toks_v2
    manifest = json.loads(second.store.get_bytes(bucket, v2[party]["manifest_key"]))
    assert manifest["key_version"] == 2
    assert {d["version"] for d in manifest["key_versions"].values()} == {2}
    catalog = read_catalog(second.store, bucket)
    history = catalog["key_versions"]
    assert [h["version"] for h in history] == [1, 2] and history[1]["since"] >= history[0]["since"]
    assert history[1]["first_month"] == MONTH and history[1]["first_dataset"] == DATASET
    ropa = second.store.get_bytes(bucket, ROPA_MD_KEY).decode()
    assert "## Token key versions" in ropa and f"| 2 | `{second.keyring.key_id}` | {history[1]['since']} |" in ropa

    # back to version 1: refused (it would re-issue retired tokens)
    back = make_ctx(world, tmp_path, SECRET_A, key_version=1)
    with pytest.raises(secrets.SecretError, match="older than key version 2"):
        back.keyring  # noqa: B018
    # a new master secret is adopted only with a new key version
    third = make_ctx(world, tmp_path, SECRET_B, key_version=3)
    v3 = run(third, "run-v3")
    assert not tokens(third, party, v3[party]) & (toks_v1 | toks_v2)
    assert [h["version"] for h in read_catalog(third.store, bucket)["key_versions"]] == [1, 2, 3]
