"""Extraction errors a data engineer can act on: each message names the source (file or table), the
column where relevant, and what was expected. All derive from ``ExtractError``."""

from __future__ import annotations


class ExtractError(Exception):
    """Base class: the extract of one dataset and month cannot proceed."""


class SourceNotFoundError(ExtractError, FileNotFoundError):
    """The month's source file (or SQL table) does not exist where the registry says it should."""


class MissingColumnError(ExtractError):
    """A required column is missing from the source (or no header row could be found)."""

    def __init__(self, message: str, *, source: str = "", columns: tuple[str, ...] = ()):
        super().__init__(message)
        self.source = source
        self.columns = columns


class UnreadableSourceError(ExtractError):
    """The source exists but cannot be read: corrupt XLSX/JSON, not a table, database unreachable."""


class SourceEncodingError(UnreadableSourceError):
    """The file's text encoding could not be determined (neither UTF-8 nor cp1252 nor a detectable one)."""


class LandingConflictError(ExtractError):
    """The landing key of this run already holds different bytes (the source changed during a retry)."""
