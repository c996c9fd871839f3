"""The yearly monitoring and evaluation report per party (MoU Pasal 7): one self-contained HTML file.

For reporting year Y and party P, from the same sources as the monthly indicators — the validated
months of Y in the trusted zone, restricted to what P may see (``run.party_view``), protected by
the same disclosure control — plus the configuration and the pipeline's own records:

- achievement against the year's targets (``config/indicators.yaml`` ``targets``) per indicator for
  Provinsi Lampung and per kab/kota where a kab/kota target is set (a suppressed value has no
  achievement: it reads "sel disamarkan"); for an upper-limit target (``at_most``) the achievement is
  target / value;
- monthly trend charts of every headline indicator over the months of Y, and the map of placements
  per 10,000 residents for the year;
- the coverage of every annex work-plan row (``config/workplan.yaml``: data, indicators, and why
  not yet — ``sinergi.indicators.workplan``);
- data quality: quarantine and warning share per source and month, and timeliness — when each
  month's source arrived against the agreed delivery day (``sinergi.indicators.quality``).

Stored at ``_reports/<YYYY>/evaluasi-<party>-<YYYY>.html`` in the party's bucket (one PUT) and at
``<home>/reports/<party>/evaluasi-<YYYY>.html``. A year still in progress is evaluated on the
months validated so far, and says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import pyarrow as pa

from sinergi.indicators import charts, report
from sinergi.indicators.charts import HIDDEN, HIDDEN_EN, fmt, num
from sinergi.indicators.compute import compute_indicators, missing_indicators
from sinergi.indicators.definitions import BY_ID, DEFAULT_THRESHOLD, INDICATORS, Indicator
from sinergi.layout import local_yearly_report_path, yearly_report_key
from sinergi.months import Month
from sinergi.objectstore import ObjectStore

log = logging.getLogger(__name__)

TEMPLATE = "templates/evaluation_report.html.j2"


def year_months(year: int) -> list[str]:
    return [str(Month(year, m)) for m in range(1, 13)]


def achievement(ind: Indicator, r: dict | None, target: float | None, direction: str = "at_least") -> dict:
    """One value against one target: the cell shown, the target, the share reached and whether it
    is reached — nothing is derived from a suppressed value."""
    shown = report.cell(r, ind.unit)
    out = {"cell": shown, "target": target, "target_text": num(target, ind.unit) if target is not None else "–",
           "share": None, "reached": None, "suppressed": shown["hidden"]}
    if r is None or target is None or r["suppressed"] or r["value"] is None:
        return out
    value = float(r["value"])
    if direction == "at_most":
        out["share"] = (target / value) if value else None
        out["reached"] = value <= target
    else:
        out["share"] = (value / target) if target else None
        out["reached"] = value >= target
    return out


def evaluation(view: report.View, year: int, present: list[str]) -> tuple[list[dict], list[dict]]:
    """(per indicator for Provinsi Lampung, per kab/kota for indicators with kab/kota targets)."""
    rows, kab = [], []
    for ind in INDICATORS:
        if ind.id not in present:
            continue
        target = ind.targets.get(year)
        a = achievement(ind, view.get(ind.id, "ytd"), target.province if target else None,
                        target.direction if target else "at_least")
        rows.append({"ind": ind, "direction": target.direction if target else None, **a})
        if target and target.kabkota:
            for code, value in sorted(target.kabkota.items()):
                r = view.get(ind.id, "ytd", "kabkota", code)
                kab.append({"ind": ind, "code": code, "name": (r or {}).get("kabkota_name") or code,
                            **achievement(ind, r, value, target.direction)})
    return rows, kab


def render_evaluation(
    annual: pa.Table,
    monthly: Mapping[str, pa.Table],
    *,
    party: str,
    year: int,
    policy,
    months: list[str],
    missing: Mapping[str, list[str]],
    coverage: list[dict],
    quality: list[dict],
    threshold: int = DEFAULT_THRESHOLD,
) -> str:
    """The report HTML (pure: everything it shows is passed in)."""
    import jinja2

    view = report.View(annual)
    present = view.present()
    title_party = policy.parties[party].title if party in policy.parties else party
    evaluated, kab = evaluation(view, year, present)
    targets_chart = [{"label": e["ind"].name_id, "share": e["share"], "reached": e["reached"],
                      "suppressed": e["suppressed"], "cell": e["cell"]["id"]} for e in evaluated if e["target"] is not None]
    trends = report.trend_panels(monthly, [i.id for i in INDICATORS if i.id in present and i.headline])
    last = months[-1] if months else f"{year}-12"
    mapfig = report.placements_map(view, "ytd", "map-placements", f"{year}")
    kab_cols = [i for i in report.KABKOTA_COLUMNS if i in present]
    q_months = year_months(year)
    quality_rows: dict[str, dict] = {}
    for q in quality:
        row = quality_rows.setdefault(q["dataset"], {"dataset": q["dataset"], "system": q["system"], "months": {}})
        row["months"][q["month"]] = q
    timeliness: dict[str, dict] = {}
    for q in quality:
        t = timeliness.setdefault(q["system"], {"system": q["system"], "months": {}, "late": 0, "on_time": 0})
        prev = t["months"].get(q["month"])
        if q["arrived"] and (prev is None or (prev["arrived"] and q["arrived"] > prev["arrived"])):
            t["months"][q["month"]] = q  # the latest-arriving dataset of the system decides the month
    for t in timeliness.values():
        t["late"] = sum(1 for q in t["months"].values() if q["late"])
        t["on_time"] = sum(1 for q in t["months"].values() if q["late"] is False)
    template = resources.files("sinergi").joinpath(TEMPLATE).read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(template).render(
        css=report.css(), party=party, party_title=title_party, year=year, months=months, last=last,
        last_label=report.month_label(last) if months else "–", last_label_en=report.month_label_en(last) if months else "–",
        complete=len(months) == 12, evaluated=evaluated, kab=kab, hidden=HIDDEN, hidden_en=HIDDEN_EN, threshold=threshold,
        targets_svg=charts.target_chart(targets_chart, f"Capaian terhadap target {year} / achievement against the "
                                        f"{year} targets", "targets") if targets_chart else None,
        trends=trends, mapfig=mapfig, kab_cols=[(i, BY_ID[i].name_id, BY_ID[i].name_en) for i in kab_cols],
        kab_rows=report.kabkota_rows(view, "ytd", kab_cols), coverage=coverage,
        covered=sum(1 for c in coverage if c["status"] == "indicator"),
        data_only=sum(1 for c in coverage if c["status"] == "data"),
        uncovered=sum(1 for c in coverage if c["status"] == "none"),
        quality_rows=[quality_rows[k] for k in sorted(quality_rows)], timeliness=[timeliness[k] for k in sorted(timeliness)],
        q_months=q_months, missing=sorted(missing.items()), num=num, fmt=fmt,
        month_short=lambda m: report.BULAN[int(m[5:]) - 1][:3], definitions=report.definitions(),
        population=report.population(),
        deadlines=_deadline_text(),
    )


def _deadline_text() -> str:
    from sinergi import deadlines

    sources, _ = deadlines.load()
    return ", ".join(f"{s}: {d.day} ({d.hour:02d}:00 WIB)" for s, d in sorted(sources.items()))


def run_yearly(
    store: ObjectStore,
    party: str,
    year: int,
    policy,
    home: str | Path,
    *,
    threshold: int = DEFAULT_THRESHOLD,
    trusted: Mapping[str, Mapping[str, pa.Table]] | None = None,
) -> dict:
    """Compute and write the yearly evaluation of ``party`` for ``year`` (see module doc). Returns a
    small JSON-able dict: ``report_key``, ``report_path``, ``months`` (validated months used),
    ``bucket``."""
    from sinergi.indicators.quality import month_quality
    from sinergi.indicators.run import party_view, read_trusted_tables, write_local
    from sinergi.indicators.workplan import coverage

    year = int(year)
    bucket = policy.parties[party].bucket
    if trusted is None:
        trusted = read_trusted_tables(store, f"{year}-12")
    in_year = set(year_months(year))
    tables = {ds: {m: t for m, t in by_month.items() if m in in_year}
              for ds, by_month in party_view(trusted, party, policy).items()}
    tables = {ds: v for ds, v in tables.items() if v}
    months = sorted({m for v in tables.values() for m in v})
    last = months[-1] if months else f"{year}-12"
    annual = compute_indicators(tables, last, threshold=threshold, period_names=("ytd",))
    monthly = {m: compute_indicators(tables, m, threshold=threshold, period_names=("month",)) for m in months}
    received = sorted(policy.parties[party].datasets)
    quality = month_quality(store, bucket, received, year_months(year))
    cov = coverage(policy, party, {ds: sorted(v) for ds, v in tables.items()})
    html = render_evaluation(annual, monthly, party=party, year=year, policy=policy, months=months,
                             missing=missing_indicators(tables), coverage=cov, quality=quality, threshold=threshold)
    data = html.encode("utf-8")
    key = yearly_report_key(party, year)
    store.put_bytes(bucket, key, data, content_type="text/html; charset=utf-8")
    path = write_local(local_yearly_report_path(Path(home), party, year), data)
    log.info("yearly evaluation %s %s: %d months → s3://%s/%s; %s", party, year, len(months), bucket, key, path)
    return {"party": party, "year": year, "bucket": bucket, "report_key": key, "report_path": str(path),
            "months": months}


def evaluation_year(param: int | str | None, data_interval_start=None, now=None) -> int:
    """The year a yearly-evaluation run evaluates: the ``year`` param if given; else the year of the
    run's data interval (the January run of a yearly schedule evaluates the year that just ended);
    else (a manual run without either) the last complete calendar year in Asia/Jakarta."""
    import datetime as dt

    from sinergi.months import JAKARTA

    if param not in (None, ""):
        year = int(param)
        if not 2000 <= year <= 2999:
            raise ValueError(f"year {param!r} is not a year")
        return year
    if data_interval_start is not None:
        return data_interval_start.astimezone(JAKARTA).year
    return (now or dt.datetime.now(JAKARTA)).year - 1
