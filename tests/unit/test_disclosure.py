"""k-anonymity (generalisation + suppression) and the leak guard."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sinergi.disclosure import (
    LeakError,
    Step,
    class_ids,
    class_sizes,
    default_steps,
    evaluate,
    k_anonymise,
    leak_guard,
    parse_step,
    widen_band,
)
from sinergi.tokens import Keyring, tokenise

QIS = ["sex", "age_band", "kabkota_code", "kecamatan_code"]


def rows(n: int, sex: str, band: str, kab: str, kec: str | None, tag: str) -> list[dict]:
    return [{"sex": sex, "age_band": band, "kabkota_code": kab, "kecamatan_code": kec, "id": f"{tag}{i}"}
            for i in range(n)]


def hand_built() -> pa.Table:
    return pa.Table.from_pylist(
        rows(6, "P", "20-24", "1807", "180701", "A")  # a safe class
        + rows(3, "P", "25-29", "1807", "180701", "B")  # small: merges with C once kecamatan is dropped
        + rows(2, "P", "20-24", "1807", "180702", "C")
        + rows(1, "L", "40-44", "1801", "180101", "D")  # unique whatever we do: suppressed
    )


def classes(table: pa.Table, qis=QIS) -> dict[tuple, int]:
    g = table.group_by(qis).aggregate([("id", "count")])
    return {tuple(r[q] for q in qis): r["id_count"] for r in g.to_pylist()}


def test_k_report_with_generalisation_and_suppression():
    out, rep = k_anonymise(hand_built(), QIS, k=5, bands={"age_band": 5})
    assert rep["k_requested"] == 5
    assert rep["rows_in"] == 12 and rep["rows_out"] == 11
    assert rep["rows_suppressed"] == 1 and rep["suppressed_reason"] == "k_anonymity"
    assert rep["k_before"] == 1 and rep["classes_before"] == 4 and rep["rows_below_k_before"] == 6
    assert rep["k_achieved"] == 5 and rep["classes"] == 2
    assert rep["steps"] == [
        {"step": "age_band:10", "rows_generalised": 6, "rows_at_risk_after": 6},
        {"step": "kecamatan_code:drop", "rows_generalised": 6, "rows_at_risk_after": 1},
        {"step": "age_band:20", "rows_generalised": 1, "rows_at_risk_after": 1},
        {"step": "kabkota_code:drop", "rows_generalised": 1, "rows_at_risk_after": 1},
    ]
    assert classes(out) == {("P", "20-24", "1807", "180701"): 6, ("P", "20-29", "1807", None): 5}
    # information lost, counted on the published rows only (the suppressed row D0 is not counted)
    assert rep["cells_generalised"] == {"age_band": 5, "kecamatan_code": 5}  # B 25-29 and C 20-24 -> 20-29
    assert rep["withheld"] == {"kecamatan_code": 5}
    assert rep["rows_suppressed_by"] == {"k_anonymity": 1, "l_diversity": 0}
    # every row is a person here: 1 of 12 is unique before (D0), nobody after
    assert rep["persons_unique_before"] == round(1 / 12, 4) and rep["persons_unique_after"] == 0.0
    assert "D0" not in out.column("id").to_pylist()
    assert out.schema == hand_built().schema  # types never change


def test_safe_table_is_untouched():
    t = pa.Table.from_pylist(rows(5, "P", "20-24", "1807", "180701", "A") + rows(7, "L", "30-34", "1801", "180101", "B"))
    out, rep = k_anonymise(t, QIS, k=5)
    assert out.equals(t)
    assert rep["steps"] == [] and rep["rows_suppressed"] == 0 and rep["k_achieved"] == 5 and rep["classes"] == 2


def test_multi_column_drop_step_drops_both_codes_of_a_region():
    t = pa.Table.from_pylist([{"sex": "P", "kabkota_code": k, "kabkota_bps_code": b, "id": str(i)}
                              for i, (k, b) in enumerate([("1801", "1803")] * 3 + [("1802", "1805")] * 2 + [("1807", "1804")] * 6)])
    qis = ["sex", "kabkota_code", "kabkota_bps_code"]
    out, rep = k_anonymise(t, qis, k=5)
    assert rep["steps"] == [{"step": "kabkota_code+kabkota_bps_code:drop", "rows_generalised": 5, "rows_at_risk_after": 0}]
    assert classes(out, qis) == {("P", None, None): 5, ("P", "1807", "1804"): 6}
    assert rep["rows_suppressed"] == 0 and rep["k_achieved"] == 5


def test_suppression_only_when_no_steps():
    out, rep = k_anonymise(hand_built(), QIS, k=5, steps=[])
    assert rep["rows_suppressed"] == 6 and rep["k_achieved"] == 6 and rep["classes"] == 1
    assert out.num_rows == 6


def test_everything_suppressed_gives_no_k():
    t = pa.Table.from_pylist(rows(2, "P", "20-24", "1807", "180701", "A"))
    out, rep = k_anonymise(t, QIS, k=5)
    assert out.num_rows == 0 and rep["rows_suppressed"] == 2 and rep["k_achieved"] is None and rep["classes"] == 0


def test_null_is_its_own_value_and_k1_disables():
    t = pa.Table.from_pylist(rows(3, "P", "20-24", "1807", None, "A") + rows(3, "P", "20-24", "1807", "180701", "B"))
    ids = class_ids(t, QIS)
    sizes, n = class_sizes(ids)
    assert n == 2 and sizes.to_pylist() == [3] * 6
    out, rep = k_anonymise(t, QIS, k=1)
    assert out.equals(t) and rep["applicable"] is False and rep["k_achieved"] == 3


def test_no_quasi_identifiers_is_not_applicable():
    t = pa.table({"id": ["a", "b"]})
    out, rep = k_anonymise(t, [], k=5)
    assert out.equals(t) and rep["applicable"] is False and rep["rows_suppressed"] == 0 and rep["k_achieved"] is None


def test_widen_band_and_steps():
    assert widen_band(pa.array(["25-29", "20-24", "20-29", None, "60-64"]), 10).to_pylist() == [
        "20-29", "20-29", "20-29", None, "60-69"]
    assert widen_band(pa.array(["25-29", "20-29"]), 20).to_pylist() == ["20-39", "20-39"]
    assert parse_step("age_band:10") == Step(("age_band",), "widen", 10)
    assert parse_step("kecamatan_code:drop").label == "kecamatan_code:drop"
    assert parse_step("kabkota_code+kabkota_bps_code:drop").columns == ("kabkota_code", "kabkota_bps_code")
    for bad in ("age_band:wide", "a+b:10", "Age:drop"):
        with pytest.raises(ValueError):
            parse_step(bad)
    assert [s.label for s in default_steps(QIS, {"age_band": 5})] == [
        "age_band:10", "kecamatan_code:drop", "age_band:20", "kabkota_code:drop"]
    assert [s.label for s in default_steps(["sex", "education", "kabkota_code", "kabkota_bps_code"])] == [
        "education:drop", "kabkota_code+kabkota_bps_code:drop"]
    with pytest.raises(ValueError, match="not a quasi-identifier"):
        k_anonymise(hand_built(), QIS, steps=["education:drop"])


def test_default_steps_for_a_wide_attacker_model():
    """Dates other than the event date go early, specific columns last-published first, a code with its
    name in one step, the event date and kab/kota last; sex is never dropped."""
    qis = ["sex", "age_band", "kabkota_code", "kabkota_bps_code", "province_code", "kecamatan_code", "education",
           "destination_country", "destination_country_name", "job_title", "registration_date", "departure_date"]
    steps = default_steps(qis, {"age_band": 5}, dates=["registration_date", "departure_date"],
                          event_date="departure_date", groups=[("destination_country", "destination_country_name")])
    assert [s.label for s in steps] == [
        "age_band:10", "kecamatan_code:drop", "registration_date:drop", "age_band:20", "job_title:drop",
        "destination_country+destination_country_name:drop", "education:drop", "departure_date:drop",
        "kabkota_code+kabkota_bps_code:drop"]


def test_many_rows_every_published_class_has_k():
    import random

    rng = random.Random(3)
    data = [{"sex": rng.choice("LP"), "age_band": f"{a}-{a + 4}", "kabkota_code": f"18{rng.randrange(1, 14):02d}",
             "kecamatan_code": f"18{rng.randrange(1, 14):02d}{rng.randrange(1, 9):02d}", "id": str(i)}
            for i, a in enumerate(rng.choice(range(15, 60, 5)) for _ in range(5000))]
    out, rep = k_anonymise(pa.Table.from_pylist(data), QIS, k=5, bands={"age_band": 5})
    assert min(classes(out).values()) == rep["k_achieved"] >= 5
    assert rep["steps"][0]["step"] == "age_band:10" and rep["rows_suppressed"] < rep["rows_below_k_before"]
    assert rep["rows_out"] + rep["rows_suppressed"] == 5000
    assert len(classes(out)) == rep["classes"]


# --- k over persons, l-diversity, measures ----------------------------------------------------


def test_k_counts_persons_not_rows():
    """Five rows of one person are one person: by rows the class passes k = 5, by persons it fails."""
    t = pa.Table.from_pylist(rows(5, "P", "20-24", "1807", "180701", "A") + rows(6, "L", "30-34", "1801", "180101", "B"))
    by_rows, rep_rows = k_anonymise(t, QIS, k=5, steps=[])
    assert by_rows.num_rows == 11 and rep_rows["k_achieved"] == 5
    persons = pa.array(["p1"] * 5 + [f"q{i}" for i in range(6)])
    out, rep = k_anonymise(t, QIS, k=5, steps=[], persons=persons)
    assert out.column("id").to_pylist() == [f"B{i}" for i in range(6)]
    assert rep["rows_suppressed"] == 5 and rep["k_before"] == 1 and rep["k_achieved"] == 6
    assert rep["persons_in"] == 7 and rep["persons_out"] == 6
    assert rep["persons_unique_before"] == round(1 / 7, 4) and rep["persons_unique_after"] == 0.0
    # rows without a person key count as a person each (never merged into one)
    nulls = pa.array([None] * 5 + [f"q{i}" for i in range(6)])
    assert k_anonymise(t, QIS, k=5, steps=[], persons=nulls)[0].num_rows == 11


def health(result_by_class: dict[str, list[str]]) -> tuple[pa.Table, pa.Array]:
    data, persons = [], []
    for kab, results in result_by_class.items():
        for i, r in enumerate(results):
            data.append({"sex": "P", "kabkota_code": kab, "result": r, "id": f"{kab}-{i}"})
            persons.append(f"{kab}-{i}")
    return pa.Table.from_pylist(data), pa.array(persons)


def test_l_diversity_generalises_then_suppresses_classes_that_reveal_a_harmful_value():
    t, persons = health({
        "1801": ["unfit"] * 5,                 # everyone in it is unfit: reveals her result
        "1802": ["fit"] * 6,                   # everyone fit: the harmless value, allowed
        "1803": ["fit"] * 4 + ["unfit"],       # 2 values: fine
        "1804": ["unfit"] * 5,                 # all unfit again, merges with 1801 when kab/kota goes: still l = 1
    })
    qis = ["sex", "kabkota_code"]
    out, rep = k_anonymise(t, qis, k=5, steps=["kabkota_code:drop"], persons=persons, sensitive=["result"], l=2,
                           sensitive_values={"result": ["unfit"]})
    assert rep["l_before"] == 1 and rep["l_achieved"] == 2 and rep["k_achieved"] == 5
    assert rep["steps"] == [{"step": "kabkota_code:drop", "rows_generalised": 10, "rows_at_risk_after": 10}]
    assert rep["rows_suppressed_by"] == {"k_anonymity": 0, "l_diversity": 10}
    assert sorted(set(out.column("kabkota_code").to_pylist())) == ["1802", "1803"]
    # without sensitive_values every value is harmful: the all-fit class fails too
    out2, rep2 = k_anonymise(t, qis, k=5, steps=[], persons=persons, sensitive=["result"], l=2)
    assert set(out2.column("kabkota_code").to_pylist()) == {"1803"} and rep2["rows_suppressed"] == 16
    # l = 1 (or no sensitive column) enforces k only
    assert k_anonymise(t, qis, k=5, steps=[], persons=persons, sensitive=["result"], l=1)[0].num_rows == 21


def test_null_sensitive_values_do_not_count_as_diversity():
    t = pa.Table.from_pylist([{"sex": "P", "s": v} for v in ["sakit", None, None, None, None]])
    ev = evaluate(t, ["sex"], None, k=5, sensitive=["s"], l=2)
    assert ev["l"] == 1 and ev["l_fail"].to_pylist() == [True] * 5


def test_evaluate_measures_unique_persons_on_the_quasi_identifiers():
    t = pa.Table.from_pylist([{"a": x} for x in ["u", "v", "v", "w", "w", "w"]])
    persons = pa.array(["p1", "p2", "p2", "p3", "p4", "p4"])  # p2 twice in one class: still unique
    ev = evaluate(t, ["a"], persons, k=2)
    assert ev["persons"] == 4 and ev["persons_unique"] == 0.5 and ev["k"] == 1 and ev["classes"] == 3
    assert ev["row_persons"].to_pylist() == [1, 1, 1, 2, 2, 2]


# --- leak guard -------------------------------------------------------------------------------


def table_with(value: str, column: str = "note") -> pa.Table:
    return pa.table({"id": ["PN-2507-H0000123", "CPMI-2507-000001"], column: ["ok", value],
                     "n": pa.array([1, 2], pa.int64())})


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ("1801014101900001", "nik"),
        ("NIK 1801014101900001 (ktp)", "nik"),
        ("+6281234567890", "phone"),
        ("0812-3456-7890", "phone"),
        ("hp: 081234567890", "phone"),
        ("+886 912 345 678", "phone_intl"),
        ("paspor C1234567", "passport"),
        ("X12345678", "passport"),
        ("budi.santoso@contoh.id", "email"),
    ],
)
def test_leak_guard_catches_raw_identifiers(value, pattern):
    with pytest.raises(LeakError) as e:
        leak_guard(table_with(value))
    assert e.value.column == "note" and e.value.pattern == pattern and e.value.rows == 1
    assert value not in str(e.value)


def test_leak_guard_catches_values_of_dropped_columns():
    names = pa.array(["SITI AMINAH", "BUDI SANTOSO", None, "AB"])
    with pytest.raises(LeakError) as e:
        leak_guard(table_with("  budi santoso "), dropped_values={"full_name": names})
    assert e.value.pattern == "value of dropped column full_name"
    assert "SANTOSO" not in str(e.value).upper()
    # short values (< 4 chars) are not compared: too many innocent matches
    leak_guard(table_with("AB"), dropped_values={"full_name": names})
    with pytest.raises(LeakError):  # a plain list works too
        leak_guard(table_with("SITI AMINAH"), dropped_values=["SITI AMINAH"])
    # a dropped column read chunk by chunk: a hit in the last chunk counts, and the row count is right
    chunks = (pa.array(v) for v in (["SITI AMINAH"], [None, "AB"], ["RINA WATI", "Budi Santoso"]))
    with pytest.raises(LeakError) as e:
        leak_guard(table_with("budi santoso"), dropped_values={"full_name": chunks})
    assert e.value.rows == 1
    report = leak_guard(table_with("clean"), dropped_values={"full_name": iter([pa.array(["SITI AMINAH"])]),
                                                             "nik": iter([pa.array([None], pa.string())])})
    assert report["dropped_value_sets"] == ["full_name"]
    # non-ASCII text is compared with the Unicode case mapping (ASCII-only chunks take a fast path)
    with pytest.raises(LeakError):
        leak_guard(table_with(" ñoño pérez"), dropped_values={"full_name": iter([pa.array(["AB"]), pa.array(["ÑOÑO PÉREZ"])])})


def test_tokens_record_ids_dates_and_codes_pass():
    key = Keyring.from_master(b"k" * 32).key("lampung", "person")
    toks = tokenise(pa.array([f"18{i:014d}" for i in range(20000)]), key, "nik")
    adversarial = ["t_" + "1" * 32, "t_0812345678901234567890123456789a", "t_" + "62812345678" * 2 + "0123456789",
                   "t_c1234567" + "0" * 24]
    t = pa.table({
        "nik_token": pa.concat_arrays([toks, pa.array(adversarial)]),
        "placement_id": pa.array(["PN-2507-H0000123", "P3MI-0001", "SK-1807-01", "EPMI00000001"] * 5001),
        "kecamatan_code": pa.array(["180701"] * 20004),
        "destination_country": pa.array(["TW"] * 20004),
    })
    rep = leak_guard(t, dropped_values={"full_name": pa.array(["SITI AMINAH"])})
    assert rep["passed"] and "nik_token" in rep["columns_scanned"]


def test_leak_guard_exemption_is_explicit_per_column_and_pattern():
    t = table_with("AB123456", column="license_number")
    with pytest.raises(LeakError):
        leak_guard(t)
    leak_guard(t, allow={"license_number": ["passport"]})
    with pytest.raises(LeakError):  # the exemption covers that pattern only
        leak_guard(table_with("AB123456 budi@contoh.id", column="license_number"), allow={"license_number": ["passport"]})


def test_non_string_columns_are_ignored():
    t = pa.table({"quota": pa.array([1801014101900001], pa.int64())})
    assert leak_guard(t)["columns_scanned"] == []
    assert pc.sum(t.column("quota")).as_py() > 0


def test_dropped_value_hit_is_attributed_to_the_right_column_and_source():
    t = pa.table({"a": ["x1", "x2", "x3"], "b": ["LAMPUNG", "METRO", None], "c": ["ok", "ok", "Jl. Mawar 3"]})
    dropped = {"full_name": pa.array(["SITI AMINAH"]), "address": pa.array(["JL. MAWAR 3", "JL. MELATI 9"])}
    with pytest.raises(LeakError) as e:
        leak_guard(t, dropped_values=dropped)
    assert e.value.column == "c" and e.value.pattern == "value of dropped column address" and e.value.rows == 1
    assert leak_guard(t, dropped_values=dropped, allow={"c": ["dropped_values"]})["passed"]
