"""Distributions, scales, name pools, random streams and the NIK rule shared by the simulator.

Figures come from docs/DOMAIN.md (BP2MI/KP2MI releases); region and vocabulary tables come
from ``sinergi.regions`` / ``sinergi.vocab`` (never re-declared here).
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass
from functools import cache

import numpy as np
from faker.providers.address.id_ID import Provider as _FakerAddress
from faker.providers.person.id_ID import Provider as _FakerPerson

from sinergi import regions
from sinergi.months import Month

# --------------------------------------------------------------------------------------------
# Scales


@dataclass(frozen=True)
class Scale:
    name: str
    placements: int  # placement rows per month in the national export (all provinces)
    lampung_share: float  # share of Lampung-origin people among national records
    min_rows: int  # floor for the small datasets (complaints, stranded, empowerment) per month
    p3mi: int  # P3MI companies in the register
    facilities: int  # Dinkes-licensed health facilities in Lampung
    institutions: int  # LPK / BLK-LN in Lampung


SCALES = {
    "demo": Scale("demo", 300, 0.80, 20, 40, 8, 10),
    # ~2,000 Lampung placements a month (DOMAIN: 1,773-2,495), plus some other-province rows.
    "lampung": Scale("lampung", 2350, 0.85, 10, 120, 20, 30),
    "national": Scale("national", 25000, 0.085, 0, 400, 20, 30),
}


def get_scale(scale: str | int) -> Scale:
    if isinstance(scale, int) or (isinstance(scale, str) and scale.isdigit()):
        n = int(scale)
        if n <= 0:
            raise ValueError("scale as a row count must be positive")
        return Scale(f"rows:{n}", n, 0.085, 0, max(40, min(400, n // 60)), 20, 30)
    try:
        return SCALES[scale]
    except KeyError:
        raise ValueError(f"unknown scale {scale!r}: use demo, lampung, national or a row count") from None


# --------------------------------------------------------------------------------------------
# Distributions (DOMAIN.md "Scale")

# Lampung placements by regency, 2025 (Kemendagri code -> count).
LAMPUNG_KABKOTA_WEIGHTS = {
    "1807": 9343, "1802": 3827, "1801": 2178, "1809": 1315, "1806": 1232, "1810": 1213,
    "1803": 996, "1805": 835, "1812": 753, "1871": 657, "1808": 614, "1811": 611,
    "1872": 413, "1804": 138, "1813": 50,
}
FEMALE_SHARE_LAMPUNG = 0.72
FEMALE_SHARE_NATIONAL = 0.62
# Other provinces chosen so that the national mix stays near 62 % women at Lampung's 8.5 % share.
FEMALE_SHARE_OTHER = (FEMALE_SHARE_NATIONAL - 0.085 * FEMALE_SHARE_LAMPUNG) / 0.915

# Destination country marginal for Lampung (Taiwan ~55 %, then HK, MY, JP, SG) and the share of
# informal (household) work per country, chosen so that ~60 % of Lampung placements are informal.
COUNTRY_WEIGHTS = {
    "TW": 0.55, "HK": 0.17, "MY": 0.12, "JP": 0.06, "SG": 0.04, "KR": 0.025, "SA": 0.01,
    "BN": 0.008, "AE": 0.005, "QA": 0.004, "PL": 0.004, "TR": 0.004,
}
INFORMAL_BY_COUNTRY = {
    "TW": 0.62, "HK": 1.0, "MY": 0.35, "JP": 0.0, "SG": 0.95, "KR": 0.0, "SA": 1.0,
    "BN": 0.6, "AE": 0.9, "QA": 0.9, "PL": 0.0, "TR": 0.5,
}
INFORMAL_JOBS = {
    "House Maid": 0.42, "Caregiver": 0.30, "Informal Elderly Caregiver": 0.12,
    "Housekeeper and Family Cook": 0.10, "Informal Babysitter": 0.06,
}
FORMAL_JOBS = {
    "TW": {"Production Operator": 0.4, "Manufacturing Worker": 0.3, "Fisherman": 0.15, "Construction Worker": 0.15},
    "MY": {"Plantation Worker": 0.5, "Harvester": 0.25, "Worker": 0.25},
    "JP": {"Caregiver": 0.3, "Farmer": 0.3, "Production Operator": 0.4},
    "KR": {"Manufacturing Worker": 0.6, "Fisherman": 0.4},
    "*": {"Worker": 0.5, "Operator": 0.3, "Construction Worker": 0.2},
}
EDUCATION_WEIGHTS = {"SMA/SMK": 0.44, "SMP": 0.31, "SD": 0.22, "Diploma": 0.02, "S1": 0.01}
# Most returns are routine; problem returns are rare (DOMAIN: ~190 facilitated returns a year from
# Lampung against ~12,000 returns, i.e. under 2 %; early returns of simulated cohorts add to them).
RETURN_STATUS_WEIGHTS = {
    "habis kontrak": 0.85, "cuti": 0.125, "sakit": 0.007, "meninggal": 0.003, "terkendala": 0.007,
    "deportasi": 0.006, "hasil pencegahan": 0.002,
}
COMPLAINT_LAMPUNG_FACTOR = 0.65  # Lampung files 66-91 of ~1,500 complaints a year: ~5.5 % at an 8.5 % share
PROBLEM_RETURNS = ("sakit", "meninggal", "terkendala", "deportasi", "hasil pencegahan")
# Complaint types, most frequent in Lampung first (DOMAIN.md); weights decay with the rank.
COMPLAINT_TYPES = (
    "PMI ingin dipulangkan", "PMI gagal berangkat", "Gaji tidak dibayar", "Putus hubungan komunikasi",
    "Biaya penempatan melebihi struktur biaya", "Meninggal dunia di negara tujuan", "Pekerjaan tidak sesuai PK",
    "Sakit/rawat inap", "PHK sebelum PK berakhir", "Penipuan peluang kerja", "Illegal rekrut",
    "Penahanan paspor/dokumen oleh P3MI", "Tindak kekerasan dari majikan", "Perdagangan orang",
    "Pelecehan seksual", "Potongan gaji melebihi ketentuan", "Deportasi", "Lain-lain",
)
COMPLAINT_CHANNEL_WEIGHTS = {
    "e-Pengaduan": 0.30, "SMS": 0.22, "langsung": 0.15, "telepon": 0.10, "media sosial": 0.10,
    "email": 0.07, "surat": 0.04, "lainnya": 0.02,
}
COMPLAINT_STATUSES = (
    "Terima pengaduan", "Penugasan validator", "Penentuan unit kerja", "Penugasan klarifikator",
    "Klarifikasi", "Validasi akhir", "Selesai",
)
REGISTRATION_RATIO = 1.3  # SISKOP2MI registrations per placement (DOMAIN: 1.2-1.5x)
INITIAL_ONLY_SHARE = 0.15  # kab/kota registrants who never reach SISKOP2MI
RETURNS_PER_PLACEMENT = 0.5
COMPLAINTS_PER_PLACEMENT = 125 / 25000  # ~1,500 a year nationally
UNFIT_SHARE = 0.04

# --------------------------------------------------------------------------------------------
# Random streams: one independent, reproducible stream per purpose (no global state, no hash()).


def rng(seed: int, *labels: object) -> np.random.Generator:
    key = [zlib.crc32(str(x).encode()) for x in labels]
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *key]))


def weighted(r: np.random.Generator, weights: dict, size: int) -> np.ndarray:
    """Sample keys of ``weights`` (returned as an object array)."""
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    idx = r.choice(len(keys), size=size, p=p / p.sum())
    return np.array(keys, dtype=object)[idx]


# --------------------------------------------------------------------------------------------
# Months and dates

EPOCH = np.datetime64("1970-01-01", "D")


# The simulator keeps months as ``YYYY-MM`` text and days as numpy datetime64[D]; these helpers are
# thin numpy views of sinergi.months.Month (strict parsing, calendar arithmetic).


def parse_month(month: str | Month) -> tuple[int, int]:
    """(year, month) of a strict ``YYYY-MM`` (raises sinergi.months.MonthError, a ValueError)."""
    m = Month.of(month)
    return m.year, m.month


def month_add(month: str | Month, n: int) -> str:
    return str(Month.of(month).add(n))


@cache
def month_start(month: str | Month) -> np.datetime64:
    return np.datetime64(Month.of(month).first_day, "D")


@cache
def month_end(month: str | Month) -> np.datetime64:
    return np.datetime64(Month.of(month).last_day, "D")


def month_of(day: np.datetime64) -> str:
    return str(np.datetime64(day, "M"))


def to_date(day: np.datetime64) -> dt.date:
    return np.datetime64(day, "D").item()


MONTHS_ID = (
    "JANUARI", "FEBRUARI", "MARET", "APRIL", "MEI", "JUNI", "JULI", "AGUSTUS", "SEPTEMBER",
    "OKTOBER", "NOVEMBER", "DESEMBER",
)

# --------------------------------------------------------------------------------------------
# Name, street and phone pools (static Faker id_ID word lists: deterministic and fast to sample)

# A few names with an apostrophe (Arabic 'ain) so that cp1252 and utf-8 exports really differ.
_APOSTROPHE_FEMALE = ("Mu’awanah", "Ru’yati", "Sa’adah", "Mar’atus")
_APOSTROPHE_MALE = ("Ma’ruf", "Sya’roni", "Nu’man", "Mu’min")


@cache
def name_pools() -> dict[str, tuple[str, ...]]:
    return {
        "female": tuple(_FakerPerson.first_names_female) + _APOSTROPHE_FEMALE,
        "male": tuple(_FakerPerson.first_names_male) + _APOSTROPHE_MALE,
        "last_female": tuple(_FakerPerson.last_names_female),
        "last_male": tuple(_FakerPerson.last_names_male),
        "streets": tuple(_FakerAddress.streets),
    }


DESA_WORDS = (
    "Sukadana", "Sidomulyo", "Margorejo", "Tanjung Sari", "Sukamaju", "Banjarsari", "Purwodadi",
    "Karang Anyar", "Sumber Rejo", "Way Halim", "Rejosari", "Tegal Mulyo", "Mulyo Asri", "Bumi Ayu",
    "Labuhan Ratu", "Sri Menanti", "Gedung Aji", "Negeri Agung", "Pekon Balak", "Trimulyo",
)
# Indonesian mobile prefixes (Telkomsel, Indosat, XL, Tri, Smartfren).
MOBILE_PREFIXES = (
    "0811", "0812", "0813", "0821", "0822", "0823", "0852", "0853", "0856", "0857", "0858",
    "0877", "0878", "0895", "0896", "0897", "0898", "0881", "0882",
)
# Foreign mobile numbers held by workers abroad: E.164 prefix and subscriber digits.
FOREIGN_MOBILE = {"TW": ("+8869", 8), "HK": ("+8526", 7), "MY": ("+601", 8), "SG": ("+658", 7)}

COMPANY_WORDS = (
    "Bina", "Karya", "Mandiri", "Sejahtera", "Putra", "Abadi", "Jaya", "Mitra", "Tenaga", "Prima",
    "Sentosa", "Anugerah", "Bahari", "Cipta", "Duta", "Graha", "Insani", "Lestari", "Nusantara",
    "Perkasa", "Rezeki", "Utama", "Makmur", "Amanah", "Berkah",
)

# --------------------------------------------------------------------------------------------
# Regions


@cache
def lampung_codes() -> tuple[list[str], np.ndarray]:
    codes = [r.kemendagri_code for r in regions.lampung()]
    w = np.array([LAMPUNG_KABKOTA_WEIGHTS[c] for c in codes], dtype=float)
    return codes, w / w.sum()


@cache
def other_codes() -> list[str]:
    return [r.kemendagri_code for r in regions.regions() if r.province_code != regions.LAMPUNG_PROVINCE_CODE]


# --------------------------------------------------------------------------------------------
# NIK: PPKKCC DDMMYY SSSS (women add 40 to DD), as an int64 so it vectorises.


def nik_numbers(kab: np.ndarray, kec: np.ndarray, birth: np.ndarray, female: np.ndarray,
                serial: np.ndarray) -> np.ndarray:
    """NIKs as int64 from Kemendagri kab/kota codes (int array), kecamatan, birth dates, sex, serial."""
    b = birth.astype("datetime64[D]")
    years = b.astype("datetime64[Y]").astype(int) + 1970
    months = b.astype("datetime64[M]").astype(int) % 12 + 1
    days = (b - b.astype("datetime64[M]")).astype(int) + 1
    dd = days + np.where(female, 40, 0)
    return (kab.astype(np.int64) * 10**12 + kec.astype(np.int64) * 10**10 + dd.astype(np.int64) * 10**8
            + months.astype(np.int64) * 10**6 + (years % 100).astype(np.int64) * 10**4 + serial.astype(np.int64))


def unique_niks(r: np.random.Generator, kab, kec, birth, female) -> np.ndarray:
    """Draw serials so that every NIK in the population is distinct (as Dukcapil guarantees)."""
    n = len(kab)
    serial = r.integers(1, 10000, size=n)
    nik = nik_numbers(kab, kec, birth, female, serial)
    for _ in range(50):
        _, first = np.unique(nik, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        if not dup.any():
            return nik
        serial[dup] = r.integers(1, 10000, size=int(dup.sum()))
        nik[dup] = nik_numbers(kab[dup], kec[dup], birth[dup], female[dup], serial[dup])
    raise RuntimeError("could not draw unique NIKs")  # pragma: no cover - needs ~10^8 people per cell
