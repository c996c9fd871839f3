"""`make run`'s progress lines (sinergi.local.progress) and the alert texts (sinergi.alerts), from
the lines and records the tasks really write."""

from __future__ import annotations

import json

from sinergi.alerts import month_failed, sync_late
from sinergi.local.progress import Progress

RUN = "manual__2026-01-01T00:00:00+00:00"


def _published(dataset, party, published, **extra):
    payload = {"dataset": dataset, "party": party, "month": "2025-07", "run_id": RUN, "extracted": 100,
               "quarantined": 4, "filtered_out": 0, "suppressed": 0, "published": published, **extra}
    # as the task log shows it: structlog's prefix and suffix around the message
    return (f"2026-01-01T00:00:00Z [info     ] SINERGI PUBLISHED {json.dumps(payload, sort_keys=True)} "
            f"[sinergi] loc=tasks.py:120\n")


def test_one_line_when_every_party_has_published():
    out: list[str] = []
    p = Progress({"placements": ["kp2mi", "lampung"], "p3mi": ["kp2mi"]}, out=out.append, indent="")
    p.feed(_published("placements", "kp2mi", 90, filtered_out=6))
    assert out == []  # lampung still to come
    p.feed(_published("placements", "lampung", 96))
    assert out == ["placements             extracted 100, quarantined 4 → kp2mi 90 published (6 filtered out, 0 suppressed); "
                   "lampung 96 published"]
    p.feed(_published("placements", "lampung", 96))  # a line seen twice prints nothing more
    assert len(out) == 1 and p.run_ids == {RUN}


def test_a_failure_line_finishes_the_dataset_once():
    out: list[str] = []
    p = Progress({"p3mi": ["kp2mi"]}, out=out.append, indent="")
    line = (f"\x1b[31m2026-01-01T00:00:00Z [error    ] SINERGI FAILURE dataset=p3mi month=2025-07 step=extract run={RUN} "
            "reason=SourceNotFoundError: p3mi 2025-07: no source file [sinergi.failures] loc=callbacks.py:89\x1b[0m\n")
    p.feed(line)
    p.feed(line.replace("step=extract", "step=validate"))
    assert out == ["p3mi                   FAILED at extract: SourceNotFoundError: p3mi 2025-07: no source file"]
    p.feed("[info] DagRun Finished: dag_id=x, logical_date=2025-06-30 20:00:00+00:00, run_id=" + RUN + ", run_start_date=…, state=failed, run_type=manual\n")
    assert p.state == "failed"


def test_the_failure_mail_names_dataset_month_step_and_reason():
    records = [{"dataset": "placements", "step": "validate", "month": "2025-07", "map_index": -1,
                "reason": "DatasetStopped: placements 2025-07 is not published: share of rows failing nik_valid 40% > 5%"},
               {"dataset": "p3mi", "step": "extract", "month": "2025-07", "map_index": -1,
                "reason": "SourceNotFoundError: p3mi 2025-07: no source file"}]
    alert = month_failed("sinergi_national_monthly", "2025-07", RUN, records)
    assert alert.subject == "[Sinergi] 2025-07 failed: p3mi, placements (sinergi_national_monthly)"
    assert "- dataset=placements month=2025-07 step=validate reason=DatasetStopped: placements 2025-07" in alert.text
    assert '{"month": "2025-07", "datasets": ["p3mi", "placements"]}' in alert.text
    assert "&lt;" not in alert.text and alert.html.startswith("<pre")
    # without records (the store was down) the mail still goes out, with the reason Airflow gave
    assert "reason: boom" in month_failed("d", "2025-07", RUN, [], fallback_reason="boom").text


def test_the_late_mail_lists_each_missing_publication():
    alert = sync_late("2025-07", "2025-08-07 12:00 WIB", [("placements", "lampung"), ("p3mi", "kp2mi")])
    assert alert.subject == "[Sinergi] 2025-07 is late: 2 publication(s) missing at 2025-08-07 12:00 WIB"
    assert alert.text.index("dataset=p3mi party=kp2mi") < alert.text.index("dataset=placements party=lampung")
