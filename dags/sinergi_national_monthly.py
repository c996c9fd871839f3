"""
### National monthly sync (SISKOP2MI → parties)

Moves the month's SISKOP2MI-style exports from BP2MI/KP2MI — CPMI registrations, placements,
returns, complaints, P3MI companies and job orders — to each party allowed to receive them
(MoU Art. 4(e), 5(1)c–d; work-plan rows 1a, 1b, 1e, 4c–4e, 5.2–5.4).

**Inputs.** Export files under `SINERGI_EXPORTS_DIR` (Airflow Connection / environment; embedded
default: the simulator's output in `.local/sources`): `siskop2mi/<YYYY-MM>/<FILE>_<YYYYMM>.csv|xlsx`.
"""

from sinergi_airflow.monthly import COMMON_DOC, monthly_sync_dag

monthly_sync_dag(
    dag_id="sinergi_national_monthly",
    scope="national",
    doc_md=__doc__ + COMMON_DOC,
    tags=["siskop2mi"],
)
