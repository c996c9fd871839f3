"""The XCom contract: what each step returns and the next step receives.

Only these small, JSON-able references travel between tasks (keys into the staging zone, counts,
reports); the data itself stays in the object store, so any task can run on any worker. Each
step's reference extends the previous one, so the last one still names the dataset, month and run.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from sinergi.publish import PublishResult

#: What publish_step returns: the publication in the party's bucket (sinergi.publish).
PublishRef = PublishResult


class SourceRecord(TypedDict, total=False):
    """One source read for the month (a file or a database pull) and where it was landed."""

    path: str  # a file source
    table: str  # a database source
    bytes: int
    rows: int | None
    sha256: str
    landing_key: str | None
    reused: bool  # the same bytes were already landed for this month
    filter: str  # a database source's incremental filter
    rows_pulled: int
    name: str  # the source's name in _source_file when it is not the file's name
    source_rows: int  # data rows counted by the reader: delivered + malformed
    malformed: int  # data rows that could not be parsed (quarantined as malformed_line)
    valid: int  # set by validate_step: source_rows = valid + quarantined
    quarantined: int


class Counts(TypedDict, total=False):
    """Rows at each point; extracted = valid + quarantined (reconciled by validate_step)."""

    extracted: int  # rows parsed from the sources
    malformed: int  # source lines that could not be parsed (quarantined as malformed_line)
    source_rows: int  # extracted + malformed = valid + quarantined
    valid: int
    quarantined: int  # incl. malformed
    by_rule: dict[str, int]  # a row failing several rules counts once per rule
    warnings_by_rule: dict[str, int]  # published rows flagged per warning rule (data_quality_flags)
    unknown_values: dict[str, dict[str, int]]  # column -> observed value outside its list -> rows (top 50)
    trusted: int  # rows written to the trusted zone (== valid; sinergi.pipeline.trusted)


class ExtractRef(TypedDict):
    dataset: str
    month: str  # YYYY-MM
    run_id: str
    extracted_key: str  # staging: <dataset>/<YYYY-MM>/<run>/extracted.parquet
    extracted: int
    sources: list[SourceRecord]
    warnings: list[str]  # extraction warnings (go into every manifest)
    malformed_key: NotRequired[str]  # staging: <dataset>/<YYYY-MM>/<run>/malformed.parquet (raw lines), if any


class ValidateRef(ExtractRef):
    valid_key: str  # staging: <dataset>/<YYYY-MM>/<run>/valid.parquet
    quarantine_key: str  # quarantine zone: <dataset>/<YYYY-MM>/<run>/quarantine.parquet
    feedback_key: str | None  # quarantine zone: the source system's feedback workbook of the month
    data_docs: str | None  # local path of the Data Docs index (also uploaded to the quarantine zone)
    counts: Counts
    gx: dict[str, Any]  # the merged GX suite result summary
    validation_warnings: list[str]  # incl. reference checks skipped for want of ids


class ShareRef(ValidateRef):
    party: str
    shared_key: str  # staging: <dataset>/<YYYY-MM>/<run>/share/<party>.parquet
    shared: int
    share_report: dict[str, Any]  # rows in / filtered out / suppressed, k-anonymity, key versions


__all__ = ["Counts", "ExtractRef", "PublishRef", "ShareRef", "SourceRecord", "ValidateRef"]
