"""Airflow Assets: one per party × dataset (the published Parquet dataset in the party's bucket)."""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias


def dataset_asset(party: str, bucket: str, dataset: str) -> Asset:
    return Asset(name=f"sinergi.{party}.{dataset}", uri=f"s3://{bucket}/{dataset}/", group="sinergi")


def publication_alias(dataset: str) -> AssetAlias:
    """Publish tasks are mapped over parties, so they emit their party's Asset through an alias."""
    return AssetAlias(name=f"sinergi.publications.{dataset}")
