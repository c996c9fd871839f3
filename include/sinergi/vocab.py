"""Canonical vocabularies and country codes (config/vocabularies.yaml, config/countries.yaml)."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import yaml

# the C loader parses the registry ~10x faster (DAG files read it at parse time)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _key(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", " ", str(text).upper()).strip()


@cache
def vocabularies() -> dict[str, dict[str, list[str]]]:
    text = resources.files("sinergi.config").joinpath("vocabularies.yaml").read_text(encoding="utf-8")
    return {name: {str(k): [str(a) for a in (v or [])] for k, v in values.items()} for name, values in yaml.load(text, Loader=_YAML_LOADER).items()}


def values(vocabulary: str) -> list[str]:
    """The canonical values of a vocabulary, in their declared order."""
    return list(vocabularies()[vocabulary])


@cache
def _lookup(vocabulary: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for canonical, aliases in vocabularies()[vocabulary].items():
        for spelling in (canonical, *aliases):
            table[_key(spelling)] = canonical
    return table


def canonical(vocabulary: str, text: str | None) -> str | None:
    """Map a source spelling to the canonical value, or None if it is not in the vocabulary."""
    if text is None:
        return None
    return _lookup(vocabulary).get(_key(text))


@cache
def _country_overrides() -> dict[str, dict]:
    text = resources.files("sinergi.config").joinpath("countries.yaml").read_text(encoding="utf-8")
    raw = yaml.load(text, Loader=_YAML_LOADER) or {}
    return {str(code): dict(entry or {}) for code, entry in raw.items()}


@cache
def countries() -> dict[str, dict]:
    """Every ISO 3166-1 country: alpha-2 -> ``{"name": Indonesian name, "name_en": English name,
    "alpha_3": ..., "aliases": [...]}``, sorted by code.

    From pycountry, with the Indonesian names of its iso3166-1 translation catalogue (of the common
    name where there is one: Taiwan, not "Taiwan, Provinsi China"); ``config/countries.yaml``
    overrides names and adds the spellings exports use."""
    import gettext

    import pycountry

    indonesian = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["id"], fallback=True)
    overrides = _country_overrides()
    unknown = sorted(set(overrides) - {c.alpha_2 for c in pycountry.countries})
    if unknown:
        raise ValueError(f"countries.yaml: {unknown} are not ISO 3166-1 alpha-2 codes")
    out: dict[str, dict] = {}
    for c in sorted(pycountry.countries, key=lambda c: c.alpha_2):
        english = getattr(c, "common_name", None) or c.name
        extra = overrides.get(c.alpha_2, {})
        names_en = [english, c.name, getattr(c, "official_name", None)]
        names_id = [indonesian.gettext(n) for n in names_en if n]
        out[c.alpha_2] = {
            "name": extra.get("name") or indonesian.gettext(english),
            "name_en": english,
            "alpha_3": c.alpha_3,
            "aliases": [str(a) for a in extra.get("aliases", [])],
            "spellings": list(dict.fromkeys(n for n in (*names_en, *names_id) if n)),
        }
    return out


@cache
def _country_lookup() -> dict[str, str]:
    """Spelling key -> alpha-2. Curated names and aliases win; a library spelling two countries
    share is left out (it must not pick one of them silently)."""
    curated: dict[str, str] = {}
    library: dict[str, set[str]] = {}
    for code, entry in countries().items():
        for spelling in (entry["name"], *entry["aliases"]):
            key = _key(spelling)
            if curated.get(key, code) != code:
                raise ValueError(f"countries.yaml: {spelling!r} is given to both {curated[key]} and {code}")
            curated[key] = code
        for spelling in (code, entry["alpha_3"], *entry["spellings"]):
            library.setdefault(_key(spelling), set()).add(code)
    table = {key: next(iter(codes)) for key, codes in library.items() if len(codes) == 1}
    table.update(curated)
    return table


def country_code(text: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code for a country spelling (code, alpha-3, English or Indonesian name,
    or an alias of countries.yaml), or None if unknown."""
    if text is None:
        return None
    return _country_lookup().get(_key(text))


def country_name(code: str | None) -> str | None:
    """The Indonesian name of a country code (as SISKOP2MI writes it), or None."""
    entry = countries().get(code or "")
    return entry["name"] if entry else None


def country_name_en(code: str | None) -> str | None:
    entry = countries().get(code or "")
    return entry["name_en"] if entry else None
