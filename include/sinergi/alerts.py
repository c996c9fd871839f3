"""The operators' alert mails: one per failed month run, one per monthly sync past its deadline.

Only names, the month, the step and the failure reason (the same text as the task's `SINERGI FAILURE`
line and its record under ``s3://sinergi-quarantine/_failures/``) — never a data value. Sending is
the DAG layer's job (sinergi_airflow.alerts, through the SMTP Connection ``sinergi_smtp``).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from sinergi.layout import QUARANTINE_BUCKET, failures_prefix


@dataclass(frozen=True)
class Alert:
    subject: str
    text: str

    @property
    def html(self) -> str:
        return f"<pre style=\"font-family: monospace\">{html.escape(self.text)}</pre>"


def _where(record: dict) -> str:
    step = record.get("step") or "?"
    index = record.get("map_index")
    return step + (f"[{index}]" if index not in (-1, None) else "")


def month_failed(dag_id: str, month: str, run_id: str, records: list[dict], fallback_reason: str = "") -> Alert:
    """The failure alert of one month's run: one line per failed task (dataset, step, reason)."""
    failed = sorted(records, key=lambda r: (r.get("dataset") or "", r.get("step") or "", r.get("map_index") or -1))
    datasets = sorted({r.get("dataset") or "?" for r in failed})
    subject = (f"[Sinergi] {month} failed: {', '.join(datasets)} ({dag_id})" if failed
               else f"[Sinergi] {month} failed ({dag_id})")
    lines = [f"The monthly sync {dag_id} failed for month {month} (run {run_id}).", ""]
    if failed:
        lines.append(f"{len(failed)} failed task(s) in {len(datasets)} dataset(s):")
        for r in failed:
            lines.append(f"- dataset={r.get('dataset') or '-'} month={r.get('month') or month} "
                         f"step={_where(r)} reason={r.get('reason') or '-'}")
    else:
        lines.append(f"No failure record was found for this run; reason: {fallback_reason or 'see the task logs'}")
    lines += [
        "",
        "The other datasets still ran; their months are published.",
        f"Failure records: s3://{QUARANTINE_BUCKET}/{failures_prefix(month)} (owner-only), and the "
        "`SINERGI FAILURE` line at the end of each failed task's log.",
        "To re-run after fixing the cause: trigger the DAG with {\"month\": \"" + month + "\", \"datasets\": ["
        + ", ".join(f'"{d}"' for d in datasets if d != "?") + "]}.",
    ]
    return Alert(subject, "\n".join(lines) + "\n")


def sync_late(month: str, due: str, missing: list[tuple[str, str]]) -> Alert:
    """The deadline alert: publications of ``month`` still missing when the sync was due (WIB)."""
    datasets = sorted({d for d, _ in missing})
    subject = f"[Sinergi] {month} is late: {len(missing)} publication(s) missing at {due}"
    lines = [f"The monthly sync of {month} had not finished by its deadline {due} (config/deadlines.yaml: sync).",
             "", f"Not yet published ({len(missing)}):"]
    lines += [f"- dataset={d} party={p} month={month}" for d, p in sorted(missing)]
    lines += ["", "Check the month's runs in the Airflow grid (a source export may be missing or a task stuck), "
              "then trigger the monthly DAG with {\"month\": \"" + month + "\", \"datasets\": ["
              + ", ".join(f'"{d}"' for d in datasets) + "]}."]
    return Alert(subject, "\n".join(lines) + "\n")
