"""Deterministic source simulator: the SISKOP2MI exports and the Lampung dinas sources, with defects.

The model
---------
*One population, one lifecycle.* ``population.World`` draws (numpy, seeded) a population of people
and walks each through the migrant-worker lifecycle:

    kab/kota initial registration (Disnaker DB, Lampung people only)
      -> SISKOP2MI registration (national ``cpmi_registrations``; ~1.3 per placement)
      -> training at an LPK/BLK-LN (Disnaker ``pelatihan``; informal/language-bound workers)
      -> health check at a licensed facility, fit/unfit (Dinkes XLSX)
      -> placement: P3MI + job order + OPP + E-PMI + departure (national ``placements``)
      -> return (``returns``; habis kontrak, sakit, meninggal, deportasi, ...) and/or complaint
      -> empowerment of returned workers and families (Disnaker ``pemberdayaan``),
         stranded returnees received by Dinas Sosial (Dinsos CSV).

Registration cohorts start five months before the first exported month, so the first month is in
steady state (its departures have registrations, trainings and checks in earlier months, all in the
Disnaker database as history). People returning or complaining about placements older than the
window are drawn as earlier migrants (their placement ids ``PN-YYMM-H…`` predate the exports).
Reference entities (P3MI register, job orders, training institutions, health facilities) are drawn
first and every clean reference resolves. NIKs follow ``PPKKCC DDMMYY SSSS`` (women +40) and agree
with the person's kab/kota, birth date and sex; proportions follow docs/DOMAIN.md.

*Outputs.* ``lifecycle.Lifecycle`` yields clean canonical records per (dataset, month);
``sources.render`` spells them as each system does; ``defects.Injector`` damages a share of them
and logs each defect to ``<out>/_defects.jsonl``; ``writers`` writes ``;`` CSV (utf-8/cp1252),
XLSX with a title block (dates as text, date cells or Excel serials) and the Disnaker tables via
SQLAlchemy (SQLite by default, any URL). Layout: docs/ARCHITECTURE.md "Source layout".

*Determinism.* Every random choice comes from ``model.rng(seed, *labels)`` (no global state);
same arguments give byte-identical files.

API::

    result = simulate(out_dir, month="2025-07", months=1, scale="demo", seed=42, defect_rate=0.03,
                      dinas_db_url=None, formats=None)
    write_placements_csv(path, rows=1_000_000, month="2025-07", seed=42, defect_rate=0.0)
"""

from .bulk import write_placements_csv
from .core import LEDGER_NAME, SimulationResult, default_db_url, file_path, read_ledger, simulate
from .defects import BATCH_EVENTS, DEFECT_KINDS, REPAIRABLE_DEFECTS, ROW_DEFECTS, WARNING_CASES
from .model import SCALES, get_scale

__all__ = [
    "BATCH_EVENTS", "DEFECT_KINDS", "LEDGER_NAME", "REPAIRABLE_DEFECTS", "ROW_DEFECTS", "SCALES",
    "SimulationResult", "WARNING_CASES", "default_db_url", "file_path", "get_scale", "read_ledger", "simulate",
    "write_placements_csv",
]
