"""Closed lists that must not drop real rows: every ISO 3166-1 country with its Indonesian and English
names and the spellings exports use (sinergi.vocab on pycountry + config/countries.yaml), and the
region lineage that explains NIK prefixes of split regencies (config/region_lineage.csv) with the
validation helpers built on it (sinergi.validate.derive)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pycountry
import pytest

from sinergi import regions, vocab
from sinergi.validate import derive


def test_every_iso_country_is_known_with_indonesian_and_english_names():
    countries = vocab.countries()
    assert set(countries) == {c.alpha_2 for c in pycountry.countries} and len(countries) == 249
    for code, entry in countries.items():
        assert vocab.country_code(code) == code, code
        assert vocab.country_code(entry["alpha_3"]) == code, code
        assert vocab.country_code(entry["name"]) == code, (code, entry["name"])  # the Indonesian name
        assert entry["name_en"]
    # Indonesian names as exports write them, English ones as SISKOP2MI's older forms do
    assert {c: vocab.country_name(c) for c in ("TW", "KR", "SA", "JP", "HK", "AE", "CN", "TL", "GB")} == {
        "TW": "Taiwan", "KR": "Korea Selatan", "SA": "Arab Saudi", "JP": "Jepang", "HK": "Hong Kong",
        "AE": "Uni Emirat Arab", "CN": "Tiongkok", "TL": "Timor Leste", "GB": "Inggris"}
    assert vocab.country_name_en("KR") == "South Korea" and vocab.country_name_en("TW") == "Taiwan"


@pytest.mark.parametrize(("spelling", "code"), [
    ("Taiwan", "TW"), ("TAIWAN, PROVINSI CHINA", "TW"), ("Taiwan R.O.C", "TW"), ("Hongkong", "HK"),
    ("HONG KONG SAR", "HK"), ("Korsel", "KR"), ("korea selatan", "KR"), ("South Korea", "KR"), ("KSA", "SA"),
    ("Saudi Arabia", "SA"), ("UEA", "AE"), ("U.A.E.", "AE"), ("Jepang", "JP"), ("JAPAN", "JP"), ("Rumania", "RO"),
    ("Romania", "RO"), ("Polandia", "PL"), ("Kamboja", "KH"), ("Viet Nam", "VN"), ("Papua Nugini", "PG"),
    ("Fiji", "FJ"), ("Maladewa", "MV"), ("Brunei", "BN"), ("Timor Timur", "TL"), ("Belanda", "NL"),
    ("Macau", "MO"), ("Cina", "CN"), ("RRT", "CN"),
])
def test_spellings_exports_use(spelling, code):
    assert vocab.country_code(spelling) == code


def test_unknown_and_ambiguous_spellings_are_not_guessed():
    for typo in ("TAIWNA", "SAUDI ARABIAH", "SINGAPORA", "Narnia", "", "KOREA SELATN"):
        assert vocab.country_code(typo) is None, typo
    assert vocab.country_code("AS") == "AS"  # American Samoa's code, not "Amerika Serikat"


def test_region_lineage_is_the_five_splits_since_2007():
    splits = {(s.code, s.parent, s.year) for s in regions.lineage()}
    assert splits == {("1809", "1801", 2007), ("1810", "1806", 2008), ("1811", "1805", 2008),
                      ("1812", "1805", 2008), ("1813", "1804", 2012)}
    assert regions.split_year("1801", "1809") == 2007 and regions.split_year("1805", "1812") == 2008
    assert regions.split_year("1809", "1801") is None  # the parent did not come out of the child
    assert regions.split_year("1801", "1802") is None
    assert all(regions.by_code()[s.code].name in s.basis for s in regions.lineage())


def _table(niks, kabs):
    return pa.table({"nik": pa.array(niks, pa.string()), "kabkota_code": pa.array(kabs, pa.string())})


def test_nik_region_now_explains_a_split_regency_only_for_people_born_before_it():
    t = _table(
        ["1801014507900001",  # Lampung Selatan NIK, born 1990, lives in Pesawaran (split 2007): expected
         "1801014507100001",  # born 2010, after the split: registered in the parent later -> a mover
         "1804010101110001",  # Lampung Barat NIK, born 2011, lives in Pesisir Barat (split 2012): expected
         "1807014507900001",  # Lampung Timur NIK in Pesawaran: a mover
         "1809014507900001",  # Pesawaran NIK in Pesawaran
         "3201014507900001",  # another province
         "1.80101E+15", None],
        ["1809", "1809", "1813", "1809", "1809", "1809", "1809", "1809"])
    now = derive.nik_region_now(t, "nik", "kabkota_code", month_end=dt.date(2025, 7, 31)).to_pylist()
    assert now == ["1809", "1801", "1813", "1807", "1809", "3201", None, None]


def test_nik_date_valid_is_the_nik_structure_check():
    t = _table(["1801014507900001", "1801010507900001", "1801013102900001", "1801017102900001",
                "1801016013900001", "1801010012900001", "1801012902000001", "1801016902000001", "18010", None],
               [None] * 10)
    assert derive.nik_date_valid(t, "nik").to_pylist() == [
        True,  # 05/07/90 for a woman (45)
        True,  # 05/07/90 for a man
        False,  # 31 February
        False,  # 31 February for a woman (71)
        False,  # month 13
        False,  # day 00
        True,  # 29 February 2000
        True,  # 29 February 2000 for a woman (69)
        None, None,  # malformed or missing: nik_shape's business
    ]


def test_nik_kabkota_is_judged_only_where_the_region_table_is_complete():
    t = _table(["1899014507900001", "1807014507900001", "3299014507900001", "x"], [None] * 4)
    assert derive.nik_kabkota_listed(t, "nik").to_pylist() == ["1899", "1807", None, None]
    assert regions.COMPLETE_PROVINCES == {"18"} and len(regions.lampung()) == 15
