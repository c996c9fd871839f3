"""The MoU indicators mart and the monthly report (issue 9).

``compute`` turns one party's published, pseudonymised datasets into a long/tidy ``indicators``
table (month / year-to-date / last-12-months, per kab/kota, with small-cell and secondary
suppression, see ``suppress``); ``report`` renders the self-contained monthly HTML report;
``run.run_for_party`` reads the party's bucket, publishes both and writes the report locally.
Heavy modules load lazily so DAG files that import this package stay fast to parse.
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
