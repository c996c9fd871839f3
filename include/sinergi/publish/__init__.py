"""Publishing: atomic, idempotent per-party Parquet with manifests, catalog and data dictionary.

See ``sinergi.publish.protocol`` for the publication protocol (commit points, what readers can rely
on), ``writer`` for the deterministic Parquet encoding, ``catalog`` for the catalog and the data
dictionary, ``readers`` for DuckDB/pandas/polars access with a party's credentials file.
"""

from sinergi.publish.catalog import read_catalog, rebuild_catalog, update_catalog, write_data_dictionary
from sinergi.publish.protocol import (
    ConcurrentPublishError,
    InconsistentPublication,
    PublishResult,
    data_key,
    manifest_key,
    pointer_key,
    publish,
    read_latest,
    read_pointer,
    verify_month,
)
from sinergi.publish.writer import SchemaMismatch, encode

__all__ = [
    "ConcurrentPublishError",
    "InconsistentPublication",
    "PublishResult",
    "SchemaMismatch",
    "data_key",
    "encode",
    "manifest_key",
    "pointer_key",
    "publish",
    "read_catalog",
    "read_latest",
    "read_pointer",
    "rebuild_catalog",
    "update_catalog",
    "verify_month",
    "write_data_dictionary",
]
