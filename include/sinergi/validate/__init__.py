"""Validation with Great Expectations: row rules to quarantine, batch gates, Data Docs.

    from sinergi.validate import validate, write_quarantine
    res = validate(table, "placements", "2026-10", run_id, references={"p3mi": ids}, history=[...])

Suites live in ``expectations/<dataset>.json`` (see sinergi.validate.suites for the meta keys).
GX is imported lazily, at the first validation. Modules: ``engine`` (``validate()`` and its five
phases), ``gx`` (GX plumbing), ``monthwide`` (month-wide rules and row facts), ``outcome`` (severity
to gates, warnings and stop), ``gates`` (parameters, skips, gate messages), ``suites``, ``derive``,
``masks``, ``quarantine``, ``datadocs``.
"""

from sinergi.validate.datadocs import upload_docs
from sinergi.validate.engine import ValidationResult, validate
from sinergi.validate.gates import GateOutcome
from sinergi.validate.masks import EngineMismatchError
from sinergi.validate.quarantine import write_quarantine
from sinergi.validate.suites import SuiteError

__all__ = [
    "EngineMismatchError",
    "GateOutcome",
    "SuiteError",
    "ValidationResult",
    "upload_docs",
    "validate",
    "write_quarantine",
]
