"""GX's validation page, as Sinergi needs it read: the outcome in Sinergi's terms and every rule's why.

GX renders ``meta`` nowhere and an expectation's ``notes`` only on the suite page, and it calls a run
"Failed" whenever any expectation failed — also when a ``quarantine`` rule held its rows back exactly as
designed. :class:`SinergiValidationResultsPageRenderer` (plugged in through the Data Docs site config
by ``sinergi.validate.datadocs``) keeps GX's page and changes two things:

- the overview's status reads the run's outcome (:func:`outcome_of`): *Passed*, *Passed with
  warnings*, *Quarantined as designed* or *Stopped*; the stored result stays truthful
  (``success`` is GX's own);
- a "Rules: severity and why" table lists each expectation with its result, severity, the rows it
  failed and the reason written for it in the suite (failed rules first).

GX loads this module by name (``module_name``/``class_name``), so it must import without side effects.
"""

from __future__ import annotations

import html

from great_expectations.render.components import (
    RenderedHeaderContent,
    RenderedSectionContent,
    RenderedStringTemplateContent,
    RenderedTableContent,
)
from great_expectations.render.renderer import ValidationResultsPageRenderer

#: result.meta key carrying Sinergi's outcome of the run (set by sinergi.validate.datadocs).
OUTCOME_META = "sinergi_outcome"

#: outcome -> (label, Font Awesome icon classes); "quarantined" and "warnings" are not failures.
OUTCOMES = {
    "passed": ("Passed", "fas fa-check-circle text-success"),
    "warnings": ("Passed with warnings (rows kept)", "fas fa-info-circle text-info"),
    "quarantined": ("Quarantined as designed", "fas fa-exclamation-triangle text-warning"),
    "stopped": ("Stopped: not published this month", "fas fa-times text-danger"),
}

SEVERITY_TEXT = {
    "quarantine": "quarantine: failing rows are held back with their reasons; the rest is published",
    "warn": "warn: reported, rows are kept",
    "stop": "stop: the dataset is not published this month",
}


def outcome_of(result) -> str:
    """Sinergi's outcome of a GX suite result, from the severities of the failed expectations: a
    failed ``stop`` rule stops the dataset; failed ``quarantine`` rules mean rows were quarantined
    as designed; failed ``warn`` rules are warnings."""
    failed = {(r.expectation_config.meta or {}).get("severity", "stop") for r in result.results if not r.success}
    if "stop" in failed or failed - {"quarantine", "warn"}:
        return "stopped"
    if "quarantine" in failed:
        return "quarantined"
    return "warnings" if failed else "passed"


def _esc(value: object) -> str:
    return html.escape(str(value), quote=False)


def _unexpected(r) -> str:
    res = r.result or {}
    if r.success or res.get("unexpected_count") is None:
        return ""
    n = res["unexpected_count"]
    return f"{n:,} row" + ("" if n == 1 else "s")


class SinergiValidationResultsPageRenderer(ValidationResultsPageRenderer):
    @classmethod
    def _render_validation_header(cls, validation_results):
        header = super()._render_validation_header(validation_results)
        params = header.subheader.string_template["params"]
        if not params.get("data_asset_name"):  # GX reads only batch_kwargs/batch_spec: None for our batches
            params["data_asset_name"] = validation_results.asset_name or validation_results.suite_name
        outcome = (validation_results.meta or {}).get(OUTCOME_META) or outcome_of(validation_results)
        label, icon = OUTCOMES[outcome]
        params["success"] = label
        params["html_success_icon"] = f'<i class="{icon}" aria-hidden="true"></i>'
        return header

    def render(self, validation_results, suite_parameters=None):
        doc = super().render(validation_results, suite_parameters=suite_parameters)
        rows = []
        for r in sorted(validation_results.results, key=lambda r: bool(r.success)):  # failed rules first
            cfg = r.expectation_config
            meta = cfg.meta or {}
            mark = ('<i class="fas fa-check text-success" title="passed"></i>' if r.success
                    else '<i class="fas fa-times text-danger" title="failed"></i>')
            rows.append([
                mark,
                f"<code>{_esc(meta.get('rule', cfg.type))}</code>",
                f"<strong>{_esc(meta.get('severity', '-'))}</strong>",
                _esc(_unexpected(r)),
                _esc(meta.get("why", "")),
            ])
        table = RenderedTableContent(
            content_block_type="table",
            header=RenderedStringTemplateContent(
                content_block_type="string_template",
                string_template={"template": "Rules: severity and why", "tag": "h5",
                                 "styling": {"classes": ["m-0"]}},
            ),
            subheader=RenderedStringTemplateContent(
                content_block_type="string_template",
                string_template={"template": " · ".join(SEVERITY_TEXT.values()), "tag": "p",
                                 "styling": {"classes": ["text-muted", "small", "mb-1"]}},
            ),
            header_row=["", "Rule", "Severity", "Failed", "Why"],
            table=rows,
            styling={"classes": ["col-12", "table-responsive", "mt-1"], "body": {"classes": ["table", "table-sm"]}},
        )
        heading = RenderedHeaderContent(
            content_block_type="header",
            header=RenderedStringTemplateContent(
                content_block_type="string_template",
                string_template={"template": "Rules", "tag": "h5", "styling": {"classes": ["m-0"]}},
            ),
            styling={"classes": ["col-12", "p-0"], "header": {"classes": ["alert", "alert-secondary"]}},
        )
        doc.sections.insert(1, RenderedSectionContent(section_name="Rules", content_blocks=[heading, table]))
        return doc
