"""The monthly report per party: one self-contained HTML file (inline SVG charts, inline CSS, no
JavaScript, no external resources), in Bahasa Indonesia with English labels where natural.

Everything shown comes from the (already suppressed) indicators table: a suppressed cell is drawn
as a hatched stub labelled "disamarkan" and never as a number. Charts: monthly trends, destination
country mix, kab/kota ranked bars, and the complaint workflow funnel.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from importlib import resources

import pyarrow as pa

from sinergi import vocab
from sinergi.indicators.definitions import BY_ID, INDICATORS, PERIOD_LABEL
from sinergi.months import Month

BULAN = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
         "November", "Desember"]
PALETTE = ["#1b6ca8", "#d9822b", "#2e8b57", "#8e44ad", "#c0392b"]
TEMPLATE = "templates/indicators_report.html.j2"
HIDDEN = "disamarkan"
LAMPUNG = "18"
#: Indicators drawn as trend lines / kab-kota ranked bars, first available first (a party that lacks
#: the national datasets still gets charts of its provincial ones).
TREND = ("placements", "cpmi_registered", "returns", "complaints", "initial_registrations", "health_checks",
         "cpmi_trained")
KABKOTA_CHARTS = ("placements", "cpmi_registered", "returns", "initial_registrations", "health_checks", "cpmi_trained")


def month_label(month: Month | str) -> str:
    """``Juli 2025``: the month as the report's Indonesian readers write it."""
    m = Month.of(month)
    return f"{BULAN[m.month - 1]} {m.year}"


def fmt(value, unit: str, suppressed: bool) -> str:
    if suppressed:
        return HIDDEN
    if value is None:
        return "–"
    if unit == "ratio":
        return f"{value * 100:.1f}%".replace(".", ",")
    if unit == "days":
        return f"{value:.1f} hari".replace(".", ",")
    return f"{int(round(value)):,}".replace(",", ".")


# -- SVG charts -------------------------------------------------------------------------------------
def _svg_open(width: int, height: int, title: str, desc: str, cid: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{cid}" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-labelledby="{cid}-t {cid}-d">'
            f'<title id="{cid}-t">{escape(title)}</title><desc id="{cid}-d">{escape(desc)}</desc>'
            '<defs><pattern id="hatch-' + cid + '" width="6" height="6" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><rect width="6" height="6" fill="#eee"/>'
            '<line x1="0" y1="0" x2="0" y2="6" stroke="#999" stroke-width="2"/></pattern></defs>')


def hbar_chart(items: list[tuple[str, float | None, bool]], title: str, cid: str, unit: str = "records",
               color: str = PALETTE[0], funnel: bool = False) -> str:
    """Horizontal bars (ranked, or centred as a funnel). items: (label, value, suppressed)."""
    label_w, bar_w, row_h, pad = 230, 380, 22, 28
    height = pad + row_h * max(1, len(items)) + 10
    width = label_w + bar_w + 90
    top = max([v for _, v, s in items if v is not None and not s] + [1])
    parts = [_svg_open(width, height, title, f"{len(items)} kategori; nilai yang disamarkan ditandai arsir.", cid),
             f'<text x="0" y="16" class="ct">{escape(title)}</text>']
    if not items:
        parts.append(f'<text x="{label_w}" y="{pad + 14}" class="lbl">Tidak ada data / no data</text>')
    for i, (label, value, suppressed) in enumerate(items):
        y = pad + i * row_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" class="lbl">{escape(label[:38])}</text>')
        if suppressed:
            w, fill, txt = 18, f"url(#hatch-{cid})", HIDDEN
        else:
            w, fill, txt = max(1.0, (value or 0) / top * bar_w) if value else 0, color, fmt(value, unit, False)
        x = label_w + ((bar_w - w) / 2 if funnel else 0)
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{fill}">'
                     f'<title>{escape(label)}: {escape(txt)}</title></rect>')
        tx = (label_w + bar_w + 6) if funnel else (x + w + 5)
        parts.append(f'<text x="{tx:.1f}" y="{y + 14}" class="val">{escape(txt)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(months: list[str], series: dict[str, list[tuple[float | None, bool]]], title: str, cid: str) -> str:
    """Monthly trend lines; suppressed points are drawn as hollow markers on the axis."""
    width, height, left, right, top, bottom = 720, 300, 60, 170, 30, 40
    pw, ph = width - left - right, height - top - bottom
    vmax = max([v for s in series.values() for v, sup in s if v is not None and not sup] + [1])
    n = len(months)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (pw * (i / (n - 1)) if n > 1 else pw / 2)
        return x, top + ph - (v / vmax) * ph

    parts = [_svg_open(width, height, title, f"Tren bulanan {len(series)} indikator, {n} bulan.", cid),
             f'<text x="0" y="16" class="ct">{escape(title)}</text>',
             f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" class="axis"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" class="axis"/>',
             f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" class="val">{fmt(vmax, "records", False)}</text>',
             f'<text x="{left - 6}" y="{top + ph}" text-anchor="end" class="val">0</text>']
    for i, m in enumerate(months):
        x, _ = xy(i, 0)
        parts.append(f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle" class="val">{escape(m[2:])}</text>')
    for k, (name, points) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        coords = [(xy(i, v), v) for i, (v, sup) in enumerate(points) if v is not None and not sup]
        if len(coords) > 1:
            d = " ".join(f"{'M' if j == 0 else 'L'}{x:.1f},{y:.1f}" for j, ((x, y), _) in enumerate(coords))
            parts.append(f'<path class="line" d="{d}" fill="none" stroke="{color}" stroke-width="2"/>')
        for i, (v, sup) in enumerate(points):
            if sup:
                x, y = xy(i, 0)
                parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="white" stroke="{color}">'
                             f'<title>{escape(name)} {escape(months[i])}: {HIDDEN}</title></circle>')
            elif v is not None:
                x, y = xy(i, v)
                parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}">'
                             f'<title>{escape(name)} {escape(months[i])}: {fmt(v, "records", False)}</title></circle>')
        ly = top + 14 + k * 18
        parts.append(f'<rect x="{left + pw + 14}" y="{ly - 9}" width="12" height="4" fill="{color}"/>'
                     f'<text x="{left + pw + 30}" y="{ly - 4}" class="lbl">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


# -- data access ------------------------------------------------------------------------------------
class _View:
    def __init__(self, table: pa.Table):
        self.rows = table.to_pylist()

        # The MoU is about Lampung: charts and headline figures show Provinsi Lampung; a party that
        # receives national rows (kp2mi) also gets the all-areas total in the headline table.
        self.focus = ("province", LAMPUNG)

    def select(self, *, indicator: str, period: str, level: str | None = None, dimension: str = "total",
               code: str | None = None) -> list[dict]:
        if level is None:
            level, code = self.focus
        return [r for r in self.rows if r["indicator_id"] == indicator and r["period"] == period
                and r["area_level"] == level and r["dimension"] == dimension
                and (level != "province" or r["kabkota_code"] == code)]

    def one(self, indicator: str, period: str, level: str | None = None) -> dict | None:
        rows = self.select(indicator=indicator, period=period, level=level)
        return rows[0] if rows else None


def _items(rows: list[dict], label_key: str, order: list[str] | None = None, lampung_only: bool = False) -> list:
    rows = [r for r in rows if not lampung_only or (r["province_code"] == "18")]
    items = [(r[label_key], r["value"], r["suppressed"]) for r in rows if r["suppressed"] or (r["value"] or 0) > 0 or order]
    if order:
        pos = {v: i for i, v in enumerate(order)}
        return sorted(items, key=lambda t: (pos.get(t[0], len(pos)), t[0]))
    return sorted(items, key=lambda t: (-(t[1] or 0) if not t[2] else 0, t[2], t[0]))


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
) -> str:
    """Render the report HTML from the indicators table of ``month`` (and, for trends, the
    month-period indicator tables of earlier months: ``trend`` = {"YYYY-MM": table})."""
    import jinja2

    v = _View(table)
    title_party = policy.parties[party].title if policy is not None and party in policy.parties else party
    present = sorted({r["indicator_id"] for r in v.rows}, key=lambda i: [x.id for x in INDICATORS].index(i))
    headline = []
    for ind in INDICATORS:
        if ind.id not in present:
            continue
        cells = {p: v.one(ind.id, p) for p in ("month", "ytd", "year")}
        total = v.one(ind.id, "month", level="total")
        headline.append({
            "all": fmt(total["value"], ind.unit, total["suppressed"]) if total else "–",
            "id": ind.id, "name_id": ind.name_id, "name_en": ind.name_en, "row": ind.workplan_row,
            **{p: (fmt(c["value"], ind.unit, c["suppressed"]) if c else "–") for p, c in cells.items()},
            "suppressed": any(c and c["suppressed"] for c in cells.values()),
        })

    show_all = any(h["all"] != h["month"] for h in headline)
    charts: list[dict] = []
    # 1. Trends (month values of each available month up to the reporting month).
    trend_tables = dict(trend or {})
    trend_tables[month] = table
    tmonths = sorted(trend_tables)
    series: dict[str, list] = {}
    trend_ids = [i for i in TREND if i in present][:4]
    for ind_id in trend_ids:
        pts = []
        for m in tmonths:
            r = _View(trend_tables[m]).one(ind_id, "month") if m != month else v.one(ind_id, "month")
            pts.append((r["value"], r["suppressed"]) if r else (None, False))
        series[f"{BY_ID[ind_id].name_id}"] = pts
    if series:
        charts.append({"id": "trend", "title": "Tren bulanan / monthly trend",
                       "svg": line_chart(tmonths, series, "Tren bulanan (total) / monthly trend", "trend")})
    # 2. Destination country mix (year to date).
    if "placements" in present:
        rows = v.select(indicator="placements", period="ytd", dimension="destination_country")
        items = [(f"{vocab.country_name(c) or c} ({c})", val, s) for c, val, s in _items(rows, "dimension_value")]
        charts.append({"id": "country", "title": "Negara penempatan / destination country (YTD)",
                       "svg": hbar_chart(items, "Penempatan menurut negara tujuan (Jan s.d. bulan ini)", "country")})
    # 3. Kab/kota ranked bars.
    for ind_id in [i for i in KABKOTA_CHARTS if i in present][:3]:
        cid = f"kabkota-{ind_id.replace('_', '-')}"
        rows = v.select(indicator=ind_id, period="month", level="kabkota", code=None)
        charts.append({"id": cid, "title": f"{BY_ID[ind_id].name_id} menurut kab/kota ({month_label(month)})",
                       "svg": hbar_chart(_items(rows, "kabkota_name", lampung_only=True),
                                         f"{BY_ID[ind_id].name_id} per kab/kota — {month_label(month)}", cid,
                                         color=PALETTE[1])})
    # 4. Complaint workflow funnel (year to date).
    if "complaints" in present:
        rows = v.select(indicator="complaints", period="ytd", dimension="workflow_status")
        items = _items(rows, "dimension_value", order=vocab.values("complaint_status"))
        charts.append({"id": "funnel", "title": "Status penanganan pengaduan / complaint workflow (YTD)",
                       "svg": hbar_chart(items, "Pengaduan menurut status penanganan (Jan s.d. bulan ini)", "funnel",
                                         color=PALETTE[2], funnel=True)})

    kab_cols = [i for i in ("placements", "cpmi_registered", "returns", "complaints", "health_checks", "cpmi_trained")
                if i in present]
    kab_rows: dict[str, dict] = {}
    for ind_id in kab_cols:
        for r in v.select(indicator=ind_id, period="month", level="kabkota", code=None):
            if r["province_code"] != LAMPUNG:
                continue
            key = r["kabkota_code"] or "~" + (r["province_code"] or "")
            kab_rows.setdefault(key, {"code": r["kabkota_code"] or "–", "name": r["kabkota_name"]})[ind_id] = fmt(
                r["value"], BY_ID[ind_id].unit, r["suppressed"])
    template = resources.files("sinergi").joinpath(TEMPLATE).read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(template).render(
        party=party, party_title=title_party, month=month, month_label=month_label(month),
        headline=headline, show_all=show_all, charts=charts, period_label=PERIOD_LABEL, threshold=threshold,
        kab_cols=[(i, BY_ID[i].name_id) for i in kab_cols], kab_rows=[kab_rows[k] for k in sorted(kab_rows)],
        missing=sorted((missing or {}).items()), inputs=sorted((inputs or {}).items()),
        definitions=[i for i in INDICATORS], rows=table.num_rows,
        suppressed=sum(1 for r in v.rows if r["suppressed"]),
    )
