"""The annex work plan (``config/workplan.yaml``) and how far Sinergi covers each row (MoU Art. 7).

Every row of the annex, with its text, is configuration; which rows have *data* comes from the
registry's ``workplan`` tags (``datasets.yaml``) and which have *indicators* from
``indicators.yaml`` (``workplan_row`` / ``also_serves``), so the coverage table of the yearly
evaluation can never claim what the configuration does not do. A row no indicator serves must say
``why`` (checked at load time).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from sinergi import registry
from sinergi.errors import ConfigError

_FILE = "workplan.yaml"
_ROW_KEYS = {"program", "stage", "activity", "output", "why"}


class WorkplanConfigError(ConfigError):
    """``config/workplan.yaml`` is invalid (the message names the key path)."""


@dataclass(frozen=True)
class Text:
    id: str
    en: str


@dataclass(frozen=True)
class Row:
    id: str
    program_no: str
    program: Text
    stage: Text
    activity: Text
    output: Text
    why: Text | None = None


def _fail(path: str, message: str) -> WorkplanConfigError:
    return WorkplanConfigError(f"{_FILE}: {path}: {message}")


def _text(raw: Any, path: str) -> Text:
    if not isinstance(raw, dict) or set(raw) != {"id", "en"}:
        raise _fail(path, "expected {id: <Bahasa Indonesia>, en: <English>}")
    for lang in ("id", "en"):
        if not isinstance(raw[lang], str) or not raw[lang].strip():
            raise _fail(f"{path}.{lang}", "expected non-empty text")
    return Text(id=" ".join(raw["id"].split()), en=" ".join(raw["en"].split()))


def parse_workplan(data: Any) -> tuple[Row, ...]:
    if not isinstance(data, dict) or set(data) != {"programs", "rows"}:
        raise _fail("(top level)", "expected the keys 'programs' and 'rows'")
    programs = {str(k): _text(v, f"programs.{k}") for k, v in (data["programs"] or {}).items()}
    rows = []
    for ident, raw in (data["rows"] or {}).items():
        where = f"rows.{ident}"
        if not isinstance(ident, str):
            raise _fail(where, "quote the row id (YAML reads 2.1 as a number)")
        if not isinstance(raw, dict) or set(raw) - _ROW_KEYS or not {"program", "stage", "activity", "output"} <= set(raw):
            raise _fail(where, f"expected the keys program, stage, activity, output (and why), got {sorted(raw or {})}")
        if str(raw["program"]) not in programs:
            raise _fail(f"{where}.program", f"{raw['program']!r} is not one of the programs {sorted(programs)}")
        rows.append(Row(id=ident, program_no=str(raw["program"]), program=programs[str(raw["program"])],
                        stage=_text(raw["stage"], f"{where}.stage"), activity=_text(raw["activity"], f"{where}.activity"),
                        output=_text(raw["output"], f"{where}.output"),
                        why=_text(raw["why"], f"{where}.why") if "why" in raw else None))
    return tuple(rows)


@cache
def rows() -> tuple[Row, ...]:
    """The annex rows in annex order; a row without an indicator must explain why."""
    text = resources.files("sinergi.config").joinpath(_FILE).read_text(encoding="utf-8")
    out = parse_workplan(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    served = {r for i in _indicators() for r in i.workplan_rows}
    known = {r.id for r in out}
    for ind in _indicators():
        for r in ind.workplan_rows:
            if r not in known:
                raise ConfigError(f"indicators.yaml: indicators.{ind.id}: work-plan row {r!r} is not in {_FILE}")
    for row in out:
        if row.id not in served and row.why is None:
            raise _fail(f"rows.{row.id}.why", "no indicator serves this row: say why (in both languages)")
    return out


def row_ids() -> tuple[str, ...]:
    return tuple(r.id for r in rows())


def _indicators():
    from sinergi.indicators.definitions import INDICATORS

    return INDICATORS


def coverage(policy, party: str, months: Mapping[str, list[str]] | None = None) -> list[dict]:
    """One entry per annex row for ``party``: the datasets tagged with the row (and which of them
    the party receives), the indicators serving it (and which the party gets: all their datasets
    received), the months of data (``months``: dataset -> months in the evaluated year), a status
    (``indicator`` | ``data`` | ``none``) and the reason when there is no indicator."""
    received = set(policy.parties[party].datasets)
    months = months or {}
    out = []
    for row in rows():
        datasets = [d for d in registry.names() if row.id in registry.get(d).workplan]
        inds = [i for i in _indicators() if row.id in i.workplan_rows]
        own_inds = [i for i in inds if i.dataset in received and set(i.also_needs) <= received]
        own_data = [d for d in datasets if d in received]
        with_months = {d: len(months.get(d, [])) for d in own_data}
        if own_inds and any(with_months.get(i.dataset) for i in own_inds):
            status = "indicator"
        elif own_inds or own_data:
            status = "data"
        else:
            status = "none"
        if status == "indicator":
            why = row.why  # an indicator that serves the row only in part still says what is missing
        elif own_inds:  # indicators exist, but no month of their data was validated in the year
            why = Text(id="Belum ada bulan data tervalidasi pada tahun ini.",
                       en="No month of its data was validated in this year.")
        elif datasets and not own_data:
            why = Text(id="Data untuk baris ini ada, tetapi tidak dibagikan kepada pihak ini menurut kebijakan berbagi "
                          "pakai data.", en="Data for this row exists but is not shared with this party under the "
                                            "sharing policy.")
        else:
            why = row.why
        out.append({"row": row, "datasets": datasets, "received": own_data, "months": with_months,
                    "indicators": [i.id for i in inds], "party_indicators": [i.id for i in own_inds],
                    "status": status, "why": why})
    return out
