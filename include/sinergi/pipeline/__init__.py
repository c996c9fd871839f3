"""The monthly job as steps: extract → validate → share (per party) → publish (per party).

    from sinergi.pipeline import RunContext, extract_step, validate_step, recipients, share_step, publish_step

- ``context``: :class:`RunContext` — the store, the local state directory, the settings;
- ``results``: the XCom contract (``ExtractRef`` → ``ValidateRef`` → ``ShareRef`` → ``PublishRef``);
- ``staging``: the hand-off objects between steps (temp file + ``put_file``/``get_file``);
- ``ledger``: the long-lived ids and volumes later months depend on (compare-and-swap);
- ``steps``: the steps themselves.

No Airflow imports here (an import-rule test checks it); the DAG layer builds a ``RunContext`` with
its Connection lookup and passes only the references between tasks.
"""

from sinergi.pipeline.context import RunContext
from sinergi.pipeline.results import Counts, ExtractRef, PublishRef, ShareRef, SourceRecord, ValidateRef
from sinergi.pipeline.steps import (
    extract_step,
    publish_party_documents,
    publish_step,
    recipients,
    share_step,
    validate_step,
)

__all__ = [
    "Counts", "ExtractRef", "PublishRef", "RunContext", "ShareRef", "SourceRecord", "ValidateRef", "extract_step", "publish_party_documents", "publish_step", "recipients",
    "share_step", "validate_step",
]
