"""Due dates of sources and of the monthly sync (config/deadlines.yaml)."""

from __future__ import annotations

import datetime as dt

import pytest

from sinergi import deadlines
from sinergi.errors import ConfigError
from sinergi.months import JAKARTA


def test_a_source_is_due_in_the_following_month_in_jakarta_time():
    due = deadlines.source_due("siskop2mi", "2025-12")
    assert (due.year, due.month) == (2026, 1)
    assert due.utcoffset() == dt.timedelta(hours=7)
    assert not deadlines.is_late("siskop2mi", "2025-12", due)
    assert deadlines.is_late("siskop2mi", "2025-12", due + dt.timedelta(seconds=1))


def test_every_source_system_of_the_registry_has_a_delivery_day():
    from sinergi import registry

    for ds in registry.datasets().values():
        assert deadlines.source_due(ds.source.system, "2025-07") > dt.datetime(2025, 8, 1, tzinfo=JAKARTA)


def test_the_sync_is_due_after_the_sources():
    sources, sync = deadlines.load()
    assert all(sync.after("2025-07") >= d.after("2025-07") for d in sources.values())


@pytest.mark.parametrize("raw", [{"day": 31}, {"day": 0}, {"hour": 3}, {"day": 5, "hour": 24}, {"day": 5, "minute": 1}, 5])
def test_a_bad_due_date_names_the_key(raw):
    with pytest.raises(ConfigError, match="deadlines.yaml: sync"):
        deadlines._due("sync", raw)


def test_an_unknown_system_is_a_config_error():
    with pytest.raises(ConfigError, match="nowhere"):
        deadlines.source_due("nowhere", "2025-07")
