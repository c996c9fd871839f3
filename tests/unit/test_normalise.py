"""Value normalisers (sinergi.normalise): repairs that are lossless, marks for what is lost."""

from __future__ import annotations

import datetime as dt

import phonenumbers
import pyarrow as pa
import pytest

from sinergi import normalise as N
from sinergi import regions, registry, vocab


def s(*values):
    return pa.array(list(values), pa.string())


def test_text_collapses_whitespace_and_empties_to_null():
    out, issues = N.text(s("  Jl.  Merdeka\t No.\u00a01 ", "", "   ", None))
    assert out.to_pylist() == ["Jl. Merdeka No. 1", None, None, None]
    assert issues.null_count == 4


def test_name_upper_and_id_compact():
    assert N.name(s(" siti   aminah "))[0].to_pylist() == ["SITI AMINAH"]
    assert N.ident(s(" pen-2025 01 ", "12345.0", "A1.5"))[0].to_pylist() == ["PEN-202501", "12345", "A1.5"]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1807014507900001", "1807014507900001"),
        (" 1807014507900001 ", "1807014507900001"),
        ("'1807014507900001", "1807014507900001"),  # Excel text marker
        ("1807 0145 0790 0001", "1807014507900001"),  # grouped
        ("1807014507900001.0", "1807014507900001"),  # through a number, 16th digit not 0: full precision
        ("1801124507951234.00", "1801124507951234"),
        ("1.801124507951234E+15", "1801124507951234"),  # every digit shown
        ("1801124507951230.0", "1801124507951230.0"),  # through a number, ends in 0: cannot be trusted
        ("1807014507900010.00", "1807014507900010.00"),  # a real serial 0010 is indistinguishable: kept
        ("1.80112450795123E+15", "1.80112450795123E+15"),  # 15 significant digits shown
        ("1,80112E+15", "1,80112E+15"),  # decimal comma (Indonesian locale)
        ("1.80701E+15", "1.80701E+15"),  # digits lost: kept as text for validation to reject
        ("1807010000000000.0", "1807010000000000.0"),
        ("9107014507900003.0", "9107014507900003.0"),  # above 2**53 a double cannot hold odd values
        ("180701450790001.0", "180701450790001"),  # 15 digits, exact: nik_shape rejects the length
        ("18070145079000011", "18070145079000011"),  # 17 digits: not truncated
        ("", None),
    ],
)
def test_nik_repair_rule(raw, expected):
    out, issues = N.nik(s(raw))
    assert out.to_pylist() == [expected]
    assert issues.null_count == 1  # NIK text is never "lost"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1801124507951234.0", ("1801124507951234", True)),
        ("1801124507951230.0", ("1801124507951230", False)),
        ("1.80112450795123E+15", ("1801124507951230", False)),
        ("1.801124507951234e15", ("1801124507951234", True)),
        ("9007199254740991.0", ("9007199254740991", True)),  # 2**53 - 1: exact
        ("9007199254740993.0", ("9007199254740993", False)),
        ("12345.0", ("12345", True)),
        ("1.23457E+11", ("123457000000", False)),  # Excel shows 6 digits of 12 in a CSV
        ("1.5E+0", None),  # not an integer
        ("12.5", None),
        ("PN-1.0", None),
    ],
)
def test_number_rendering(raw, expected):
    assert N.number_rendering(raw) == expected


def test_ident_keeps_untrusted_number_renderings():
    out = N.ident(s("1801124507951234.0", "1801124507951230.0", "1.23457E+11", "42.0"))[0].to_pylist()
    assert out == ["1801124507951234", "1801124507951230.0", "1.23457E+11", "42"]
    assert all(N.number_rendering(v) is None or not N.number_rendering(v)[1] for v in out[1:3])
    import re
    assert [bool(re.search(N.NUMBER_RENDERING, v)) for v in out] == [False, True, True, False]


def test_nik_is_valid_checks_lampung_prefix_beyond_stdnum():
    from stdnum.id import nik as stdnik

    assert N.nik_is_valid("1807014507900001")
    # stdnum only knows the province for Lampung: it accepts a kab/kota that does not exist
    assert stdnik.is_valid("1899014507900001")
    assert not N.nik_is_valid("1899014507900001")
    assert not N.nik_is_valid("1807014513900001")  # month 13
    assert not N.nik_is_valid("1.80701E+15")
    for r in regions.lampung():
        assert N.nik_is_valid(f"{r.kemendagri_code}014507900001"), r.name


def test_dates_all_seen_formats():
    raw = s("03/07/2025", "3/7/2025", "03-07-2025", "2025-07-03", "2025-7-3", "2025-07-03 10:15:00",
            "2025-07-03T10:15:00+07:00", "45841", "45841.0", None)
    out, issues = N.date(raw)
    assert out.type == pa.date32()
    assert out.to_pylist() == [dt.date(2025, 7, 3)] * 9 + [None]
    assert issues.null_count == len(raw)


def test_dates_impossible_are_lost_not_rolled_over():
    out, issues = N.date(s("31/02/1990", "1990-13-01", "kemarin", "99999999", "29/02/2024"))
    assert out.to_pylist() == [None, None, None, None, dt.date(2024, 2, 29)]
    notes = issues.to_pylist()
    assert notes[0] == "unparseable date '31/02/1990'"
    assert notes[2].startswith("unparseable date")
    assert notes[4] is None


def test_integer():
    out, issues = N.integer(s("12", " 7 ", "12.0", "1.200", "dua", None))
    assert out.to_pylist() == [12, 7, 12, None, None, None]
    assert issues.to_pylist()[3] == "unparseable integer '1.200'"
    assert issues.to_pylist()[5] is None


def test_boolean():
    out, issues = N.boolean(s("Ya", "TIDAK", "y", "0", "mungkin", None))
    assert out.to_pylist() == [True, False, True, False, None, None]
    assert issues.to_pylist()[4].startswith("unparseable yes/no")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("081234567890", "+6281234567890"),
        ("0812-3456-7890", "+6281234567890"),
        ("(0812) 3456 7890", "+6281234567890"),
        ("6281234567890", "+6281234567890"),
        ("+62 812 3456 7890", "+6281234567890"),
        ("+886 912 345 678", "+886912345678"),  # Taiwan number kept
        ("+852 6123 4567", "+85261234567"),
        ("0060123456789", "+60123456789"),
        ("021-5551234", "+62215551234"),  # Jakarta landline: slow path
        ("12", "12"),  # not a possible number: cleaned text kept for validation
    ],
)
def test_phone_e164(raw, expected):
    out, _ = N.phone(s(raw))
    assert out.to_pylist() == [expected]


def test_phone_fast_path_agrees_with_phonenumbers():
    samples = ["0812345678", "08123456789", "081234567890", "0812345678901", "+6281234567", "628123456789"]
    fast, _ = N.phone(s(*samples))
    for raw, got in zip(samples, fast.to_pylist(), strict=True):
        num = phonenumbers.parse(raw if not raw.startswith("62") else "+" + raw, "ID")
        assert got == phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164), raw


def test_email_passport():
    assert N.email(s(" Siti.A @Mail.COM "))[0].to_pylist() == ["siti.a@mail.com"]
    assert N.passport(s(" c 1234567 ", "x-123"))[0].to_pylist() == ["C1234567", "X123"]


def test_kabkota_names_codes_and_bps_not_silently_swapped():
    out, _ = N.kabkota(s("KAB. LAMPUNG TIMUR", "Lampung Timur", "LAMTIM", "Kabupaten Lampung Timur", "1807",
                         "kota  metro", "Atlantis"))
    assert out.to_pylist() == ["1807", "1807", "1807", "1807", "1807", "1872", "Atlantis"]
    # 1801 is Lampung Selatan (Kemendagri) but Lampung Barat (BPS): never turned into 1804
    assert N.kabkota(s("1801"))[0].to_pylist() == ["1801"]
    # every Lampung BPS code is also some Kemendagri code: the value is never re-read as BPS
    for r in regions.lampung():
        assert N.kabkota(s(r.bps_code))[0].to_pylist() == [r.bps_code]


def test_country_and_vocab():
    assert N.country(s("Taiwan", "HONGKONG", "malaysia barat", "Narnia"))[0].to_pylist() == ["TW", "HK", "MY", "Narnia"]
    f = N.normaliser("vocab:sex")
    assert f(s("laki-laki", "Perempuan", "p", "X"))[0].to_pylist() == ["L", "P", "P", "X"]
    assert N.normaliser("vocab:education")(s("slta", "D3"))[0].to_pylist() == ["SMA/SMK", "Diploma"]
    with pytest.raises(KeyError):
        N.normaliser("vocab:no_such_vocabulary")
    with pytest.raises(ValueError, match="unknown normaliser"):
        N.normaliser("bogus")


def test_every_registry_normaliser_resolves():
    for ds in registry.datasets().values():
        for col in ds.source_columns:
            out, issues = N.normalise(col.normalise, s("x", None), col.arrow_type)
            assert out.type == col.arrow_type and len(issues) == 2
            if col.vocabulary:
                assert vocab.values(col.vocabulary)


def test_derivations():
    assert N.derive("bps_code", s("1801", "1804", "Atlantis", None)).to_pylist() == ["1803", "1801", None, None]
    assert N.derive("province_code", s("1807", "Atlantis")).to_pylist() == ["18", None]
    assert N.derive("kecamatan_code", s("1807014507900001", "1.80701E+15", "1899014507900001")).to_pylist() == [
        "180701", None, None]
    assert N.derive("country_name", s("TW", "Narnia")).to_pylist() == ["Taiwan", None]


def test_join_issues():
    out = N.join_issues([("a", s("x", None, None)), ("b", s("y", "z", None))], 3)
    assert out.to_pylist() == ["a: x; b: y", "b: z", None]


@pytest.mark.slow
def test_vectorised_on_a_million_values():
    """No Python call per value: plain mobile numbers never reach phonenumbers; coded columns map
    each distinct spelling once."""
    import time

    n = 1_000_000
    kab = pa.array(["Lampung Timur", "LAMTENG", "Kota Metro", "1801"] * (n // 4))
    dates = pa.array(["03/07/2025", "2025-07-03"] * (n // 2))
    phones = pa.array([f"0812{i:08d}" for i in range(n)])
    before = N._phone_slow.cache_info().misses
    t = time.perf_counter()
    assert N.kabkota(kab)[0].unique().to_pylist() == ["1807", "1802", "1872", "1801"]
    assert N.date(dates)[0].unique().to_pylist() == [dt.date(2025, 7, 3)]
    out = N.phone(phones)[0]
    assert out[5].as_py() == "+6281200000005"
    assert N._phone_slow.cache_info().misses == before
    assert time.perf_counter() - t < 60  # generous: shared CI machines; ~1 s when idle
