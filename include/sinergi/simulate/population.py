"""The synthetic world: one population of people, one lifecycle per person, reference entities.

Everything is drawn with numpy from seeded streams (``model.rng``) as struct-of-arrays, so a
national month (~200k people incl. lead-in cohorts) builds in about a second. ``World.records``
returns the *canonical, clean* records (canonical column names, codes, ``datetime.date``) of one
dataset and month; ``sources`` renders them into source spellings and ``defects`` damages them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sinergi import regions

from . import model as M
from .model import month_add, month_end, month_start, to_date

LEAD_MONTHS = 5  # cohorts registered before the window, so the first window month is in steady state
DAY = np.timedelta64(1, "D")


def _days(r: np.random.Generator, lo: int, hi: int, n: int) -> np.ndarray:
    return r.integers(lo, hi + 1, size=n) * DAY


@dataclass
class People:
    """All people of the world (struct of arrays); indices into these arrays are person ids."""

    kab: list = field(default_factory=list)
    female: list = field(default_factory=list)
    birth: list = field(default_factory=list)
    n: int = 0

    def add(self, kab: np.ndarray, female: np.ndarray, birth: np.ndarray) -> np.ndarray:
        idx = np.arange(self.n, self.n + len(kab))
        self.kab.append(np.asarray(kab, dtype=object))
        self.female.append(np.asarray(female, dtype=bool))
        self.birth.append(np.asarray(birth, dtype="datetime64[D]"))
        self.n += len(kab)
        return idx

    def finalize(self, seed: int) -> None:
        r = M.rng(seed, "people")
        self.kab = np.concatenate(self.kab)
        self.female = np.concatenate(self.female)
        self.birth = np.concatenate(self.birth)
        n = self.n
        self.kec = r.integers(1, 25, size=n)
        self.nik = M.unique_niks(r, self.kab.astype(np.int64), self.kec, self.birth, self.female)
        pools = M.name_pools()
        nf, nm = len(pools["female"]), len(pools["male"])
        self.first = np.where(self.female, r.integers(0, nf, n), r.integers(0, nm, n))
        self.second = np.where(r.random(n) < 0.35, np.where(self.female, r.integers(0, nf, n), r.integers(0, nm, n)), -1)
        nlf, nlm = len(pools["last_female"]), len(pools["last_male"])
        self.last = np.where(r.random(n) < 0.6, np.where(self.female, r.integers(0, nlf, n), r.integers(0, nlm, n)), -1)
        self.street = r.integers(0, len(pools["streets"]), n)
        self.house = r.integers(1, 200, n)
        self.rt = r.integers(1, 30, n)
        self.rw = r.integers(1, 12, n)
        self.desa = r.integers(0, len(M.DESA_WORDS), n)
        self.dusun = r.random(n) < 0.3
        self.phone_prefix = r.integers(0, len(M.MOBILE_PREFIXES), n)
        self.phone_digits = r.integers(1_000_000, 99_999_999, n)
        self.foreign_digits = r.integers(10_000_000, 99_999_999, n)
        self.has_email = r.random(n) < 0.55
        self.email_num = r.integers(1, 999, n)
        self.passport = r.integers(1_000_000, 9_999_999, n)
        self.passport_letter = r.integers(0, 4, n)
        self.education = M.weighted(r, M.EDUCATION_WEIGHTS, n)

    # -- string fields, built only for exported rows
    def nik_str(self, i: int) -> str:
        return f"{self.nik[i]:016d}"

    def full_name(self, i: int) -> str:
        pools = M.name_pools()
        first = pools["female" if self.female[i] else "male"]
        parts = [first[self.first[i]]]
        if self.second[i] >= 0 and self.second[i] != self.first[i]:
            parts.append(first[self.second[i]])
        if self.last[i] >= 0:
            parts.append(pools["last_female" if self.female[i] else "last_male"][self.last[i]])
        return " ".join(parts)

    def address(self, i: int) -> str:
        street = M.name_pools()["streets"][self.street[i]]
        desa = M.DESA_WORDS[self.desa[i]]
        if self.dusun[i]:
            return f"Dusun {self.rw[i]}, RT {self.rt[i]:03d}/RW {self.rw[i]:03d}, Desa {desa}"
        return f"Jl. {street} No. {self.house[i]}, RT {self.rt[i]:03d}/RW {self.rw[i]:03d}, {desa}"

    def phone(self, i: int) -> str:
        return f"{M.MOBILE_PREFIXES[self.phone_prefix[i]]}{self.phone_digits[i]}"

    def phone_abroad(self, i: int, country: str) -> str:
        """A worker abroad often uses a local number (+886, +852, +60, +65)."""
        if country in M.FOREIGN_MOBILE and self.foreign_digits[i] % 2 == 0:
            prefix, k = M.FOREIGN_MOBILE[country]
            return f"{prefix}{self.foreign_digits[i] % 10**k:0{k}d}"
        return self.phone(i)

    def email(self, i: int) -> str | None:
        if not self.has_email[i]:
            return None
        first = M.name_pools()["female" if self.female[i] else "male"][self.first[i]]
        local = "".join(ch for ch in first.lower() if ch.isalnum())
        domain = ("gmail.com", "yahoo.co.id", "gmail.com", "yahoo.com")[self.email_num[i] % 4]
        return f"{local}{self.email_num[i]}@{domain}"

    def passport_no(self, i: int) -> str:
        return f"{'CEXB'[self.passport_letter[i]]}{self.passport[i]}"

    def person(self, i: int) -> dict:
        return {
            "nik": self.nik_str(i), "full_name": self.full_name(i), "sex": "P" if self.female[i] else "L",
            "birth_date": to_date(self.birth[i]), "kabkota_code": self.kab[i],
        }


def _attributes(r: np.random.Generator, n: int, lampung_share: float) -> dict[str, np.ndarray]:
    """Who a (prospective) migrant worker is and where they go."""
    lampung = r.random(n) < lampung_share
    lam_codes, lam_w = M.lampung_codes()
    others = M.other_codes()
    kab = np.where(lampung, np.array(lam_codes, dtype=object)[r.choice(len(lam_codes), n, p=lam_w)],
                   np.array(others, dtype=object)[r.integers(0, len(others), n)])
    female = r.random(n) < np.where(lampung, M.FEMALE_SHARE_LAMPUNG, M.FEMALE_SHARE_OTHER)
    country = M.weighted(r, M.COUNTRY_WEIGHTS, n)
    informal = r.random(n) < np.array([M.INFORMAL_BY_COUNTRY[c] for c in country])
    job = M.weighted(r, M.INFORMAL_JOBS, n)
    for c, jobs in M.FORMAL_JOBS.items():
        sel = ~informal & ((country == c) if c != "*" else ~np.isin(country, [k for k in M.FORMAL_JOBS if k != "*"]))
        if sel.any():
            job[sel] = M.weighted(r, jobs, int(sel.sum()))
    u = r.random(n)
    scheme = np.where(u < 0.9, "P to P", np.where(u < 0.93, "Perseorangan", np.where(u < 0.96, "UKPS", "Perpanjangan PK Luar Negeri"))).astype(object)
    scheme[country == "KR"] = "G to G"
    jp = country == "JP"
    scheme[jp] = np.where(r.random(int(jp.sum())) < 0.6, "SSW", "P to P")
    return {"lampung": lampung, "kab": kab, "female": female, "country": country, "informal": informal,
            "job": job, "scheme": scheme}


def _births(r: np.random.Generator, ref: np.ndarray) -> np.ndarray:
    """Birth dates for ages 18-45 at ``ref`` (most 22-35)."""
    age_days = (np.clip(r.normal(29, 6, len(ref)), 18.2, 45.8) * 365.25).astype(int)
    return ref - age_days * DAY


class World:
    """The simulated world for a window of months."""

    def __init__(self, month: str, months: int, scale: M.Scale, seed: int, defect_rate: float):
        self.seed, self.scale, self.defect_rate = seed, scale, defect_rate
        self.window = [month_add(month, k) for k in range(months)]
        self.first, self.last = self.window[0], self.window[-1]
        self.people = People()
        self._reference_entities()
        self._cohorts()
        self._historical_returns()
        self._complaints_people()
        self._empowerment_people()
        self.people.finalize(seed)
        self._job_orders()
        self._ids()

    # ------------------------------------------------------------------ reference entities
    def _reference_entities(self) -> None:
        r = M.rng(self.seed, "reference")
        s = self.scale
        lam_codes, lam_w = M.lampung_codes()
        all_codes = [x.kemendagri_code for x in regions.regions()]
        W = M.COMPANY_WORDS
        # P3MI register (national): codes, names, licences; ~45 % with a verified Lampung branch.
        n = s.p3mi
        self.p3mi = []
        for i in range(n):
            a, b, c = r.choice(len(W), 3, replace=False)
            u = r.random()
            self.p3mi.append({
                "p3mi_id": f"P3MI-{i + 1:04d}",
                "company_name": f"PT. {W[a]} {W[b]} {W[c]}",
                "license_number": f"B.{r.integers(100, 999)}/KP2MI/SIP3MI/{r.integers(2015, 2025)}",
                "license_status": "aktif" if u < 0.9 else ("dibekukan" if u < 0.96 else "dicabut"),
                "license_date": to_date(np.datetime64("2015-01-01") + int(r.integers(0, 3650)) * DAY),
                "kabkota_code": lam_codes[int(r.choice(len(lam_codes), p=lam_w))] if r.random() < 0.3
                else all_codes[int(r.integers(0, len(all_codes)))],
                "operates_in_lampung": bool(r.random() < 0.45 or i < 3),
            })
        self.p3mi_active = np.array([i for i, p in enumerate(self.p3mi) if p["license_status"] == "aktif"])
        self.p3mi_lampung = np.array([i for i in self.p3mi_active if self.p3mi[i]["operates_in_lampung"]])
        # Dinkes-licensed health facilities (Lampung), at least one in each big regency.
        self.facilities = []
        counts: dict[str, int] = {}
        for i in range(s.facilities):
            kab = lam_codes[i] if i < min(4, s.facilities) else lam_codes[int(r.choice(len(lam_codes), p=lam_w))]
            counts[kab] = counts.get(kab, 0) + 1
            hospital = r.random() < 0.3
            a, b = r.choice(len(W), 2, replace=False)
            name = regions.by_code()[kab].name
            self.facilities.append({
                "facility_id": f"SK-{kab}-{counts[kab]:02d}",
                "facility_name": f"RS {W[a]} {name}" if hospital else f"Klinik Utama {W[a]} {W[b]}",
                "facility_type": "rumah sakit" if hospital else "klinik",
                "license_number": f"440/{r.integers(100, 9999)}/IV.02/{r.integers(2019, 2025)}",
                "license_valid_until": to_date(np.datetime64("2026-01-01") + int(r.integers(0, 1000)) * DAY),
                "kabkota_code": kab,
            })
        # Training institutions (LPK / BLK-LN) in Lampung, in the Disnaker database.
        self.institutions = []
        for i in range(s.institutions):
            blk = r.random() < 0.3
            a, b = r.choice(len(W), 2, replace=False)
            u = r.random()
            created = np.datetime64("2018-01-01") + int(r.integers(0, 2400)) * DAY
            self.institutions.append({
                "institution_id": f"{'BLKLN' if blk else 'LPK'}-{i + 1:04d}",
                "institution_name": f"{'BLK-LN PT.' if blk else 'LPK'} {W[a]} {W[b]}",
                "institution_type": "BLK-LN" if blk else "LPK",
                "license_number": f"KEP.{r.integers(10, 999)}/{'BLKLN' if blk else 'LPK'}/{r.integers(2016, 2025)}",
                "license_status": "aktif" if (u < 0.9 or i < 2) else ("dibekukan" if u < 0.96 else "dicabut"),
                "kabkota_code": lam_codes[int(r.choice(len(lam_codes), p=lam_w))],
                "_created": created,
            })
        self.inst_active = np.array([i for i, x in enumerate(self.institutions) if x["license_status"] == "aktif"])

    # ------------------------------------------------------------------ CPMI cohorts
    def _cohorts(self) -> None:
        s = self.scale
        parts = []
        for k in range(-LEAD_MONTHS, len(self.window)):
            c = month_add(self.first, k)
            r = M.rng(self.seed, "cohort", c)
            n = int(r.poisson(s.placements * M.REGISTRATION_RATIO))
            a = _attributes(r, n, s.lampung_share)
            start, end = month_start(c), month_end(c)
            ndays = int((end - start) / DAY) + 1
            reg = start + r.integers(0, ndays, n) * DAY
            u = r.random(n)
            placed = u < 1 / M.REGISTRATION_RATIO
            unfit = ~placed & (u < 1 / M.REGISTRATION_RATIO + M.UNFIT_SHARE)
            failed = ~placed & ~unfit
            v = r.random(n)
            verif = np.where(placed | unfit, "terverifikasi",
                             np.where(v < 0.4, "ditolak", np.where(v < 0.7, "belum diverifikasi", "terverifikasi"))).astype(object)
            verif_date = reg + _days(r, 0, 10, n)
            has_health = placed | unfit | ((verif == "terverifikasi") & (r.random(n) < 0.5))
            health = reg + _days(r, 7, 35, n)
            lang = np.isin(a["country"], ["JP", "KR"]) | ((a["country"] == "TW") & (r.random(n) < 0.2))
            has_train = a["lampung"] & (r.random(n) < np.where(a["informal"] | lang, 0.95, 0.5))
            t_start = reg + _days(r, 3, 20, n)
            t_end = t_start + np.where(lang, r.integers(45, 90, n), r.integers(20, 45, n)) * DAY
            t_pass = placed | (r.random(n) < 0.8)
            base = np.maximum(reg + 45 * DAY, np.where(has_health, health + 7 * DAY, reg))
            base = np.maximum(base, np.where(has_train, t_end + 3 * DAY, reg))
            dep = base + _days(r, 0, 40, n)
            opp = dep - _days(r, 2, 10, n)
            early = placed & (r.random(n) < 0.02)  # sick, problem or leave returns within months
            ret = dep + _days(r, 30, 300, n)
            ret_status = M.weighted(r, {"sakit": 3, "terkendala": 4, "deportasi": 2, "meninggal": 0.6, "cuti": 2}, n)
            init = reg - _days(r, 1, 30, n)
            birth = _births(r, reg)
            pid = self.people.add(a["kab"], a["female"], birth)
            parts.append({
                "person": pid, "cohort": np.full(n, c, dtype=object), **a, "reg": reg, "placed": placed,
                "unfit": unfit, "failed": failed, "verif": verif, "verif_date": verif_date,
                "has_health": has_health, "health": health, "lang": lang, "has_train": has_train,
                "t_start": t_start, "t_end": t_end, "t_pass": t_pass, "dep": dep, "opp": opp,
                "early": early, "ret": ret, "ret_status": ret_status, "init": init,
                "facility": r.integers(0, len(self.facilities), n),
                "institution": self.inst_active[r.integers(0, len(self.inst_active), n)],
            })
            # kab/kota registrants who never reach SISKOP2MI (Lampung only, Disnaker database).
            m = int(r.poisson(n * s.lampung_share * M.INITIAL_ONLY_SHARE))
            if m:
                b = _attributes(r, m, 1.0)
                d = start + r.integers(0, ndays, m) * DAY
                self._initial_only = getattr(self, "_initial_only", [])
                self._initial_only.append({"person": self.people.add(b["kab"], b["female"], _births(r, d)),
                                           "date": d, **b})
        self.c = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        io = getattr(self, "_initial_only", [])
        self.io = {k: np.concatenate([p[k] for p in io]) for k in io[0]} if io else None

    # ------------------------------------------------------------------ people abroad before the window
    def _historical(self, r: np.random.Generator, n: int, ref: np.ndarray, lampung_share: float,
                    min_months: int, max_months: int) -> dict:
        a = _attributes(r, n, lampung_share)
        dep = ref - r.integers(min_months * 30, max_months * 30 + 1, n) * DAY
        person = self.people.add(a["kab"], a["female"], _births(r, dep))
        p3 = np.where(a["lampung"], self.p3mi_lampung[r.integers(0, len(self.p3mi_lampung), n)],
                      self.p3mi_active[r.integers(0, len(self.p3mi_active), n)])
        return {"person": person, "dep": dep, "p3mi": p3, **a}

    def _historical_returns(self) -> None:
        self.hist_returns = {}
        for m in [month_add(self.first, -1), *self.window]:
            r = M.rng(self.seed, "returns", m)
            n = int(r.poisson(self.scale.placements * M.RETURNS_PER_PLACEMENT))
            start = month_start(m)
            ndays = int((month_end(m) - start) / DAY) + 1
            ret = start + r.integers(0, ndays, n) * DAY
            status = M.weighted(r, M.RETURN_STATUS_WEIGHTS, n)
            h = self._historical(r, n, ret, self.scale.lampung_share, 2, 20)
            long = np.isin(status, ["habis kontrak"])
            h["dep"] = np.where(long, ret - r.integers(700, 1100, n) * DAY, h["dep"])
            h["ret"], h["status"] = ret, status
            self.hist_returns[m] = h

    def _complaints_people(self) -> None:
        self.hist_complaints = {}
        for m in self.window:
            r = M.rng(self.seed, "complaints", m)
            n = max(self.scale.min_rows, int(r.poisson(self.scale.placements * M.COMPLAINTS_PER_PLACEMENT)))
            start = month_start(m)
            ndays = int((month_end(m) - start) / DAY) + 1
            date = start + r.integers(0, ndays, n) * DAY
            h = self._historical(r, n, date, self.scale.lampung_share * M.COMPLAINT_LAMPUNG_FACTOR, 1, 20)
            h["date"] = date
            self.hist_complaints[m] = h

    def _empowerment_people(self) -> None:
        self.emp = {}
        for m in self.window:
            r = M.rng(self.seed, "empowerment", m)
            lam_returns = self.scale.placements * M.RETURNS_PER_PLACEMENT * self.scale.lampung_share
            n = max(self.scale.min_rows, int(r.poisson(lam_returns * 0.15)))
            start = month_start(m)
            ndays = int((month_end(m) - start) / DAY) + 1
            date = start + r.integers(0, ndays, n) * DAY
            h = self._historical(r, n, date, 1.0, 3, 30)  # returned workers (Lampung) and their families
            h["date"] = date
            h["family"] = r.random(n) < 0.4
            h["program"] = M.weighted(r, {"kewirausahaan": 0.4, "pelatihan keterampilan": 0.3,
                                          "literasi keuangan": 0.2, "pendampingan sosial": 0.1}, n)
            self.emp[m] = h

    # ------------------------------------------------------------------ job orders
    def _job_orders(self) -> None:
        r = M.rng(self.seed, "job_orders")
        c = self.c
        idx = np.flatnonzero(c["placed"])
        # Group placed people by (departure month, Lampung?, country, job, sector); vectorised.
        _, cc = np.unique(c["country"][idx].astype(str), return_inverse=True)
        _, jj = np.unique(c["job"][idx].astype(str), return_inverse=True)
        dm = c["dep"][idx].astype("datetime64[M]").astype(np.int64)
        key = (((dm * 2 + c["lampung"][idx]) * 64 + cc) * 64 + jj) * 2 + c["informal"][idx]
        order = np.lexsort((idx, key))
        idx, key = idx[order], key[order]
        bounds = np.flatnonzero(np.r_[True, key[1:] != key[:-1], True])
        self.orders = []
        self.c_order = np.full(len(c["reg"]), -1)
        for b0, b1 in zip(bounds[:-1], bounds[1:], strict=True):
            members = idx[b0:b1]
            k0 = members[0]
            lampung, country, job, informal = bool(c["lampung"][k0]), c["country"][k0], c["job"][k0], bool(c["informal"][k0])
            size = int(r.integers(10, 61))
            for off in range(0, len(members), size):
                chunk = members[off:off + size]
                pool = self.p3mi_lampung if lampung else self.p3mi_active
                p3 = int(pool[r.integers(0, len(pool))])
                issued = c["reg"][chunk].min() - int(r.integers(10, 60)) * DAY
                self.c_order[chunk] = len(self.orders)
                self.orders.append({
                    "p3mi": p3, "country": country, "job": job, "informal": informal,
                    "quota": len(chunk) + int(r.integers(0, 10)), "issued": issued,
                    "valid_until": issued + 365 * DAY,
                    "min_education": "SMP" if informal else ("SMA/SMK" if country in ("JP", "KR") else "SD"),
                })
        # Open orders that nobody from the simulated cohorts fills (yet).
        n_extra = max(3, len(self.orders) // 10)
        a = _attributes(r, n_extra, 0.0)
        for k in range(n_extra):
            issued = month_start(self.first) - int(r.integers(0, 200)) * DAY
            self.orders.append({
                "p3mi": int(self.p3mi_active[r.integers(0, len(self.p3mi_active))]), "country": a["country"][k],
                "job": a["job"][k], "informal": bool(a["informal"][k]), "quota": int(r.integers(5, 60)),
                "issued": issued, "valid_until": issued + 365 * DAY,
                "min_education": "SMP" if a["informal"][k] else "SD",
            })
        order_issued = np.array([o["issued"] for o in self.orders], dtype="datetime64[D]")
        order_month = order_issued.astype("datetime64[M]")
        for j in np.lexsort((np.arange(len(self.orders)), order_issued)):
            o = self.orders[j]
            o["id_month"] = str(order_month[j])
        seq: dict[str, int] = {}
        for j in np.lexsort((np.arange(len(self.orders)), order_issued)):
            o = self.orders[j]
            seq[o["id_month"]] = seq.get(o["id_month"], 0) + 1
            o["job_order_id"] = f"JO-{o['id_month'][2:4]}{o['id_month'][5:7]}-{seq[o['id_month']]:05d}"

    # ------------------------------------------------------------------ record ids
    def _ids(self) -> None:
        c = self.c
        self.c_reg_id = _sequence_ids("CPMI", c["reg"])
        self.c_pl_id = _sequence_ids("PN", c["dep"], c["placed"])
        self.c_init_id = _sequence_ids("DFT", c["init"], c["lampung"])
        self.c_train_id = _sequence_ids("PLT", c["t_start"], c["has_train"])
        self.c_check_id = _sequence_ids("MCU", c["health"], c["has_health"] & c["lampung"])
        self.c_epmi = {i: f"EPMI{int(self.people.nik[c['person'][i]] % 10**9):09d}" for i in np.flatnonzero(c["placed"])}
        if self.io is not None:
            self.io_id = _sequence_ids("DFT", self.io["date"], None, offset=500000)

    # ------------------------------------------------------------------ export assembly helpers
    def late_flags(self, label: str, n: int) -> np.ndarray:
        """Which events arrive one month late (defect ``late_record``)."""
        if self.defect_rate <= 0:
            return np.zeros(n, dtype=bool)
        return M.rng(self.seed, "late", label).random(n) < self.defect_rate * 0.15

    def export_months(self, label: str, dates: np.ndarray, mask: np.ndarray | None = None, late: bool = True):
        """(export month per event as 'YYYY-MM', late flag) for events on ``dates``."""
        late = self.late_flags(label, len(dates)) if late else np.zeros(len(dates), dtype=bool)
        m = dates.astype("datetime64[M]") + late.astype(int)
        out = m.astype(str).astype(object)
        if mask is not None:
            out[~mask] = None
        return out, late


def _sequence_ids(prefix: str, dates: np.ndarray, mask: np.ndarray | None = None, offset: int = 0) -> np.ndarray:
    """``PREFIX-YYMM-NNNNNN`` ids numbered by date within each month (stable: ties by position)."""
    n = len(dates)
    ids = np.full(n, None, dtype=object)
    sel = np.arange(n) if mask is None else np.flatnonzero(mask)
    if not len(sel):
        return ids
    order = sel[np.lexsort((sel, dates[sel]))]
    months = dates[order].astype("datetime64[M]")
    first = np.r_[True, months[1:] != months[:-1]]
    starts = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    seq = np.arange(len(order)) - starts + 1 + offset
    mint = months.astype(np.int64)
    labels = {int(m): f"{prefix}-{str(np.datetime64(int(m), 'M'))[2:4]}{str(np.datetime64(int(m), 'M'))[5:7]}-"
              for m in np.unique(mint)}
    ids[order] = [f"{labels[m]}{q:06d}" for m, q in zip(mint.tolist(), seq.tolist(), strict=True)]
    return ids
