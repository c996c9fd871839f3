"""Turn the world's lifecycle arrays into the clean canonical records of each dataset and month.

A record is a dict keyed by canonical column names (``registry.get(ds).source_columns``) with codes
(Kemendagri kab/kota, ISO country, canonical vocabulary values) and ``datetime.date`` values.
Keys starting with ``_`` are bookkeeping for the writers (``_late``, ``_created_at``).
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property

import numpy as np

from . import model as M
from .model import month_add, month_end, month_start, to_date
from .population import DAY, LEAD_MONTHS, World, _sequence_ids

COURSES = {
    ("bahasa", "TW"): "Bahasa Mandarin", ("bahasa", "JP"): "Bahasa Jepang", ("bahasa", "KR"): "Bahasa Korea",
    ("kerja", "House Maid"): "Penata Laksana Rumah Tangga", ("kerja", "Caregiver"): "Caregiver / Perawat Lansia",
    ("kerja", "Informal Elderly Caregiver"): "Perawat Lansia", ("kerja", "Informal Babysitter"): "Pengasuh Anak",
    ("kerja", "Housekeeper and Family Cook"): "Tata Boga dan Tata Graha",
}


def _ts(day: np.datetime64, minutes: int) -> dt.datetime:
    d = to_date(day)
    return dt.datetime(d.year, d.month, d.day, 8 + minutes // 60 % 9, minutes % 60, 0)


class Lifecycle:
    """Canonical records per (dataset, month) for one ``World``."""

    def __init__(self, world: World):
        self.w = world
        self.p = world.people
        self.c = world.c

    # ------------------------------------------------------------------ public
    def records(self, dataset: str, month: str) -> list[dict]:
        return getattr(self, f"_{dataset}")(month)

    # ------------------------------------------------------------------ helpers
    def _sel(self, label: str, dates: np.ndarray, mask: np.ndarray | None, month: str, late: bool = True):
        cache = self.__dict__.setdefault("_export_cache", {})
        if label not in cache:
            cache[label] = self.w.export_months(label, dates, mask, late)
        ex, late = cache[label]
        idx = np.flatnonzero(ex == month)
        return idx[np.lexsort((idx, dates[idx]))], late

    def _order(self, k: int) -> dict:
        return self.w.orders[self.w.c_order[k]]

    # ------------------------------------------------------------------ national
    def _placements(self, month):
        c, p, w = self.c, self.p, self.w
        idx, late = self._sel("placements", c["dep"], c["placed"], month)
        out = []
        for k in idx:
            i = c["person"][k]
            o = self._order(k)
            out.append({
                "placement_id": w.c_pl_id[k], "registration_id": w.c_reg_id[k], **p.person(i),
                "passport_number": p.passport_no(i), "phone": p.phone(i), "address": p.address(i),
                "education": p.education[i], "destination_country": c["country"][k], "job_title": c["job"][k],
                "sector": "informal" if c["informal"][k] else "formal", "placement_scheme": c["scheme"][k],
                "p3mi_id": w.p3mi[o["p3mi"]]["p3mi_id"], "job_order_id": o["job_order_id"],
                "registration_date": to_date(c["reg"][k]), "opp_date": to_date(c["opp"][k]),
                "epmi_number": w.c_epmi[k], "departure_date": to_date(c["dep"][k]), "_late": bool(late[k]),
            })
        return out

    def _cpmi_registrations(self, month):
        c, p, w = self.c, self.p, self.w
        idx, late = self._sel("cpmi_registrations", c["reg"], None, month)
        out = []
        for k in idx:
            i = c["person"][k]
            verif = c["verif"][k]
            if c["verif_date"][k] > month_end(month):  # not yet verified when the month was exported
                verif = "belum diverifikasi"
            out.append({
                "registration_id": w.c_reg_id[k], **p.person(i), "phone": p.phone(i), "email": p.email(i),
                "address": p.address(i), "education": p.education[i], "destination_country": c["country"][k],
                "job_title": c["job"][k], "registration_date": to_date(c["reg"][k]), "verification_status": verif,
                "verification_date": None if verif == "belum diverifikasi" else to_date(c["verif_date"][k]),
                "_late": bool(late[k]),
            })
        return out

    @cached_property
    def _return_events(self) -> dict:
        """All returns: early returns of simulated cohorts plus returns of people placed before."""
        c, w = self.c, self.w
        ks = np.flatnonzero(c["placed"] & c["early"])
        ev = {"src": ["c"] * len(ks), "k": list(ks), "ret": list(c["ret"][ks]), "status": list(c["ret_status"][ks])}
        for m, h in w.hist_returns.items():
            for j in range(len(h["person"])):
                ev["src"].append(m)
                ev["k"].append(j)
                ev["ret"].append(h["ret"][j])
                ev["status"].append(h["status"][j])
        ev["ret"] = np.array(ev["ret"], dtype="datetime64[D]")
        ev["ids"] = _sequence_ids("KPL", ev["ret"])
        ev["ex"], ev["late"] = w.export_months("returns", ev["ret"])
        return ev

    def _return_row(self, e: int) -> dict:
        ev, c, p, w = self._return_events, self.c, self.p, self.w
        src, k = ev["src"][e], ev["k"][e]
        if src == "c":
            i, dep, country = c["person"][k], c["dep"][k], c["country"][k]
            pl_id, p3 = w.c_pl_id[k], self._order(k)["p3mi"]
        else:
            h = w.hist_returns[src]
            i, dep, country, p3 = h["person"][k], h["dep"][k], h["country"][k], h["p3mi"][k]
            pl_id = f"PN-{str(dep)[2:4]}{str(dep)[5:7]}-H{i:07d}"
        status = ev["status"][e]
        return {
            "return_id": ev["ids"][e], "placement_id": pl_id, **p.person(i), "destination_country": country,
            "return_status": status, "departure_date": to_date(dep), "return_date": to_date(ev["ret"][e]),
            "p3mi_id": w.p3mi[int(p3)]["p3mi_id"], "phone": p.phone(i), "_person": int(i),
        }

    def _returns(self, month):
        ev = self._return_events
        idx = np.flatnonzero(ev["ex"] == month)
        idx = idx[np.lexsort((idx, ev["ret"][idx]))]
        return [{**self._return_row(e), "_late": bool(ev["late"][e])} for e in idx]

    @cached_property
    def _complaint_months(self) -> dict[str, list[dict]]:
        w, c, p = self.w, self.c, self.p
        types = list(M.COMPLAINT_TYPES)
        tw = {t: 1 / (n + 1) ** 0.8 for n, t in enumerate(types)}
        status_w = dict(zip(M.COMPLAINT_STATUSES, (0.15, 0.1, 0.1, 0.1, 0.1, 0.1, 0.35), strict=True))
        placed = np.flatnonzero(c["placed"])
        failed = np.flatnonzero(c["failed"])
        out: dict[str, list[dict]] = {}
        prev: list[dict] = []
        for m in w.window:
            r = M.rng(w.seed, "complaint-rows", m)
            h = w.hist_complaints[m]
            n = len(h["person"])
            ctype = M.weighted(r, tw, n)
            channel = M.weighted(r, M.COMPLAINT_CHANNEL_WEIGHTS, n)
            status = M.weighted(r, status_w, n)
            ids = _sequence_ids("ADU", h["date"])
            rows = []
            for j in range(n):
                date = h["date"][j]
                i, country, p3 = h["person"][j], h["country"][j], w.p3mi[int(h["p3mi"][j])]["p3mi_id"]
                abroad = True
                if ctype[j] == "PMI gagal berangkat":
                    cand = failed[c["reg"][failed] < date - 14 * DAY]
                    abroad = False
                    if len(cand) and r.random() < 0.7:
                        k = int(cand[r.integers(0, len(cand))])
                        i, country = c["person"][k], c["country"][k]
                else:
                    cand = placed[c["dep"][placed] < date - 14 * DAY]
                    if len(cand) and r.random() < 0.4:  # someone we saw depart
                        k = int(cand[r.integers(0, len(cand))])
                        i, country, p3 = c["person"][k], c["country"][k], w.p3mi[self._order(k)["p3mi"]]["p3mi_id"]
                procedural = r.random() < 0.8
                resolved = None
                if status[j] == "Selesai":
                    resolved = min(date + int(r.integers(2, 25)) * DAY, month_end(m))
                rows.append({
                    "complaint_id": ids[j], "nik": p.nik_str(i), "full_name": p.full_name(i),
                    "sex": "P" if p.female[i] else "L", "kabkota_code": p.kab[i], "destination_country": country,
                    "complaint_type": ctype[j], "channel": channel[j],
                    "procedure": "prosedural" if procedural else "non-prosedural", "workflow_status": status[j],
                    "complaint_date": to_date(date), "resolved_date": to_date(resolved) if resolved is not None else None,
                    "p3mi_id": p3 if procedural else None,
                    "reporter_phone": p.phone_abroad(i, country) if abroad else p.phone(i), "_late": False,
                })
            # Open complaints of last month that moved on this month are exported again (state at month end).
            for old in prev:
                if old["workflow_status"] == "Selesai" or r.random() > 0.6:
                    continue
                step = M.COMPLAINT_STATUSES.index(old["workflow_status"]) + int(r.integers(1, 4))
                new = dict(old, workflow_status=M.COMPLAINT_STATUSES[min(step, len(M.COMPLAINT_STATUSES) - 1)])
                if new["workflow_status"] == "Selesai":
                    new["resolved_date"] = to_date(month_start(m) + int(r.integers(0, 25)) * DAY)
                rows.append(new)
            rows.sort(key=lambda x: x["complaint_id"])
            out[m] = rows
            prev = rows
        return out

    def _complaints(self, month):
        return [dict(x) for x in self._complaint_months.get(month, [])]

    def _p3mi(self, month):
        return [{k: v for k, v in x.items()} for x in self.w.p3mi]

    def _job_orders(self, month):
        w = self.w
        start, end = month_start(month), month_end(month)
        out = []
        for o in w.orders:
            if o["issued"] <= end and o["valid_until"] >= start:
                out.append({
                    "job_order_id": o["job_order_id"], "p3mi_id": w.p3mi[o["p3mi"]]["p3mi_id"],
                    "destination_country": o["country"], "job_title": o["job"],
                    "sector": "informal" if o["informal"] else "formal", "min_education": o["min_education"],
                    "quota": int(o["quota"]), "issued_date": to_date(o["issued"]), "valid_until": to_date(o["valid_until"]),
                })
        out.sort(key=lambda x: x["job_order_id"])
        return out

    # ------------------------------------------------------------------ provincial: Disnaker database
    def _initial_registrations(self, month):
        c, p, w = self.c, self.p, self.w
        idx, _ = self._sel("initial_registrations", c["init"], c["lampung"], month, late=False)
        rows = []
        for k in idx:
            i = c["person"][k]
            rows.append((c["init"][k], w.c_init_id[k], i, c["country"][k], c["job"][k]))
        if w.io is not None:
            io = w.io
            for k in np.flatnonzero(io["date"].astype("datetime64[M]").astype(str) == month):
                rows.append((io["date"][k], w.io_id[k], io["person"][k], io["country"][k], io["job"][k]))
        rows.sort(key=lambda x: x[1])
        out = []
        for day, rid, i, country, job in rows:
            created = _ts(day, int(p.nik[i] % 540))
            out.append({
                "registration_id": rid, **p.person(i), "phone": p.phone(i), "address": p.address(i),
                "education": p.education[i], "destination_country": country, "job_title": job,
                "registration_date": to_date(day), "updated_at": created, "_created_at": created, "_late": False,
            })
        return out

    def _trainings(self, month):
        c, p, w = self.c, self.p, self.w
        idx, _ = self._sel("trainings", c["t_start"], c["has_train"], month, late=False)
        out = []
        for k in idx:
            i = c["person"][k]
            ttype = "bahasa" if c["lang"][k] else "kerja"
            course = COURSES.get((ttype, c["country"][k] if ttype == "bahasa" else c["job"][k]),
                                 "Bahasa Mandarin" if ttype == "bahasa" else "Pelatihan Keterampilan Kerja")
            out.append({
                "training_id": w.c_train_id[k], "nik": p.nik_str(i), "full_name": p.full_name(i),
                "sex": "P" if p.female[i] else "L", "kabkota_code": p.kab[i],
                "institution_id": w.institutions[c["institution"][k]]["institution_id"], "training_type": ttype,
                "course_name": course, "start_date": to_date(c["t_start"][k]), "end_date": to_date(c["t_end"][k]),
                "result": "lulus" if c["t_pass"][k] else "tidak lulus",
                "updated_at": _ts(c["t_end"][k], int(p.nik[i] % 540)),
                "_created_at": _ts(c["t_start"][k], int(p.nik[i] % 480)), "_late": False,
            })
        return out

    def _training_institutions(self, month):
        # Institutions are registered long before; the window's first month is their last update.
        if month != self.w.first:
            return []
        r = M.rng(self.w.seed, "institution-updates")
        out = []
        for x in self.w.institutions:
            upd = month_start(month) + int(r.integers(0, 27)) * DAY
            out.append({**{k: v for k, v in x.items() if not k.startswith("_")},
                        "updated_at": _ts(upd, int(r.integers(0, 480))), "_created_at": _ts(x["_created"], 60),
                        "_late": False})
        return out

    def _empowerment(self, month):
        w, p = self.w, self.p
        if month not in w.emp:
            return []
        h = w.emp[month]
        r = M.rng(w.seed, "empowerment-rows", month)
        ids = _sequence_ids("PBD", h["date"])
        ev = self._return_events
        # Returned Lampung workers we saw come home earlier in the window can join a programme.
        seen = [e for e in range(len(ev["ret"])) if ev["ex"][e] is not None and ev["ex"][e] <= month
                and ev["ex"][e] >= w.first and ev["status"][e] != "meninggal"]
        out = []
        for j in np.lexsort((np.arange(len(h["date"])), h["date"])):
            i = h["person"][j]
            if not h["family"][j] and seen and r.random() < 0.5:
                e = seen[int(r.integers(0, len(seen)))]
                row = self._return_row(e)
                if row["return_date"] < to_date(h["date"][j]) and row["kabkota_code"].startswith("18"):
                    i = row["_person"]
            created = _ts(h["date"][j], int(r.integers(0, 480)))
            upd = min(h["date"][j] + int(r.integers(0, 5)) * DAY, month_end(month))
            out.append({
                "empowerment_id": ids[j], "nik": p.nik_str(i), "full_name": p.full_name(i),
                "sex": "P" if p.female[i] else "L", "birth_date": to_date(p.birth[i]), "kabkota_code": p.kab[i],
                "participant_type": "keluarga PMI" if h["family"][j] else "purna PMI",
                "program_type": h["program"][j], "program_date": to_date(h["date"][j]),
                "updated_at": _ts(upd, int(r.integers(0, 480))), "_created_at": created, "_late": False,
            })
        return out

    # ------------------------------------------------------------------ provincial: Dinkes, Dinsos
    def _health_facilities(self, month):
        return [dict(x) for x in self.w.facilities]

    def _health_checks(self, month):
        c, p, w = self.c, self.p, self.w
        idx, late = self._sel("health_checks", c["health"], c["has_health"] & c["lampung"], month)
        return [{
            "check_id": w.c_check_id[k], **p.person(c["person"][k]),
            "facility_id": w.facilities[c["facility"][k]]["facility_id"], "check_date": to_date(c["health"][k]),
            "result": "unfit" if c["unfit"][k] else "fit", "destination_country": c["country"][k],
            "_late": bool(late[k]),
        } for k in idx]

    def _stranded_returnees(self, month):
        w = self.w
        r = M.rng(w.seed, "stranded", month)
        ev = self._return_events
        here = [e for e in np.flatnonzero(ev["ret"].astype("datetime64[M]").astype(str) == month)]
        lam = [e for e in here if self._return_row(e)["kabkota_code"].startswith("18") and ev["status"][e] != "meninggal"]
        problem = [e for e in lam if ev["status"][e] in M.PROBLEM_RETURNS]
        chosen = [e for e in problem if r.random() < 0.5]
        want = max(0, self.w.scale.min_rows // 2 - len(chosen))
        rest = [e for e in lam if e not in set(chosen)]
        if want and rest:
            chosen += [rest[j] for j in sorted(r.choice(len(rest), min(want, len(rest)), replace=False))]
        chosen.sort(key=lambda e: (ev["ret"][e], e))
        out = []
        for n, e in enumerate(chosen, 1):
            row = self._return_row(e)
            status = row["return_status"]
            if status == "sakit":
                cond = M.weighted(r, {"sakit": 0.6, "gangguan jiwa": 0.2, "disabilitas": 0.2}, 1)[0]
            else:
                cond = M.weighted(r, {"sehat": 0.75, "sakit": 0.15, "gangguan jiwa": 0.1}, 1)[0]
            ref = "dirujuk ke rumah sakit" if cond in ("sakit", "gangguan jiwa") and r.random() < 0.7 else \
                M.weighted(r, {"dipulangkan ke daerah asal": 0.75, "rumah perlindungan": 0.2, "lainnya": 0.05}, 1)[0]
            received = min(ev["ret"][e] + int(r.integers(0, 3)) * DAY, month_end(month))
            out.append({
                "case_id": f"DSS-{month[2:4]}{month[5:7]}-{n:05d}", "nik": row["nik"], "full_name": row["full_name"],
                "sex": row["sex"], "birth_date": row["birth_date"], "kabkota_code": row["kabkota_code"],
                "country_from": row["destination_country"], "received_date": to_date(received), "condition": cond,
                "referral": ref, "_late": False,
            })
        return out


def history_months(world: World) -> list[str]:
    """Months before the window whose Disnaker rows are in the database (clean history)."""
    return [month_add(world.first, k) for k in range(-LEAD_MONTHS - 1, 0)]
