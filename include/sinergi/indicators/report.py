"""The monthly report per party: one self-contained HTML file (inline SVG charts, inline CSS, no
JavaScript, no external resource, printable), in Bahasa Indonesia and English throughout.

Everything shown comes from the (already protected) indicators table: a suppressed cell is written
"sel disamarkan" (cell suppressed) and drawn hatched, never as a number, and nothing is derived
from it (axis maxima, map classes, rates per 10,000 residents use published values only). Every
value cell carries ``data-cell="<month>|<indicator>|<period>|<area>|<dimension>|<value>"`` so a test can
check each one against the indicators table. Sections: headline indicators; the last 12 months as
trend charts (a short note until two months exist); a map of placements per 10,000 residents;
destination countries, kab/kota bars and the complaint workflow (one sentence instead of a chart
whose cells are all suppressed); the kab/kota table; data quality with the producer feedback
(operator reference); definitions and method notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources

import pyarrow as pa
import yaml

from sinergi import regions, vocab
from sinergi.indicators import charts
from sinergi.indicators.charts import HIDDEN, HIDDEN_EN, PALETTE, fmt, num
from sinergi.indicators.definitions import BY_ID, INDICATORS, PERIOD_LABEL
from sinergi.months import Month

BULAN = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
         "November", "Desember"]
MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"]
TEMPLATE = "templates/indicators_report.html.j2"
CSS = "templates/report.css"
LAMPUNG = regions.LAMPUNG_PROVINCE_CODE
#: Indicators drawn as monthly trend charts / kab-kota ranked bars, first available first (a party
#: that lacks the national datasets still gets charts of its provincial ones).
TREND = ("placements", "cpmi_registered", "returns", "complaints", "initial_registrations", "health_checks",
         "cpmi_trained", "stranded_received")
KABKOTA_CHARTS = ("placements", "cpmi_registered", "returns", "initial_registrations", "health_checks", "cpmi_trained")
KABKOTA_COLUMNS = ("placements", "cpmi_registered", "returns", "complaints", "health_checks", "cpmi_trained")
MAP_INDICATOR = "placements"


def month_label(month: Month | str) -> str:
    """``Juli 2025 / July 2025``."""
    m = Month.of(month)
    return f"{BULAN[m.month - 1]} {m.year}"


def month_label_en(month: Month | str) -> str:
    m = Month.of(month)
    return f"{MONTHS_EN[m.month - 1]} {m.year}"


@cache
def population() -> tuple[int, str, dict[str, int]]:
    """(reference year, source, residents per Lampung kab/kota) from ``config/population.yaml``."""
    raw = yaml.safe_load(resources.files("sinergi.config").joinpath("population.yaml").read_text(encoding="utf-8"))
    return int(raw["year"]), " ".join(str(raw["source"]).split()), {str(k): int(v) for k, v in raw["kabkota"].items()}


def css() -> str:
    return resources.files("sinergi").joinpath(CSS).read_text(encoding="utf-8")


# -- the indicators table as the report reads it -----------------------------------------------------
class View:
    """Rows of one indicators table. The agreement is about Lampung: the focus area is the province."""

    def __init__(self, table: pa.Table):
        self.rows = table.to_pylist()
        self._by_key = {(r["indicator_id"], r["period"], r["area_level"], r["kabkota_code"], r["dimension"],
                         r["dimension_value"]): r for r in self.rows}

    def get(self, indicator: str, period: str, level: str = "province", code: str | None = LAMPUNG,
            dimension: str = "total", value: str = "total") -> dict | None:
        if level == "total":
            code = None
        return self._by_key.get((indicator, period, level, code, dimension, value))

    def select(self, *, indicator: str, period: str, level: str = "province", dimension: str = "total") -> list[dict]:
        return [r for r in self.rows if r["indicator_id"] == indicator and r["period"] == period
                and r["area_level"] == level and r["dimension"] == dimension
                and (level != "province" or r["kabkota_code"] == LAMPUNG)]

    def present(self) -> list[str]:
        ids = {r["indicator_id"] for r in self.rows}
        return [i.id for i in INDICATORS if i.id in ids]


def cell_id(r: dict) -> str:
    """``<ref month>|<indicator>|<period>|<level>:<area>|<dimension>|<value>``: one cell of one release."""
    area = r["kabkota_code"] if r["area_level"] != "total" else "total"
    return (f"{r['ref_month']}|{r['indicator_id']}|{r['period']}|{r['area_level']}:{area or '-'}|{r['dimension']}|"
            f"{r['dimension_value']}")


def cell(r: dict | None, unit: str | None = None) -> dict:
    """What a table cell shows: text (never a suppressed value), the hidden flag, the data-cell id."""
    if r is None:
        return {"text": "–", "hidden": False, "id": ""}
    unit = unit or BY_ID[r["indicator_id"]].unit
    return {"text": fmt(r["value"], unit, r["suppressed"]), "hidden": bool(r["suppressed"]), "id": cell_id(r)}


def items(rows: list[dict], label_key: str, order: list[str] | None = None, lampung_only: bool = False) -> list:
    rows = [r for r in rows if not lampung_only or r["province_code"] == LAMPUNG]
    out = [(r[label_key], r["value"], r["suppressed"], cell_id(r)) for r in rows
           if r["suppressed"] or (r["value"] or 0) > 0 or order]
    if order:
        pos = {v: i for i, v in enumerate(order)}
        return sorted(out, key=lambda t: (pos.get(t[0], len(pos)), t[0]))
    return sorted(out, key=lambda t: (-(t[1] or 0) if not t[2] else 0, t[2], t[0]))


def bar_or_note(cid: str, title: str, rows: list, **kwargs) -> dict:
    """A bar chart, or one sentence when there is nothing to draw (no cell, or every cell suppressed)."""
    if not rows:
        return {"id": cid, "title": title, "svg": None, "caption": None,
                "note": "Tidak ada data pada periode ini. / No data in this period."}
    if all(row[2] for row in rows):
        return {"id": cid, "title": title, "svg": None, "caption": None,
                "note": f"Semua {len(rows)} sel grafik ini disamarkan (nilai kecil), sehingga grafik tidak ditampilkan. / "
                        f"All {len(rows)} cells of this chart are suppressed (small values), so it is not drawn."}
    return {"id": cid, "title": title, "svg": charts.hbar_chart(rows, title, cid, **kwargs), "note": None, "caption": None}


def trend_panels(tables: Mapping[str, pa.Table], ids: list[str], period: str = "month") -> dict:
    """Small multiples: one monthly line chart per indicator over the months of ``tables``; a note
    instead until two months exist, and one sentence for an indicator whose points are all suppressed."""
    months = sorted(tables)
    if len(months) < 2:
        return {"months": months, "panels": [], "note": (
            "Grafik tren ditampilkan setelah tersedia data untuk dua bulan atau lebih; saat ini baru "
            f"{len(months)} bulan. / The trend charts appear once two or more months of data exist; "
            f"there is {len(months)} month so far.")}
    views = {m: View(tables[m]) for m in months}
    panels = []
    for k, ind_id in enumerate(ids):
        ind = BY_ID[ind_id]
        pts = []
        for m in months:
            r = views[m].get(ind_id, period)
            pts.append((r["value"], bool(r["suppressed"]), cell_id(r)) if r else (None, False, None))
        cid = f"trend-{ind_id.replace('_', '-')}"
        title = f"{ind.name_id} / {ind.name_en}"
        if not any(p[0] is not None and not p[1] for p in pts):
            hidden = sum(1 for p in pts if p[1])
            panels.append({"id": cid, "title": title, "svg": None, "note": (
                f"{ind.name_id}: semua {hidden} nilai bulanan disamarkan (nilai kecil). / "
                f"{ind.name_en}: all {hidden} monthly values are suppressed (small values).")})
            continue
        panels.append({"id": cid, "title": title, "note": None,
                       "svg": charts.line_chart(months, pts, title, cid, unit=ind.unit,
                                                color=PALETTE[k % len(PALETTE)])})
    return {"months": months, "panels": panels, "note": None}


def map_cells(view: View, period: str, indicator: str = MAP_INDICATOR) -> dict[str, tuple]:
    """Kemendagri code -> (count, suppressed, per 10,000 residents) for the 15 Lampung kab/kota;
    rates only from published counts."""
    _, _, pop = population()
    out = {}
    for code, residents in pop.items():
        r = view.get(indicator, period, "kabkota", code)
        if r is None:
            out[code] = (None, False, None, None)
        elif r["suppressed"]:
            out[code] = (None, True, None, cell_id(r))
        else:
            out[code] = (r["value"], False, (r["value"] or 0) / residents * 10_000, cell_id(r))
    return out


def placements_map(view: View, period: str, cid: str, what: str) -> dict | None:
    if MAP_INDICATOR not in view.present():
        return None
    year, source, _ = population()
    title = f"PMI ditempatkan per 10.000 penduduk, {what} / placements per 10,000 residents"
    cells = map_cells(view, period)
    return {"id": cid, "title": title, "svg": charts.lampung_map(cells, title, cid), "note": None,
            "caption": (f"Kartogram petak: satu petak per kab/kota (bukan batas wilayah). Penduduk: {source}. / "
                        f"Tile cartogram: one tile per kab/kota (not boundaries). Residents: BPS, census {year}."),
            "cells": cells}


def headline_rows(view: View) -> tuple[list[dict], bool]:
    rows = []
    for ind in INDICATORS:
        if ind.id not in view.present() or not ind.headline:
            continue
        rows.append({"id": ind.id, "name_id": ind.name_id, "name_en": ind.name_en, "row": ind.workplan_row,
                     **{p: cell(view.get(ind.id, p)) for p in ("month", "ytd", "year")},
                     "all": cell(view.get(ind.id, "month", "total"))})
    show_all = any(h["all"]["text"] != h["month"]["text"] for h in rows)
    return rows, show_all


def kabkota_rows(view: View, period: str, columns: list[str]) -> list[dict]:
    out: dict[str, dict] = {}
    for ind_id in columns:
        for r in view.select(indicator=ind_id, period=period, level="kabkota"):
            if r["province_code"] != LAMPUNG:
                continue
            key = r["kabkota_code"] or "~"
            out.setdefault(key, {"code": r["kabkota_code"] or "–", "name": r["kabkota_name"], "cells": {}})
            out[key]["cells"][ind_id] = cell(r)
    return [out[k] for k in sorted(out)]


def definitions() -> list:
    return list(INDICATORS)


def render_report(
    table: pa.Table,
    *,
    party: str,
    month: str,
    policy=None,
    missing: Mapping[str, list[str]] | None = None,
    inputs: Mapping[str, list[str]] | None = None,
    trend: Mapping[str, pa.Table] | None = None,
    threshold: int = 5,
    quality: list[dict] | None = None,
    feedback: list[dict] | None = None,
) -> str:
    """Render the monthly report from the indicators table of ``month`` and, for the trend charts,
    the month-period indicator tables of earlier months (``trend`` = {"YYYY-MM": table})."""
    import jinja2

    view = View(table)
    present = view.present()
    title_party = policy.parties[party].title if policy is not None and party in policy.parties else party
    headline, show_all = headline_rows(view)
    trend_tables = {**dict(trend or {}), month: table}
    trends = trend_panels(trend_tables, [i for i in TREND if i in present][:6])
    figures: list[dict] = []
    mapfig = placements_map(view, "month", "map-placements", month_label(month))
    if mapfig:
        figures.append(mapfig)
    if "placements" in present:
        rows = view.select(indicator="placements", period="ytd", dimension="destination_country")
        its = [(f"{vocab.country_name(c) or c} ({c})", v, s, ref) for c, v, s, ref in items(rows, "dimension_value")]
        figures.append(bar_or_note("country", "Penempatan menurut negara tujuan (Jan s.d. bulan ini) / placements by "
                                   "destination country (year to date)", its))
    for ind_id in [i for i in KABKOTA_CHARTS if i in present][:3]:
        cid = f"kabkota-{ind_id.replace('_', '-')}"
        ind = BY_ID[ind_id]
        rows = view.select(indicator=ind_id, period="month", level="kabkota")
        figures.append(bar_or_note(cid, f"{ind.name_id} per kab/kota / {ind.name_en} by kab/kota — {month_label(month)}",
                                   items(rows, "kabkota_name", lampung_only=True), color=PALETTE[1]))
    if "complaints" in present:
        rows = view.select(indicator="complaints", period="ytd", dimension="workflow_status")
        figures.append(bar_or_note("funnel", "Pengaduan menurut status penanganan (Jan s.d. bulan ini) / complaints by "
                                   "workflow status (year to date)",
                                   items(rows, "dimension_value", order=vocab.values("complaint_status")),
                                   color=PALETTE[2], funnel=True))
    kab_cols = [i for i in KABKOTA_COLUMNS if i in present]
    template = resources.files("sinergi").joinpath(TEMPLATE).read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(template).render(
        css=css(), party=party, party_title=title_party, month=month, month_label=month_label(month),
        month_label_en=month_label_en(month), headline=headline, show_all=show_all, trends=trends, figures=figures,
        period_label=PERIOD_LABEL, threshold=threshold, hidden=HIDDEN, hidden_en=HIDDEN_EN,
        kab_cols=[(i, BY_ID[i].name_id, BY_ID[i].name_en) for i in kab_cols], kab_rows=kabkota_rows(view, "month", kab_cols),
        missing=sorted((missing or {}).items()), inputs=sorted((inputs or {}).items()), definitions=definitions(),
        rows=table.num_rows, suppressed=sum(1 for r in view.rows if r["suppressed"]),
        quality=quality or [], feedback=feedback or [], num=num,
        population=population(),
    )
