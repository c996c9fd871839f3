"""One background process group per service we start locally (the object store, ``airflow
standalone``), found again through a pid file, and stopped — that group and nothing else.

The process gets its own session (so its children are in its process group and ``stop`` signals
them all), its output goes to a log file, and the pid file is trusted only while the process with
that pid still runs the expected program (a pid can be reused after a reboot or a crash).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def port_free(port: int) -> bool:
    """Whether ``port`` can be bound on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port() -> int:
    """A port on 127.0.0.1 that is free now (tests and secondary stacks use these)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Supervisor:
    """A background process group recorded in ``pid_file``; ``marker`` is a byte string its command
    line contains (``b"weed"``, ``b"standalone"``), the guard against a reused pid."""

    def __init__(self, pid_file: Path, marker: bytes):
        self.pid_file = Path(pid_file)
        self.marker = marker
        self.proc: subprocess.Popen | None = None

    def pid(self) -> int | None:
        """The pid of the running process, or None (no pid file, process gone, or someone else's)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if self.proc is not None and self.proc.pid == pid and self.proc.poll() is None:
            return pid  # our own unreaped child: its pid cannot have been reused, whatever its title says
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            return None
        if self.marker not in cmd:  # also a zombie: its command line is empty
            self._reap(pid)
            return None
        return pid

    def start(self, cmd: list[str], *, env: dict[str, str], cwd: Path, log_file: Path,
              header: str | None = None, umask: int = -1) -> subprocess.Popen:
        """Start ``cmd`` in its own session, output appended to ``log_file`` (0600: a service's output
        can name secrets); records the pid. ``umask`` applies to the child only (-1: inherited)."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "ab") as log:
            if header:
                log.write(header.encode())
                log.flush()
            self.proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True, umask=umask)
        self.pid_file.write_text(str(self.proc.pid))
        return self.proc

    def stop(self, timeout: float = 20.0, kill_after: float = 5.0) -> bool:
        """SIGTERM to the whole process group, SIGKILL after ``timeout``; False if it was not running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, kill_after)):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            if self._wait_group_gone(pid, wait):
                break
        if self.proc is not None:
            self.proc.poll()
        self.pid_file.unlink(missing_ok=True)
        return True

    @staticmethod
    def _reap(pid: int) -> None:
        try:
            os.waitpid(pid, os.WNOHANG)  # only succeeds for our own child
        except ChildProcessError:
            pass

    @classmethod
    def _wait_group_gone(cls, pgid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            cls._reap(pgid)
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
