"""Extraction and normalisation of the 13 source datasets (files and the Disnaker database).

    from sinergi.extract import extract, iter_extract, SourceConfig, ExtractResult, ExtractError
    result = extract("placements", "2025-07", SourceConfig.from_env(), landing=store, run_id=run_id)
"""

from sinergi.extract.core import ExtractResult, canonicalise, extract, iter_extract, output_schema
from sinergi.extract.errors import (
    ExtractError,
    LandingConflictError,
    MissingColumnError,
    SourceEncodingError,
    SourceNotFoundError,
    SourceUnavailableError,
    UnreadableSourceError,
)
from sinergi.extract.sources import SourceConfig

__all__ = [
    "ExtractError", "ExtractResult", "LandingConflictError", "MissingColumnError", "SourceConfig",
    "SourceEncodingError", "SourceNotFoundError", "SourceUnavailableError", "UnreadableSourceError",
    "canonicalise", "extract",
    "iter_extract", "output_schema",
]
