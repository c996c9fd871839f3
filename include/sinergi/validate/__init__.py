"""Validation with Great Expectations: row rules to quarantine, batch gates, Data Docs.

    from sinergi.validate import validate, write_quarantine
    res = validate(table, "placements", "2026-10", run_id, references={"p3mi": ids}, history=[...])

Suites live in ``expectations/<dataset>.json`` (see sinergi.validate.suites for the meta keys).
GX is imported lazily, at the first validation.
"""

from sinergi.validate.datadocs import upload_docs
from sinergi.validate.engine import ReconciliationError, ValidationResult, validate
from sinergi.validate.gates import BatchGateError, GateOutcome
from sinergi.validate.masks import EngineMismatchError
from sinergi.validate.quarantine import quarantine_key, write_quarantine
from sinergi.validate.suites import SuiteError

__all__ = [
    "BatchGateError",
    "EngineMismatchError",
    "GateOutcome",
    "ReconciliationError",
    "SuiteError",
    "ValidationResult",
    "quarantine_key",
    "upload_docs",
    "validate",
    "write_quarantine",
]
