"""Shared helpers for the benchmark harness: child processes with their own peak RSS, a store, tables.

Every measured thing runs in its own child process. Its peak RSS is the kernel's high-water mark for
that one process (``os.wait4`` → ``ru_maxrss``), so neither the harness nor the ``weed`` server it
started is counted. A psutil poller watches the child meanwhile, records the sampled peak as a
cross-check and kills the child if it exceeds a memory ceiling (the machine is shared; a
run-away benchmark must not take it down).

A child reports its figures as one JSON object on the last line of its stdout (``emit``).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
MONTH = "2025-07"
#: A child above this RSS is killed and reported as over the ceiling (SINERGI_BENCH_RSS_CEILING_MB).
DEFAULT_RSS_CEILING_MB = int(os.environ.get("SINERGI_BENCH_RSS_CEILING_MB", "11000"))


class NotAvailable(RuntimeError):
    """A figure cannot be measured (a module is missing or a step failed); the reason is printed."""


# -- child processes ------------------------------------------------------------------------------
@dataclass
class ChildResult:
    returncode: int
    wall_s: float
    peak_rss_mb: float  # the child image's own peak RSS (VmHWM it reports; else wait4 ru_maxrss)
    sampled_peak_rss_mb: float  # psutil polling (cross-check; may miss short spikes)
    cpu_s: float = 0.0  # user + system CPU of the child (robust against a busy machine)
    data: dict = field(default_factory=dict)  # the child's JSON line
    log: Path | None = None
    killed_for_memory: bool = False

    def tail(self, n: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log and self.log.exists() else ""


def run_child(args: list[str], *, env: dict[str, str] | None = None, log: Path, cwd: Path | None = None,
              rss_ceiling_mb: int = DEFAULT_RSS_CEILING_MB, timeout: float = 3600.0,
              poll_s: float = 0.05) -> ChildResult:
    """Run ``python <args>`` as a child; return its exit code, wall time, peak RSS and JSON output."""
    import psutil

    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, *args]
    with open(log, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env or os.environ.copy(), cwd=cwd or ROOT)
        sampled = [0]
        killed = [False]
        stop = threading.Event()

        def poll() -> None:
            try:
                p = psutil.Process(proc.pid)
                while not stop.is_set():
                    rss = p.memory_info().rss
                    sampled[0] = max(sampled[0], rss)
                    if rss > rss_ceiling_mb * 1024 * 1024:
                        killed[0] = True
                        proc.kill()
                        return
                    if time.perf_counter() - t0 > timeout:
                        proc.kill()
                        return
                    stop.wait(poll_s)
            except psutil.Error:  # the child exited
                return

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        # wait4 (not Popen.wait) to get this child's own rusage
        try:
            _, status, rusage = os.wait4(proc.pid, 0)
        except BaseException:  # the harness is being stopped: do not leave the child running
            proc.kill()
            os.wait4(proc.pid, 0)
            stop.set()
            raise
        wall = time.perf_counter() - t0
        stop.set()
        poller.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    data: dict = {}
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if line.startswith("{") and line.endswith("}"):
            try:
                data = json.loads(line)
                break
            except ValueError:
                continue
    # ru_maxrss keeps the high-water mark of the mm the child was forked from (Linux records it in
    # signal->maxrss at exec), so a child of a large parent reports the parent's size: prefer the
    # child's own VmHWM (the exec'd image only) when it emitted one.
    peak = float(data.get("self_peak_rss_mb") or rusage.ru_maxrss / 1024)
    return ChildResult(proc.returncode, wall, peak, sampled[0] / 1024 / 1024,
                       rusage.ru_utime + rusage.ru_stime, data, log, killed[0])


def own_peak_rss_kb() -> int:
    """This process image's peak RSS (VmHWM; unlike ru_maxrss it does not include the parent it was forked from)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def emit(data: dict) -> None:
    """A child's result: one JSON line on stdout (the last one counts)."""
    data.setdefault("self_peak_rss_mb", round(own_peak_rss_kb() / 1024, 1))
    sys.stdout.flush()
    print(json.dumps(data, default=str), flush=True)


def rss_mb() -> float:
    """Current RSS of this process (MB)."""
    import psutil

    return psutil.Process().memory_info().rss / 1024 / 1024


def quiet_logs() -> None:
    """GX logs every registered function at import; keep child logs readable."""
    import logging

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("great_expectations", "botocore", "urllib3", "sinergi"):
        logging.getLogger(name).setLevel(logging.WARNING)


# -- the object store -----------------------------------------------------------------------------
class Store:
    """A real ``weed mini`` in a temp home on free ports (as tests/conftest.py's start_store)."""

    def __init__(self, home: Path):
        from sinergi.local.store import EmbeddedStore

        self.home = home
        self.embedded = EmbeddedStore(home=home, s3_port=EmbeddedStore._free_port())

    def __enter__(self) -> Store:
        self.embedded.up()
        return self

    def __exit__(self, *exc) -> None:
        self.embedded.down()

    @property
    def endpoint(self) -> str:
        return self.embedded.endpoint

    def pipeline_store(self):
        from sinergi.s3 import S3ObjectStore

        return S3ObjectStore(self.embedded.credentials("pipeline"), attempts=3, backoff=0.2)


def child_env(home: Path, exports: Path | None = None) -> dict[str, str]:
    """Environment for a child working against the store under ``home``."""
    env = os.environ.copy()
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "SINERGI_S3_ACCESS_KEY",
                "AIRFLOW_HOME"):
        env.pop(var, None)
    env["SINERGI_HOME"] = str(home)
    env["GX_ANALYTICS_ENABLED"] = "false"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(BENCH_DIR), env.get("PYTHONPATH", "")) if p)
    if exports is not None:
        env["SINERGI_EXPORTS_DIR"] = str(exports)
        env["SINERGI_DISNAKER_DB_URL"] = f"sqlite:///{exports / 'disnaker.sqlite'}"
    return env


def workdir(prefix: str) -> tempfile.TemporaryDirectory:
    """A temp dir for inputs and the store; SINERGI_BENCH_TMP picks the file system (big inputs)."""
    return tempfile.TemporaryDirectory(prefix=prefix, dir=os.environ.get("SINERGI_BENCH_TMP") or None)


# -- inputs ----------------------------------------------------------------------------------------
def placements_path(exports: Path, month: str) -> Path:
    from sinergi import registry

    src = registry.get("placements").source
    return exports / src.system / month / f"{src.file_stem}_{month.replace('-', '')}.csv"


def generate_placements(exports: Path, month: str, rows: int, seed: int = 42, defect_rate: float = 0.03) -> Path:
    """One month of bulk placements with the simulator's vectorised generator."""
    try:
        from sinergi.simulate import write_placements_csv
    except ImportError as e:
        raise NotAvailable(f"sinergi.simulate.write_placements_csv: {e}") from None
    path = placements_path(exports, month)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_placements_csv(path, rows, month=month, seed=seed, defect_rate=defect_rate,
                         ledger_path=path.with_name("_defects.jsonl"))
    return path


def months_from(first: str, n: int) -> list[str]:
    y, m = (int(x) for x in first.split("-"))
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


# -- reporting -------------------------------------------------------------------------------------
def machine() -> dict:
    import psutil
    import pyarrow

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "pyarrow": pyarrow.__version__,
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def fmt_s(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f} s"


def fmt_mb(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f} MB"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    def cell(v: object) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def text_table(headers: list[str], rows: list[list[object]]) -> str:
    cols = [headers, *[[str(v) for v in r] for r in rows]]
    widths = [max(len(str(r[i])) for r in cols) for i in range(len(headers))]
    sep = "  "
    out = [sep.join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True))]
    out.append(sep.join("-" * w for w in widths))
    out += [sep.join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in cols[1:]]
    return "\n".join(out)
