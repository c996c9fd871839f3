"""The MoU indicators, the monthly report and the yearly evaluation (issues 9, 15).

``compute`` counts the indicators from the validated months in the trusted zone, as one party may
see them (``run.party_view``: its datasets, its row filter), into a long/tidy ``indicators`` table
(month / year-to-date / last-12-months, per kab/kota), protected by small-cell and secondary
suppression on the aggregates (``suppress``); ``report`` renders the self-contained monthly HTML
report (``charts``: inline SVG; ``quality``: data quality and timeliness from the manifests);
``yearly`` the yearly monitoring and evaluation (MoU Art. 7) with targets and the coverage of every
annex work-plan row (``workplan``); ``run.run_for_party`` reads the trusted zone and publishes both
monthly outputs. Heavy modules load lazily so DAG files that import this package stay fast to parse.
"""

from __future__ import annotations

__all__ = ["compute_indicators", "render_report", "run_for_party"]


def __getattr__(name: str):
    if name == "compute_indicators":
        from sinergi.indicators.compute import compute_indicators

        return compute_indicators
    if name == "render_report":
        from sinergi.indicators.report import render_report

        return render_report
    if name == "run_for_party":
        from sinergi.indicators.run import run_for_party

        return run_for_party
    raise AttributeError(name)
