"""Region reference codes: the one table of kab/kota codes (Kemendagri and BPS) in the code base.

Kemendagri (Dukcapil) codes key the data because they join to the NIK prefix; BPS codes are carried
alongside for statistics (they differ for the first eight Lampung regencies).

The region lineage (config/region_lineage.csv: new code <- parent code, year of the split) tells
which NIK prefixes a regency's residents legitimately carry: a NIK is issued once, where the person
was first registered (UU 24/2013), so everyone registered before Pesawaran was split from Lampung
Selatan in 2007 keeps a 1801 NIK while living in 1809.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

LAMPUNG_PROVINCE_CODE = "18"
#: Provinces whose every kab/kota is in regions.csv (a NIK prefix of theirs that is not in the table
#: does not exist); for other provinces the table holds only the main sending regencies.
COMPLETE_PROVINCES = frozenset({LAMPUNG_PROVINCE_CODE})


@dataclass(frozen=True)
class Region:
    kemendagri_code: str
    bps_code: str
    province_code: str
    province_name: str
    kind: str  # kabupaten | kota
    name: str
    aliases: tuple[str, ...]

    @property
    def official_name(self) -> str:
        return f"{'Kab.' if self.kind == 'kabupaten' else 'Kota'} {self.name}"


@cache
def regions() -> tuple[Region, ...]:
    text = resources.files("sinergi.config").joinpath("regions.csv").read_text(encoding="utf-8")
    return tuple(
        Region(
            kemendagri_code=r["kemendagri_code"],
            bps_code=r["bps_code"],
            province_code=r["province_code"],
            province_name=r["province_name"],
            kind=r["kind"],
            name=r["name"],
            aliases=tuple(a for a in r["aliases"].split("|") if a),
        )
        for r in csv.DictReader(text.splitlines())
    )


@cache
def by_code() -> dict[str, Region]:
    return {r.kemendagri_code: r for r in regions()}


def lampung() -> tuple[Region, ...]:
    return tuple(r for r in regions() if r.province_code == LAMPUNG_PROVINCE_CODE)


_PREFIX = re.compile(r"^(KABUPATEN|KAB\.?|KOTA ADMINISTRASI|KOTA|KOT\.?)\s+")


def _key(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", " ", text.upper()).strip()


@cache
def _lookup() -> dict[str, str]:
    """Spelling -> Kemendagri code, for every spelling variant we accept losslessly."""
    table: dict[str, str] = {}
    for r in regions():
        names = {r.name, r.official_name, f"Kabupaten {r.name}", f"Kab {r.name}", f"Kota {r.name}", *r.aliases}
        for n in names:
            table[_key(n)] = r.kemendagri_code
    # Note: BPS codes are *not* accepted as spellings: a BPS code in a Kemendagri field is a defect
    # (1801 means Lampung Selatan to Dukcapil but Lampung Barat to BPS), so it must not be "repaired".
    for r in regions():
        table[_key(r.kemendagri_code)] = r.kemendagri_code
    return table


def kabkota_code(text: str | None) -> str | None:
    """Return the Kemendagri code for a kab/kota spelling or code, or None if unknown."""
    if text is None:
        return None
    key = _key(str(text))
    if not key:
        return None
    hit = _lookup().get(key)
    if hit is None:
        stripped = _key(_PREFIX.sub("", key + " ").strip())
        hit = _lookup().get(stripped)
    return hit


def bps_code(kemendagri: str | None) -> str | None:
    r = by_code().get(kemendagri or "")
    return r.bps_code if r else None


def province_code(kemendagri: str | None) -> str | None:
    return kemendagri[:2] if kemendagri and len(kemendagri) >= 2 else None


def name_of(kemendagri: str | None) -> str | None:
    r = by_code().get(kemendagri or "")
    return r.official_name if r else None


@dataclass(frozen=True)
class Split:
    """A regency created from another: ``code`` split off from ``parent`` in ``year``."""

    code: str
    parent: str
    year: int
    basis: str


@cache
def lineage() -> tuple[Split, ...]:
    text = resources.files("sinergi.config").joinpath("region_lineage.csv").read_text(encoding="utf-8")
    splits = tuple(Split(r["kemendagri_code"], r["parent_code"], int(r["year"]), r["basis"])
                   for r in csv.DictReader(text.splitlines()))
    for s in splits:
        for code in (s.code, s.parent):
            if code not in by_code():
                raise ValueError(f"region_lineage.csv: {code} is not a kab/kota of regions.csv")
    return splits


@cache
def split_year(nik_code: str, kabkota: str) -> int | None:
    """The year from which a person first registered in ``nik_code`` could no longer be registered
    there while living in ``kabkota``: the year ``kabkota``'s territory left ``nik_code`` (through
    any chain of splits), or None when ``kabkota`` was never part of ``nik_code``. A NIK with the
    prefix ``nik_code`` issued before that year is expected in ``kabkota``."""
    parents = {s.code: s for s in lineage()}
    code, year = kabkota, None
    while code in parents:
        s = parents[code]
        # the chain's oldest split is when the territory left nik_code
        year = s.year if year is None else min(year, s.year)
        if s.parent == nik_code:
            return year
        code = s.parent
    return None


def lineage_pairs() -> list[tuple[str, str, int]]:
    """Every (NIK kab/kota prefix, kab/kota of residence, split year) the lineage explains."""
    pairs = []
    for child in {s.code for s in lineage()}:
        code = child
        parents = {s.code: s for s in lineage()}
        while code in parents:
            parent = parents[code].parent
            year = split_year(parent, child)
            if year is not None:
                pairs.append((parent, child, year))
            code = parent
    return sorted(pairs)
