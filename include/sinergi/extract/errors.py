"""Extraction errors a data engineer can act on: each message names the source (file or table), the
column where relevant, and what was expected.

Every class but one is an :class:`ExtractError`, a :class:`~sinergi.errors.PermanentError`: the export
or the table is missing, malformed or changed, and retrying the same run cannot help. A source
database that cannot be reached is :class:`SourceUnavailableError`, a
:class:`~sinergi.errors.TransientError`: the task is retried with backoff.
"""

from __future__ import annotations

from sinergi.errors import PermanentError, TransientError


class ExtractError(PermanentError):
    """Base class: the extract of one dataset and month cannot proceed (fix the source, then re-run)."""


class SourceNotFoundError(ExtractError, FileNotFoundError):
    """The month's source file (or SQL table) does not exist where the registry says it should."""


class MissingColumnError(ExtractError):
    """A required column is missing from the source (or no header row could be found)."""

    def __init__(self, message: str, *, source: str = "", columns: tuple[str, ...] = ()):
        super().__init__(message)
        self.source = source
        self.columns = columns


class UnreadableSourceError(ExtractError):
    """The source exists but cannot be read: corrupt XLSX/JSON, not a table, an invalid database URL,
    a query the database refuses."""


class SourceEncodingError(UnreadableSourceError):
    """The file's text encoding could not be determined (neither UTF-8 nor cp1252 nor a detectable one)."""


class LandingConflictError(ExtractError):
    """The landing key of this run already holds different bytes (the source changed during a retry)."""


class SourceUnavailableError(TransientError):
    """The source database cannot be reached now (refused, timed out, connection lost): retried."""
