"""Shared fixtures: an isolated SINERGI_HOME per session and a real SeaweedFS server on free ports."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# GX logs every registered function at import time; keep test output readable.
logging.getLogger("great_expectations").setLevel(logging.WARNING)


@pytest.fixture(scope="session", autouse=True)
def isolated_home(tmp_path_factory) -> Iterator[Path]:
    """Tests never touch the repository's .local (a store `make run` left running keeps working)."""
    home = tmp_path_factory.mktemp("sinergi-home")
    old = os.environ.get("SINERGI_HOME")
    os.environ["SINERGI_HOME"] = str(home)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "SINERGI_S3_ACCESS_KEY"):
        os.environ.pop(var, None)
    yield home
    if old is None:
        os.environ.pop("SINERGI_HOME", None)
    else:
        os.environ["SINERGI_HOME"] = old


class RunningStore:
    def __init__(self, embedded):
        from sinergi.s3 import S3ObjectStore

        self.embedded = embedded
        self.home = embedded.home
        self.endpoint = embedded.endpoint
        self.pipeline = S3ObjectStore(embedded.credentials("pipeline"), attempts=3, backoff=0.2)

    def credentials(self, party: str):
        return self.embedded.credentials(party)

    def client_for(self, party: str, attempts: int = 1):
        from sinergi.s3 import S3ObjectStore

        return S3ObjectStore(self.credentials(party), attempts=attempts, backoff=0.1)


#: A bucket of the session store for tests that need one of their own (the pipeline identity may not
#: create buckets: it reads and writes the buckets the store was started with, nothing else).
SCRATCH_BUCKET = "sinergi-test-scratch"


def start_store(home: Path, parties: dict[str, str] | None = None) -> RunningStore:
    from sinergi.local.store import EmbeddedStore

    embedded = EmbeddedStore(home=home, s3_port=EmbeddedStore._free_port(), parties=parties,
                             extra_buckets=(SCRATCH_BUCKET,))
    embedded.up()
    return RunningStore(embedded)


@pytest.fixture(scope="module")
def own_store(request, tmp_path_factory) -> Iterator[RunningStore]:
    """A store for one test module alone: for tests whose outcome another test's references, volumes,
    key history or records would change (a module takes it as its ``weed`` with a one-line override)."""
    running = start_store(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1] + "-store"))
    try:
        yield running
    finally:
        running.embedded.down()


@pytest.fixture(scope="session")
def weed(isolated_home) -> Iterator[RunningStore]:
    """A real `weed mini` S3 server for the whole session (its own ports, data and credentials)."""
    running = start_store(isolated_home)
    try:
        yield running
    finally:
        running.embedded.down()
