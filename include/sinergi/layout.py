"""Where every object lives: the zones (buckets) and the key of every object Sinergi writes.

One module, so a reader (an analyst's glob, an operator looking for a failure record, a lifecycle
rule on a bucket) can trust that the layout below is the whole story.

Owner-only zones (the pipeline identity only):

===================  ==========================================================================
``sinergi-landing``  sources exactly as received:
                     ``<system>/<dataset>/<YYYY-MM>/<run>/<file>`` (+ ``_latest.json`` per month)
``sinergi-staging``  the hand-off between the tasks of one run, disposable once the run is over:
                     ``<dataset>/<YYYY-MM>/<run>/{extracted,valid}.parquet``, ``share/<party>.parquet``
``sinergi-ledger``   small, long-lived facts later runs depend on, written with compare-and-swap:
                     ``refs/<dataset>/<YYYY-MM>.json`` (the ids references are checked against) and
                     ``volume/<dataset>.json`` (rows per month, for the volume gate); the owner's
                     side of each publication: ``publications/<party-bucket>/<manifest key>`` (the
                     full run manifest: sources with paths, host, process) and its claim
                     ``publications/<party-bucket>/<claim key>``
``sinergi-trusted``  the validated months the indicators are counted from (all valid rows, no
                     direct identifiers, persons linked by the internal key):
                     ``<dataset>/year=YYYY/month=MM/part-0.parquet``
``sinergi-quarantine``  rejected rows and why: ``<dataset>/<YYYY-MM>/<run>/quarantine.parquet``,
                     Data Docs ``data-docs/<dataset>/<YYYY-MM>/<run>/``, failure records
                     ``_failures/<YYYY-MM>/<run>/<task>.json``, producer feedback
                     ``_feedback/<system>/<YYYY-MM>/``
===================  ==========================================================================

Each party's bucket (``<party>-share`` by default, from the sharing policy) holds the publication
contract: ``<dataset>/year=YYYY/month=MM/part-0.parquet`` (the only objects outside ``_*``
prefixes), manifests under ``_manifests/``, the catalog, data dictionary and reading kit under
``_catalog/``, monthly spreadsheet extracts under ``_extracts/`` and reports under ``_reports/``
(monthly ``_reports/<YYYY-MM>/laporan-…``, yearly ``_reports/<YYYY>/evaluasi-…``).
Run ids are made key-safe by one rule, :func:`run_segment`.
"""

from __future__ import annotations

import re
from pathlib import Path

from sinergi.months import Month

# -- zones --------------------------------------------------------------------------------------
LANDING_BUCKET = "sinergi-landing"
STAGING_BUCKET = "sinergi-staging"
LEDGER_BUCKET = "sinergi-ledger"
TRUSTED_BUCKET = "sinergi-trusted"
QUARANTINE_BUCKET = "sinergi-quarantine"
OWNER_BUCKETS = (LANDING_BUCKET, STAGING_BUCKET, LEDGER_BUCKET, TRUSTED_BUCKET, QUARANTINE_BUCKET)

#: The one object of a dataset-month (published, trusted).
PART_NAME = "part-0.parquet"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def run_segment(run_id: str) -> str:
    """A run id as one key segment: every character other than letters, digits, ``.``, ``_`` and
    ``-`` becomes ``_`` (``manual__2025-08-01T03:00:00+07:00`` → ``manual__2025-08-01T03_00_00_07_00``)."""
    return _UNSAFE.sub("_", str(run_id))


# -- landing ------------------------------------------------------------------------------------
def landing_prefix(system: str, dataset: str, month: Month | str) -> str:
    return f"{system}/{dataset}/{Month.of(month)}"


def landing_key(system: str, dataset: str, month: Month | str, run_id: str, filename: str) -> str:
    return f"{landing_prefix(system, dataset, month)}/{run_segment(run_id)}/{filename}"


def landing_pointer_key(system: str, dataset: str, month: Month | str) -> str:
    return f"{landing_prefix(system, dataset, month)}/_latest.json"


# -- staging ------------------------------------------------------------------------------------
def staging_key(dataset: str, month: Month | str, run_id: str, name: str) -> str:
    return f"{dataset}/{Month.of(month)}/{run_segment(run_id)}/{name}"


# -- ledger -------------------------------------------------------------------------------------
def refs_prefix(dataset: str) -> str:
    return f"refs/{dataset}/"


def refs_key(dataset: str, month: Month | str) -> str:
    return f"{refs_prefix(dataset)}{Month.of(month)}.json"


def volume_key(dataset: str) -> str:
    return f"volume/{dataset}.json"


# -- trusted ------------------------------------------------------------------------------------
def trusted_key(dataset: str, month: Month | str) -> str:
    return f"{dataset}/{Month.of(month).hive_path}/{PART_NAME}"


# -- quarantine ---------------------------------------------------------------------------------
def quarantine_key(dataset: str, month: Month | str, run_id: str) -> str:
    return f"{dataset}/{Month.of(month)}/{run_segment(run_id)}/quarantine.parquet"


def data_docs_prefix(dataset: str, month: Month | str, run_id: str) -> str:
    return f"data-docs/{dataset}/{Month.of(month)}/{run_segment(run_id)}/"


def failure_key(month: Month | str | None, run_id: str | None, task_id: str, map_index: int | None = None) -> str:
    name = run_segment(task_id) + (f"-{map_index}" if map_index not in (-1, None) else "")
    return f"_failures/{month or 'unknown'}/{run_segment(run_id or 'unknown')}/{name}.json"


def failures_prefix(month: Month | str) -> str:
    return f"_failures/{Month.of(month)}/"


def feedback_prefix(system: str, month: Month | str) -> str:
    return f"_feedback/{system}/{Month.of(month)}/"


def feedback_key(system: str, month: Month | str) -> str:
    """The data producer's rejects-and-warnings workbook of a source system and month."""
    return f"{feedback_prefix(system, month)}feedback_{system}_{Month.of(month)}.xlsx"


def feedback_problems_key(system: str, month: Month | str, dataset: str) -> str:
    """One dataset's problems of the month (the workbook is rebuilt from these; the latest run wins)."""
    return f"{feedback_prefix(system, month)}problems/{dataset}.parquet"


# -- party buckets (the publication contract) ---------------------------------------------------
CATALOG_KEY = "_catalog/catalog.json"
DATAPACKAGE_KEY = "_catalog/datapackage.json"
DICTIONARY_MD_KEY = "_catalog/data_dictionary.md"
DICTIONARY_HTML_KEY = "_catalog/data_dictionary.html"
ROPA_MD_KEY = "_catalog/record_of_processing.md"
ROPA_HTML_KEY = "_catalog/record_of_processing.html"
#: The draft impact assessment (UU 27/2022 Pasal 34) for the data protection officers: no personal data.
DPIA_MD_KEY = "_catalog/dpia_draft.md"
DPIA_HTML_KEY = "_catalog/dpia_draft.html"
#: The reading kit: how to read the bucket (DuckDB, pandas, polars, spreadsheet), bilingual.
README_KEY = "_catalog/README.md"
README_HTML_KEY = "_catalog/index.html"


def data_key(dataset: str, month: Month | str) -> str:
    return f"{dataset}/{Month.of(month).hive_path}/{PART_NAME}"


def data_glob(bucket: str, dataset: str) -> str:
    """What analysts read: every month of a dataset (bookkeeping lives under ``_*`` prefixes)."""
    return f"s3://{bucket}/{dataset}/**/*.parquet"


_DATA_KEY = re.compile(r"(?P<dataset>[a-z][a-z0-9_]*)/year=(?P<y>\d{4})/month=(?P<m>\d{2})/" + re.escape(PART_NAME))


def parse_data_key(key: str) -> tuple[str, Month] | None:
    """``(dataset, month)`` of a published data object's key, or None for any other key."""
    m = _DATA_KEY.fullmatch(key)
    if m is None:
        return None
    try:
        return m.group("dataset"), Month(int(m.group("y")), int(m.group("m")))
    except ValueError:
        return None


def manifest_prefix(dataset: str, month: Month | str) -> str:
    return f"_manifests/{dataset}/{Month.of(month)}/"


def pointer_key(dataset: str, month: Month | str) -> str:
    return f"{manifest_prefix(dataset, month)}_current.json"


def claim_key(dataset: str, month: Month | str, generation: int) -> str:
    return f"{manifest_prefix(dataset, month)}_claims/g{generation:06d}.json"


def manifest_key(dataset: str, month: Month | str, generation: int, run_id: str) -> str:
    return f"{manifest_prefix(dataset, month)}g{generation:06d}-{run_segment(run_id)}.json"


def owner_record_key(party_bucket: str, key: str) -> str:
    """The owner-only twin (in ``sinergi-ledger``) of a party-bucket record key: the full manifest of
    a publication and its claim, which name hosts, processes and local paths a party never sees."""
    return f"publications/{party_bucket}/{key}"


def latest_key(dataset: str) -> str:
    return f"_manifests/{dataset}/_latest.json"


def extracts_prefix(dataset: str) -> str:
    """Where a dataset's monthly spreadsheet extracts live (under ``_*``: outside every read glob)."""
    return f"_extracts/{dataset}/"


def extract_key(dataset: str, month: Month | str) -> str:
    return f"{extracts_prefix(dataset)}{Month.of(month)}.xlsx"


def report_key(party: str, month: Month | str) -> str:
    return f"_reports/{Month.of(month)}/laporan-{party}-{Month.of(month)}.html"


def yearly_report_key(party: str, year: int) -> str:
    """The yearly monitoring and evaluation report (MoU Art. 7) of ``party`` for ``year``."""
    return f"_reports/{_year(year)}/evaluasi-{party}-{_year(year)}.html"


def _year(year: int | str) -> int:
    y = int(year)
    if not 2000 <= y <= 2999 or str(year).strip() != str(y):
        raise ValueError(f"not a year: {year!r}")
    return y


# -- the local state directory (SINERGI_HOME) ---------------------------------------------------
def local_data_docs_dir(home: Path, dataset: str, month: Month | str, run_id: str) -> Path:
    return Path(home) / "data-docs" / dataset / str(Month.of(month)) / run_segment(run_id)


def local_report_path(home: Path, party: str, month: Month | str) -> Path:
    return Path(home) / "reports" / party / f"{Month.of(month)}.html"


def local_yearly_report_path(home: Path, party: str, year: int) -> Path:
    return Path(home) / "reports" / party / f"evaluasi-{_year(year)}.html"
