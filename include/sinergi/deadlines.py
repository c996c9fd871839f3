"""When a month's sources and its monthly sync are due (config/deadlines.yaml), in Asia/Jakarta."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from sinergi.errors import ConfigError
from sinergi.months import JAKARTA, Month


@dataclass(frozen=True)
class Due:
    day: int
    hour: int = 0

    def after(self, month: Month | str) -> dt.datetime:
        """The moment this is due for ``month``: ``day`` of the following month at ``hour`` (WIB)."""
        nxt = Month.of(month).add(1)
        last = nxt.last_day.day
        return dt.datetime(nxt.year, nxt.month, min(self.day, last), self.hour, tzinfo=JAKARTA)


def _due(where: str, raw: object) -> Due:
    if not isinstance(raw, dict) or set(raw) - {"day", "hour"} or "day" not in raw:
        raise ConfigError(f"deadlines.yaml: {where}: expected {{day: 1-28, hour: 0-23}}, got {raw!r}")
    day, hour = raw["day"], raw.get("hour", 0)
    if not (isinstance(day, int) and 1 <= day <= 28 and isinstance(hour, int) and 0 <= hour <= 23):
        raise ConfigError(f"deadlines.yaml: {where}: day must be 1-28 and hour 0-23, got {raw!r}")
    return Due(day, hour)


@cache
def load() -> tuple[dict[str, Due], Due]:
    """(due date per source system, due date of the monthly sync)."""
    text = resources.files("sinergi.config").joinpath("deadlines.yaml").read_text(encoding="utf-8")
    raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    sources = {name: _due(f"sources.{name}", v) for name, v in (raw.get("sources") or {}).items()}
    return sources, _due("sync", raw.get("sync"))


def sync_cron() -> str:
    """Cron (WIB) of the deadline check: the sync's day and hour each month (config/deadlines.yaml)."""
    due = load()[1]
    return f"0 {due.hour} {due.day} * *"


def unpublished(store, policy, datasets, month: Month | str) -> list[tuple[str, str]]:
    """(dataset, party) pairs the policy shares for which no publication of ``month`` is committed
    (no month pointer in the party's bucket): what the monthly sync still owes."""
    from sinergi.publish.protocol import read_pointer

    missing = []
    for dataset in datasets:
        for party in policy.recipients(dataset):
            if read_pointer(store, policy.parties[party].bucket, dataset, month) is None:
                missing.append((dataset, party))
    return missing


def source_due(system: str, month: Month | str) -> dt.datetime:
    sources, _ = load()
    if system not in sources:
        raise ConfigError(f"deadlines.yaml: sources: no delivery day for source system {system!r}")
    return sources[system].after(month)


def sync_due(month: Month | str) -> dt.datetime:
    return load()[1].after(month)


def is_late(system: str, month: Month | str, arrived: dt.datetime) -> bool:
    """Whether a source that arrived at ``arrived`` (an aware datetime) missed its delivery day."""
    return arrived > source_due(system, month)
