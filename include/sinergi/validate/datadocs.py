"""GX Data Docs for one validation run: a local file site under the local state directory
(``sinergi.layout.local_data_docs_dir``: ``<home>/data-docs/<dataset>/<YYYY-MM>/<run>/``), uploaded
to the owner-only quarantine zone (``sinergi.layout.data_docs_prefix``:
``sinergi-quarantine/data-docs/<dataset>/<YYYY-MM>/<run>/...``). Both file the run by the layout's
one run-id rule, so callers pass the run id as Airflow gives it.

The run's validation result is stored in the ephemeral context and GX builds the site from it
(what a Checkpoint's ``UpdateDataDocsAction`` does). One site per dataset/month/run keeps
each site small (STACK.md: Data Docs slow down with thousands of validations).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from sinergi.layout import QUARANTINE_BUCKET, data_docs_prefix, local_data_docs_dir
from sinergi.months import Month

SITE = "sinergi_local"


def build_docs(ctx, suite, result, *, run_id: str, month: Month | str, docs_dir: Path) -> Path:
    """Store the run's validation result in the (ephemeral) context and let GX build a file Data Docs
    site from it, as its UpdateDataDocsAction does after a Checkpoint; returns index.html.
    ``docs_dir`` is the local state directory the site goes under."""
    import datetime as dt

    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    dataset = result.asset_name or suite.name
    month = str(Month.of(month))
    out = local_data_docs_dir(docs_dir, dataset, month, run_id)
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
    run = RunIdentifier(run_name=f"{month}-{run_id}", run_time=dt.datetime.now(dt.UTC))
    result.meta["run_id"] = run
    result.meta["validation_time"] = run.run_time
    suite_id = ExpectationSuiteIdentifier(name=suite.name)
    result_id = ValidationResultIdentifier(expectation_suite_identifier=suite_id, run_id=run,
                                           batch_identifier=result.batch_id)
    ctx.validation_results_store.store_validation_results(
        suite_validation_result=result, suite_validation_result_identifier=result_id,
        expectation_suite_identifier=suite_id)
    ctx.build_data_docs(site_names=[SITE], resource_identifiers=[result_id, suite_id])
    return out / "index.html"


def upload_docs(store, local_dir: Path, dataset: str, month: Month | str, run_id: str,
                bucket: str = QUARANTINE_BUCKET) -> list[str]:
    """Upload every file of a local Data Docs site (its directory or its index.html); returns the
    object keys written."""
    local_dir = Path(local_dir)
    if local_dir.is_file():
        local_dir = local_dir.parent
    prefix = data_docs_prefix(dataset, month, run_id)
    keys = []
    for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        key = f"{prefix}{path.relative_to(local_dir).as_posix()}"
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        store.put_bytes(bucket, key, path.read_bytes(), content_type=ctype)
        keys.append(key)
    return keys
