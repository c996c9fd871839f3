"""
### Monthly sync deadline (alert when a month is late)

Runs each month at the sync deadline of `include/sinergi/config/deadlines.yaml` (`sync: {day, hour}`,
Asia/Jakarta; e.g. the 7th at 12:00 WIB) and checks the month before: every publication the sharing
policy owes (each dataset of the national and provincial syncs, to each receiving party) must have
a committed month pointer in the party's bucket. If any is missing it sends ONE alert mail through
the SMTP Connection `sinergi_smtp` (recipients in its `extra.to`, or `SINERGI_ALERT_TO`) listing
dataset and party, and the task fails so the grid shows it too.

**Re-run** a check by hand: trigger with config `{"month": "2025-07"}`. Changing the deadline means
editing `deadlines.yaml` only (the schedule follows it).
"""

from sinergi_airflow.alerts import sync_deadline_dag

sync_deadline_dag(doc_md=__doc__)
