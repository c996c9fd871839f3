"""GX Data Docs for one validation run: a local file site in ``docs_dir``, uploaded to the owner-only
quarantine zone (``sinergi-quarantine/data-docs/<dataset>/<YYYY-MM>/<run_id>/...``).

The run goes through a GX Checkpoint with ``UpdateDataDocsAction`` in the ephemeral context, so the
site is built by GX itself from the run's validation result. One site per dataset/month/run keeps
each site small (STACK.md: Data Docs slow down with thousands of validations).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from sinergi.settings import QUARANTINE_BUCKET

SITE = "sinergi_local"


def site_dir(docs_dir: Path, dataset: str, month: str, run_id: str) -> Path:
    return Path(docs_dir) / dataset / month / run_id


def run_with_docs(ctx, suite, batch_def, df, params: dict, *, run_id: str, month: str, docs_dir: Path,
                  result_format) -> tuple[object, Path]:
    """Validate through a Checkpoint that builds a file Data Docs site; returns (result, index.html)."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core.run_identifier import RunIdentifier

    dataset = batch_def.data_asset.name
    out = site_dir(docs_dir, dataset, month, run_id)
    out.mkdir(parents=True, exist_ok=True)
    ctx.add_data_docs_site(
        site_name=SITE,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(out)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    suite = ctx.suites.add(suite)
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name=f"{dataset}-{month}", data=batch_def, suite=suite))
    cp = ctx.checkpoints.add(gx.Checkpoint(
        name=f"{dataset}-{month}-{run_id}",
        validation_definitions=[vd],
        actions=[UpdateDataDocsAction(name="data_docs", site_names=[SITE])],
        result_format=result_format,
    ))
    cres = cp.run(batch_parameters={"dataframe": df}, expectation_parameters=params,
                  run_id=RunIdentifier(run_name=f"{month}-{run_id}"))
    result = next(iter(cres.run_results.values()))
    return result, out / "index.html"


def upload_docs(store, local_dir: Path, dataset: str, month: str, run_id: str, bucket: str = QUARANTINE_BUCKET) -> list[str]:
    """Upload every file of a local Data Docs site; returns the object keys written."""
    local_dir = Path(local_dir)
    if local_dir.is_file():
        local_dir = local_dir.parent
    prefix = f"data-docs/{dataset}/{month}/{run_id}"
    keys = []
    for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(local_dir).as_posix()}"
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        store.put_bytes(bucket, key, path.read_bytes(), content_type=ctype)
        keys.append(key)
    return keys
