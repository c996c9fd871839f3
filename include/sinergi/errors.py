"""One error tree for the whole pipeline.

Every error Sinergi raises on purpose derives from :class:`SinergiError` and is either

- :class:`PermanentError` — running the same step again cannot help (a bad or missing export, a
  stopped batch, an invalid policy, a secret that cannot be read, a bug caught by reconciliation).
  The Airflow layer fails such a task at once, without retries, and the operator acts on the
  message; or
- :class:`TransientError` — the same step may succeed in a moment (the object store or a source
  database is unreachable, another run is publishing the same month). Airflow retries these with
  backoff.

Errors that are neither (a ``KeyError`` from a bug, an ``OSError`` from the machine) are retried,
as Airflow does by default: the cost of retrying a deterministic bug is time, the cost of not
retrying a passing network fault is a failed month.

The specific classes live next to the code that raises them (``sinergi.extract.errors``,
``sinergi.objectstore`` ...) and say what a data engineer can do; this module holds only the
roots and the errors shared by several steps.
"""

from __future__ import annotations


class SinergiError(Exception):
    """Root of every error Sinergi raises on purpose."""


class PermanentError(SinergiError):
    """Retrying cannot help: fix the input, the configuration or the code, then re-run."""


class TransientError(SinergiError):
    """May succeed when tried again (a service was unreachable, a concurrent run held a lock)."""


class ConfigError(PermanentError, ValueError):
    """A configuration file or setting is invalid (the message names the file/key or variable)."""


class DatasetStopped(PermanentError):
    """A batch-level gate failed: the dataset is not published this month and its previous
    publication stays in place (the message lists every failed gate)."""


class ReconciliationError(PermanentError):
    """Rows were lost or invented between two steps: every source row must end up published,
    quarantined, filtered out by a party's row filter or suppressed. Always a bug to report."""


def is_permanent(exc: BaseException) -> bool:
    """Whether ``exc`` (or the error it was raised from) says that retrying cannot help."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, PermanentError):
            return True
        if isinstance(exc, TransientError):
            return False
        seen.add(id(exc))
        exc = exc.__cause__
    return False
