"""Value normalisers: source text -> canonical values, vectorised over Arrow arrays.

Every normaliser takes a string array (the cleaned source text, nulls for empty cells) and returns
``(values, issues)``: ``values`` has the column's canonical Arrow type, ``issues`` is a string array
(null where nothing was lost) of reasons for values that were *lost* in parsing (an unparseable date
or integer becomes null and gets a reason). Values that cannot be mapped to a code but are not lost
(unknown kab/kota, country, vocabulary value, a mangled NIK) keep their whitespace-cleaned text, so
validation sees and reports what was observed.

Speed: 1M-row batches must not cost a Python call per value. Text clean-up, NIK, date, int and the
common Indonesian mobile-phone shapes are pure ``pyarrow.compute``; mappings to reference codes
(kab/kota, country, vocabularies, booleans, derivations) map the *unique* values once through a dict
and broadcast with ``take`` (dictionary encoding). Only the rare phone shapes go through
``phonenumbers``, once per distinct value.

NIK rule (this docstring is the reference; the same reasoning applies to every identifier):
- whitespace, ``-`` / space group separators and an Excel text marker (leading ``'``) are removed;
- a value that reached us *through a number* keeps only what the number kept. A number shows as a
  float rendering (``1801124507951234.0``: a numeric XLSX/JSON cell, which extraction marks with
  ``.0`` in precision-sensitive columns, or such text in a CSV), or in scientific notation
  (``1.80112450795123E+15``, also with a decimal comma). Excel stores 15 significant digits, so a
  16-digit number typed into Excel loses its 16th digit to ``0`` (``1801124507951234`` is stored as
  ``1801124507951230``); a double holds every integer exactly only below 2**53. So a number
  rendering is *trusted* — replaced by its digits — only when every digit is shown and, for 16 or
  more digits, the last digit is not ``0`` and the value is below 2**53 (``1801124507951234.0`` ->
  ``1801124507951234``: a program wrote it with full precision; Excel could not have). Any other
  number rendering is *untrusted* and kept as observed (``1801124507951230.0``,
  ``1.80112450795123E+15``): a real NIK may end in 0, but from a number nobody can tell it from a
  rounded one, and a wrong NIK links the worker to somebody else in every later month. Validation
  quarantines it as ``nik_precision_lost`` (``precision_lost:<column>`` for other precision-sensitive
  ids, datasets.yaml ``precision_sensitive``), with a message telling the producer to format the
  column as text and retype the number;
- anything else with fewer/more than 16 digits is kept as text (``nik_shape`` rejects it). Nothing
  is ever padded or truncated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from sinergi import regions, vocab

PHONE_REGION = "ID"
_EXCEL_EPOCH_OFFSET = 25569  # Excel serial of 1970-01-01 (1900 date system, after the 1900-02-29 bug)
_EXCEL_SERIAL_MIN, _EXCEL_SERIAL_MAX = 1, 2958465  # 1900-01-01 .. 9999-12-31

_TRUE = {"Y", "YA", "YES", "TRUE", "T", "1", "BENAR", "ADA"}
_FALSE = {"N", "TIDAK", "NO", "FALSE", "F", "0", "SALAH", "TIDAK ADA", "BUKAN"}


# --------------------------------------------------------------------------------------------
# helpers


def _as_string(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type == pa.large_string():
        arr = arr.cast(pa.string())
    if arr.type != pa.string():
        arr = pc.cast(arr, pa.string())
    return arr


def clean_text(arr: pa.Array) -> pa.Array:
    """Trim, collapse inner whitespace (incl. NBSP, tabs, newlines) to one space; empty -> null.

    Fast path: ASCII-printable values without a double space only need an ASCII trim; the regex
    runs on the (rare) rest only."""
    arr = pc.ascii_trim_whitespace(_as_string(arr))
    messy = pc.or_(pc.invert(pc.ascii_is_printable(arr)), pc.match_substring(arr, "  "))
    messy = pc.fill_null(messy, False)
    if pc.any(messy).as_py():
        sub = arr.filter(messy)
        sub = pc.utf8_trim_whitespace(pc.replace_substring_regex(sub, r"[\s\x{00A0}\x{FEFF}]+", " "))
        arr = pc.replace_with_mask(arr, messy, sub)
    empty = pc.fill_null(pc.equal(arr, ""), False)
    if pc.any(empty).as_py():
        arr = pc.if_else(empty, pa.scalar(None, pa.string()), arr)
    return arr


def clean_value(value: str | None) -> str | None:
    """Python twin of clean_text for one value (used on the distinct values of coded columns)."""
    if value is None:
        return None
    out = " ".join(value.replace("\ufeff", " ").split())
    return out or None


def _where(arr: pa.Array, mask: pa.Array, fn: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """Apply ``fn`` to the rows selected by ``mask`` only (costly regexes on the rare cases)."""
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return arr
    return pc.replace_with_mask(arr, mask, fn(arr.filter(mask)).cast(arr.type))


def _upper(arr: pa.Array) -> pa.Array:
    return pc.ascii_upper(arr) if pc.all(pc.fill_null(pc.string_is_ascii(arr), True)).as_py() else pc.utf8_upper(arr)


def map_unique(arr: pa.Array, fn: Callable[[str], object], type_: pa.DataType | None = None) -> pa.Array:
    """Apply ``fn`` once per distinct non-null value and broadcast the results with ``take``."""
    type_ = type_ or pa.string()
    arr = _as_string(arr)
    if len(arr) == 0:
        return pa.array([], type=type_)
    enc = pc.dictionary_encode(arr)
    mapped = pa.array([fn(v) for v in enc.dictionary.to_pylist()], type=type_)
    return pc.take(mapped, enc.indices)


def _issue(mask: pa.Array, reason: str | pa.Array) -> pa.Array:
    """String array: ``reason`` where ``mask`` is true, else null."""
    mask = pc.fill_null(mask, False)
    if isinstance(reason, str):
        reason = pa.scalar(reason, pa.string())
    return pc.if_else(mask, reason, pa.scalar(None, pa.string()))


def _lost_note(raw: pa.Array, what: str) -> pa.Array:
    """``unparseable <what> '<observed text, max 30 chars>'`` (owner-zone bookkeeping only)."""
    shown = pc.utf8_slice_codeunits(raw, 0, 30)
    return pc.binary_join_element_wise(pa.scalar(f"unparseable {what} '"), shown, pa.scalar("'"), "")


def no_issues(n: int) -> pa.Array:
    return pa.nulls(n, pa.string())


# --------------------------------------------------------------------------------------------
# numbers written where text belongs (identifiers)


#: How a number cell renders an integer: a float rendering (``…0.0``, decimal point or comma) or
#: scientific notation (``1.80112E+15``). After normalisation only *untrusted* renderings remain in a
#: column, so validation's precision rules match exactly this pattern.
NUMBER_RENDERING = r"^[0-9]+[.,]0+$|^[0-9](?:[.,][0-9]+)?[eE]\+?[0-9]{1,2}$"
#: Excel keeps 15 significant digits: from 16 digits on, the last digit of a number may be rounded.
LONG_NUMBER_DIGITS = 16
#: Below 2**53 a double holds every integer exactly; above, odd values are rounded.
EXACT_INTEGER_LIMIT = 2**53
_FLOAT_TEXT = re.compile(r"^(\d+)[.,]0+$")
_SCI_TEXT = re.compile(r"^(\d)(?:[.,](\d+))?[eE]\+?(\d{1,2})$")


def number_rendering(text: str) -> tuple[str, bool] | None:
    """``(digits, trusted)`` when ``text`` is a number rendering of an integer, else None.

    ``trusted``: every digit is shown (scientific notation hides those after the mantissa) and, for
    a number of 16 or more digits, the last digit is not 0 and the value is below 2**53 — the rule
    of the module docstring."""
    m = _FLOAT_TEXT.match(text)
    if m:
        digits = m.group(1)
        shown = len(digits)
    else:
        m = _SCI_TEXT.match(text)
        if not m:
            return None
        mantissa, exponent = m.group(1) + (m.group(2) or ""), int(m.group(3))
        if len(mantissa) > exponent + 1:  # digits after the decimal point remain
            if mantissa[exponent + 1:].strip("0"):
                return None  # not an integer
            mantissa = mantissa[:exponent + 1]
        digits = mantissa.ljust(exponent + 1, "0")
        shown = len(mantissa)
    trusted = shown == len(digits) and (
        len(digits) < LONG_NUMBER_DIGITS or (digits[-1] != "0" and int(digits) < EXACT_INTEGER_LIMIT))
    return digits, trusted


def _trusted_one(text: str) -> str:
    found = number_rendering(text)
    return found[0] if found and found[1] else text


def _trusted_digits(arr: pa.Array) -> pa.Array:
    """Number renderings -> their digits when trusted; everything else unchanged (per distinct value)."""
    return map_unique(arr, _trusted_one)


# --------------------------------------------------------------------------------------------
# string normalisers


def text(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    out = clean_text(arr)
    return out, no_issues(len(out))


def name(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Person names: cleaned and upper-cased (SISKOP2MI writes names in capitals; case carries no
    information and must not make the same person two tokens)."""
    out = _upper(clean_text(arr))
    return out, no_issues(len(out))


def ident(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Record ids: cleaned, upper-cased, spaces removed; a number rendering (``123.0``, ``1.2E+3``)
    becomes its digits when they are trusted (see the module docstring), else stays as observed."""
    out = _upper(clean_text(arr))
    out = _where(out, pc.match_substring(out, " "), lambda a: pc.replace_substring(a, " ", ""))
    out = _where(out, pc.match_substring_regex(out, NUMBER_RENDERING), _trusted_digits)
    return out, no_issues(len(out))


def passport(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    out = _upper(clean_text(arr))
    out = _where(out, pc.invert(pc.ascii_is_alnum(out)), lambda a: pc.replace_substring_regex(a, r"[\s\-]", ""))
    return out, no_issues(len(out))


def email(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    out = pc.utf8_lower(clean_text(arr))
    out = _where(out, pc.match_substring(out, " "), lambda a: pc.replace_substring_regex(a, r"\s*@\s*", "@"))
    return out, no_issues(len(out))


def nik(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """See the module docstring for the repair rule."""
    out = clean_text(arr)
    odd = pc.invert(pc.ascii_is_decimal(out))  # the common case (16 plain digits) skips all regexes
    if not pc.any(pc.fill_null(odd, False)).as_py():
        return out, no_issues(len(out))
    out = _where(out, odd, _nik_repair)
    return out, no_issues(len(out))


def _nik_repair(out: pa.Array) -> pa.Array:
    out = pc.replace_substring_regex(out, r"^'", "")
    # grouped forms "1801 0145 0790 0001", "18-01-01-..." (only digits + separators, never sci-notation)
    grouped = pc.match_substring_regex(out, r"^\d{1,6}([ \-]\d{1,6})+$")
    out = pc.if_else(grouped, pc.replace_substring_regex(out, r"[ \-]", ""), out)
    return _where(out, pc.match_substring_regex(out, NUMBER_RENDERING), _trusted_digits)


def nik_is_valid(value: str | None) -> bool:
    """16 digits, a known kab/kota prefix from sinergi.regions, a real birth date (stdnum).

    ``stdnum.id.nik`` alone is not enough: its place table only knows provinces for Lampung (it
    accepts 1899..., a kab/kota that does not exist), so the kab/kota prefix is checked here.
    """
    from stdnum.id import nik as stdnik

    if not value or not re.fullmatch(r"\d{16}", value):
        return False
    return value[:4] in regions.by_code() and stdnik.is_valid(value)


# --------------------------------------------------------------------------------------------
# phone


_MOBILE_ID = r"8\d{8,10}"  # Indonesian mobile: 08xx + 7..9 more digits (10–12 digits written with 0)


@cache
def _phone_slow(value: str) -> str:
    s = value
    digits = re.sub(r"\D", "", s)
    if not s.startswith("+") and s.startswith("00"):
        s = "+" + digits[2:]
    elif not s.startswith("+") and digits.startswith("62") and len(digits) >= 10:
        s = "+" + digits
    try:
        num = phonenumbers.parse(s, PHONE_REGION)
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_possible_number(num):
        return value
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def phone(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """E.164 (region ID; foreign numbers such as +886/+852/+60 kept). Numbers that are not possible
    numbers keep their cleaned text so validation reports them.

    Fast path (no regex, no Python): ``08`` + 8..10 digits -> ``+628...``; then the common separators
    and ``62``/``+62`` prefixes by regex on the rest; ``phonenumbers`` once per remaining distinct value."""
    cleaned = clean_text(arr)
    n = pc.binary_length(cleaned)
    plain = pc.and_(pc.and_(pc.ascii_is_decimal(cleaned), pc.starts_with(cleaned, "08")),
                    pc.and_(pc.greater_equal(n, 10), pc.less_equal(n, 12)))
    plain = pc.fill_null(plain, False)
    out = pc.if_else(plain, pc.binary_join_element_wise("+62", pc.utf8_slice_codeunits(cleaned, 1), ""), cleaned)
    rest = pc.and_(pc.invert(plain), pc.is_valid(cleaned))
    if pc.any(rest).as_py():
        out = _where(out, rest, _phone_rest)
    return out, no_issues(len(cleaned))


def _phone_rest(cleaned: pa.Array) -> pa.Array:
    compact = pc.replace_substring_regex(cleaned, r"[\s\-().]", "")
    fast = pc.replace_substring_regex(compact, rf"^(?:\+62|62|0)({_MOBILE_ID})$", r"+62\1")
    is_fast = pc.fill_null(pc.match_substring_regex(fast, rf"^\+62{_MOBILE_ID}$"), False)
    if pc.all(is_fast).as_py():
        return fast
    slow = map_unique(pc.if_else(is_fast, pa.scalar(None, pa.string()), cleaned), _phone_slow)
    return pc.if_else(is_fast, fast, slow)


# --------------------------------------------------------------------------------------------
# dates and numbers


def _day_matches(ts: pa.Array, iso_or_dmy: pa.Array, start: int) -> pa.Array:
    """strptime rolls 31/02 over to 03/03: accept a parse only if the written day survives."""
    sl = pc.utf8_slice_codeunits(iso_or_dmy, start, start + 2)
    sl = pc.if_else(pc.fill_null(pc.ascii_is_decimal(sl), False), sl, pa.scalar(None, pa.string()))
    written = pc.cast(sl, pa.int64())
    return pc.fill_null(pc.equal(pc.day(ts), written), False)


def _dates_general(raw: pa.Array) -> pa.Array:
    """Every accepted shape -> date32 (null where impossible). Used on the rows the fast path missed."""
    # ISO with a time part: "2025-07-03 10:00:00" / "2025-07-03T10:00:00+07:00" -> the date part
    s = pc.replace_substring_regex(raw, r"^(\d{4}-\d{1,2}-\d{1,2})(?:[ T].*)?$", r"\1")
    # d/m/yyyy, dd-mm-yyyy, dd.mm.yyyy -> yyyy-m-d
    s = pc.replace_substring_regex(s, r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$", r"\3-\2-\1")
    s = pc.replace_substring_regex(s, r"^(\d{4})-(\d)-", r"\1-0\2-")
    s = pc.replace_substring_regex(s, r"^(\d{4}-\d{2})-(\d)$", r"\1-0\2")
    ok_shape = pc.fill_null(pc.match_substring_regex(s, r"^\d{4}-\d{2}-\d{2}$"), False)
    ts = pc.strptime(pc.if_else(ok_shape, s, pa.scalar(None, pa.string())), format="%Y-%m-%d", unit="s",
                     error_is_null=True)
    out = pc.cast(pc.if_else(_day_matches(ts, s, 8), ts, pa.scalar(None, ts.type)), pa.date32())
    # Excel serial day numbers (the 1900 system; cells formatted as number)
    serial_mask = pc.fill_null(pc.match_substring_regex(raw, r"^\d{1,7}(\.0+)?$"), False)
    if pc.any(serial_mask).as_py():
        serial = pc.cast(pc.if_else(serial_mask, raw, pa.scalar(None, pa.string())), pa.float64())
        serial = pc.if_else(
            pc.and_(pc.greater_equal(serial, _EXCEL_SERIAL_MIN + 60), pc.less_equal(serial, _EXCEL_SERIAL_MAX)),
            serial,
            pa.scalar(None, pa.float64()),
        )
        days = pc.cast(pc.subtract(pc.cast(serial, pa.int64()), _EXCEL_EPOCH_OFFSET), pa.int32())
        out = pc.coalesce(out, pc.cast(days, pa.date32()))
    return out


def date(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """dd/mm/yyyy (also d/m/yyyy, with - or .), ISO yyyy-mm-dd (optionally with a time part), Excel
    serials. Impossible dates (31/02/1990) are not rolled over: they are lost (null + reason)."""
    raw = clean_text(arr)
    n = len(raw)
    ten = pc.fill_null(pc.equal(pc.binary_length(raw), 10), False)
    # fast path 1: dd/mm/yyyy (what SISKOP2MI writes)
    ts = pc.strptime(raw, format="%d/%m/%Y", unit="s", error_is_null=True)
    ok = pc.and_(ten, _day_matches(ts, raw, 0))
    # fast path 2: ISO yyyy-mm-dd (databases, pandas)
    left = pc.and_(ten, pc.invert(ok))
    if pc.any(left).as_py():
        iso = pc.strptime(raw, format="%Y-%m-%d", unit="s", error_is_null=True)
        iso_ok = pc.and_(left, _day_matches(iso, raw, 8))
        ts = pc.if_else(iso_ok, iso, ts)
        ok = pc.or_(ok, iso_ok)
    out = pc.cast(pc.if_else(ok, ts, pa.scalar(None, ts.type)), pa.date32())
    rest = pc.and_(pc.is_valid(raw), pc.invert(ok))
    if pc.any(rest).as_py():
        out = pc.replace_with_mask(out, rest, _dates_general(raw.filter(rest)))
    lost = pc.and_(pc.is_valid(raw), pc.is_null(out))
    issues = _issue(lost, _lost_note(raw, "date")) if pc.any(lost).as_py() else no_issues(n)
    return out, issues


def integer(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Plain digits (optional sign, an Excel ``.0`` tail). Thousand separators are ambiguous in
    Indonesian exports (``1.200`` = 1200, but ``1.2`` is not an int), so anything else is lost."""
    raw = clean_text(arr)
    s = pc.replace_substring_regex(raw, r"^([+-]?\d{1,18})\.0+$", r"\1")
    ok = pc.fill_null(pc.match_substring_regex(s, r"^[+-]?\d{1,18}$"), False)
    out = pc.cast(pc.if_else(ok, s, pa.scalar(None, pa.string())), pa.int64())
    lost = pc.and_(pc.is_valid(raw), pc.invert(ok))
    issues = _issue(lost, _lost_note(raw, "integer")) if pc.any(lost).as_py() else no_issues(len(raw))
    return out, issues


def _bool_value(v: str | None) -> bool | None:
    if v is None:
        return None
    key = re.sub(r"[^A-Z0-9]+", " ", v.upper()).strip()
    return True if key in _TRUE else False if key in _FALSE else None


def boolean(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    raw = map_unique(arr, clean_value)
    out = map_unique(raw, _bool_value, pa.bool_())
    lost = pc.and_(pc.is_valid(raw), pc.is_null(out))
    issues = _issue(lost, _lost_note(raw, "yes/no value")) if pc.any(lost).as_py() else no_issues(len(raw))
    return out, issues


# --------------------------------------------------------------------------------------------
# reference codes (mapped; unmapped text kept)


def _mapped_or_kept(arr: pa.Array, fn: Callable[[str], str | None]) -> tuple[pa.Array, pa.Array]:
    """Low-cardinality columns: clean and map each distinct raw value once (no full-array passes)."""

    def one(v: str) -> str | None:
        c = clean_value(v)
        return None if c is None else (fn(c) or c)

    return map_unique(arr, one), no_issues(len(arr))


def kabkota(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Kab/kota spelling or Kemendagri code -> Kemendagri code (sinergi.regions). A BPS code written
    where the Kemendagri code belongs is not silently reinterpreted (regions refuses it unless the
    two codes are equal): it stays as text and validation reports it."""
    return _mapped_or_kept(arr, regions.kabkota_code)


def country(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    return _mapped_or_kept(arr, vocab.country_code)


def vocabulary(name_: str) -> Callable[[pa.Array], tuple[pa.Array, pa.Array]]:
    vocab.values(name_)  # fail early on an unknown vocabulary

    def normalise_vocab(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
        return _mapped_or_kept(arr, lambda v: vocab.canonical(name_, v))

    return normalise_vocab


NORMALISERS: dict[str, Callable[[pa.Array], tuple[pa.Array, pa.Array]]] = {
    "text": text,
    "name": name,
    "id": ident,
    "nik": nik,
    "date": date,
    "int": integer,
    "bool": boolean,
    "phone": phone,
    "email": email,
    "passport": passport,
    "kabkota": kabkota,
    "country": country,
}


def normaliser(spec: str | None) -> Callable[[pa.Array], tuple[pa.Array, pa.Array]]:
    """The normaliser for a registry ``normalise`` value (``None`` -> text)."""
    if spec is None:
        return text
    if spec.startswith("vocab:"):
        return vocabulary(spec.split(":", 1)[1])
    try:
        return NORMALISERS[spec]
    except KeyError:
        raise ValueError(f"unknown normaliser {spec!r}; known: {sorted(NORMALISERS)} or vocab:<name>") from None


def normalise(spec: str | None, arr: pa.Array, type_: pa.DataType | None = None) -> tuple[pa.Array, pa.Array]:
    """Normalise ``arr`` with the registry normaliser ``spec``; cast to ``type_`` if given."""
    values, issues = normaliser(spec)(arr)
    if type_ is not None and values.type != type_:
        values = values.cast(type_)
    return values, issues


# --------------------------------------------------------------------------------------------
# derivations (computed from another canonical column)


def _bps(code: str) -> str | None:
    return regions.bps_code(code)


def _province(code: str) -> str | None:
    return code[:2] if code in regions.by_code() else None


def kecamatan_code(nik_values: pa.Array) -> pa.Array:
    """First six digits of a well-formed NIK whose kab/kota prefix exists; else null."""
    arr = _as_string(nik_values)
    ok = pc.fill_null(pc.and_(pc.equal(pc.binary_length(arr), 16), pc.ascii_is_decimal(arr)), False)
    prefix = pc.utf8_slice_codeunits(arr, 0, 4)
    known = pc.is_in(prefix, value_set=pa.array(sorted(regions.by_code()), pa.string()))
    ok = pc.and_(ok, pc.fill_null(known, False))
    return pc.if_else(ok, pc.utf8_slice_codeunits(arr, 0, 6), pa.scalar(None, pa.string()))


DERIVATIONS: dict[str, Callable[[pa.Array], pa.Array]] = {
    "bps_code": lambda a: map_unique(a, _bps),
    "province_code": lambda a: map_unique(a, _province),
    "kecamatan_code": kecamatan_code,
    "country_name": lambda a: map_unique(a, vocab.country_name),
}


def derive(via: str, source: pa.Array) -> pa.Array:
    try:
        return DERIVATIONS[via](source)
    except KeyError:
        raise ValueError(f"unknown derivation {via!r}; known: {sorted(DERIVATIONS)}") from None


def join_issues(parts: list[tuple[str, pa.Array]], n: int) -> pa.Array:
    """Combine per-column issue arrays into one ``column: reason; ...`` string array (null if none)."""
    acc = no_issues(n)
    for column, issues in parts:
        if issues.null_count == len(issues):
            continue
        labelled = pc.binary_join_element_wise(pa.scalar(f"{column}: "), issues, "")
        joined = pc.binary_join_element_wise(acc, labelled, "; ")  # null if either is null
        acc = pc.coalesce(joined, acc, labelled)
    return acc


def count_true(mask: pa.Array) -> int:
    return int(np.count_nonzero(pc.fill_null(mask, False).to_numpy(zero_copy_only=False)))
