"""Raw rows on the local disk: staging downloads (boto3 from the real store) and SQL pulls land in a
0700 folder of the process, never bare in /tmp — another user cannot read them, whatever mode the
library gave the file itself."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pyarrow as pa
import pytest

from sinergi.extract import sql
from sinergi.layout import STAGING_BUCKET
from sinergi.pipeline.staging import StagingWriter, put_table, staged_file
from sinergi.private import temp_dir

ROWS = pa.table({"nik": ["1801014507900001", "1801014507900002"], "full_name": ["Siti", "Budi"]})


def other_user_can_read(path: Path) -> bool:
    """Try it as `nobody` (needs root to switch user); without root fall back to the mode bits."""
    if os.geteuid() != 0:
        return any(stat.S_IMODE(p.stat().st_mode) & 0o007 for p in (path, *path.parents[:1]))
    code = ("import os, sys\nos.setgid(65534); os.setuid(65534)\n"
            "try:\n    open(sys.argv[1], 'rb').read(1); print('READ')\nexcept PermissionError:\n    print('DENIED')\n")
    r = subprocess.run([shutil.which("python3") or "python3", "-c", code, str(path)], capture_output=True, text=True,
                       timeout=30)
    assert r.stdout.strip() in ("READ", "DENIED"), r.stderr
    return r.stdout.strip() == "READ"


def assert_private(path: Path) -> None:
    assert path.parent == temp_dir() and path.parent != Path(tempfile.gettempdir())
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700 and path.parent.stat().st_uid == os.geteuid()
    assert not other_user_can_read(path), f"{path} readable by another user"


@pytest.mark.slow
def test_staging_download_from_the_real_store_is_private(weed):
    put_table(weed.pipeline, "security/2025-07/run/extracted.parquet", ROWS)
    with staged_file(weed.pipeline, "security/2025-07/run/extracted.parquet") as path:
        assert path.read_bytes()[:4] == b"PAR1"  # boto3 replaced our empty file with the download
        assert_private(path)
    assert not path.exists()


@pytest.mark.slow
def test_staging_writer_file_is_private(weed):
    w = StagingWriter(weed.pipeline, "security/2025-07/run/valid.parquet", ROWS.schema)
    w.write(ROWS)
    w._flush()
    assert_private(w.path)
    w.close(ok=True)
    assert not w.path.exists() and weed.pipeline.head(STAGING_BUCKET, "security/2025-07/run/valid.parquet")


def test_sql_pull_file_is_private():
    path = sql.temp_parquet_path("sinergi-empowerment-")
    try:
        path.write_bytes(b"raw rows")
        assert_private(path)
    finally:
        path.unlink()


def test_a_forked_process_gets_its_own_folder():
    parent = temp_dir()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        os.write(w, str(temp_dir()).encode())
        os._exit(0)
    os.close(w)
    child = os.read(r, 4096).decode()
    os.waitpid(pid, 0)
    assert child and Path(child) != parent and stat.S_IMODE(Path(child).stat().st_mode) == 0o700
    shutil.rmtree(child)


def test_the_folder_of_a_process_that_died_without_cleaning_up_is_removed():
    """Airflow's task processes end with os._exit (no atexit): the next process removes their folders."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # a task process that leaves raw rows behind and dies without cleaning up
        os.close(r)
        from sinergi import private

        private._TEMP_DIRS.clear()
        f = private.temp_file("staging-", ".parquet")
        f.write_bytes(b"raw rows")
        os.write(w, str(f).encode())
        os._exit(0)
    os.close(w)
    left = Path(os.read(r, 4096).decode())
    os.waitpid(pid, 0)
    assert left.exists()
    from sinergi import private

    private._TEMP_DIRS.pop(os.getpid(), None)  # this process starts a new folder: orphans are swept first
    new = temp_dir()
    assert not left.parent.exists() and new.is_dir()
