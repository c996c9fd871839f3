"""Synthetic *trusted-zone* months for tests and demos: shaped exactly like the trusted zone
(``sinergi.pipeline.trusted``: the registry's columns without the direct identifiers, plus
``person_key``), never derived from real data.

National datasets carry a share of rows from other provinces (so a party's row filter matters),
and a shared pool of person keys links trainings, health checks and placements the way the trusted
zone's internal key does, so the trained → placed indicator has something to find. Deterministic per
seed. The real chain (simulator → extract → validate → trusted zone) is tested in the integration
tests; these tables keep the unit tests of the computation fast.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import pyarrow as pa

from sinergi import regions, registry, vocab
from sinergi.months import Month
from sinergi.pipeline.trusted import PERSON_KEY

# Monthly rows per dataset (Lampung-like scale, small enough for fast tests).
VOLUME = {
    "cpmi_registrations": 260, "initial_registrations": 120, "placements": 200, "returns": 60, "complaints": 9,
    "trainings": 70, "empowerment": 25, "health_facilities": 22, "health_checks": 110, "stranded_returnees": 4,
}
# Skewed kab/kota weights (Lampung Timur dominates, Pesisir Barat rare), as in the domain notes.
_KAB_WEIGHTS = {"1807": 30, "1802": 13, "1801": 8, "1809": 5, "1806": 4, "1810": 4, "1803": 3, "1805": 3,
                "1812": 3, "1871": 2, "1808": 2, "1811": 2, "1872": 1.5, "1804": 0.5, "1813": 0.2}
_COUNTRIES = {"TW": 55, "HK": 20, "MY": 12, "JP": 6, "SG": 5, "KR": 2}
#: Share of national rows whose worker comes from another province (the Lampung filter drops them).
OTHER_PROVINCES = 0.15


def _date_in(rng: random.Random, month: str) -> date:
    m = Month.parse(month)
    return date(m.year, m.month, rng.randint(1, 28))


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def trusted_sample_schema(dataset: str) -> pa.Schema:
    """The trusted zone's schema of ``dataset`` (what ``to_trusted`` makes of its valid rows)."""
    from sinergi.pipeline.trusted import trusted_schema

    return trusted_schema(dataset, registry.get(dataset).arrow_schema)


def sample_trusted(months: list[str], seed: int = 7, scale: float = 1.0,
                   datasets: list[str] | None = None) -> dict[str, dict[str, pa.Table]]:
    """``{dataset: {"YYYY-MM": table}}`` shaped like the trusted zone."""
    rng = random.Random(seed)
    people = [f"t_{''.join(rng.choice('abcdefghijklmnop') for _ in range(32))}" for _ in range(3000)]
    others = [r.kemendagri_code for r in regions.regions() if r.province_code != regions.LAMPUNG_PROVINCE_CODE]
    names = datasets or list(VOLUME)
    out: dict[str, dict[str, pa.Table]] = {}
    counter = 0
    for month in months:
        for ds in names:
            schema = trusted_sample_schema(ds)
            n = max(1, int(VOLUME[ds] * scale * rng.uniform(0.8, 1.2)))
            if ds == "health_facilities":
                n = min(n, 22)  # a register of 22 facilities: one row per facility
            rows = []
            for i in range(n):
                counter += 1
                rows.append(_row(rng, ds, month, counter, people, schema, others, i))
            out.setdefault(ds, {})[month] = pa.Table.from_pylist(rows, schema=schema)
    return out


def _row(rng: random.Random, ds: str, month: str, n: int, people: list[str], schema: pa.Schema,
         others: list[str], i: int) -> dict:
    kab = _pick(rng, _KAB_WEIGHTS)
    if registry.get(ds).scope == "national" and rng.random() < OTHER_PROVINCES:
        kab = rng.choice(others)
    d = _date_in(rng, month)
    base = {
        PERSON_KEY: rng.choice(people), "sex": rng.choices(["P", "L"], [72, 28])[0],
        "birth_date": date(rng.randint(1975, 2004), rng.randint(1, 12), rng.randint(1, 28)),
        "kabkota_code": kab, "kabkota_bps_code": regions.bps_code(kab), "province_code": kab[:2],
        "kecamatan_code": f"{kab}0{rng.randint(1, 9)}",
        "education": rng.choice(vocab.values("education")), "updated_at": d,
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
        base |= {"facility_id": f"FK-{i:03d}", "facility_name": f"Klinik {i}",
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
