"""Progress of an ``airflow dags test`` run, read from its output as it streams (``make run``).

One line per dataset (task group) when it has finished — every receiving party published, or a
task failed — with the counts the publish tasks logged (``SINERGI PUBLISHED {json}``, from
sinergi_airflow.tasks) or the failure's step and reason (``SINERGI FAILURE ...``, callbacks.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable

PUBLISHED = "SINERGI PUBLISHED "
_FAILURE = re.compile(r"SINERGI FAILURE dataset=(?P<dataset>\S+) month=\S+ step=(?P<step>\S+) run=(?P<run>\S+) reason=(?P<reason>.*)")
_RUN_FINISHED = re.compile(r"DagRun Finished: .*?run_id=(?P<run>[^,\s]+),.*?state=(?P<state>\w+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
MAX_REASON = 160


class Progress:
    """Feed it the run's output line by line; it calls ``out`` with one line per finished dataset."""

    def __init__(self, recipients: dict[str, Iterable[str]], out: Callable[[str], None] = print, indent: str = "      "):
        self.expected = {ds: set(parties) for ds, parties in recipients.items()}
        self.published: dict[str, dict[str, dict]] = {ds: {} for ds in self.expected}
        self.failed: dict[str, tuple[str, str]] = {}
        self.done: list[str] = []
        self.run_ids: set[str] = set()
        self.state: str | None = None
        self.out, self.indent = out, indent

    def feed(self, raw: str) -> None:
        line = _ANSI.sub("", raw.rstrip("\n"))
        if PUBLISHED in line:
            try:
                extra = json.loads(line.split(PUBLISHED, 1)[1].split(" [", 1)[0].strip())
            except ValueError:
                return
            dataset = extra.get("dataset")
            if dataset in self.published:
                self.published[dataset][extra.get("party")] = extra
                self.run_ids.add(str(extra.get("run_id")))
                self._maybe_done(dataset)
            return
        m = _FAILURE.search(line)
        if m:
            dataset = m["dataset"]
            self.run_ids.add(m["run"])
            if dataset in self.expected and dataset not in self.failed:
                reason = m["reason"].split(" [sinergi", 1)[0].strip()
                self.failed[dataset] = (m["step"], reason)
                self._finish(dataset)
            return
        m = _RUN_FINISHED.search(line)
        if m:
            self.run_ids.add(m["run"])
            self.state = m["state"]

    def _maybe_done(self, dataset: str) -> None:
        if dataset not in self.done and set(self.published[dataset]) >= self.expected[dataset]:
            self._finish(dataset)

    def _finish(self, dataset: str) -> None:
        if dataset in self.done:
            return
        self.done.append(dataset)
        self.out(self.indent + self.line(dataset))

    def line(self, dataset: str) -> str:
        if dataset in self.failed:
            step, reason = self.failed[dataset]
            if len(reason) > MAX_REASON:
                reason = reason[: MAX_REASON - 1] + "…"
            return f"{dataset:<22} FAILED at {step}: {reason}"
        pubs = self.published[dataset]
        first = next(iter(pubs.values()))
        parts = [f"{party} {p.get('published')} published"
                 + (f" ({p.get('filtered_out')} filtered out, {p.get('suppressed')} suppressed)"
                    if p.get("filtered_out") or p.get("suppressed") else "")
                 for party, p in sorted(pubs.items())]
        return (f"{dataset:<22} extracted {first.get('extracted')}, quarantined {first.get('quarantined')} → "
                + "; ".join(parts))
