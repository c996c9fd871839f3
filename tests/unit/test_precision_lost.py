"""Identifiers typed as numbers, end to end: an XLSX whose NIK and E-PMI cells are numbers (as Excel
stores them) is extracted and validated; a 16-digit number whose last digit is not 0 is trusted, one
ending in 0 is quarantined as nik_precision_lost / precision_lost:epmi_number (sinergi.normalise)."""

from __future__ import annotations

import pyarrow.compute as pc
from test_validate_synth import canonical_table

from sinergi import registry
from sinergi.extract import SourceConfig, extract
from sinergi.simulate.writers import FileFormat, write_xlsx
from sinergi.validate import validate

MONTH = "2025-07"


def test_numeric_xlsx_cells_of_precision_sensitive_ids(tmp_path):
    ds = registry.get("placements")
    t = canonical_table("placements", 30, MONTH, seed=9).to_pylist()
    niks = [r["nik"] for r in t]
    intact = next(i for i, n in enumerate(niks) if n[-1] != "0")
    rounded = next(i for i, n in enumerate(niks) if i != intact and n[-1] != "0")
    epmi = next(i for i in range(len(t)) if i not in (intact, rounded))
    t[intact]["nik"] = float(int(niks[intact]))  # a program wrote it: every digit survived
    t[rounded]["nik"] = float(int(niks[rounded][:15] + "0"))  # Excel rounded the 16th digit
    t[epmi]["epmi_number"] = float(1801124507951230)
    header = [c.headers[0] for c in ds.source_columns]
    rows = [[r.get(c.name) for c in ds.source_columns] for r in t]
    folder = tmp_path / "siskop2mi" / MONTH
    folder.mkdir(parents=True)
    write_xlsx(folder / "PENEMPATAN_PMI_202507.xlsx", header, rows, FileFormat("xlsx"), ["BP2MI", "DATA"])

    table = extract("placements", MONTH, SourceConfig(tmp_path, "sqlite://")).table
    assert table["nik"][intact].as_py() == niks[intact]
    assert table["nik"][rounded].as_py() == niks[rounded][:15] + "0.0"  # kept as observed
    assert table["epmi_number"][epmi].as_py() == "1801124507951230.0"

    res = validate(table, "placements", MONTH, "p")
    got = dict(zip(res.quarantined["placement_id"].to_pylist(), res.quarantined["_failed_rules"].to_pylist(),
                   strict=True))
    assert set(got) == {t[rounded]["placement_id"], t[epmi]["placement_id"]}, got
    assert "nik_precision_lost" in got[t[rounded]["placement_id"]]
    assert got[t[epmi]["placement_id"]] == ["precision_lost:epmi_number"]
    assert pc.sum(pc.equal(res.valid["placement_id"], t[intact]["placement_id"])).as_py() == 1
    assert res.counts["by_rule"]["nik_precision_lost"] == 1
