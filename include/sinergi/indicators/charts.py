"""Inline SVG charts for the reports: no JavaScript, no external resource, printable.

Every chart takes already-protected values — ``(value, suppressed)`` pairs from the indicators
table — and never receives a suppressed cell's value: a suppressed cell is drawn hatched (bars, map
tiles) or hollow on the axis (trend points) and labelled "sel disamarkan" (cell suppressed), never
with a number. Scales (axis maxima, colour classes) come from unsuppressed values only. A chart
with nothing to show is replaced by one sentence (``note``) by the caller.
"""

from __future__ import annotations

import re
from html import escape
from importlib import resources

PALETTE = ["#1b6ca8", "#d9822b", "#2e8b57", "#8e44ad", "#c0392b", "#7f8c8d"]
#: What a suppressed cell says (never a number).
HIDDEN = "sel disamarkan"
HIDDEN_EN = "cell suppressed"
#: Sequential classes of the map (light → dark).
MAP_CLASSES = ["#deebf7", "#9ecae1", "#6baed6", "#3182bd", "#08519c"]
MAP_EMPTY = "#f4f4f4"
MAP_SVG = "templates/lampung_kabkota_tiles.svg"


def num(value: float | None, unit: str = "records") -> str:
    """A number the Indonesian way (1.234; 12,5 %; 3,0 hari), or an en dash for none."""
    if value is None:
        return "–"
    if unit == "ratio":
        return f"{value * 100:.1f} %".replace(".", ",")
    if unit == "days":
        return f"{value:.1f} hari".replace(".", ",")
    if unit == "rate":
        return f"{value:.2f}".replace(".", ",")
    return f"{int(round(value)):,}".replace(",", ".")


def fmt(value, unit: str, suppressed: bool) -> str:
    return HIDDEN if suppressed else num(value, unit)


def svg_open(width: int, height: int, title: str, desc: str, cid: str, css_class: str = "chart") -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" id="{cid}" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-labelledby="{cid}-t {cid}-d">'
            f'<title id="{cid}-t">{escape(title)}</title><desc id="{cid}-d">{escape(desc)}</desc>'
            + hatch_def(f"hatch-{cid}"))


def hatch_def(pid: str) -> str:
    return (f'<defs><pattern id="{pid}" width="6" height="6" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><rect width="6" height="6" fill="#eee"/>'
            '<line x1="0" y1="0" x2="0" y2="6" stroke="#999" stroke-width="2"/></pattern></defs>')


def _cell_attr(cell_id: str | None) -> str:
    return f' data-cell="{escape(cell_id)}"' if cell_id else ""


def hbar_chart(items: list[tuple], title: str, cid: str, unit: str = "records",
               color: str = PALETTE[0], funnel: bool = False) -> str:
    """Horizontal bars (ranked, or centred as a funnel). items: (label, value, suppressed[, cell id])."""
    label_w, bar_w, row_h, pad = 230, 380, 22, 28
    height = pad + row_h * max(1, len(items)) + 10
    width = label_w + bar_w + 110
    top = max([it[1] for it in items if it[1] is not None and not it[2]] + [1])
    parts = [svg_open(width, height, title, f"{len(items)} kategori; sel disamarkan ditandai arsir / "
                      "suppressed cells hatched.", cid), f'<text x="0" y="16" class="ct">{escape(title)}</text>']
    for i, (label, value, suppressed, *ref) in enumerate(items):
        y = pad + i * row_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" class="lbl">{escape(label[:38])}</text>')
        if suppressed:
            w, fill, txt = 18, f"url(#hatch-{cid})", HIDDEN
        else:
            w, fill, txt = (max(1.0, value / top * bar_w) if value else 0), color, num(value, unit)
        x = label_w + ((bar_w - w) / 2 if funnel else 0)
        cls = "bar hidden" if suppressed else "bar"
        attr = _cell_attr(ref[0] if ref else None)
        parts.append(f'<rect class="{cls}"{attr} x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                     f'fill="{fill}"><title>{escape(label)}: {escape(txt)}</title></rect>')
        tx = (label_w + bar_w + 6) if funnel else (x + w + 5)
        parts.append(f'<text{attr} x="{tx:.1f}" y="{y + 14}" class="val">{escape(txt)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(months: list[str], points: list[tuple], title: str, cid: str,
               unit: str = "records", color: str = PALETTE[0], width: int = 340, height: int = 170) -> str:
    """One indicator's monthly values (a small multiple); points: (value, suppressed[, cell id]).
    Suppressed months are hollow markers on the axis, and the line is broken there."""
    left, right, top, bottom = 52, 12, 30, 30
    pw, ph = width - left - right, height - top - bottom
    shown = [p[0] for p in points if p[0] is not None and not p[1]]
    vmax = max(shown + [1e-9]) or 1
    n = len(months)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (pw * (i / (n - 1)) if n > 1 else pw / 2)
        return x, top + ph - (v / vmax) * ph

    parts = [svg_open(width, height, title, f"Tren bulanan / monthly trend, {n} bulan / months.", cid, "chart trend"),
             f'<text x="0" y="14" class="ct">{escape(title[:52])}</text>',
             f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" class="axis"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" class="axis"/>',
             f'<text x="{left - 5}" y="{top + 4}" text-anchor="end" class="val">{num(vmax, unit)}</text>',
             f'<text x="{left - 5}" y="{top + ph}" text-anchor="end" class="val">0</text>']
    step = 1 if n <= 6 else 2
    for i, m in enumerate(months):
        if i % step == 0 or i == n - 1:
            x, _ = xy(i, 0)
            parts.append(f'<text x="{x:.1f}" y="{top + ph + 14}" text-anchor="middle" class="val">{escape(m[2:])}</text>')
    run: list[tuple[float, float]] = []
    segments: list[list[tuple[float, float]]] = []
    for i, (v, s, *_) in enumerate(points):
        if v is None or s:
            if run:
                segments.append(run)
            run = []
        else:
            run.append(xy(i, v))
    if run:
        segments.append(run)
    for seg in segments:
        if len(seg) > 1:
            d = " ".join(f"{'M' if j == 0 else 'L'}{x:.1f},{y:.1f}" for j, (x, y) in enumerate(seg))
            parts.append(f'<path class="line" d="{d}" fill="none" stroke="{color}" stroke-width="2"/>')
    for i, (v, s, *ref) in enumerate(points):
        attr = _cell_attr(ref[0] if ref else None)
        if s:
            x, y = xy(i, 0)
            parts.append(f'<circle class="pt hidden"{attr} cx="{x:.1f}" cy="{y:.1f}" r="4" fill="white" stroke="{color}">'
                         f'<title>{escape(months[i])}: {HIDDEN} / {HIDDEN_EN}</title></circle>')
        elif v is not None:
            x, y = xy(i, v)
            parts.append(f'<circle class="pt"{attr} cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                         f'<title>{escape(months[i])}: {num(v, unit)}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def target_chart(items: list[dict], title: str, cid: str) -> str:
    """Achievement against target, one row per indicator: a bar for the share of the target reached
    (capped at 150 %), a line at 100 %. items: {label, share (0..) or None, reached, suppressed, cell}."""
    label_w, bar_w, row_h, pad = 300, 320, 24, 30
    height = pad + row_h * max(1, len(items)) + 24
    width = label_w + bar_w + 120
    cap = 1.5
    parts = [svg_open(width, height, title, "Capaian terhadap target / achievement against target.", cid),
             f'<text x="0" y="16" class="ct">{escape(title)}</text>']
    x100 = label_w + bar_w / cap
    for i, it in enumerate(items):
        y = pad + i * row_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" class="lbl">{escape(it["label"][:48])}</text>')
        attr = _cell_attr(it.get("cell"))
        if it["suppressed"]:
            parts.append(f'<rect class="bar hidden"{attr} x="{label_w}" y="{y + 4}" width="18" height="{row_h - 8}" '
                         f'fill="url(#hatch-{cid})"><title>{HIDDEN}</title></rect>'
                         f'<text{attr} x="{label_w + 24}" y="{y + 15}" class="val">{HIDDEN}</text>')
            continue
        share = it["share"]
        if share is None:
            parts.append(f'<text x="{label_w + 4}" y="{y + 15}" class="val">–</text>')
            continue
        reached = it["reached"]
        w = min(share, cap) / cap * bar_w
        color = PALETTE[2] if reached else PALETTE[1]
        parts.append(f'<rect class="bar"{attr} x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" '
                     f'fill="{color}"><title>{escape(it["label"])}: {num(share, "ratio")}</title></rect>'
                     f'<text{attr} x="{label_w + w + 5:.1f}" y="{y + 15}" class="val">{num(share, "ratio")}</text>')
    parts.append(f'<line x1="{x100:.1f}" y1="{pad - 4}" x2="{x100:.1f}" y2="{pad + row_h * max(1, len(items))}" '
                 f'class="target"/><text x="{x100:.1f}" y="{height - 6}" text-anchor="middle" class="val">100 % target</text>')
    parts.append("</svg>")
    return "".join(parts)


def map_breaks(rates: list[float]) -> list[float]:
    """Upper bounds of the five colour classes: equal steps up to the largest rate, rounded."""
    top = max(rates + [0.0])
    if top <= 0:
        return [0.0] * len(MAP_CLASSES)
    step = top / len(MAP_CLASSES)
    return [round(step * (i + 1), 2) for i in range(len(MAP_CLASSES))]


def lampung_map(cells: dict[str, tuple], title: str, cid: str,
                unit_label: str = "per 10.000 penduduk / per 10,000 residents") -> str:
    """The committed tile cartogram of Lampung's 15 kab/kota (``templates/lampung_kabkota_tiles.svg``),
    each tile coloured by its rate. cells: Kemendagri code -> (count, suppressed, rate per 10,000[,
    cell id]). Suppressed tiles are hatched and say "sel disamarkan"; nothing else about them is shown."""
    base = resources.files("sinergi").joinpath(MAP_SVG).read_text(encoding="utf-8")
    rates = [c[2] for c in cells.values() if not c[1] and c[2] is not None]
    breaks = map_breaks(rates)
    pid = f"hatch-{cid}"

    def fill_of(rate: float | None) -> str:
        if rate is None or rate <= 0:
            return MAP_EMPTY
        for color, hi in zip(MAP_CLASSES, breaks, strict=True):
            if rate <= hi:
                return color
        return MAP_CLASSES[-1]

    def tile(m: re.Match) -> str:
        code, body = m.group(1), m.group(2)
        count, hidden, rate, *ref = cells.get(code, (None, False, None))
        name = re.findall(r'class="tn"[^>]*>([^<]*)<', body)
        label = " ".join(name)
        if hidden:
            fill, value, tip = f"url(#{pid})", HIDDEN, f"{label}: {HIDDEN} / {HIDDEN_EN}"
            cls = "tile hidden"
        else:
            fill = fill_of(rate)
            value = num(rate, "rate") if rate is not None else "–"
            tip = f"{label}: {num(rate, 'rate') if rate is not None else '–'} ({num(count)})"
            cls = "tile"
        dark = fill in MAP_CLASSES[3:]
        body = body.replace('fill="#eeeeee"', f'fill="{fill}"', 1)
        body = body.replace('<text class="tv"', f'<text class="tv{" dark" if dark else ""}"', 1)
        body = body.replace('></text></g>', f'>{escape(value)}</text><title>{escape(tip)}</title></g>', 1)
        if dark:
            body = body.replace('class="tn"', 'class="tn dark"')
        return f'<g class="{cls}" data-code="{code}"{_cell_attr(ref[0] if ref else None)}>{body}'

    svg = re.sub(r'<g class="tile" data-code="(\d{4})">(.*?</g>)', tile, base, flags=re.S)
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.S)  # the source note stays in the committed file
    svg = svg.replace('<svg xmlns="http://www.w3.org/2000/svg" class="map"',
                      f'<svg xmlns="http://www.w3.org/2000/svg" class="map chart" id="{cid}" role="img" '
                      f'aria-labelledby="{cid}-t"', 1)
    head = f'<title id="{cid}-t">{escape(title)}</title>' + hatch_def(pid)
    svg = svg.replace(">", ">" + head, 1)
    legend = ['<div class="legend">']
    lo = 0.0
    for color, hi in zip(MAP_CLASSES, breaks, strict=True):
        if hi > lo or not legend[1:]:
            legend.append(f'<span><i style="background:{color}"></i>{num(lo, "rate")}–{num(hi, "rate")}</span>')
        lo = hi
    legend.append(f'<span><i style="background:{MAP_EMPTY}"></i>0 / –</span>'
                  f'<span><i class="hatch"></i>{HIDDEN} / {HIDDEN_EN}</span>'
                  f'<span class="unit">{escape(unit_label)}</span></div>')
    return svg + "".join(legend)
