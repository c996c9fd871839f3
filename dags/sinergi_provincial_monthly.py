"""
### Provincial monthly sync (dinas sources → parties)

Moves the month's data from the Lampung provincial agencies — initial registrations, trainings and
training institutions, empowerment (Disnaker database), health facilities and health checks
(Dinkes spreadsheets), stranded returnees (Dinsos) — to each party allowed to receive them
(work-plan rows 1e, 2.1–2.3, 3.1–3.2, 5.3–5.4).

**Inputs.** The Disnaker database (Connection `sinergi_disnaker_db` or `SINERGI_DISNAKER_DB_URL`;
embedded default: the simulator's SQLite file), read incrementally on `updated_at`/`created_at`;
Dinkes/Dinsos files under `SINERGI_EXPORTS_DIR`: `dinkes|dinsos/<YYYY-MM>/<FILE>_<YYYYMM>.xlsx|csv`.
"""

from sinergi_airflow.monthly import COMMON_DOC, monthly_sync_dag

monthly_sync_dag(
    dag_id="sinergi_provincial_monthly",
    scope="provincial",
    doc_md=__doc__ + COMMON_DOC,
    tags=["disnaker", "dinkes", "dinsos"],
)
