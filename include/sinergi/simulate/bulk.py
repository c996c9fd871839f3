"""A large placements CSV for benchmarks, fully vectorised (numpy + pyarrow; no per-row Python).

Same headers, spellings, NIK rule and distributions as ``simulate``; names and addresses are drawn
from precomputed pools. Reference ids (P3MI, job orders) are not backed by reference files here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from sinergi import regions, registry, vocab

from . import model as M
from .population import DAY, People, _attributes, _births
from .sources import kabkota_spelling, vocab_spelling

POOL = 4096
BULK_DEFECTS = ("nik_scientific", "nik_lost_digits", "nik_wrong_length", "kabkota_variant", "whitespace_case",
                "unknown_country", "missing_mandatory", "future_date")


def _ids(prefix: str, seq: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pa.array(seq).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _index_of(values: list[str], column: np.ndarray) -> np.ndarray:
    """Positions of ``column``'s values in ``values`` (hash-based, via Arrow dictionary encoding)."""
    enc = pa.array(column, pa.string()).dictionary_encode()
    pos = np.array([values.index(u) for u in enc.dictionary.to_pylist()])
    return pos[enc.indices.to_numpy()]


def _pick(values: list[str], idx: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(idx))


def _dates(days: np.ndarray) -> pa.Array:
    """dd/mm/yyyy strings; formats each distinct day once (a month of data spans a few thousand)."""
    uniq, inverse = np.unique(days.astype("datetime64[D]"), return_inverse=True)
    text = [M.to_date(d).strftime("%d/%m/%Y") for d in uniq]
    return pa.array(text, pa.string()).take(pa.array(inverse))


CHUNK = 1_000_000  # rows generated at a time: bounds memory for 10M-row backfill inputs


def write_placements_csv(path, rows: int, month: str = "2025-07", seed: int = 42, defect_rate: float = 0.0,
                         ledger_path=None) -> dict:
    """Write ``rows`` placements of ``month`` to one `;`-separated UTF-8 CSV at ``path``.

    With ``defect_rate`` > 0 a share of rows gets a defect from ``BULK_DEFECTS``; the ledger goes to
    ``ledger_path`` (default: ``_defects.jsonl`` beside ``path``). Rows are generated in chunks of
    ``CHUNK`` (memory stays flat); NIKs are unique within a chunk. Returns counts.
    """
    M.parse_month(month)  # strict YYYY-MM before anything is written
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n_total = int(rows)
    headers = [c.headers[0] for c in registry.get("placements").source_columns]
    names, addresses = _pools(seed)
    ledger: list[dict] = []
    with open(path, "wb") as f:  # header unquoted, as the other exports
        f.write((";".join(headers) + "\n").encode())
        for first in range(0, n_total, CHUNK):
            n = min(CHUNK, n_total - first)
            r = M.rng(seed, "bulk-placements", month, n_total, first)
            table, entries = _chunk(r, n, first, month, defect_rate, names, addresses, path.name)
            pacsv.write_csv(table, f, pacsv.WriteOptions(delimiter=";", quoting_style="none", batch_size=65536,
                                                         include_header=False))
            ledger += entries
            del table
    if ledger:
        lp = Path(ledger_path) if ledger_path else path.with_name("_defects.jsonl")
        with open(lp, "w", encoding="utf-8", newline="\n") as f:
            for e in ledger:
                f.write(json.dumps(e, ensure_ascii=False) + "\n")
    return {"rows": n_total, "defects": len(ledger), "path": str(path)}


def _pools(seed: int) -> tuple[list[str], list[str]]:
    """Names (first POOL female, then POOL male) and addresses, built once in Python."""
    pool = People()
    pool.add(np.array(["1807"] * (2 * POOL), dtype=object), np.r_[np.ones(POOL, bool), np.zeros(POOL, bool)],
             np.full(2 * POOL, np.datetime64("1990-01-01")))
    pool.finalize(seed)
    return [pool.full_name(i) for i in range(2 * POOL)], [pool.address(i) for i in range(POOL)]


def _chunk(r: np.random.Generator, n: int, first: int, month: str, defect_rate: float, names: list[str],
           addresses: list[str], file_name: str) -> tuple[pa.Table, list[dict]]:
    """``n`` placement rows numbered from ``first`` + 1, as an Arrow table of source strings."""
    a = _attributes(r, n, 0.085)
    start, end = M.month_start(month), M.month_end(month)
    ndays = int((end - start) / DAY) + 1
    dep = start + r.integers(0, ndays, n) * DAY
    reg = dep - r.integers(45, 160, n) * DAY
    opp = dep - r.integers(2, 10, n) * DAY
    birth = _births(r, reg)

    # NIKs: vectorised, unique, agreeing with kab/kota, birth date and sex.
    kab = a["kab"].astype(np.int64)
    kec = r.integers(1, 25, n)
    nik = M.unique_niks(r, kab, kec, birth, a["female"])

    name_idx = r.integers(0, POOL, n) + np.where(a["female"], 0, POOL)

    codes = [x.kemendagri_code for x in regions.regions()]
    kab_idx = _index_of(codes, a["kab"])
    country_codes = list(M.COUNTRY_WEIGHTS)
    cidx = _index_of(country_codes, a["country"])
    jobs = list(vocab.values("job_title"))
    jidx = _index_of(jobs, a["job"])
    schemes = list(vocab.values("placement_scheme"))
    sidx = _index_of(schemes, a["scheme"])
    edus = list(M.EDUCATION_WEIGHTS)
    eidx = r.choice(len(edus), n, p=np.array(list(M.EDUCATION_WEIGHTS.values())))
    phone_pref = r.integers(0, len(M.MOBILE_PREFIXES), n)
    yymm = f"{month[2:4]}{month[5:7]}"

    cols = {
        "placement_id": _ids(f"PN-{yymm}-", np.arange(first + 1, first + n + 1), 7),
        "registration_id": _ids("CPMI-", r.integers(1, 10**9, n), 9),
        "nik": pa.array(nik).cast(pa.string()),
        "full_name": _pick(names, name_idx),
        "sex": pa.array(np.where(a["female"], "P", "L")),
        "birth_date": _dates(birth),
        "passport_number": pc.binary_join_element_wise(_pick(list("CEXB"), r.integers(0, 4, n)),
                                                       pa.array(r.integers(1_000_000, 9_999_999, n)).cast(pa.string()), ""),
        "phone": pc.binary_join_element_wise(_pick(list(M.MOBILE_PREFIXES), phone_pref),
                                             pa.array(r.integers(1_000_000, 99_999_999, n)).cast(pa.string()), ""),
        "address": _pick(addresses, r.integers(0, POOL, n)),
        "kabkota_code": _pick([kabkota_spelling("siskop2mi", c) for c in codes], kab_idx),
        "education": _pick([vocab_spelling("siskop2mi", "education", e, month) for e in edus], eidx),
        "destination_country": _pick([vocab.country_name(c).upper() for c in country_codes], cidx),
        "job_title": _pick([j.upper() for j in jobs], jidx),
        "sector": pa.array(np.where(a["informal"], vocab_spelling("siskop2mi", "sector", "informal", month),
                                    vocab_spelling("siskop2mi", "sector", "formal", month))),
        "placement_scheme": _pick([s.upper() for s in schemes], sidx),
        "p3mi_id": _ids("P3MI-", r.integers(1, 401, n), 4),
        "job_order_id": _ids(f"JO-{yymm}-", r.integers(1, 20000, n), 5),
        "registration_date": _dates(reg),
        "opp_date": _dates(opp),
        "epmi_number": _ids("EPMI", nik % 10**9, 9),
        "departure_date": _dates(dep),
    }

    ledger = []
    if defect_rate > 0:
        hit = np.flatnonzero(r.random(n) < defect_rate)
        kinds = np.array(BULK_DEFECTS)[r.integers(0, len(BULK_DEFECTS), len(hit))]
        target = {"kabkota_variant": "kabkota_code", "whitespace_case": "full_name",
                  "unknown_country": "destination_country", "missing_mandatory": "sex",
                  "future_date": "departure_date"}
        changes: dict[str, dict[int, str | None]] = {}
        names_hit = cols["full_name"].take(pa.array(hit)).to_pylist()
        for j, kind, name in zip(hit.tolist(), kinds.tolist(), names_hit, strict=True):
            column = target.get(kind, "nik")
            if kind == "nik_scientific":
                value = f"{int(nik[j]):.5E}"
            elif kind == "nik_lost_digits":
                value = str(nik[j])[2:]
            elif kind == "nik_wrong_length":
                value = str(nik[j])[:15]
            elif kind == "kabkota_variant":
                value = regions.by_code()[a["kab"][j]].name.lower()
            elif kind == "whitespace_case":
                value = "  " + name.lower() + " "
            elif kind == "unknown_country":
                value = "TAIWNA"  # a typo no spelling table maps (TAIWAN ROC is an alias now)
            elif kind == "missing_mandatory":
                value = None
            else:  # future_date
                value = f"15/{month[5:7]}/{int(month[:4]) + 2}"
            changes.setdefault(column, {})[j] = value
            ledger.append({"month": month, "dataset": "placements", "record_id": f"PN-{yymm}-{first + j + 1:07d}",
                           "kind": kind, "column": column, "detail": "bulk benchmark defect", "file": file_name,
                           "source_row": first + j + 1})
        for name, edits in changes.items():
            pos = np.array(sorted(edits))
            mask = np.zeros(n, dtype=bool)
            mask[pos] = True
            cols[name] = pc.replace_with_mask(cols[name], pa.array(mask),
                                              pa.array([edits[int(p)] for p in pos], pa.string()))

    ds = registry.get("placements")
    return pa.table([cols[c.name] for c in ds.source_columns], names=[c.headers[0] for c in ds.source_columns]), ledger
