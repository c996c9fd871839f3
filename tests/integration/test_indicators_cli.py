"""`sinergi report --month` / `--year` against the session's real SeaweedFS (configured through the
SINERGI_S3_* variables, so the CLI starts no store of its own): trusted-zone months of 2024 (a year
no other test uses) → each party's monthly report and yearly evaluation, in its bucket and on disk."""

from __future__ import annotations

import io

import pyarrow.parquet as pq
import pytest

from sinergi import cli
from sinergi.indicators.sample import sample_trusted
from sinergi.layout import TRUSTED_BUCKET, trusted_key
from sinergi.policy import load_policy

MONTHS = ["2024-01", "2024-02", "2024-03"]


@pytest.fixture
def env(weed, tmp_path, monkeypatch):
    creds = weed.credentials("pipeline")
    monkeypatch.setenv("SINERGI_S3_ENDPOINT", creds.endpoint)
    monkeypatch.setenv("SINERGI_S3_ACCESS_KEY", creds.access_key)
    monkeypatch.setenv("SINERGI_S3_SECRET_KEY", creds.secret_key)
    monkeypatch.setenv("SINERGI_HOME", str(tmp_path / "home"))
    for ds, by_month in sample_trusted(MONTHS, seed=24, scale=0.5).items():
        for m, t in by_month.items():
            buf = io.BytesIO()
            pq.write_table(t, buf)
            weed.pipeline.put_bytes(TRUSTED_BUCKET, trusted_key(ds, m), buf.getvalue())
    return tmp_path / "home"


def test_report_month_and_year(weed, env, capsys):
    assert cli.main(["report", "--month", "2024-03"]) == 0
    out = capsys.readouterr().out
    policy = load_policy()
    for party in policy.parties:
        path = env / "reports" / party / "2024-03.html"
        assert f"monthly report 2024-03 for {party}" in out and str(path) in out
        key = "_reports/2024-03/laporan-" + party + "-2024-03.html"
        assert weed.client_for(party).get_bytes(policy.parties[party].bucket, key) == path.read_bytes()
    assert cli.main(["report", "--year", "2024", "--party", "lampung"]) == 0
    out = capsys.readouterr().out
    path = env / "reports" / "lampung" / "evaluasi-2024.html"
    assert str(path) in out and "3 validated months" in out and "kp2mi" not in out
    html = path.read_text(encoding="utf-8")
    assert 'id="partial"' in html and "target belum ditetapkan" in html  # no targets are set for 2024


def test_report_needs_a_validated_month_and_a_known_party(weed, env, capsys):
    assert cli.main(["report", "--month", "2023-01"]) == 1
    assert "the trusted zone has no validated month up to 2023-01" in capsys.readouterr().err
    assert cli.main(["report", "--year", "2024", "--party", "dinkes"]) == 2
    assert "unknown party dinkes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["report", "--year", "24"])
