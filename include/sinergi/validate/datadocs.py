"""GX Data Docs for one validation run, readable offline, and the Sinergi index of the month.

One site per dataset/month/run: a local file site under the local state directory
(``sinergi.layout.local_data_docs_dir``: ``<home>/data-docs/<dataset>/<YYYY-MM>/<run>/``), uploaded
to the owner-only quarantine zone (``sinergi.layout.data_docs_prefix``:
``sinergi-quarantine/data-docs/<dataset>/<YYYY-MM>/<run>/...``). Both file the run by the layout's
one run-id rule (:func:`sinergi.layout.run_segment`), also GX's own run folder inside the site, so
callers pass the run id as Airflow gives it and no folder name holds ``:`` or ``+``. One site per run
keeps each site small (GX Data Docs slow down with thousands of validations).

The run's validation result is stored in the ephemeral context and GX builds the site from it (what a
Checkpoint's ``UpdateDataDocsAction`` does), with Sinergi's page renderer
(:mod:`sinergi.validate.docs_render`: the outcome in Sinergi's terms — *quarantined as designed* is not
a failure — and each rule's severity and why). The pages are then rewritten to load nothing from the
network (:mod:`sinergi.validate.docs_offline`).

After the validation, :func:`publish_docs` uploads the site and writes the run's status record, from
which the month's index (:mod:`sinergi.validate.docs_index`:
``data-docs/_index/<YYYY-MM>/index.html``, in the store and locally) is rebuilt.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from sinergi.layout import QUARANTINE_BUCKET, data_docs_prefix, local_data_docs_dir, run_segment
from sinergi.months import Month
from sinergi.validate import docs_index, docs_offline

SITE = "sinergi_local"
RENDERER = {"module_name": "sinergi.validate.docs_render", "class_name": "SinergiValidationResultsPageRenderer"}


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

    from sinergi.validate.docs_render import OUTCOME_META, outcome_of

    dataset = result.asset_name or suite.name
    month = str(Month.of(month))
    out = local_data_docs_dir(docs_dir, dataset, month, run_id)
    out.mkdir(parents=True, exist_ok=True)
    ctx.add_data_docs_site(
        site_name=SITE,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(out)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "show_how_to_buttons": False},
            "site_section_builders": {"validations": {"renderer": dict(RENDERER)}},
        },
    )
    for exp in suite.expectations:  # GX shows notes on the suite page: the rule's severity and why
        meta = exp.meta or {}
        if meta.get("why") and not exp.notes:
            exp.notes = [f"Severity: {meta.get('severity', '-')}", meta["why"]]
    suite = ctx.suites.add(suite)
    run = RunIdentifier(run_name=f"{month}-{run_segment(run_id)}", run_time=dt.datetime.now(dt.UTC))
    result.meta["run_id"] = run
    result.meta["validation_time"] = run.run_time
    result.meta[OUTCOME_META] = outcome_of(result)
    suite_id = ExpectationSuiteIdentifier(name=suite.name)
    result_id = ValidationResultIdentifier(expectation_suite_identifier=suite_id, run_id=run,
                                           batch_identifier=result.batch_id)
    ctx.validation_results_store.store_validation_results(
        suite_validation_result=result, suite_validation_result_identifier=result_id,
        expectation_suite_identifier=suite_id)
    ctx.build_data_docs(site_names=[SITE], resource_identifiers=[result_id, suite_id])
    _mark_index_outcome(out / "index.html", result.meta[OUTCOME_META])
    docs_offline.make_offline(out)
    return out / "index.html"


def _mark_index_outcome(index: Path, outcome: str) -> None:
    """GX's site index shows only the result's boolean (a red cross, "Failed"); the site holds this one
    run, so its status cell is rewritten to the run's outcome."""
    from sinergi.validate.docs_render import OUTCOMES

    if outcome == "passed" or not index.exists():
        return
    label, icon = OUTCOMES[outcome]
    text = index.read_text(encoding="utf-8")
    text = text.replace('<i class="fas fa-times text-danger ge-failed-icon" ></i>',
                        f'<i class="{icon}" title="{label}"></i> {label}')
    text = text.replace("'_validation_success_text': 'Failed'", f"'_validation_success_text': '{label}'")
    index.write_text(text, encoding="utf-8")


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


def publish_docs(store, res, home: Path | None = None, bucket: str = QUARANTINE_BUCKET) -> dict:
    """After a validation (``sinergi.validate.ValidationResult``): upload its GX site (if GX ran), write
    its status record and rebuild the month's index, in the store and, with ``home``, locally.
    Returns the status record."""
    site = Path(res.docs_path).parent if res.docs_path else None
    if site is not None:
        upload_docs(store, site, res.dataset, res.month, res.run_id, bucket)
    record = docs_index.status_record(res, site)
    docs_index.write_record(record, store=store, home=home, bucket=bucket)
    return record
