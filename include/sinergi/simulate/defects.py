"""Defect injection with ground truth.

Each injected defect becomes exactly one ledger entry (``month, dataset, record_id, kind, column,
detail``; writers add ``file`` and ``source_row``). The pipeline never reads the ledger; tests use it
to measure what extraction repairs and what validation rejects.

Kinds fall into three classes (validation's ledger tests code against these constants):

* ``ROW_DEFECTS`` - the row is wrong and validation must reject it (quarantine);
* ``REPAIRABLE_DEFECTS`` - the value is spelled differently but losslessly; extraction/normalisation
  must repair it and validation must NOT reject the row;
* ``BATCH_EVENTS`` - not a row defect: late records (last month's rows in this export) and schema
  drift (a renamed header that is a registered alias, or an extra column). Rows stay valid.
"""

from __future__ import annotations

import datetime as dt

from sinergi import regions, registry

from . import model as M

ROW_DEFECTS = frozenset({
    "nik_scientific",  # "1.80701E+15": digits lost
    "nik_lost_digits",  # leading characters stripped (14-15 digits)
    "nik_wrong_length",  # a digit too many or too few
    "nik_birthdate_mismatch",  # DDMMYY digits disagree with the birth date
    "bps_code_as_kemendagri",  # BPS code in the Kemendagri field (means another regency there)
    "duplicate_row",  # the same row twice
    "duplicate_id_conflict",  # the same record id twice with different values
    "future_date",  # a date after the export month
    "impossible_date",  # 31/02/2025, 00/07/2025, 15/13/2025 (files only)
    "events_out_of_order",  # e.g. departure before registration
    "unknown_country",  # a country spelling no vocabulary knows
    "missing_mandatory",  # a required value is empty
})
REPAIRABLE_DEFECTS = frozenset({
    "nik_excel_float",  # "1807014501950001.0" or a numeric XLSX cell: lossless (16 digits fit a double)
    "kabkota_variant",  # "LAMTIM", "lampung timur", "Kabupaten Lampung Timur"
    "whitespace_case",  # "  siti   aminah "
    "phone_format",  # "+62 812-3456-7890", "0812 3456 7890", "62812..."
})
BATCH_EVENTS = frozenset({"late_record", "schema_drift_rename", "schema_drift_extra_column"})
DEFECT_KINDS = ROW_DEFECTS | REPAIRABLE_DEFECTS | BATCH_EVENTS

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
            k += ["nik_excel_float", "nik_scientific", "nik_lost_digits", "nik_wrong_length"]
            if "birth_date" in self.cols and row.get("birth_date"):
                k.append("nik_birthdate_mismatch")
        code = row.get("_kab_code")
        # Only where a NIK sits beside it: 1801-1808 are valid Kemendagri codes too, so without the
        # NIK prefix nobody (no validation either) can tell a BPS code was meant.
        if code and "nik" in self.cols and regions.by_code()[code].bps_code != code:
            k.append("bps_code_as_kemendagri")
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

    def _nik_birthdate_mismatch(self, row):
        nik = row["nik"]
        dd = int(nik[6:8])
        base, day = (40, dd - 40) if dd > 40 else (0, dd)
        new = (day - 1 + int(self.r.integers(1, 6))) % 28 + 1
        if new == day:
            new = day % 28 + 1
        row["nik"] = nik[:6] + f"{base + new:02d}" + nik[8:]
        self._log(row, "nik_birthdate_mismatch", "nik", "NIK day digits disagree with the birth date")

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
