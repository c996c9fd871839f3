"""The names of the safeguards a sharing policy can configure — pure Python, no Arrow.

One definition for two readers: the policy model checks ``config/policy.yaml`` against these names
when it loads (also at DAG parse time, which must stay fast), and the engines implement them
(``sinergi.tokens`` the normalisers, ``sinergi.disclosure`` the leak-guard patterns and the
generalisation steps of k-anonymity).

- :data:`NORMALISERS`: how a value is normalised before it is tokenised (``normalise:`` of a token).
- :data:`RECORD_FIELD`: the key field kind of record-id tokens (transform ``record``).
- :data:`PATTERNS`: the leak guard's patterns of raw identifiers (names usable in ``leak_guard_allow``).
- :class:`Step` / :func:`parse_step`: one further-generalisation step of ``k_steps``;
  :func:`default_steps`: the order used when a policy entry gives none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: Token normalisers (sinergi.tokens.normalise implements each).
NORMALISERS = ("nik", "passport", "phone", "email", "text")
#: The token key field of source-record ids sent to a party that does not own the issuing system
#: (policy transform ``record``; sinergi.tokens.tokenise_records namespaces the id by its system).
RECORD_FIELD = "record"

_B = r"(?:^|[^0-9A-Za-z])"  # RE2 (Arrow) has no look-around: match the boundary character instead
_E = r"(?:$|[^0-9A-Za-z])"
#: Leak-guard patterns (RE2 syntax, matched by sinergi.disclosure.leak_guard on outgoing string columns).
PATTERNS: dict[str, str] = {
    # every spelling the extraction accepts (sinergi.normalise.nik): 16 digits, grouped by spaces (any
    # whitespace, NBSP) or hyphens, after an apostrophe or before an Excel ".0"; dots as well
    "nik": _B + r"[0-9](?:[\s\x{00A0}\x{FEFF}.-]{0,3}[0-9]){15}" + _E,
    "phone": _B + r"(?:\+62|62|0)8(?:[ .-]?[0-9]){8,11}" + _E,
    "phone_intl": r"(?:^|[^0-9A-Za-z+])\+[1-9](?:[ .-]?[0-9]){7,14}" + _E,
    # Not after '-', '_', '.' or '/': record ids such as "PN-2507-H0000123" are not passports. A raw
    # passport number in its own column is caught by the exact match against dropped values.
    "passport": r"(?:^|[^0-9A-Za-z_./-])[A-Z]{1,2}[0-9]{6,8}" + _E,
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
}
#: The exemption name for the exact match against values of dropped identifier columns.
DROPPED_VALUES = "dropped_values"


@dataclass(frozen=True)
class Step:
    """One further-generalisation step: widen an age-band column, or drop (null) one or more columns
    together (``kabkota_code+kabkota_bps_code:drop`` — two codes of the same region go as one)."""

    columns: tuple[str, ...]
    action: str  # widen | drop
    width: int | None = None

    @property
    def label(self) -> str:
        return f"{'+'.join(self.columns)}:{self.width if self.action == 'widen' else 'drop'}"


def parse_step(text: str) -> Step:
    m = re.fullmatch(r"([a-z][a-z0-9_]*(?:\+[a-z][a-z0-9_]*)*):(drop|[1-9][0-9]*)", text.strip())
    if not m:
        raise ValueError(f"bad generalisation step {text!r} (expected '<column>[+<column>]:drop' or '<band column>:<years>')")
    cols, what = tuple(m.group(1).split("+")), m.group(2)
    if what == "drop":
        return Step(cols, "drop")
    if len(cols) != 1:
        raise ValueError(f"bad generalisation step {text!r}: widen one band column at a time")
    return Step(cols, "widen", int(what))


REGION_COLUMNS = ("kabkota_code", "kabkota_bps_code")


def default_steps(quasi_identifiers: Iterable[str], bands: Mapping[str, int] | None = None, *,
                  dates: Iterable[str] = (), event_date: str | None = None,
                  groups: Iterable[tuple[str, ...]] = ()) -> list[Step]:
    """Least information lost first, touching only rows in too-small (or not diverse) classes:

    1. age bands x2; 2. kecamatan dropped (kab/kota stays); 3. every date but the event date
    dropped; 4. age bands x4; 5. every other quasi-identifier dropped, the last published first
    (the registry lists the most specific ones last: job order, P3MI, scheme, ... education),
    a code together with its BPS code or name (``groups``); 6. the event date dropped;
    7. kab/kota dropped (province stays). Sex is never dropped: rows still at risk are suppressed.
    """
    qis, bands = list(quasi_identifiers), dict(bands or {})
    dates, grouped = [d for d in dates if d in qis], [tuple(g) for g in groups]
    steps = [Step((c,), "widen", w * 2) for c, w in bands.items() if c in qis]
    steps += [Step(("kecamatan_code",), "drop")] if "kecamatan_code" in qis else []
    steps += [Step((d,), "drop") for d in dates if d != event_date]
    steps += [Step((c,), "widen", w * 4) for c, w in bands.items() if c in qis]
    kept = {"sex", "kecamatan_code", "province_code", *bands, *REGION_COLUMNS, *dates}
    done: set[str] = set()
    for c in reversed(qis):
        if c in kept or c in done:
            continue
        cols = next((g for g in grouped if c in g), (c,))
        cols = tuple(x for x in qis if x in cols)  # in published order
        done.update(cols)
        steps.append(Step(cols, "drop"))
    steps += [Step((event_date,), "drop")] if event_date in qis else []
    region = tuple(c for c in REGION_COLUMNS if c in qis)
    steps += [Step(region, "drop")] if region else []
    return steps
