"""A month is ``YYYY-MM`` exactly, wherever validation, extraction and the simulator take one: a
trailing newline (a value read from a file or a form), a missing zero or a space is refused before
any work is done, instead of being filed under a key nobody looks for."""

from __future__ import annotations

import argparse

import pytest
from test_validate_synth import canonical_table

from sinergi import registry
from sinergi.extract import SourceConfig, extract
from sinergi.extract.sql import pull_month
from sinergi.months import MonthError
from sinergi.simulate import cli as sim_cli
from sinergi.simulate import model as M
from sinergi.simulate import simulate
from sinergi.simulate.bulk import write_placements_csv
from sinergi.validate import gates, suites, upload_docs, validate, write_quarantine
from support import DirStore

SLOPPY = ["2025-07\n", "2025-7", " 2025-07", "2025-07 ", "2025-13", "2025-07-01", "2025/07"]


@pytest.mark.parametrize("month", SLOPPY)
def test_every_entry_point_refuses_a_sloppy_month(month, tmp_path):
    table = canonical_table("returns", 5, "2025-07")
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with pytest.raises(MonthError):
        validate(table, "returns", month, "r")
    with pytest.raises(MonthError):
        gates.resolve(suites.load("returns"), month, None, None)
    with pytest.raises(MonthError):
        extract("returns", month, SourceConfig(tmp_path / "exports", db))
    with pytest.raises(MonthError):
        pull_month(registry.get("trainings"), month, db, tmp_path / "p.parquet")
    with pytest.raises(MonthError):
        simulate(tmp_path / "sim", month=month)
    with pytest.raises(MonthError):
        write_placements_csv(tmp_path / "bulk.csv", 10, month=month)
    with pytest.raises(MonthError):
        M.month_add(month, 1)
    with pytest.raises(argparse.ArgumentTypeError):
        sim_cli._month(month)
    res = validate(table, "returns", "2025-07", "r")
    store = DirStore(tmp_path / "s3")
    with pytest.raises(MonthError):
        write_quarantine(store, res, "returns", month, "r")
    with pytest.raises(MonthError):
        upload_docs(store, tmp_path, "returns", month, "r")
    assert not (tmp_path / "sim").exists() and not (tmp_path / "bulk.csv").exists()
    assert not (tmp_path / "s3").exists() or not any((tmp_path / "s3").rglob("*.parquet"))


def test_the_simulator_month_helpers_follow_the_calendar():
    assert M.month_add("2025-12", 1) == "2026-01" and M.month_add("2025-01", -1) == "2024-12"
    assert str(M.month_end("2024-02")) == "2024-02-29" and str(M.month_start("2025-07")) == "2025-07-01"
    assert M.parse_month("2025-07") == (2025, 7)
