"""Synthetic *published* tables for tests and demos: shaped exactly like ``shared_schema(dataset,
party, policy)`` (tokens as random hex, age bands, canonical codes), never derived from real data.

A shared pool of person tokens links trainings, health checks and placements the way a party's
own tokens do, so the trained → placed indicator has something to find. Deterministic per seed.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import pyarrow as pa

from sinergi import regions, vocab
from sinergi.months import Month

# Monthly rows per dataset (Lampung-like scale, small enough for fast tests).
VOLUME = {
    "cpmi_registrations": 260, "initial_registrations": 120, "placements": 200, "returns": 60, "complaints": 9,
    "trainings": 70, "empowerment": 25, "health_facilities": 22, "health_checks": 110, "stranded_returnees": 4,
}
# Skewed kab/kota weights (Lampung Timur dominates, Pesisir Barat rare), as in DOMAIN.md.
_KAB_WEIGHTS = {"1807": 30, "1802": 13, "1801": 8, "1809": 5, "1806": 4, "1810": 4, "1803": 3, "1805": 3,
                "1812": 3, "1871": 2, "1808": 2, "1811": 2, "1872": 1.5, "1804": 0.5, "1813": 0.2}
_COUNTRIES = {"TW": 55, "HK": 20, "MY": 12, "JP": 6, "SG": 5, "KR": 2}


def _date_in(rng: random.Random, month: str) -> date:
    m = Month.parse(month)
    return date(m.year, m.month, rng.randint(1, 28))


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def sample_tables(party: str, policy, months: list[str], seed: int = 7, scale: float = 1.0,
                  datasets: list[str] | None = None) -> dict[str, dict[str, pa.Table]]:
    from sinergi.policy import shared_schema

    rng = random.Random(seed)
    people = [f"t_{rng.getrandbits(128):032x}" for _ in range(3000)]
    names = datasets or [d for d in VOLUME if d in policy.parties[party].datasets]
    out: dict[str, dict[str, pa.Table]] = {}
    counter = 0
    for month in months:
        for ds in names:
            schema = shared_schema(ds, party, policy)
            n = max(1, int(VOLUME[ds] * scale * rng.uniform(0.8, 1.2)))
            rows = []
            for _ in range(n):
                counter += 1
                rows.append(_row(rng, ds, month, counter, people, schema))
            out.setdefault(ds, {})[month] = pa.Table.from_pylist(rows, schema=schema)
    return out


def _row(rng: random.Random, ds: str, month: str, n: int, people: list[str], schema: pa.Schema) -> dict:
    kab = _pick(rng, _KAB_WEIGHTS)
    if rng.random() < 0.03 and "kabkota_code" in schema.names and ds in ("complaints", "stranded_returnees", "returns"):
        kab = None  # withheld by the policy's k-anonymity steps
    d = _date_in(rng, month)
    tok = rng.choice(people)
    band_lo = rng.choice([20, 25, 30, 35, 40])
    base = {
        "nik_token": tok, "sex": rng.choices(["P", "L"], [72, 28])[0], "age_band": f"{band_lo}-{band_lo + 4}",
        "kabkota_code": kab, "kabkota_bps_code": regions.bps_code(kab), "province_code": kab[:2] if kab else "18",
        "kecamatan_code": f"{kab}0{rng.randint(1, 9)}" if kab else None,
        "education": rng.choice(vocab.values("education")),
        "destination_country": _pick(rng, _COUNTRIES), "job_title": rng.choice(vocab.values("job_title")),
    }
    if ds == "cpmi_registrations":
        st = rng.choices(vocab.values("verification_status"), [70, 25, 5])[0]
        base |= {"registration_id": f"REG-{n:07d}", "registration_date": d, "verification_status": st,
                 "verification_date": d + timedelta(days=rng.randint(0, 5)) if st != "belum diverifikasi" else None}
    elif ds == "initial_registrations":
        base |= {"registration_id": f"IR-{n:07d}", "registration_date": d}
    elif ds == "placements":
        base |= {"placement_id": f"PN-{n:07d}", "registration_id": f"REG-{n:07d}",
                 "destination_country_name": vocab.country_name(base["destination_country"]),
                 "sector": rng.choices(["informal", "formal"], [60, 40])[0],
                 "placement_scheme": rng.choices(vocab.values("placement_scheme"), [3, 70, 2, 5, 3, 10, 7])[0],
                 "p3mi_id": f"P3MI-{rng.randint(1, 40):03d}", "job_order_id": None,
                 "registration_date": d - timedelta(days=60), "opp_date": d - timedelta(days=3), "departure_date": d}
    elif ds == "returns":
        base |= {"return_id": f"RT-{n:07d}", "placement_id": None,
                 "return_status": rng.choices(vocab.values("return_status"), [70, 10, 6, 2, 6, 3, 3])[0],
                 "departure_date": d - timedelta(days=700), "return_date": d, "p3mi_id": None}
    elif ds == "complaints":
        st = rng.choice(vocab.values("complaint_status"))
        base |= {"complaint_id": f"PG-{n:07d}", "complaint_type": rng.choice(vocab.values("complaint_type")[:6]),
                 "channel": rng.choice(vocab.values("complaint_channel")), "procedure": "prosedural",
                 "workflow_status": st, "complaint_date": d - timedelta(days=rng.randint(0, 40)),
                 "resolved_date": d if st == "Selesai" else None, "p3mi_id": None}
    elif ds == "trainings":
        base |= {"training_id": f"TR-{n:07d}", "institution_id": f"LPK-{rng.randint(1, 12):03d}",
                 "training_type": rng.choice(["kerja", "bahasa"]), "course_name": "Bahasa Mandarin",
                 "start_date": d - timedelta(days=30), "end_date": d if rng.random() < 0.8 else None,
                 "result": rng.choices(["lulus", "tidak lulus", None], [75, 10, 15])[0]}
    elif ds == "empowerment":
        base |= {"empowerment_id": f"EM-{n:07d}", "participant_type": rng.choice(vocab.values("empowerment_participant")),
                 "program_type": rng.choice(vocab.values("empowerment_program")), "program_date": d}
    elif ds == "health_facilities":
        base |= {"facility_id": f"FK-{n % 22:03d}", "facility_name": f"Klinik {n % 22}",
                 "facility_type": rng.choice(vocab.values("facility_type")), "license_number": f"IZ-{n:05d}",
                 "license_valid_until": d + timedelta(days=rng.randint(-60, 700))}
    elif ds == "health_checks":
        base |= {"check_id": f"HC-{n:07d}", "facility_id": f"FK-{rng.randint(0, 21):03d}", "check_date": d,
                 "result": rng.choices(["fit", "unfit"], [92, 8])[0]}
    elif ds == "stranded_returnees":
        base |= {"case_id": f"TL-{n:07d}", "country_from": "MY", "received_date": d,
                 "condition": rng.choice(vocab.values("returnee_condition")),
                 "referral": rng.choice(vocab.values("returnee_referral"))}
    return {k: base.get(k) for k in schema.names}
