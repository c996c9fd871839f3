"""The leak guard stops a raw NIK in every spelling the extraction accepts as a NIK — not only 16
plain digits. Each spelling is first shown to be read as the NIK by the extraction's own normaliser,
then smuggled into an outgoing column; the guard must block the release and name the column."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sinergi import normalise
from sinergi.disclosure import LeakError, leak_guard

NIK = "1801014507900001"
SPELLINGS = [
    "1801014507900001",
    "1801 0145 0790 0001",
    "1801-0145-0790-0001",
    "18 01 01 45 07 90 00 01",
    "180101 450790 0001",
    "'1801014507900001",
    "1801014507900001.0",
    "1801\u00a00145\u00a00790\u00a00001",
    "1801\t0145  0790 0001",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_accepted_spelling_is_blocked(spelling):
    read, _ = normalise.nik(pa.array([spelling]))
    assert read.to_pylist() == [NIK], "the extraction reads this spelling as the NIK"
    for value in (spelling, f"catatan: NIK {spelling} (dari form)", f"{spelling};lainnya"):
        table = pa.table({"placement_id": ["P-1"], "notes": [value]})
        with pytest.raises(LeakError) as err:
            leak_guard(table)
        assert err.value.column == "notes" and err.value.pattern == "nik"
        assert spelling not in str(err.value) and NIK not in str(err.value)


def test_what_a_release_legitimately_holds_passes():
    table = pa.table({
        "nik_token": ["t_" + "abcdefghijklmnop" * 2],
        "placement_id": ["PN-2507-H0000123"],
        "kabkota_code": ["1871"],
        "issued": ["2025-07-01 12:30:45.123456"],
        "fifteen_digits": ["1801 0145 0790 001"],
        "seventeen_run": ["18010145079000011"],
    })
    assert leak_guard(table)["passed"]
