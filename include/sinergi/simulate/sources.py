"""Render canonical records into the spellings each source system writes (all clean, all mappable).

Every clean value written here maps back with ``sinergi.regions.kabkota_code``,
``sinergi.vocab.country_code`` and ``sinergi.vocab.canonical`` (tests check it).
"""

from __future__ import annotations

from sinergi import regions, registry, vocab

# Per-system house style. siskop2mi: upper-case everything; Disnaker: a web form's words;
# Dinkes: spreadsheet habits; Dinsos: typed in capitals.
SEX = {
    "siskop2mi": {"L": "L", "P": "P"},
    "disnaker": {"L": "LAKI-LAKI", "P": "PEREMPUAN"},
    "dinkes": {"L": "L", "P": "P"},
    "dinsos": {"L": "LAKI-LAKI", "P": "PEREMPUAN"},
}
# Vocabulary values some systems write with an alias instead of the canonical word.
ALIASES = {
    ("dinkes", "health_result"): {"fit": "FIT", "unfit": "UNFIT"},
    ("dinkes", "facility_type"): {"klinik": "Klinik Utama", "rumah sakit": "Rumah Sakit Umum"},
    ("siskop2mi", "complaint_status"): {"Selesai": "SELESAI DITANGANI"},
}
BOOL = {True: "YA", False: "TIDAK"}


def kabkota_spelling(system: str, code: str) -> str:
    r = regions.by_code()[code]
    if system == "siskop2mi":
        return r.official_name.upper()  # "KAB. LAMPUNG TIMUR"
    if system == "disnaker":
        return r.name  # "Lampung Timur"
    if system == "dinkes":
        return r.official_name  # "Kab. Lampung Timur"
    return f"{'KABUPATEN' if r.kind == 'kabupaten' else 'KOTA'} {r.name.upper()}"  # dinsos


def country_spelling(system: str, code: str) -> str:
    name = vocab.country_name(code)
    return name.upper() if system in ("siskop2mi", "dinsos") else name


def vocab_spelling(system: str, vocabulary: str, value: str, month: str) -> str:
    alias = ALIASES.get((system, vocabulary), {}).get(value)
    if alias:
        return alias
    if system == "siskop2mi" and vocabulary == "sector" and month >= "2025-01":
        # Since 2025 BP2MI words the sector by the employer's legal form.
        return {"formal": "PEMBERI KERJA BERBADAN HUKUM", "informal": "PEMBERI KERJA PERSEORANGAN"}[value]
    if system in ("siskop2mi", "dinsos"):
        return value.upper()
    return value


def render(dataset: str, month: str, records: list[dict]) -> list[dict]:
    """Canonical records -> source values (same keys; dates stay ``date`` for the writers)."""
    ds = registry.get(dataset)
    system = ds.source.system
    plan = []
    for col in ds.source_columns:
        norm = col.normalise or ""
        if norm == "kabkota":
            plan.append((col.name, lambda v: kabkota_spelling(system, v)))
        elif norm == "country":
            plan.append((col.name, lambda v: country_spelling(system, v)))
        elif norm == "vocab:sex":
            plan.append((col.name, lambda v: SEX[system][v]))
        elif col.vocabulary:
            plan.append((col.name, lambda v, voc=col.vocabulary: vocab_spelling(system, voc, v, month)))
        elif norm == "bool":
            plan.append((col.name, lambda v: BOOL[bool(v)]))
    out = []
    for rec in records:
        row = dict(rec)
        for name, fn in plan:
            if row.get(name) is not None:
                row[name] = fn(row[name])
        out.append(row)
    return out
