"""Synthetic canonical tables for the sharing-policy tests (generated at test time; no real data).

Imported by test_policy*.py, test_tokens*.py, test_disclosure*.py, test_ropa*.py and the benchmark.
"""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa

from sinergi import regions, registry, vocab

NON_LAMPUNG_KABKOTA = ["3201", "3301", "3501", "5201"]  # Bogor, Cilacap, Pacitan, Lombok Barat
FIRST = ["SITI", "DEWI", "NUR", "AGUS", "BUDI", "RINA", "WAHYU", "EKO", "SRI", "ANI", "JOKO", "LESTARI"]
LAST = ["AMINAH", "SANTOSO", "RAHAYU", "SAPUTRA", "WULANDARI", "HIDAYAT", "PRATAMA", "LESTARI", "SETIAWAN"]


def person(rng: random.Random, kab: str) -> dict:
    female = rng.random() < 0.7
    birth = dt.date(1965, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 40))
    dd = birth.day + (40 if female else 0)
    nik = f"{kab}{rng.randrange(1, 30):02d}{dd:02d}{birth.month:02d}{birth.year % 100:02d}{rng.randrange(1, 9999):04d}"
    return {
        "nik": nik, "full_name": f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.randrange(1000):03d}",
        "sex": "P" if female else "L", "birth_date": birth, "kabkota_code": kab,
    }


def _value(col: registry.Column, i: int, rng: random.Random, p: dict, ds: str):
    if col.name in p:
        return p[col.name]
    if col.derive_via == "bps_code":
        return regions.bps_code(p["kabkota_code"]) or p["kabkota_code"]
    if col.derive_via == "province_code":
        return p["kabkota_code"][:2]
    if col.derive_via == "kecamatan_code":
        return p["nik"][:6]
    if col.derive_via == "country_name":
        return None
    if col.vocabulary:
        return rng.choice(vocab.values(col.vocabulary))
    if col.normalise == "country":
        return rng.choice(["TW", "HK", "MY", "JP", "SG"])
    if col.normalise == "phone":
        return f"+62812{rng.randrange(10**7, 10**8)}"
    if col.normalise == "email":
        return f"pekerja{i}.{rng.randrange(1000)}@contoh.id"
    if col.normalise == "passport":
        return f"{rng.choice('CEXB')}{rng.randrange(10**6, 10**7)}"
    if col.name == "address":
        return f"JL. MAWAR NO. {rng.randrange(1, 200)} DESA SUKA{rng.choice(['MAJU', 'JAYA', 'DAMAI'])} RT {i % 9:02d}"
    if col.type == "date":
        return dt.date(2025, 7, 1) + dt.timedelta(days=rng.randrange(0, 28))
    if col.type == "int":
        return rng.randrange(1, 50)
    if col.type == "bool":
        return rng.random() < 0.5
    if col.normalise == "kabkota":
        return p["kabkota_code"]
    if col.normalise == "id" or col.name == col.name:
        prefix = "".join(w[0] for w in col.name.split("_")).upper()
        return f"{prefix}-2507-{i:06d}"
    return None  # pragma: no cover


def canonical_table(
    dataset: str,
    n: int,
    seed: int = 1,
    lampung_share: float = 0.6,
    people: list[dict] | None = None,
) -> pa.Table:
    """A validated-looking canonical table (registry schema + bookkeeping columns)."""
    ds = registry.get(dataset)
    rng = random.Random(f"{dataset}-{seed}")
    lampung = [r.kemendagri_code for r in regions.lampung()]
    rows = []
    for i in range(n):
        if people is not None:
            p = people[i % len(people)]
        else:
            kab = rng.choice(lampung) if rng.random() < lampung_share else rng.choice(NON_LAMPUNG_KABKOTA)
            p = person(rng, kab)
        rows.append({c.name: _value(c, i, rng, p, dataset) for c in ds.columns})
    t = pa.Table.from_pylist(rows, schema=ds.arrow_schema)
    t = t.append_column("_source_file", pa.array([f"{dataset}.csv"] * n, pa.string()))
    t = t.append_column("_source_row", pa.array(range(1, n + 1), pa.int64()))
    return t.append_column("_extract_issues", pa.nulls(n, pa.string()))


def people(n: int, seed: int = 7, kab: str | None = None) -> list[dict]:
    rng = random.Random(seed)
    lampung = [r.kemendagri_code for r in regions.lampung()]
    return [person(rng, kab or rng.choice(lampung)) for _ in range(n)]
