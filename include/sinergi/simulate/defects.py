"""Defect injection with ground truth.

Each injected defect becomes exactly one ledger entry (``month, dataset, record_id, kind, column,
detail``; writers add ``file`` and ``source_row``). The pipeline never reads the ledger; tests use it
to measure what extraction repairs and what validation rejects.

Kinds fall into four classes (validation's ledger tests code against these constants):

* ``ROW_DEFECTS`` - the row is wrong and validation must reject it (quarantine);
* ``REPAIRABLE_DEFECTS`` - the value is spelled differently but losslessly; extraction/normalisation
  must repair it and validation must NOT reject the row;
* ``WARNING_CASES`` - the row is how real, valid records look (a worker who moved, a regency split
  after the NIK was issued, a corrected birth date, a job title or destination the old lists lacked):
  validation must publish it, with the flag given here in ``data_quality_flags`` (None: no flag,
  the case is normal). Kind -> expected flag;
* ``BATCH_EVENTS`` - not a row defect: late records (last month's rows in this export), schema
  drift (a renamed header that is a registered alias, or an extra column), and with
  ``malformed_files`` trailing delimiters and an understated XLSX dimension. Rows stay valid.
"""

from __future__ import annotations

import datetime as dt

from sinergi import regions, registry

from . import model as M
from .sources import kabkota_spelling as render_kabkota

ROW_DEFECTS = frozenset({
    "nik_scientific",  # "1.80701E+15": digits lost
    "nik_precision_lost",  # a numeric cell of a NIK ending in 0 (Excel rounded the 16th digit, or it is
    #                        a real 0 nobody can tell from a rounded one): "1807014507900010.0"
    "nik_lost_digits",  # leading characters stripped (14-15 digits)
    "nik_wrong_length",  # a digit too many or too few
    "nik_impossible_date",  # DDMMYY digits that are no date (day 32-40 or over 71, month 13)
    "duplicate_row",  # the same row twice
    "duplicate_id_conflict",  # the same record id twice with different values
    "future_date",  # a date after the export month
    "impossible_date",  # 31/02/2025, 00/07/2025, 15/13/2025 (files only)
    "events_out_of_order",  # e.g. departure before registration
    "unknown_country",  # a country spelling no vocabulary knows
    "missing_mandatory",  # a required value is empty
    "malformed_line",  # a line that cannot be parsed: a stray quote, a field missing (sinergi.simulate.malformed)
})
REPAIRABLE_DEFECTS = frozenset({
    "nik_excel_float",  # "1807014501950001.0" or a numeric XLSX cell whose 16th digit is not 0: written
    #                     with full precision (Excel could not have), so it is trusted
    "kabkota_variant",  # "LAMTIM", "lampung timur", "Kabupaten Lampung Timur"
    "whitespace_case",  # "  siti   aminah "
    "phone_format",  # "+62 812-3456-7890", "0812 3456 7890", "62812..."
})
WARNING_CASES = {
    "nik_mover": "kabkota_matches_nik",  # lives in another kab/kota than the NIK's (moved since)
    "bps_code_as_kemendagri": "kabkota_matches_nik",  # a BPS code in the Kemendagri field: a valid code of
    #   another regency, told apart from a mover by nobody but the producer (flagged for them to check)
    "birth_date_corrected": "nik_birth_date_sex",  # the birth date was corrected; the NIK was not reissued
    "job_title_unmapped": "vocab:job_title",  # a job title the vocabulary does not know yet
    "nik_split_regency": None,  # a NIK of the parent regency, issued before the split: normal
    "destination_rare": None,  # a destination outside the 21 countries of the old list: known
}
BATCH_EVENTS = frozenset({"late_record", "schema_drift_rename", "schema_drift_extra_column",
                          "trailing_delimiter", "understated_dimension"})  # the last two: malformed_files
DEFECT_KINDS = ROW_DEFECTS | REPAIRABLE_DEFECTS | frozenset(WARNING_CASES) | BATCH_EVENTS

# Typos no spelling table can map (every ISO 3166-1 country and the usual aliases are known).
UNKNOWN_COUNTRIES = ("TAIWNA", "HONGKOK", "MALAYSAI", "SAUDI ARABIAH", "JEPANG NIPON", "SINGAPORA",
                     "KOREA SELATN")
IMPOSSIBLE_DATES = ("31/02/{y}", "30/02/{y}", "00/{m}/{y}", "15/13/{y}", "32/{m}/{y}", "31/04/{y}")
# Date pairs (earlier, later) whose order a defect can break, per dataset: the first and the last
# of the registry's date_order (datasets.yaml).
ORDERED_DATES = {name: (ds.date_order[0], ds.date_order[-1])
                 for name, ds in registry.datasets().items() if len(ds.date_order) >= 2}
# The event date that a "future" value is put into (the registry's event_date).
EVENT_DATE = {name: ds.event_date for name, ds in registry.datasets().items() if ds.event_date}
PHONE_COLUMNS = ("phone", "reporter_phone")
NAME_COLUMNS = ("full_name", "company_name", "institution_name", "facility_name")
# Job titles real exports carry that BP2MI's list of 14 lacks.
UNMAPPED_JOB_TITLES = ("PEKERJA RESTORAN", "Waiter", "SOPIR PRIBADI", "Tukang Las", "CLEANING SERVICE", "Koki",
                       "PERAWAT KEBUN", "Operator Forklift")
# Destinations outside the 21 countries of the project's first country list (Indonesian names).
RARE_DESTINATIONS = ("Rumania", "Hongaria", "Ceko", "Portugal", "Spanyol", "Fiji", "Mauritius", "Kamboja",
                     "Papua Nugini", "Kanada", "Belanda", "Vietnam")
# NIKs can only say where a person was first registered up to 2**53 when typed as a number.
_EXACT = 2**53


def _entry(month, dataset, row, record_id, kind, column, detail):
    return {"month": month, "dataset": dataset, "record_id": record_id, "kind": kind, "column": column,
            "detail": detail, "_row": row}


class Injector:
    """Damages rendered rows of one (dataset, month) and records what it did."""

    def __init__(self, dataset: str, month: str, seed: int, rate: float, sql: bool):
        self.ds = registry.get(dataset)
        self.dataset, self.month, self.rate, self.sql = dataset, month, rate, sql
        self.r = M.rng(seed, "defects", dataset, month)
        self.ledger: list[dict] = []
        cols = {c.name: c for c in self.ds.source_columns}
        self.cols = cols
        self.rid = self.ds.record_id
        self.date_cols = [c for c in cols.values() if c.type == "date" and c.name != "updated_at"]
        self.required = [c.name for c in cols.values() if c.required and c.name != self.rid]
        self.kab_col = next((c.name for c in cols.values() if c.normalise == "kabkota"), None)
        self.country_col = next((c.name for c in cols.values() if c.normalise == "country"), None)
        self.phone_col = next((n for n in PHONE_COLUMNS if n in cols), None)
        self.name_col = next((n for n in NAME_COLUMNS if n in cols), None)

    # ------------------------------------------------------------------ kinds applicable to a row
    def _kinds(self, row: dict) -> list[str]:
        k = []
        nik = row.get("nik")
        if isinstance(nik, str) and len(nik) == 16:
            k += ["nik_scientific", "nik_lost_digits", "nik_wrong_length", "nik_precision_lost",
                  "nik_impossible_date"]
            if nik[-1] != "0" and int(nik) < _EXACT:
                k.append("nik_excel_float")
            if "birth_date" in self.cols and isinstance(row.get("birth_date"), dt.date):
                k.append("birth_date_corrected")
        code = row.get("_kab_code")
        # Only where a NIK sits beside it: 1801-1808 are valid Kemendagri codes too, so without the
        # NIK prefix nobody (no validation either) can tell a BPS code was meant.
        if code and "nik" in self.cols and regions.by_code()[code].bps_code != code:
            k.append("bps_code_as_kemendagri")
        if code and isinstance(nik, str) and len(nik) == 16 and nik[:4] == code:
            k.append("nik_mover")
            if self._split_parent(row) is not None:
                k.append("nik_split_regency")
        if isinstance(row.get("job_title"), str) and self.cols["job_title"].vocabulary == "job_title":
            k.append("job_title_unmapped")
        if self.country_col == "destination_country" and row.get(self.country_col):
            k.append("destination_rare")
        if code:
            k.append("kabkota_variant")
        if self.name_col and row.get(self.name_col):
            k.append("whitespace_case")
        if self.phone_col and isinstance(row.get(self.phone_col), str) and row[self.phone_col].startswith("08"):
            k.append("phone_format")
        if not self.sql:
            k += ["duplicate_row", "duplicate_id_conflict", "impossible_date"]
        if row.get(EVENT_DATE.get(self.dataset, "")):
            k.append("future_date")
        pair = ORDERED_DATES.get(self.dataset)
        if pair and row.get(pair[0]) and (row.get(pair[1]) or self.dataset == "complaints"):
            k.append("events_out_of_order")
        if self.country_col and row.get(self.country_col):
            k.append("unknown_country")
        if self.required:
            k.append("missing_mandatory")
        return k

    # ------------------------------------------------------------------ apply
    def apply(self, rows: list[dict], kab_codes: list[str | None]) -> list[dict]:
        for row, code in zip(rows, kab_codes, strict=True):
            row["_kab_code"] = code
        for row in rows:
            if row.get("_late"):
                self.ledger.append(_entry(self.month, self.dataset, row, row[self.rid], "late_record", None,
                                          "event of the previous month first exported in this month"))
        out = list(rows)
        if self.rate > 0 and rows:
            n = int(self.r.binomial(len(rows), min(self.rate, 1.0)))
            picks = sorted(self.r.choice(len(rows), size=n, replace=False)) if n else []
            extra: list[tuple[int, dict]] = []
            for j in picks:
                row = rows[j]
                kinds = self._kinds(row)
                if not kinds:
                    continue
                kind = kinds[int(self.r.integers(0, len(kinds)))]
                dup = getattr(self, f"_{kind}")(row)
                if dup is not None:
                    extra.append((j, dup))
            after: dict[int, list[dict]] = {}
            for j, dup in extra:  # a copy lands right after (or a little after) its original
                after.setdefault(min(len(rows) - 1, j + int(self.r.integers(0, 3))), []).append(dup)
            out = []
            for j, row in enumerate(rows):
                out.append(row)
                out += after.get(j, [])
        for row in out:
            row.pop("_kab_code", None)
        return out

    def _log(self, row, kind, column, detail):
        self.ledger.append(_entry(self.month, self.dataset, row, row[self.rid], kind, column, detail))

    # NIKs ----------------------------------------------------------------
    def _nik_excel_float(self, row):
        row["nik"] = float(int(row["nik"]))  # writers: numeric XLSX cell or "…0001.0" in CSV
        self._log(row, "nik_excel_float", "nik", "NIK stored as a number")

    def _nik_precision_lost(self, row):
        nik = row["nik"]
        row["nik"] = float(int(nik[:15] + "0"))  # what Excel stores: 15 significant digits
        self._log(row, "nik_precision_lost", "nik",
                  "NIK stored as a number ending in 0" + (" (16th digit rounded)" if nik[-1] != "0" else ""))

    def _nik_impossible_date(self, row):
        nik = row["nik"]
        dd = int(nik[6:8])
        bad = ("32", "00", "72")[int(self.r.integers(0, 3))] if self.r.random() < 0.6 else None
        row["nik"] = nik[:6] + bad + nik[8:] if bad else nik[:8] + ("13", "00")[dd % 2] + nik[10:]
        self._log(row, "nik_impossible_date", "nik", "NIK date digits are no date")

    def _split_parent(self, row) -> tuple[str, int] | None:
        """(parent code, split year) when the row's regency was split off from another after the
        person was born: a NIK of the parent regency is then expected."""
        code = row["_kab_code"]
        born = row.get("birth_date")
        year = born.year if isinstance(born, dt.date) else 1900 + int(row["nik"][10:12])
        for parent, child, split in regions.lineage_pairs():
            if child == code and year < split:
                return parent, split
        return None

    def _nik_split_regency(self, row):
        parent, split = self._split_parent(row)
        row["nik"] = parent + row["nik"][4:]
        self._log(row, "nik_split_regency", "nik", f"NIK of {parent}, issued before {row['_kab_code']} was "
                  f"split off in {split}")

    def _nik_mover(self, row):
        nik_code = row["nik"][:4]
        explained = {child for parent, child, _ in regions.lineage_pairs() if parent == nik_code}
        options = [r.kemendagri_code for r in regions.lampung()
                   if r.kemendagri_code != nik_code and r.kemendagri_code not in explained]
        new = options[int(self.r.integers(0, len(options)))]
        row[self.kab_col] = render_kabkota(self.ds.source.system, new)
        self._log(row, "nik_mover", self.kab_col, f"lives in {new}, NIK of {nik_code}")

    def _birth_date_corrected(self, row):
        b = row["birth_date"]
        shift = dt.timedelta(days=int(self.r.integers(1, 60)) * (1 if self.r.random() < 0.5 else -1))
        row["birth_date"] = b + shift
        self._log(row, "birth_date_corrected", "birth_date", "birth date corrected after the NIK was issued")

    def _job_title_unmapped(self, row):
        row["job_title"] = UNMAPPED_JOB_TITLES[int(self.r.integers(0, len(UNMAPPED_JOB_TITLES)))]
        self._log(row, "job_title_unmapped", "job_title", "a job title the vocabulary does not know")

    def _destination_rare(self, row):
        name = RARE_DESTINATIONS[int(self.r.integers(0, len(RARE_DESTINATIONS)))]
        row[self.country_col] = name.upper() if self.ds.source.system in ("siskop2mi", "dinsos") else name
        self._log(row, "destination_rare", self.country_col, "a destination outside the old top 21")

    def _nik_scientific(self, row):
        row["nik"] = f"{int(row['nik']):.5E}".replace("E+", "E+")  # 1.80701E+15 as Excel shows it
        self._log(row, "nik_scientific", "nik", "NIK in scientific notation")

    def _nik_lost_digits(self, row):
        k = int(self.r.integers(1, 3))
        row["nik"] = row["nik"][k:]
        self._log(row, "nik_lost_digits", "nik", f"first {k} digit(s) lost")

    def _nik_wrong_length(self, row):
        nik = row["nik"]
        if self.r.random() < 0.5:
            row["nik"] = nik[:10] + nik[11:]
            detail = "15 digits"
        else:
            row["nik"] = nik + str(int(self.r.integers(0, 10)))
            detail = "17 digits"
        self._log(row, "nik_wrong_length", "nik", detail)

    # regions ---------------------------------------------------------------
    def _bps_code_as_kemendagri(self, row):
        code = row["_kab_code"]
        row[self.kab_col] = regions.by_code()[code].bps_code
        self._log(row, "bps_code_as_kemendagri", self.kab_col, "BPS code written in the Kemendagri field")

    def _kabkota_variant(self, row):
        r = regions.by_code()[row["_kab_code"]]
        current = row[self.kab_col]
        options = [r.name.upper(), r.name.lower(), f"Kabupaten {r.name}" if r.kind == "kabupaten" else f"Kota {r.name}",
                   f"  {r.official_name.upper()} ", *r.aliases, f"{'KAB' if r.kind == 'kabupaten' else 'KOTA'} {r.name.upper()}"]
        options = [o for o in options if o != current]
        row[self.kab_col] = options[int(self.r.integers(0, len(options)))]
        self._log(row, "kabkota_variant", self.kab_col, "kab/kota spelled differently")

    # text -------------------------------------------------------------------
    def _whitespace_case(self, row):
        v = row[self.name_col]
        style = int(self.r.integers(0, 3))
        if style == 0:
            v = "  " + v.lower() + " "
        elif style == 1:
            v = v.upper().replace(" ", "   ") + "  "
        else:
            v = "\t" + v.title().replace(" ", "  ")
        row[self.name_col] = v
        self._log(row, "whitespace_case", self.name_col, "stray whitespace / case")

    def _phone_format(self, row):
        p = row[self.phone_col]
        sub = p[1:]  # without the trunk 0
        fmts = [f"+62 {sub[:3]}-{sub[3:7]}-{sub[7:]}", f"62{sub}", f"{p[:4]} {p[4:8]} {p[8:]}",
                f"({p[:4]}) {p[4:]}", f"+62{sub}", f"{p[:4]}-{p[4:8]}-{p[8:]}", f"+62 ({sub[:3]}) {sub[3:]}"]
        row[self.phone_col] = fmts[int(self.r.integers(0, len(fmts)))]
        self._log(row, "phone_format", self.phone_col, "phone number in another format")

    # duplicates -----------------------------------------------------------
    def _duplicate_row(self, row):
        self._log(row, "duplicate_row", None, "row repeated")
        copy = dict(row)
        self.ledger[-1]["_row"] = copy  # the ledger points at the added copy
        return copy

    def _duplicate_id_conflict(self, row):
        copy = dict(row)
        # Not the birth date: that would also break the NIK, a second defect in one row.
        candidates = [c for c in (self.name_col, *(d.name for d in self.date_cols if d.name != "birth_date"))
                      if c and row.get(c)]
        col = candidates[int(self.r.integers(0, len(candidates)))] if candidates else None
        if col is None:
            return None
        if isinstance(row[col], dt.date):
            copy[col] = row[col] - dt.timedelta(days=int(self.r.integers(1, 20)))
        else:
            copy[col] = row[col] + " " + ("BINTI", "BIN", "SRI")[int(self.r.integers(0, 3))]
        self._log(copy, "duplicate_id_conflict", col, "same id, different value")
        self.ledger[-1]["_row"] = copy
        return copy

    # dates ---------------------------------------------------------------------
    def _future_date(self, row):
        col = EVENT_DATE[self.dataset]
        y, m = M.parse_month(self.month)
        row[col] = dt.date(y + int(self.r.integers(1, 4)), m, min(row[col].day, 28))
        self._log(row, "future_date", col, "date after the export month")

    def _impossible_date(self, row):
        cols = [c.name for c in self.date_cols]
        col = EVENT_DATE.get(self.dataset) if EVENT_DATE.get(self.dataset) in cols else cols[0]
        y, m = M.parse_month(self.month)
        tpl = IMPOSSIBLE_DATES[int(self.r.integers(0, len(IMPOSSIBLE_DATES)))]
        row[col] = tpl.format(y=y, m=f"{m:02d}")
        self._log(row, "impossible_date", col, "date that does not exist")

    def _events_out_of_order(self, row):
        first, second = ORDERED_DATES[self.dataset]
        gap = dt.timedelta(days=int(self.r.integers(3, 40)))
        if self.dataset in ("placements", "cpmi_registrations", "trainings", "complaints", "job_orders"):
            # move the later event before the earlier one (keeps the month's event date where it is)
            if self.dataset == "placements":
                row["registration_date"] = row["departure_date"] + gap
                col = "registration_date"
            else:
                row[second] = row[first] - gap
                col = second
        else:
            row[first] = row[second] + gap
            col = first
        self._log(row, "events_out_of_order", col, f"{first} after {second}")

    # other -------------------------------------------------------------------------
    def _unknown_country(self, row):
        row[self.country_col] = UNKNOWN_COUNTRIES[int(self.r.integers(0, len(UNKNOWN_COUNTRIES)))]
        self._log(row, "unknown_country", self.country_col, "country spelling not in any vocabulary")

    def _missing_mandatory(self, row):
        col = self.required[int(self.r.integers(0, len(self.required)))]
        row[col] = None
        self._log(row, "missing_mandatory", col, "required value empty")


def schema_drift(dataset: str, month: str, seed: int, rate: float) -> tuple[dict, dict | None]:
    """Per (dataset, month): maybe rename one header to a registered alias or add a column.

    Returns ({canonical column: header written}, extra column {"header": ..., "value": ...} or None)
    and the ledger entries are made by the caller.
    """
    ds = registry.get(dataset)
    headers = {c.name: c.headers[0] for c in ds.source_columns}
    if rate <= 0:
        return headers, None
    r = M.rng(seed, "drift", dataset, month)
    if r.random() >= min(0.5, rate * 4):
        return headers, None
    renamable = [c for c in ds.source_columns if len(c.headers) > 1 and c.name != ds.record_id]
    if renamable and r.random() < 0.6:
        col = renamable[int(r.integers(0, len(renamable)))]
        headers[col.name] = col.headers[1 + int(r.integers(0, len(col.headers) - 1))]
        return headers, {"rename": col.name}
    return headers, {"extra": ("KETERANGAN", "NO URUT", "PETUGAS INPUT")[int(r.integers(0, 3))]}
