"""Where a step's time goes: named stages the pipeline marks, timed only when someone listens.

The steps mark their stages (``with stage("GX"): ...``); nothing is measured unless a recorder is
installed (the benchmarks install one with :func:`recording`). A stage inside another is reported
under it (``validate/GX``), so a profile reads like the pipeline. Cost when nobody listens: one
context-variable lookup per stage.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class Recorder:
    """Seconds and calls per stage path (``"validate"``, ``"validate/GX"`` ...)."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))


_RECORDER: ContextVar[Recorder | None] = ContextVar("sinergi_timing_recorder", default=None)
_PATH: ContextVar[tuple[str, ...]] = ContextVar("sinergi_timing_path", default=())


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Mark a stage of the pipeline (a no-op unless a recorder is installed)."""
    recorder = _RECORDER.get()
    if recorder is None:
        yield
        return
    path = (*_PATH.get(), name)
    token = _PATH.set(path)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        key = "/".join(path)
        recorder.seconds[key] += time.perf_counter() - t0
        recorder.calls[key] += 1
        _PATH.reset(token)


@contextmanager
def recording(recorder: Recorder | None = None) -> Iterator[Recorder]:
    """Install a recorder for the code run inside the block (this thread/context only)."""
    recorder = recorder or Recorder()
    token = _RECORDER.set(recorder)
    try:
        yield recorder
    finally:
        _RECORDER.reset(token)
