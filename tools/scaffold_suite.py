"""Draft an expectation suite for a dataset from the registry (a developer tool, not runtime code).

    .venv/bin/python tools/scaffold_suite.py --dataset placements --stdout   # print the draft
    .venv/bin/python tools/scaffold_suite.py --write                         # create missing files

Everything dataset-specific comes from ``include/sinergi/config/datasets.yaml``: required columns,
vocabularies, ``date_order``, ``event_date``, ``snapshot``, ``future_allowed`` and ``references``.
The committed ``expectations/<suite>.json`` is what runs: review the draft, edit it (severities,
reasons), then commit it. Existing files are left alone unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import json

from sinergi import normalise, registry
from sinergi.validate import suites

#: Every Indonesian province code (Permendagri 72/2019; UU 14–16/2022 and 29/2022 for the Papua
#: provinces; NIKs issued before 2022 keep 91/92). A national standard list, not a region table.
PROVINCE_CODES = [
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "31", "32", "33", "34", "35", "36",
    "51", "52", "53", "61", "62", "63", "64", "65", "71", "72", "73", "74", "75", "76", "81", "82",
    "91", "92", "93", "94", "95", "96",
]

#: The number renderings that remain in an identifier column only when they cannot be trusted.
NUMBER_RENDERING = normalise.NUMBER_RENDERING

#: Why each closed vocabulary is closed: what an unknown value would break (datasets.yaml closed: true).
CLOSED_WHY = {
    "sex": "sex is part of the person's identity (the NIK encodes it as DD+40) and every figure of the agreement "
           "is broken down by it (MoU annex 4d/4e); a row of unknown sex can be counted in no breakdown.",
    "verification_status": "the verified registrations are a reported count (indicator cpmi_verified).",
    "complaint_status": "resolved complaints (Selesai) and the days to resolution are reported figures (workplan "
                        "5.3c); a status nobody can place would count the complaint as neither open nor resolved.",
    "return_status": "sick and deceased returns are a reported count (MoU annex 4e, indicator "
                     "returns_problem); an unknown status would hide a death or an illness in no category.",
    "health_result": "fit/unfit decides the reported fit rate (workplan 3.2, indicator health_fit_rate; "
                     "Permenkes 29/2013).",
    "empowerment_participant": "returned workers and their families are two separately reported counts (workplan "
                               "2.2/2.3: empowerment_returnees, empowerment_families); an unknown type would be "
                               "counted in neither.",
}
#: Why an open vocabulary is open (its values describe a row; a new one must not lose the row).
OPEN_WHY = {
    "*": "its values describe the record but do not decide identity, linkage or whether a reported count "
         "includes the row, and sources add new values before the vocabulary knows them.",
    "job_title": "BP2MI's list of job titles is descriptive and keeps growing (new titles per destination and "
                 "scheme); the placement is counted either way.",
    "sector": "sources have re-worded the sector (since 2025 by the employer's legal form); a new wording must not "
              "drop a placement from the total.",
    "placement_scheme": "schemes are added by regulation (e.g. SSW); a placement under a new scheme still counts.",
    "education": "education is descriptive; an unmapped level must not drop the worker.",
}

#: Why a reference matters, per referencing column (the rest of the reason is common to all).
REFERENCE_WHY = {
    "p3mi_id": "only licensed P3MI may place workers (MoU annex 1b)",
    "facility_id": "only licensed health facilities may examine CPMI (MoU annex 3.1)",
    "institution_id": "only registered training institutions may train CPMI (MoU annex 5.4)",
    "job_order_id": "a placement fills a job order (MoU annex 1a); one without a known order cannot be traced "
                    "to the demand it filled",
}


def _e(type_: str, kwargs: dict, rule: str, severity: str, why: str, **extra) -> dict:
    return {"type": type_, "kwargs": kwargs, "meta": {"rule": rule, "severity": severity, "why": why, **extra}}


def _p(name: str) -> dict:
    return {"$PARAMETER": name}


def scaffold(dataset: str) -> dict:
    """Draft suite for a dataset from the registry (review, then commit as expectations/<suite>.json)."""
    ds = registry.get(dataset)
    cols = set(ds.column_names)
    snapshot = ds.snapshot
    derived: list[dict] = []
    ex: list[dict] = []
    ex.append(_e(
        "expect_table_columns_to_match_ordered_list", {"column_list": _p("expected_columns")}, "schema_columns", "stop",
        "The canonical schema is a contract (docs/ARCHITECTURE.md 'The canonical extracted table'): registry "
        "columns in registry order, the extraction bookkeeping columns, then this suite's helper columns. A "
        "missing or extra column means the export or the mapping changed; publishing it would break readers.",
    ))
    ex.append(_e(
        "expect_table_row_count_to_be_between", {"min_value": _p("volume_min"), "max_value": _p("volume_max")},
        "volume", "stop",
        "A month whose row count is far from the trailing months usually means a truncated or doubled export "
        "(MoU annex 4d/4e: monthly placement and return data). Bounds = median of the trailing months x (1 +- "
        "tolerance) +- slack; skipped with fewer than min_history months.",
        tolerance=0.3 if snapshot else 0.5, min_history=3, trailing_months=6, slack=10,
    ))
    ex.append(_e(
        "expect_column_values_to_be_null", {"column": "_extract_issues"}, "values_parse", "quarantine",
        "Extraction notes every value it could not parse (an unparseable date or number becomes null and is "
        "noted in _extract_issues). Such a row lost information, so it is held for review instead of published.",
    ))
    for c in ds.source_columns:
        if c.required:
            ex.append(_e(
                "expect_column_values_to_not_be_null", {"column": c.name}, f"required:{c.name}", "quarantine",
                f"Required by the dataset registry (datasets.yaml {dataset}.{c.name} required: true): {c.en}. "
                "A row without it cannot be counted or linked (MoU Art. 5(1)c-d: shared data on CPMI/PMI).",
            ))
    for c in ds.source_columns:
        if c.required:
            ex.append(_e(
                "expect_column_values_to_not_be_null", {"column": c.name, "mostly": 0.9}, f"null_rate:{c.name}", "stop",
                f"More than 10% of rows without {c.name} is a broken export or header mapping, not a few bad rows; "
                "the month must not publish until the source is fixed. Skipped below min_rows rows, where one "
                "missing value is already 10%.",
                min_rows=50,
            ))
    rid = ds.record_id
    derived.append({"name": "_duplicate_row", "fn": "duplicate_row", "args": {},
                    "why": "True on the 2nd and later copies of a row whose canonical columns are all equal."})
    derived.append({"name": "_record_id_dedup", "fn": "record_id_dedup", "args": {"column": rid},
                    "why": f"{rid}, blank on exact-duplicate copies (those fail duplicate_row instead)."})
    ex.append(_e(
        "expect_column_values_to_be_in_set", {"column": "_duplicate_row", "value_set": [False]}, "duplicate_row",
        "quarantine",
        "An export that repeats a row verbatim would double-count a person. Decision: the first copy continues, "
        "the other copies go to quarantine as duplicate_row, so nothing is dropped silently.",
    ))
    ex.append(_e(
        "expect_column_values_to_be_unique", {"column": "_record_id_dedup"}, "record_id_unique", "quarantine",
        f"{rid} identifies a record within the month. The same id with conflicting values cannot be resolved "
        "automatically: ALL rows sharing it are quarantined (exact copies are handled by duplicate_row).",
    ))
    for c in ds.source_columns:
        if c.precision_sensitive:
            ex.append(_e(
                "expect_column_values_to_not_match_regex", {"column": c.name, "regex": NUMBER_RENDERING},
                "nik_precision_lost" if c.normalise == "nik" else f"precision_lost:{c.name}", "quarantine",
                f"{c.name} reached us through a number cell (a float rendering of the digits such as ...951230.0, or "
                "scientific notation such as 1.80112450795123E+15) and may have lost digits: Excel keeps 15 "
                "significant digits, so the 16th digit of a number typed into it becomes 0, and a double holds "
                "integers exactly only below 2**53. Extraction replaces a number whose every digit survived by "
                "its digits (sinergi.normalise: 16+ digits with a last digit other than 0, below 2**53); what "
                "remains cannot be trusted, even a real identifier ending in 0, because a wrong identifier links "
                "the record to somebody else in every later month. Decided here, by GX, on the kept text. "
                "Producer: format the column as Text and type the number again.",
            ))
    if "nik" in cols:
        ex.append(_e(
            "expect_column_values_to_match_regex", {"column": "nik", "regex": "^[0-9]{16}$"}, "nik_shape",
            "quarantine",
            "NIK is 16 digits PPKKCCDDMMYYSSSS (UU 24/2013 Administrasi Kependudukan; DOMAIN.md 'Identifiers'). "
            "Spreadsheets mangle NIKs into floats (1.80101E+15) or strip digits; such a NIK cannot be linked.",
        ))
        derived.append({"name": "_nik_province", "fn": "nik_part", "args": {"column": "nik", "start": 0, "length": 2},
                        "why": "Digits 1-2 of a well-formed NIK (province), blank when the NIK is malformed."})
        derived.append({"name": "_nik_kabkota_listed", "fn": "nik_kabkota_listed", "args": {"column": "nik"},
                        "why": "Digits 1-4 of a well-formed NIK of a province whose every kab/kota sinergi.regions "
                               "lists (Lampung); blank otherwise."})
        derived.append({"name": "_nik_date_valid", "fn": "nik_date_valid", "args": {"column": "nik"},
                        "why": "Whether NIK digits 7-12 are a real date DDMMYY (DD+40 for women); blank when the "
                               "NIK is malformed."})
        ex.append(_e(
            "expect_column_values_to_be_in_set", {"column": "_nik_province", "value_set": PROVINCE_CODES},
            "nik_province", "quarantine",
            "The first two NIK digits are a province code (Permendagri 72/2019 codes, incl. the 2022 Papua "
            "provinces). Anything else is a mistyped or fabricated NIK.",
        ))
        ex.append(_e(
            "expect_column_values_to_be_in_set", {"column": "_nik_kabkota_listed", "value_set": _p("kabkota_codes")},
            "nik_kabkota", "quarantine",
            "The first four NIK digits are the Kemendagri kab/kota code of first registration (DOMAIN.md). For "
            "Lampung, whose every kab/kota sinergi.regions lists, a prefix outside the list does not exist (a "
            "BPS code typed as NIK prefix, 18xx with xx > 13, is caught here). NIKs of other provinces are not "
            "judged here: the table holds only their main sending regencies, and a real worker from another "
            "regency must not be rejected.",
        ))
        ex.append(_e(
            "expect_column_values_to_be_in_set", {"column": "_nik_date_valid", "value_set": [True]},
            "nik_date", "quarantine",
            "NIK digits 7-12 are the birth date DDMMYY with 40 added to DD for women (UU 24/2013; DOMAIN.md "
            "'Identifiers'): a NIK whose digits are no date (day 00, 32-40 or over 71, month 13, 31 February) "
            "was mistyped or fabricated and cannot be linked. Part of the NIK's own structure, so it is a "
            "quarantine rule; whether the date agrees with the birth_date column is only a warning "
            "(nik_birth_date_sex).",
        ))
        if "birth_date" in cols and "sex" in cols:
            derived.append({"name": "_nik_birth", "fn": "nik_part", "args": {"column": "nik", "start": 6, "length": 6},
                            "why": "Digits 7-12 of a well-formed NIK (DDMMYY, DD+40 for women)."})
            derived.append({"name": "_birth_sex_code", "fn": "birth_sex_code",
                            "args": {"birth_date": "birth_date", "sex": "sex"},
                            "why": "DDMMYY of birth_date with 40 added to DD when sex is P (as Dukcapil encodes it)."})
        if "kabkota_code" in cols:
            derived.append({"name": "_nik_region_now", "fn": "nik_region_now",
                            "args": {"nik": "nik", "kabkota": "kabkota_code"},
                            "why": "Digits 1-4 of a well-formed NIK, or the row's kab/kota where the region lineage "
                                   "explains the difference (config/region_lineage.csv: the kab/kota was split off "
                                   "from the NIK's after the person was born)."})
            ex.append(_e(
                "expect_column_pair_values_to_be_equal",
                {"column_A": "_nik_region_now", "column_B": "kabkota_code", "ignore_row_if": "either_value_is_missing"},
                "kabkota_matches_nik", "warn",
                "A warning, never a quarantine: a NIK is issued once, for life, where the person was first "
                "registered (UU 24/2013), so a worker who moved keeps it and the kab/kota of the record (from the "
                "current KTP address or the domicile) legitimately differs. Residents of a regency split off "
                "after they were born (Pesawaran 2007 from Lampung Selatan, Pringsewu 2008 from Tanggamus, Mesuji "
                "and Tulang Bawang Barat 2008 from Tulang Bawang, Pesisir Barat 2012 from Lampung Barat; "
                "config/region_lineage.csv) carry the parent's code by law: that is not even flagged. What remains "
                "is flagged per row (data_quality_flags) and counted: a mover, or a BPS code written into the "
                "Kemendagri field (BPS 1803 = Lampung Selatan, Kemendagri 1803 = Lampung Utara; DOMAIN.md 'Region "
                "codes'), which the producer should check.",
            ))
        if "birth_date" in cols and "sex" in cols:
            ex.append(_e(
                "expect_column_pair_values_to_be_equal",
                {"column_A": "_nik_birth", "column_B": "_birth_sex_code", "ignore_row_if": "either_value_is_missing"},
                "nik_birth_date_sex", "warn",
                "A warning, never a quarantine: NIK digits 7-12 encode the birth date as first registered, with "
                "DD+40 for women (DOMAIN.md 'Identifiers'), and a NIK is not reissued when a birth date is "
                "corrected later (UU 24/2013), so a real worker's record can disagree with the NIK. The row is "
                "published with the flag (data_quality_flags) and counted; the NIK's own structure (16 digits, "
                "province, a real date) is checked by the quarantine rules nik_shape, nik_province, nik_date.",
            ))
    for c in ds.source_columns:
        if c.vocabulary:
            ex.append(_e(
                "expect_column_values_to_be_in_set", {"column": c.name, "value_set": _p(f"vocab_{c.vocabulary}")},
                f"vocab:{c.name}", "quarantine" if c.closed else "warn",
                (f"{c.name} must be a canonical value of the '{c.vocabulary}' vocabulary (config/vocabularies.yaml, "
                 "as BP2MI publishes it; DOMAIN.md 'Vocabularies'). Closed (datasets.yaml closed: true): "
                 + CLOSED_WHY[c.vocabulary] + " An unknown value is held for review instead of being guessed.")
                if c.closed else
                (f"{c.name} is described by the '{c.vocabulary}' vocabulary (config/vocabularies.yaml), which is "
                 "open: " + OPEN_WHY.get(c.vocabulary, OPEN_WHY["*"]) + " An unknown value is kept as observed "
                 "(whitespace-normalised), the row is published with the flag (data_quality_flags), and the value "
                 "is counted (unknown_values in the manifest) so the producer or the vocabulary can be fixed."),
            ))
        elif c.normalise == "kabkota":
            ex.append(_e(
                "expect_column_values_to_be_in_set", {"column": c.name, "value_set": _p("kabkota_codes")},
                f"kabkota_known:{c.name}", "quarantine",
                "kab/kota must be a Kemendagri code of sinergi.regions (config/regions.csv): statistics by origin "
                "regency are the point of MoU annex 4d; an unknown spelling or a BPS code must not be guessed.",
            ))
        elif c.normalise == "country":
            ex.append(_e(
                "expect_column_values_to_be_in_set", {"column": c.name, "value_set": _p("country_codes")},
                f"country_known:{c.name}", "quarantine",
                "Countries are ISO 3166-1 alpha-2 codes (DESIGN.md 'Canonical datasets'). Every ISO 3166-1 country "
                "is known with its English and Indonesian names (pycountry) and the spellings exports use "
                "(config/countries.yaml), so what remains is a spelling nobody can map. Closed: the column is a "
                "code analysts join on and the destination is a dimension of the placement figures (MoU annex "
                "4d), so a guess or free text would be counted under the wrong country; the row is held for "
                "review and the spelling is listed for the producer (unknown_values).",
            ))
    for c in ds.source_columns:
        if c.type == "date" and c.name != "birth_date":
            kwargs = {"column": c.name, "min_value": _p("earliest_date")}
            if not c.future_allowed:
                kwargs["max_value"] = _p("month_end")
            ex.append(_e(
                "expect_column_values_to_be_between", kwargs, f"date_plausible:{c.name}", "quarantine",
                "Dates must not lie after the end of the month being processed (a record cannot describe the "
                "future) nor before 1990 (typing errors such as 1900 or 0201)."
                if "max_value" in kwargs else
                "A validity/planned date may lie in the future, but not before 1990 (typing errors).",
            ))
    event = ds.event_date
    if event and "birth_date" in cols:
        derived.append({"name": "_age_at_event", "fn": "age_years", "args": {"birth_date": "birth_date", "at": event},
                        "why": f"Age in completed years at {event}."})
        ex.append(_e(
            "expect_column_values_to_be_between", {"column": "_age_at_event", "min_value": 15, "max_value": 70},
            "age_15_70", "quarantine" if dataset != "empowerment" else "warn",
            f"Age at {event} must be 15-70: UU 18/2017 Art. 5 sets 18 as the minimum age of a PMI, and ages "
            "outside 15-70 are almost always a wrong birth date (tolerance for late registration of birth dates)."
            + (" Warn only here: family members of PMI in empowerment programmes may be children or elderly."
               if dataset == "empowerment" else ""),
        ))
    order = list(ds.date_order)
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            ex.append(_e(
                "expect_column_pair_values_a_to_be_greater_than_b",
                {"column_A": b, "column_B": a, "or_equal": True, "ignore_row_if": "either_value_is_missing"},
                f"date_order:{a}<={b}", "quarantine",
                f"Process order: {a} must not be after {b} (registration <= health check <= departure <= return; "
                "SISKOP2MI workflow, DOMAIN.md). A reversed pair is a data-entry error.",
            ))
    for c in ds.source_columns:
        if c.name in ds.references:
            ref = ds.references[c.name]
            ex.append(_e(
                "expect_column_values_to_be_in_set", {"column": c.name, "value_set": _p(f"ref_{ref}")},
                suites.reference_rule_name(c.name), "quarantine",
                f"{c.name} must be an id of the '{ref}' dataset recorded up to the month being processed "
                f"(datasets.yaml {dataset}.references): "
                + REFERENCE_WHY.get(c.name, f"an id that no {ref} record carries cannot be linked")
                + ". Skipped, with a warning, when the caller passes no ids for it.",
            ))
    if event and not snapshot:
        derived.append({"name": "_event_date_until_month_end", "fn": "until_month_end", "args": {"column": event},
                        "why": f"{event}, blank when after the month end (those rows fail date_plausible and are "
                               "quarantined; one typo must not make the whole month look stale)."})
        ex.append(_e(
            "expect_column_max_to_be_between",
            {"column": "_event_date_until_month_end", "min_value": _p("previous_month_start"), "max_value": _p("month_end")},
            "freshness", "stop",
            f"The latest {event} must fall in the month being processed or the one before; otherwise the "
            "export is stale or of the wrong month (MoU annex 4d/4e: data every month).",
        ))
    used = sorted({v["$PARAMETER"] for e in ex for v in e["kwargs"].values() if isinstance(v, dict) and "$PARAMETER" in v})
    return {
        "name": ds.suite,
        "expectations": ex,
        "meta": {
            "sinergi": {
                "dataset": dataset,
                "about": f"Validation of {dataset}: {ds.en}",
                "parameters": {p: suites.PARAMETER_DOCS[p.split("_")[0] + "_*" if p.startswith(("vocab_", "ref_")) else p]
                               for p in used},
                "derived": derived,
                "table_checks": [{
                    "rule": "column_types", "severity": "stop",
                    "why": "Every registry column must have its canonical Arrow type (registry type string/date/"
                           "int/bool); checked on the Arrow table before GX runs, because pandas dtypes blur "
                           "dates and nullable integers.",
                }, {
                    "rule": "reject_share", "severity": "stop", "max_share": 0.05, "min_rows": 50,
                    "why": "When more than max_share of the month's source rows are quarantined or malformed, the "
                           "export itself is broken (a changed layout, a bad mapping, a truncated file): "
                           "publishing the rest would report a month with a hole in it as if it were complete. "
                           "The dataset stops, its previous publication stays as it was, and the month's run is "
                           "red until the source is fixed. Skipped below min_rows source rows, where one bad row "
                           "is already several percent.",
                }, {
                    "rule": "empty_month", "severity": "stop",
                    "why": "A month with no publishable row while the trailing months had rows is a missing or "
                           "broken export far more often than a month without events: it would replace the "
                           "previous publication with an empty one. The dataset stops unless the operator "
                           "confirms the month is really empty (DAG param allow_empty).",
                }],
            }
        },
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", action="append", choices=registry.names(),
                    help="draft only this dataset (repeatable; default: every dataset)")
    ap.add_argument("--write", action="store_true", help="write the files (default: print what would be written)")
    ap.add_argument("--force", action="store_true", help="overwrite existing files")
    ap.add_argument("--stdout", action="store_true", help="print the draft JSON instead of writing files")
    args = ap.parse_args(argv)
    for name in args.dataset or registry.names():
        if args.stdout:
            print(json.dumps(scaffold(name), indent=2, ensure_ascii=False))
            continue
        path = suites.suite_path(name)
        if path.exists() and not args.force:
            continue
        text = json.dumps(scaffold(name), indent=2, ensure_ascii=False) + "\n"
        if args.write:
            path.write_text(text, encoding="utf-8")
        print(f"{'wrote' if args.write else 'would write'} {path}")


if __name__ == "__main__":
    main()
