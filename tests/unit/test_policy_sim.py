"""The default policy on simulator output: every dataset x recipient shares cleanly (no leak-guard
false positive on realistic ids, phones, names), reconciles, and keeps the published schema."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

import sinergi.extract.core as extract_core  # noqa: E402
import sinergi.extract.sources as sources  # noqa: E402
import sinergi.simulate.core as simulate_core  # noqa: E402
from sinergi import registry
from sinergi.policy import load_policy, share, shared_schema
from sinergi.tokens import TOKEN_PATTERN, Keyring


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    simulate_core.simulate(out, month="2025-07", months=1, scale="demo", seed=42, defect_rate=0.0)
    cfg = sources.SourceConfig(exports_dir=out, disnaker_db_url=f"sqlite:///{out / 'disnaker.sqlite'}")
    return {name: extract_core.extract(name, "2025-07", cfg).table for name in registry.names()}


@pytest.mark.slow
def test_default_policy_on_simulated_month(extracted):
    policy, keyring = load_policy(), Keyring.from_master(b"simulated-month master secret")
    tokens: dict[str, set] = {}
    for name, table in extracted.items():
        for party in policy.recipients(name):
            out, rep = share(table, name, party, policy, keyring)
            assert out.schema.equals(shared_schema(name, party, policy)), (name, party)
            assert rep["rows_in"] == table.num_rows
            assert rep["rows_in"] == rep["rows_out"] + rep["rows_filtered_out"] + sum(rep["rows_suppressed"].values())
            k, d = rep["k_anonymity"], rep["disclosure"]
            if k["applicable"] and out.num_rows:
                assert k["k_achieved"] >= k["k_requested"]
                assert d["persons_unique_after"] == 0, (name, party)
            if d["l_required"] and d["l_achieved"] is not None:
                assert d["l_achieved"] >= d["l_required"], (name, party)
            for col in d["record_ids"]:  # the other party's record ids arrive as its tokens
                vals = out.column(col).drop_null()
                if col.endswith("_token") and len(vals):
                    assert pc.all(pc.match_substring_regex(vals, TOKEN_PATTERN)).as_py(), (name, party, col)
            if "nik_token" in out.column_names:
                col = out.column("nik_token")
                assert pc.all(pc.match_substring_regex(col, TOKEN_PATTERN)).as_py()
                tokens.setdefault(party, set()).update(col.to_pylist())
            if "province_code" in out.column_names and rep["row_filter"]:
                assert set(out.column("province_code").drop_null().to_pylist()) <= {"18"}
    assert tokens["kp2mi"] and tokens["lampung"] and tokens["kp2mi"].isdisjoint(tokens["lampung"])
