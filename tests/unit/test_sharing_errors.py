"""The sharing, publishing and indicator errors sit in the one error tree (sinergi.errors): a
permanent error fails a task at once, a transient one is retried. They were plain ValueError /
RuntimeError before, so Airflow retried a leak, a schema mismatch or an invalid policy three times."""

from __future__ import annotations

import pytest

from sinergi.disclosure import LeakError
from sinergi.errors import ConfigError, PermanentError, TransientError, is_permanent
from sinergi.indicators.definitions import IndicatorConfigError
from sinergi.policy import PolicyError
from sinergi.publish import ConcurrentPublishError, InconsistentPublication, SchemaMismatch
from sinergi.publish.cas import UpdateConflict


@pytest.mark.parametrize("error, base", [
    (PolicyError("keyring is key version 2"), ConfigError),
    (IndicatorConfigError("indicators.yaml: indicators.x.kind: bad"), ConfigError),
    (LeakError("course_name", "nik", 1), PermanentError),
    (InconsistentPublication("sha256 differs"), PermanentError),
    (SchemaMismatch("lacks columns"), PermanentError),
    (ConcurrentPublishError("another run holds the claim"), TransientError),
    (UpdateConflict("gave up after 25 conflicting updates"), TransientError),
])
def test_each_error_is_permanent_or_transient(error, base):
    assert isinstance(error, base)
    assert is_permanent(error) is issubclass(base, PermanentError)


def test_value_errors_stay_value_errors():
    """Callers that caught ValueError keep working."""
    assert isinstance(PolicyError("x"), ValueError) and isinstance(SchemaMismatch("x"), ValueError)


def test_a_policy_mismatch_at_share_time_is_permanent():
    from test_policy_fixtures import canonical_table

    from sinergi.policy import load_policy, share
    from sinergi.tokens import Keyring

    with pytest.raises(PolicyError) as e:
        share(canonical_table("complaints", 5), "complaints", "lampung", load_policy(),
              Keyring.from_master(b"unit-test master secret, 32 bytes", 2))
    assert is_permanent(e.value)
