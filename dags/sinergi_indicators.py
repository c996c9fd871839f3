"""
### MoU indicators, monthly report and yearly evaluation (per party)

Counts the MoU indicators from the **trusted zone** — every validated record, before any party's
transforms and k-anonymity — restricted to the datasets and rows each party may receive, then
protects the aggregates (small cells 1-4 and the cells that would reveal them are suppressed):
CPMI registrations and verification (work-plan rows 1e, 5.2a), placements by destination country,
sector, scheme and sex (4d), returns by status (4e) incl. sick/deceased (3.3), complaints by type
and workflow status with median days to resolution (5.2d, 5.3c) and failed departures/fraud (5.2b),
CPMI trained and the share placed within 6 months (2.1), health checks and fit rate (3.2), licensed
health facilities (3.1), stranded returnees (5.3b) and empowerment participants (2.2, 2.3) — per
month, year to date and last 12 months, per kab/kota.

**Schedule.** Data-aware: runs whenever a source dataset the indicators use is published to any
party's bucket (Assets `sinergi.<party>.<dataset>`; a publication follows the month's validation,
which writes the trusted zone). The yearly evaluation also runs every January in its own DAG
`sinergi_yearly_evaluation`.

**Inputs.** The trusted zone `s3://sinergi-trusted/<dataset>/year=YYYY/month=MM/part-0.parquet`
(owner-only; no direct identifiers; persons linked by the internal `person_key`), the 12 months
ending at the reporting month, filtered by each party's row filter from the sharing policy. A
dataset the party does not receive → its indicators are absent and the report says so.

**Outputs** (per party, mapped over the parties of the policy):
- dataset `indicators`: `s3://<party-bucket>/indicators/year=YYYY/month=MM/part-0.parquet` (long/tidy:
  period, kab/kota, indicator, dimension, value, suppressed, work-plan row), published atomically with
  a manifest and catalog entry; emits the Asset `sinergi.<party>.indicators`;
- monthly report: `s3://<party-bucket>/_reports/<YYYY-MM>/laporan-<party>-<YYYY-MM>.html` and
  `<SINERGI_HOME>/reports/<party>/<YYYY-MM>.html` (self-contained HTML, bilingual, printable);
- with the `year` param, the yearly evaluation (MoU Art. 7):
  `s3://<party-bucket>/_reports/<YYYY>/evaluasi-<party>-<YYYY>.html` and
  `<SINERGI_HOME>/reports/<party>/evaluasi-<YYYY>.html`.

**Month and parties.** From the triggering Asset events: each event names its party
(`sinergi.<party>.<dataset>`) and month (extra `month`), so a burst of publications computes every
(party, month) pair once. A `month` param overrides (all parties, or the `parties` param); a manual
trigger without month or year computes the last complete month (Asia/Jakarta).

**Re-run a month / a year.** Trigger this DAG with config `{"month": "2025-07"}` (optionally
`"parties": ["lampung"]`), or `{"year": 2025}` for the yearly evaluation only. Re-running is
idempotent: the indicators month is replaced atomically and the report objects are overwritten with
identical bytes when the inputs did not change. After re-validating an earlier source month, re-run
the later months too (their ytd/year views use it).

Code: `include/sinergi/indicators/` (compute, suppress, report, yearly, run); this file only wires it.
"""

from __future__ import annotations

from airflow.sdk import AssetAny, Param, dag, get_current_context, task
from sinergi_airflow.assets import dataset_asset, publication_alias
from sinergi_airflow.callbacks import on_task_failure
from sinergi_airflow.evaluation import evaluation, evaluation_parties
from sinergi_airflow.monthly import FIRST_MONTH, OWNER
from sinergi_airflow.tasks import io_task_args

from sinergi.indicators.definitions import SOURCE_DATASETS as SOURCES  # plain dataclasses: cheap to import
from sinergi.months import PARAM_PATTERN
from sinergi.policy import load_policy

PARTIES = load_policy().parties
INPUT_ASSETS = [dataset_asset(name, party.bucket, ds) for name, party in PARTIES.items()
                for ds in sorted(party.datasets) if ds in SOURCES]


@dag(
    dag_id="sinergi_indicators",
    schedule=AssetAny(*INPUT_ASSETS),
    start_date=FIRST_MONTH,
    catchup=False,
    max_active_runs=1,
    tags=["sinergi", "indicators", "report"],
    default_args={"owner": OWNER, "on_failure_callback": on_task_failure},
    params={
        "month": Param("", type="string", title="Month (YYYY-MM)",
                       description="Compute this month (empty = the months in the triggering Asset events).",
                       pattern=PARAM_PATTERN),
        "parties": Param([], type="array", title="Parties", items={"type": "string", "enum": sorted(PARTIES)},
                         description="Only these parties (empty = every party of the policy)."),
        "year": Param(None, type=["null", "integer"], title="Year (YYYY) of the yearly evaluation", minimum=2025,
                      maximum=2100, description="Also write the yearly monitoring and evaluation report of this year "
                                                "(MoU Art. 7); with no month, only that report."),
    },
    doc_md=__doc__,
)
def sinergi_indicators():
    @task(task_id="plan")
    def plan() -> list[dict]:
        """(party, month) pairs: the param month, or each triggering event's party and extra month."""
        import logging

        from sinergi.indicators.run import plan_runs
        from sinergi.months import Month

        ctx = get_current_context()
        triggering = ctx.get("triggering_asset_events") or {}
        events = [(ev.asset.name, ev.extra) for key in triggering for ev in triggering[key]]
        params = ctx["params"]
        pairs = plan_runs(
            events, sorted(PARTIES), month=str(Month.parse(params["month"])) if params.get("month") else None,
            only=params.get("parties") or None,
            # manual trigger without a month (or year): the last complete month in Jakarta
            fallback_month=None if params.get("year") else str(Month.last_complete()),
        )
        logging.getLogger("sinergi").info("indicators plan: %s", pairs)
        return pairs

    @task(task_id="indicators", outlets=[publication_alias("indicators")], **io_task_args())
    def indicators(party: str, month: str, *, outlet_events=None) -> dict:
        import logging

        from sinergi_airflow.runtime import run_context, run_step

        from sinergi.indicators import run_for_party

        ctx = run_context()
        out = run_step(run_for_party, ctx.store, party, month, ctx.policy, ctx.home,
                       run_id=get_current_context()["run_id"])
        bucket = ctx.policy.parties[party].bucket
        outlet_events[publication_alias("indicators")].add(
            dataset_asset(party, bucket, "indicators"),
            extra={"month": month, "rows": out["rows"], "report_key": out["report_key"], "missing": sorted(out["missing"])},
        )
        logging.getLogger("sinergi").info("indicators %s %s: %d rows, report s3://%s/%s", party, month, out["rows"],
                                          bucket, out["report_key"])
        return {k: out[k] for k in ("party", "month", "rows", "report_key", "report_path")}

    indicators.expand_kwargs(plan())
    evaluation.expand_kwargs(evaluation_parties(sorted(PARTIES), wanted=False))


indicators_dag = sinergi_indicators()
