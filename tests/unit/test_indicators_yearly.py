"""The yearly monitoring and evaluation report (MoU Art. 7) rendered from trusted-zone-shaped months,
the data-quality and timeliness records read back from real manifests and landing pointers (on the
in-memory store), and the year a run evaluates."""

from __future__ import annotations

import datetime as dt
import json
import re

import pyarrow as pa
import pytest

from report_checks import cell_texts, numbers, value_part
from sinergi.indicators.compute import compute_indicators, missing_indicators
from sinergi.indicators.definitions import BY_ID
from sinergi.indicators.quality import feedback_refs, month_quality
from sinergi.indicators.report import View, cell_id
from sinergi.indicators.run import party_view
from sinergi.indicators.sample import sample_trusted
from sinergi.indicators.workplan import coverage
from sinergi.indicators.yearly import achievement, evaluation_year, render_evaluation
from sinergi.layout import (
    LANDING_BUCKET,
    QUARANTINE_BUCKET,
    feedback_key,
    landing_pointer_key,
    local_yearly_report_path,
    yearly_report_key,
)
from sinergi.months import JAKARTA
from sinergi.policy import load_policy
from sinergi.publish import publish
from support import MemoryStore

YEAR = [f"2025-{m:02d}" for m in range(1, 13)]


@pytest.fixture(scope="module")
def policy():
    return load_policy()


@pytest.fixture(scope="module")
def tables(policy):
    return party_view(sample_trusted(YEAR[:9], seed=21, scale=10), "lampung", policy)


@pytest.fixture(scope="module")
def quality(policy):
    """Real manifests (the publisher's) with the validation counts, and landing pointers: July on
    time, August late."""
    store = MemoryStore()
    bucket = policy.parties["lampung"].bucket
    table = pa.table({"x": pa.array([1, 2, 3], pa.int64())})
    arrivals = {"2025-07": "2025-08-03T02:00:00+00:00", "2025-08": "2025-09-12T09:30:00+00:00"}
    for month, landed in arrivals.items():
        counts = {"extracted": 200, "valid": 180, "quarantined": 20, "by_rule": {"nik_format": 15, "date_order": 7},
                  "warnings_by_rule": {"nik_region_mismatch": 9}}
        publish(store, bucket=bucket, dataset="placements", month=month, run_id=f"r-{month}", table=table,
                manifest_extra={"counts": counts, "sources": [{"path": "PENEMPATAN.csv"}]})
        store.put_bytes(LANDING_BUCKET, landing_pointer_key("siskop2mi", "placements", month),
                        json.dumps({"landed_at": landed}).encode())
    store.put_bytes(QUARANTINE_BUCKET, feedback_key("siskop2mi", "2025-08"), b"xlsx")
    q = month_quality(store, bucket, ["placements", "trainings"], YEAR)
    return {"store": store, "rows": q}


def test_quality_and_timeliness_come_from_the_manifests_and_the_landing_zone(quality):
    rows = {r["month"]: r for r in quality["rows"]}
    assert set(rows) == {"2025-07", "2025-08"}  # trainings has no manifest: nothing invented
    july, august = rows["2025-07"], rows["2025-08"]
    assert july["quarantine_share"] == pytest.approx(0.1) and july["warning_share"] == pytest.approx(9 / 180)
    assert july["by_rule"] == {"nik_format": 15, "date_order": 7} and july["system"] == "siskop2mi"
    assert july["due"] == dt.datetime(2025, 8, 5, 0, 0, tzinfo=JAKARTA) and july["late"] is False
    assert august["late"] is True and august["days_late"] == pytest.approx(7.6, abs=0.1)
    assert august["arrived"].tzinfo is not None and august["arrived"].hour == 16  # shown in WIB
    refs = feedback_refs(quality["store"], quality["rows"], "2025-08")
    assert refs[0]["uri"] == "s3://sinergi-quarantine/_feedback/siskop2mi/2025-08/feedback_siskop2mi_2025-08.xlsx"
    assert refs[0]["exists"] is True and refs[0]["by_rule"] == {"placements: nik_format": 15, "placements: date_order": 7}
    assert feedback_refs(quality["store"], quality["rows"], "2025-07")[0]["exists"] is False


@pytest.fixture(scope="module")
def html(policy, tables, quality):
    months = sorted({m for v in tables.values() for m in v})
    annual = compute_indicators(tables, months[-1], period_names=("ytd",))
    monthly = {m: compute_indicators(tables, m, period_names=("month",)) for m in months}
    cov = coverage(policy, "lampung", {ds: sorted(v) for ds, v in tables.items()})
    out = render_evaluation(annual, monthly, party="lampung", year=2025, policy=policy, months=months,
                            missing=missing_indicators(tables), coverage=cov, quality=quality["rows"])
    return {"html": out, "annual": annual, "monthly": monthly}


def test_the_evaluation_has_every_section_in_both_languages(html):
    text = html["html"]
    for section in ("capaian", "kabkota", "tren", "cakupan", "kualitas", "ketepatan", "metodologi"):
        assert f'<section id="{section}"' in text, section
    assert "Laporan Pemantauan dan Evaluasi Tahun 2025" in text and "Monitoring and evaluation report 2025" in text
    assert 'id="partial"' in text and "9 months validated so far" in text  # January to September
    assert text.count("<tr data-row=") == 26 and 'data-row="3.3" data-status="indicator"' in text
    assert 'data-row="5.1" data-status="none"' in text and "one-stop service has no shared data system" in text
    assert len(re.findall(r'<svg[^>]*class="chart trend"', text)) >= 10  # a monthly trend per headline indicator
    assert 'id="map-placements"' in text and text.count("data-code=") == 15
    assert 'id="targets"' in text and "@media print" in text and "<script" not in text
    assert "https://" not in text and 'src="http' not in text
    # data quality per source and month, and timeliness against the agreed day
    assert re.search(r'data-dataset="placements".*?data-month="2025-07">10,0 %', text, re.S)
    assert re.search(r'data-system="siskop2mi".*?data-month="2025-08" title="jatuh tempo / due 2025-09-05">12-09-2025'
                     r'<br><span class="meta">\+8 hari', text, re.S)


def test_achievement_against_targets(html):
    view = View(html["annual"])
    placed = view.get("placements", "ytd")
    assert not placed["suppressed"]
    text = html["html"]
    row = re.search(r'<tr data-indicator="placements">(.*?)</tr>', text, re.S).group(1)
    share = placed["value"] / 24000
    assert f"{share * 100:.1f} %".replace(".", ",") in row and "≥ 24.000" in row
    assert ('class="ok">tercapai' in row) == (placed["value"] >= 24000) != ('class="miss">belum tercapai' in row)
    # an upper-limit target: achievement = target / value
    ind = BY_ID["complaint_days_to_resolution_median"]
    a = achievement(ind, {"value": 40.0, "suppressed": False, "indicator_id": ind.id, "ref_month": "2025-09",
                          "period": "ytd", "area_level": "province", "kabkota_code": "18", "dimension": "total",
                          "dimension_value": "total"}, 30.0, "at_most")
    assert a["share"] == pytest.approx(0.75) and a["reached"] is False
    # a suppressed value has no achievement, whatever the target
    hidden = {"value": None, "suppressed": True, "indicator_id": "placements", "ref_month": "2025-09", "period": "ytd",
              "area_level": "kabkota", "kabkota_code": "1813", "dimension": "total", "dimension_value": "total"}
    a = achievement(BY_ID["placements"], hidden, 50.0)
    assert a["share"] is None and a["reached"] is None and a["cell"]["text"] == "sel disamarkan"
    # the kab/kota targets: 15 rows
    assert len(re.findall(r"<tr><td>PMI ditempatkan", text)) == 15


def test_no_suppressed_cell_shows_a_number_but_its_month(html):
    rows = {cell_id(r): r for t in [html["annual"], *html["monthly"].values()] for r in t.to_pylist()}
    bound = cell_texts(html["html"])
    hidden = [cid for cid in bound if rows[cid]["suppressed"]]
    assert hidden
    for cid in hidden:
        for text in bound[cid]:
            assert "sel disamarkan" in text and numbers(text) <= {"2025", *(m[5:] for m in YEAR)}, (cid, text)
            assert not numbers(value_part(text)), (cid, text)


def test_the_year_a_run_evaluates():
    assert evaluation_year(2024) == 2024 and evaluation_year("2025") == 2025
    assert evaluation_year(None, dt.datetime(2025, 1, 9, 23, 0, tzinfo=dt.UTC)) == 2025  # 10 Jan 06:00 WIB
    assert evaluation_year("", None, now=dt.datetime(2026, 3, 1, tzinfo=JAKARTA)) == 2025
    with pytest.raises(ValueError):
        evaluation_year(99)
    assert yearly_report_key("lampung", 2025) == "_reports/2025/evaluasi-lampung-2025.html"
    assert local_yearly_report_path("/h", "kp2mi", 2025).as_posix() == "/h/reports/kp2mi/evaluasi-2025.html"
    with pytest.raises(ValueError):
        yearly_report_key("lampung", "20x5")
