"""Private files on the local disk: secrets, keys and credentials (mode 0600, in a 0700 directory).

The one writer for every such file (the master secret, the embedded store's credentials and
identities, the local Airflow's JWT secret, Fernet key and environment file). A file is written
to a temporary name in the same directory and then moved into place, so a reader never sees half a
file and an existing file with looser permissions is replaced, not reused.

Temporary files holding raw rows (staging downloads, SQL pulls) live in :func:`temp_dir`, a 0700
folder of this process: a library that replaces a file (boto3's download writes a new one and
renames it, with the default umask) cannot make its content readable to other users there.
"""

from __future__ import annotations

import atexit
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and restrict it to its owner."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


def _temp(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return tmp


def write_private(path: Path, data: bytes | str) -> Path:
    """Write (or replace) ``path`` atomically with mode 0600 in a 0700 directory."""
    path = Path(path)
    private_dir(path.parent)
    tmp = _temp(path, data.encode() if isinstance(data, str) else data)
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def create_private(path: Path, make: Callable[[], bytes | str]) -> bytes:
    """The content of ``path``, created once from ``make()`` if it does not exist. Concurrent first
    callers agree: the first to link its file into place wins, the others read that one."""
    path = Path(path)
    if not path.exists():
        private_dir(path.parent)
        value = make()
        tmp = _temp(path, value.encode() if isinstance(value, str) else value)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race: use theirs
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_bytes()


_TEMP_DIRS: dict[int, Path] = {}


def temp_dir() -> Path:
    """This process's private temporary folder (0700, under the system temp dir; removed at exit).
    One per process id, so a forked task process never shares its parent's."""
    pid = os.getpid()
    path = _TEMP_DIRS.get(pid)
    if path is None or not path.is_dir():
        _remove_orphans()
        path = Path(tempfile.mkdtemp(prefix=f"sinergi-{pid}-"))  # mkdtemp: mode 0700, owner only
        os.chmod(path, DIR_MODE)
        _TEMP_DIRS[pid] = path
        atexit.register(lambda p=path, owner=pid: os.getpid() == owner and shutil.rmtree(p, ignore_errors=True))
    return path


def _remove_orphans() -> None:
    """Folders of this user's processes that ended without cleaning up (a task process that exits with
    ``os._exit`` skips atexit): removed with whatever raw rows they still hold."""
    for folder in Path(tempfile.gettempdir()).glob("sinergi-*-*"):
        m = re.fullmatch(r"sinergi-(\d+)-\w+", folder.name)
        try:
            if not m or not folder.is_dir() or folder.is_symlink() or folder.stat().st_uid != os.getuid():
                continue
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def temp_file(prefix: str, suffix: str = "") -> Path:
    """A new empty 0600 file in :func:`temp_dir` (the caller removes it)."""
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=temp_dir())
    os.close(fd)
    return Path(name)
