"""The monthly sync DAG shape shared by the national and provincial DAGs."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag

from sinergi.months import PARAM_PATTERN, TIMEZONE
from sinergi_airflow.alerts import MonthFailedNotifier
from sinergi_airflow.callbacks import on_task_failure
from sinergi_airflow.tasks import dataset_groups

OWNER = "sinergi-data-engineering"
#: The agreement was signed on 30 July 2025; July 2025 is the first month that can be shared.
FIRST_MONTH = pendulum.datetime(2025, 7, 1, tz=TIMEZONE)


def monthly_sync_dag(*, dag_id: str, scope: str, doc_md: str, tags: list[str]):
    """A DAG that runs one task group per dataset of ``scope`` for a month (sinergi_airflow.tasks).

    Monthly data intervals in Asia/Jakarta (the run for July starts on 1 August, 03:00 WIB);
    catchup for backfills; params to re-run one month or a subset of datasets.
    """
    from sinergi import registry

    datasets = registry.names(scope)

    @dag(
        dag_id=dag_id,
        schedule=CronDataIntervalTimetable("0 3 1 * *", timezone=TIMEZONE),
        start_date=FIRST_MONTH,
        catchup=True,
        max_active_runs=1,
        # a hung month must not block the following months forever (tasks have their own timeouts)
        dagrun_timeout=timedelta(hours=12),
        tags=["sinergi", "monthly", scope, *tags],
        default_args={"owner": OWNER, "on_failure_callback": on_task_failure},
        # one alert mail per failed run (the task callback above only logs and records each task)
        on_failure_callback=MonthFailedNotifier(),
        params={
            # Both optional (a type that admits null): the Trigger form leaves them empty and the run
            # works on its data interval's month and every dataset.
            "month": Param(
                None, type=["null", "string"], title="Month (YYYY-MM)",
                description="Re-run this month instead of the run's data interval (empty = the data interval's month).",
                pattern=PARAM_PATTERN,
            ),
            # `examples` makes the form a picker of exactly these datasets; `items.enum` rejects others
            "datasets": Param(
                None, type=["null", "array"], title="Datasets",
                description="Only these datasets (empty = all of them).",
                items={"type": "string", "enum": datasets}, examples=datasets, uniqueItems=True,
            ),
            "allow_empty": Param(
                False, type="boolean", title="Allow an empty month",
                description="Publish a month without rows although the trailing months had rows (otherwise "
                            "the empty_month gate stops such a dataset as a missing or broken export).",
            ),
        },
        doc_md=doc_md,
    )
    def monthly_sync():
        dataset_groups(scope)

    return monthly_sync()


COMMON_DOC = """
**Steps per dataset** (one task group each): **extract** the month's source and land it untouched
in the owner-only landing zone → **validate** with the dataset's Great Expectations suite (failing
rows go to quarantine with every rule they broke; a batch gate can stop the dataset) → **share**
once per receiving party (sharing policy: row filter, column transforms, keyed tokens, k-anonymity,
leak guard) → **publish** to that party's bucket (one atomic Parquet object per month, manifest
committed last, catalog), emitting the Asset `sinergi.<party>.<dataset>` with the counts
(extracted / valid / quarantined / suppressed / published) as extras.

**Outputs.** `s3://<party-bucket>/<dataset>/year=YYYY/month=MM/part-0.parquet`; manifests under
`_manifests/`; catalog and data dictionary under `_catalog/`. Quarantined rows and Data Docs:
`s3://sinergi-quarantine/<dataset>/<YYYY-MM>/<run>/`.

**Re-run a month.** Trigger with config `{"month": "2025-07"}`; add `"datasets": ["placements"]` to
re-run only some datasets (the others are skipped); add `"allow_empty": true` to publish a month that
really had no rows (the empty_month gate stops it otherwise). References (e.g. a placement's P3MI) are checked
against every id recorded for the referenced dataset up to the month; if it was never run, the check
is skipped and the manifest's warnings say so. Re-running is idempotent: the month is replaced atomically.

**Backfill.** `airflow backfill create --dag-id <this dag> --from-date 2025-07-01T00:00+07:00
--to-date 2025-09-30T23:59+07:00` (one run per month, oldest first; a running scheduler executes them),
or *Trigger → Backfill* in the UI. The dates are logical dates — each month's start in WIB — so give
the +07:00 offset: a bare `2025-07-01` means midnight UTC and silently skips July. Add
`--dag-run-conf '{"datasets": ["placements"]}'` to backfill some datasets only.

**When a task fails** its log ends with a line `SINERGI FAILURE dataset=… month=… step=… reason=…`,
and the same summary is kept as JSON in `s3://sinergi-quarantine/_failures/<YYYY-MM>/<run>/<task>.json`.
The other datasets still run; the final task `any_dataset_failed` then fails the month's run, and
one alert mail per failed run lists every failed dataset, step and reason (SMTP Connection
`sinergi_smtp`). The *Sinergi* page in the navigation shows what each party received, month by month;
`sinergi_sync_deadline` mails when a month is still missing at the agreed day (`deadlines.yaml`).
"""
