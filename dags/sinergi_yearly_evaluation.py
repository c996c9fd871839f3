"""
### Yearly monitoring and evaluation report (MoU Art. 7), per party

Every January the agreement's parties evaluate the year that ended (Nota Kesepakatan Pasal 7). This
DAG writes each party's evaluation report for that year: achievement against the targets of
`config/indicators.yaml` per indicator and kab/kota, monthly trend charts, the map of placements per
10,000 residents, the coverage of every annex work-plan row (`config/workplan.yaml`), and the data
quality and timeliness of every source and month.

**Schedule.** `0 6 10 1 *` in Asia/Jakarta: 10 January 06:00 WIB, after December's sources (due on the
5th) and the December sync (due on the 7th). The run of January Y+1 evaluates year Y (its data
interval starts in January Y). No catchup: past years are evaluated on demand.

**Inputs.** The trusted zone (validated months of the year, restricted to each party's datasets
and rows), the run manifests in each party's bucket (data quality) and the landing zone's arrival
times (timeliness).

**Outputs.** `s3://<party-bucket>/_reports/<YYYY>/evaluasi-<party>-<YYYY>.html` and
`<SINERGI_HOME>/reports/<party>/evaluasi-<YYYY>.html` (self-contained, bilingual, printable to PDF).

**Re-run a year.** Trigger with config `{"year": 2025}` (optionally `"parties": ["lampung"]`); the same
is available in `sinergi_indicators` (param `year`) and as `sinergi report --year 2025`. Re-running
overwrites the report with the current data (idempotent for unchanged inputs).

Code: `include/sinergi/indicators/yearly.py`; this file only wires it.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, Param, dag
from sinergi_airflow.callbacks import on_task_failure
from sinergi_airflow.evaluation import evaluation, evaluation_parties
from sinergi_airflow.monthly import FIRST_MONTH, OWNER

from sinergi.months import TIMEZONE
from sinergi.policy import load_policy

PARTIES = sorted(load_policy().parties)


@dag(
    dag_id="sinergi_yearly_evaluation",
    schedule=CronDataIntervalTimetable("0 6 10 1 *", timezone=TIMEZONE),
    start_date=FIRST_MONTH,
    catchup=False,
    max_active_runs=1,
    tags=["sinergi", "indicators", "report", "yearly"],
    default_args={"owner": OWNER, "on_failure_callback": on_task_failure},
    params={
        "year": Param(None, type=["null", "integer"], title="Year (YYYY)", minimum=2025, maximum=2100,
                      description="The year to evaluate (empty = the year of the run's data interval: the January "
                                  "run evaluates the year that just ended)."),
        "parties": Param([], type=["null", "array"], title="Parties", examples=PARTIES,
                         items={"type": "string", "enum": PARTIES}, uniqueItems=True,
                         description="Only these parties (empty = every party of the policy)."),
    },
    doc_md=__doc__,
)
def sinergi_yearly_evaluation():
    evaluation.expand_kwargs(evaluation_parties(PARTIES))


yearly_evaluation_dag = sinergi_yearly_evaluation()
