"""Which (party, month) pairs an indicators DAG run computes (sinergi.indicators.run.plan_runs)."""

from __future__ import annotations

from sinergi.indicators.run import plan_runs
from sinergi.layout import local_report_path, report_key

PARTIES = ["kp2mi", "lampung"]


def test_events_name_their_party_and_month_once():
    events = [("sinergi.lampung.placements", {"month": "2025-07"}), ("sinergi.lampung.returns", {"month": "2025-07"}),
              ("sinergi.kp2mi.trainings", {"month": "2025-08"}), ("sinergi.lampung.placements", {"month": "2025-08"}),
              ("sinergi.unknown.placements", {"month": "2025-08"}), ("sinergi.lampung.placements", None)]
    assert plan_runs(events, PARTIES) == [
        {"party": "lampung", "month": "2025-07"}, {"party": "kp2mi", "month": "2025-08"},
        {"party": "lampung", "month": "2025-08"}]


def test_param_month_overrides_events_and_parties_filter():
    events = [("sinergi.lampung.placements", {"month": "2025-07"})]
    assert plan_runs(events, PARTIES, month="2025-09") == [{"party": "kp2mi", "month": "2025-09"},
                                                           {"party": "lampung", "month": "2025-09"}]
    assert plan_runs([], PARTIES, month="2025-09", only=["lampung"]) == [{"party": "lampung", "month": "2025-09"}]


def test_manual_trigger_without_month_uses_the_fallback():
    assert plan_runs([], PARTIES, fallback_month="2025-10") == [{"party": "kp2mi", "month": "2025-10"},
                                                                 {"party": "lampung", "month": "2025-10"}]
    # events without a month never fall back to a guessed month
    assert plan_runs([("sinergi.lampung.placements", {})], PARTIES, fallback_month="2025-10") == []


def test_report_locations(tmp_path):
    assert report_key("lampung", "2025-07") == "_reports/2025-07/laporan-lampung-2025-07.html"
    assert local_report_path(tmp_path, "kp2mi", "2025-07") == tmp_path / "reports" / "kp2mi" / "2025-07.html"


def test_dag_is_scheduled_on_every_partys_source_assets():
    import importlib.util
    import sys
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root / "plugins"))
    try:
        spec = importlib.util.spec_from_file_location("sinergi_indicators_dag", root / "dags" / "sinergi_indicators.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(root / "plugins"))
    doc = yaml.safe_load((root / "include" / "sinergi" / "config" / "policy.yaml").read_text(encoding="utf-8"))
    names = {a.name for a in mod.INPUT_ASSETS}
    for party, p in doc["parties"].items():
        for ds in p["datasets"]:
            assert (f"sinergi.{party}.{ds}" in names) == (ds in mod.SOURCES)
    from sinergi.indicators.definitions import SOURCE_DATASETS

    assert set(mod.SOURCES) == set(SOURCE_DATASETS)  # the DAG's import-free copy matches the definitions
    dag = mod.indicators_dag
    assert set(dag.task_dict) == {"plan", "indicators", "evaluation_parties", "evaluation"}
    assert "sinergi" in dag.tags and dag.task_dict["indicators"].retries >= 1
    assert dag.task_dict["indicators"].owner == "sinergi-data-engineering"
    assert "year" in dag.params and dag.task_dict["evaluation"].retries >= 1  # the yearly evaluation on demand
