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
def countries() -> dict[str, dict]:
    text = resources.files("sinergi.config").joinpath("countries.yaml").read_text(encoding="utf-8")
    return yaml.load(text, Loader=_YAML_LOADER)


@cache
def _country_lookup() -> dict[str, str]:
    table: dict[str, str] = {}
    for code, entry in countries().items():
        for spelling in (code, entry["name"], *entry.get("aliases", [])):
            table[_key(spelling)] = code
    return table


def country_code(text: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code for a country spelling, or None if unknown."""
    if text is None:
        return None
    return _country_lookup().get(_key(text))


def country_name(code: str | None) -> str | None:
    entry = countries().get(code or "")
    return entry["name"] if entry else None
