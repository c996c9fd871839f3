"""The sharing policy: who receives which dataset, which rows and columns, and how each personal
column is transformed (config/policy.yaml, validated with pydantic and against the registry).

Rules (a violation fails at load time with the dotted path of the offending key):

* a party receives only the datasets listed under it; a dataset receives only the columns listed
  (minimisation by default: an unlisted column is not shared);
* every ``direct_identifier``, ``quasi_identifier`` and ``sensitive`` column of a received dataset
  must be listed with an explicit transform — even when it is dropped — so each decision about
  personal data is written down (and appears in the record of processing, sinergi.ropa);
* transforms: ``drop``; ``token`` (keyed HMAC, sinergi.tokens; output ``<column>_token`` string);
  ``generalise`` with ``to: birth_year`` (int64 ``birth_year``), ``to: age_band`` (string
  ``age_band`` such as ``25-29``; ``width`` default 5; age at the date column ``reference``) or
  ``to: region`` (for a free-text address: dropped in favour of the canonical kabkota_code /
  kecamatan_code columns, which must then be listed themselves); ``keep`` (on a direct identifier
  only with a written ``justification``);
* row filters are declarative conditions, never code: ``{column: kabkota_code, prefix: "18"}``,
  ``{column: c, in: [...]}``, ``{column: c, equals: v}``, ``{column: c, not_null: true}``, and
  ``{all: [...]}`` / ``{any: [...]}`` / ``{not: {...}}``; a null never matches.

``share()`` applies one party's entry to one dataset's validated table: row filter -> transforms ->
k-anonymity -> leak guard, and returns the table to publish plus a JSON-able report for the
manifest. ``shared_schema()`` gives the output schema from the policy alone (deterministic).
The leak guard's exact-match list holds the values of every direct identifier that is not kept
(dropped, tokenised or generalised: names, addresses, phones, passports, NIKs), taken from all input
rows; quasi-identifier codes are not in it, because codes legitimately recur (a regency's BPS code
is another regency's Kemendagri code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sinergi import registry
from sinergi.chunks import ParquetSource, TableSource, as_source, chunks, column_chunks
from sinergi.disclosure import PATTERNS, Step, default_steps, k_anonymise, leak_guard, parse_step
from sinergi.tokens import NORMALISERS, TOKEN_PATTERN, Keyring, tokenise

__all__ = [
    "ColumnSpec", "Condition", "DatasetShare", "Party", "Policy", "PolicyError", "load_policy",
    "output_columns", "share", "shared_schema",
]

TRANSFORMS = ("drop", "token", "generalise", "keep")
GENERALISE_TO = ("birth_year", "age_band", "region")
PERSONAL_ROLES = ("direct_identifier", "quasi_identifier", "sensitive")
DEFAULT_FIELD = {"nik": "person", "passport": "passport", "phone": "phone", "email": "email", "name": "name"}
_NAME = r"[a-z][a-z0-9_]*"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~25x faster than pure Python
_BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"


class PolicyError(ValueError):
    """The policy is invalid (each line names the dotted path of the offending key) or cannot be applied."""

    def __init__(self, errors: list[str] | str, source: str | None = None):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        head = f"invalid sharing policy{f' ({source})' if source else ''}: " if isinstance(errors, list) else ""
        super().__init__(head + "\n  ".join(self.errors) if head else self.errors[0])


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=False)


class ColumnSpec(_Model):
    """How one column is shared. YAML shorthand: ``nik: token``; long form: a mapping."""

    transform: str
    field: str | None = None  # token: key field kind (default from the registry normaliser: nik -> person)
    normalise: str | None = None  # token: normaliser override (nik|passport|phone|email|text)
    to: str | None = None  # generalise: birth_year | age_band | region
    width: int | None = Field(default=None, ge=1, le=50)  # age_band width in years (default 5)
    reference: str | None = None  # age_band: date column the age is computed at
    rename: str | None = Field(default=None, alias="as")  # output column name override
    justification: str | None = None  # required for keep on a direct identifier
    leak_guard_allow: list[str] = []  # reviewed leak-guard exemptions for this output column

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = {"transform": v}
        if not isinstance(v, dict):
            raise ValueError(f"expected a transform name or a mapping, got {type(v).__name__}")
        t = v.get("transform")
        if t is None:
            raise ValueError("missing 'transform'")
        if t not in TRANSFORMS:
            raise ValueError(f"unknown transform {t!r} (expected one of {', '.join(TRANSFORMS)})")
        return v

    @model_validator(mode="after")
    def _options(self) -> ColumnSpec:
        t = self.transform
        if t != "token" and (self.field or self.normalise):
            raise ValueError(f"'field'/'normalise' only apply to transform token, not {t!r}")
        if t != "generalise" and (self.to or self.width or self.reference):
            raise ValueError(f"'to'/'width'/'reference' only apply to transform generalise, not {t!r}")
        if t == "generalise":
            if self.to not in GENERALISE_TO:
                raise ValueError(f"generalise needs 'to' (one of {', '.join(GENERALISE_TO)}), got {self.to!r}")
            if self.to == "age_band" and not self.reference:
                raise ValueError("generalise to age_band needs 'reference' (the date the age is computed at)")
            if self.to != "age_band" and (self.width or self.reference):
                raise ValueError(f"'width'/'reference' only apply to age_band, not {self.to!r}")
        if self.normalise and self.normalise not in NORMALISERS:
            raise ValueError(f"unknown normaliser {self.normalise!r} (expected one of {', '.join(NORMALISERS)})")
        if self.field and not re.fullmatch(_NAME, self.field):
            raise ValueError(f"token field {self.field!r} must be snake_case")
        if self.rename and not re.fullmatch(_NAME, self.rename):
            raise ValueError(f"output name {self.rename!r} must be snake_case")
        if t in ("drop",) and (self.rename or self.leak_guard_allow):
            raise ValueError("a dropped column has no output name or leak-guard exemptions")
        for p in self.leak_guard_allow:
            if p not in (*PATTERNS, "dropped_values"):
                raise ValueError(f"unknown leak-guard pattern {p!r} (known: {', '.join(PATTERNS)}, dropped_values)")
        return self

    @property
    def band_width(self) -> int:
        return self.width or 5

    def describe(self) -> str:
        """Short label used in reports, metadata and the record of processing."""
        if self.transform == "generalise":
            if self.to == "age_band":
                return f"generalise:age_band({self.band_width}y at {self.reference})"
            return f"generalise:{self.to}"
        if self.transform == "token":
            return f"token:{self.field}" if self.field else "token"
        return self.transform


class Condition(_Model):
    column: str | None = None
    prefix: str | None = None
    in_: list[str | int | bool] | None = Field(default=None, alias="in")
    equals: str | int | bool | None = None
    not_null: bool | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _shape(self) -> Condition:
        ops = [k for k in ("prefix", "in_", "equals", "not_null") if k in self.model_fields_set]
        logic = [k for k in ("all", "any", "not_") if k in self.model_fields_set]
        if self.column is not None:
            if logic or len(ops) != 1:
                raise ValueError("a column condition needs exactly one of prefix, in, equals, not_null")
            if "in_" in ops and not self.in_:
                raise ValueError("'in' needs a non-empty list")
            if "equals" in ops and self.equals is None:
                raise ValueError("'equals' needs a value (use not_null to test for presence)")
        elif ops or len(logic) != 1:
            raise ValueError("a condition is either {column: ..., <op>: ...} or exactly one of all, any, not")
        elif logic[0] in ("all", "any") and not getattr(self, logic[0]):
            raise ValueError(f"'{logic[0]}' needs a non-empty list")
        return self

    def columns(self) -> list[str]:
        if self.column is not None:
            return [self.column]
        subs = self.all or self.any or ([self.not_] if self.not_ else [])
        return [c for s in subs for c in s.columns()]

    def mask(self, table: pa.Table) -> pa.ChunkedArray | pa.Array:
        """Boolean mask; null (missing values) counts as not matching."""
        if self.column is not None:
            col = table.column(self.column)
            if self.prefix is not None:
                m = pc.starts_with(col, self.prefix)
            elif self.in_ is not None:
                m = pc.is_in(col, value_set=pa.array(self.in_).cast(col.type))
                m = pc.if_else(pc.is_null(col), pa.scalar(False), m)
            elif self.not_null is not None:
                m = pc.is_valid(col) if self.not_null else pc.is_null(col)
            else:
                m = pc.equal(col, pa.scalar(self.equals).cast(col.type))
            return pc.fill_null(m, False)
        if self.not_ is not None:
            return pc.invert(self.not_.mask(table))
        masks = [c.mask(table) for c in (self.all or self.any)]
        out = masks[0]
        for m in masks[1:]:
            out = pc.and_(out, m) if self.all else pc.or_(out, m)
        return out

    def describe(self) -> str:
        if self.column is not None:
            if self.prefix is not None:
                return f"{self.column} starts with {self.prefix!r}"
            if self.in_ is not None:
                return f"{self.column} in {self.in_!r}"
            if self.not_null is not None:
                return f"{self.column} is {'not ' if self.not_null else ''}null"
            return f"{self.column} == {self.equals!r}"
        if self.not_ is not None:
            return f"not ({self.not_.describe()})"
        joiner = " and " if self.all else " or "
        return "(" + joiner.join(c.describe() for c in (self.all or self.any)) + ")"


class DatasetShare(_Model):
    purpose: str = Field(min_length=10)  # why the party receives it (work-plan row, in words)
    mou_article: str = Field(min_length=3)  # MoU article(s) / annex row(s) giving the basis
    workplan: list[str] = []  # annex (Rencana Kerja) row ids, e.g. ["4d"]
    row_filter: Condition | None = None
    k: int | None = Field(default=None, ge=1)
    quasi_identifiers: list[str] | None = None  # output names; default: registry QIs after transforms
    k_steps: list[str] | None = None  # further generalisation, e.g. ["age_band:10", "kecamatan_code:drop"]
    specific_data: str | None = None  # UU 27/2022 Pasal 4 specific personal data carried (e.g. health)
    notes: str | None = None
    columns: dict[str, ColumnSpec]

    @field_validator("k_steps")
    @classmethod
    def _steps(cls, v: list[str] | None) -> list[str] | None:
        for s in v or []:
            parse_step(s)
        return v


class Party(_Model):
    name: str = ""  # the key under ``parties`` (filled in on load; part of the token key derivation)
    title: str
    pihak: str  # PIHAK KESATU / PIHAK KEDUA / ...
    organisation: str = ""
    description: str = ""
    contact: str = ""  # liaison office (MoU Art. 12) - a position, never a person
    bucket: str
    credentials: str  # name of the store key (access-key identity) this party reads its bucket with
    retention: str | None = None
    k: int | None = Field(default=None, ge=1)
    datasets: dict[str, DatasetShare]

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, v: str) -> str:
        if not re.fullmatch(_BUCKET, v) or ".." in v:
            raise ValueError(f"{v!r} is not a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')")
        return v

    @field_validator("credentials")
    @classmethod
    def _credentials(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{1,62}", v):
            raise ValueError(f"credentials name {v!r} must be lowercase letters, digits, '_' or '-'")
        return v


class Agreement(_Model):
    title: str
    numbers: list[str]
    signed: str
    valid_years: int
    legal: list[str] = []


class Defaults(_Model):
    k: int = Field(default=5, ge=1)
    retention: str


class Policy(_Model):
    version: int = Field(ge=1)
    key_version: int = Field(default=1, ge=1)
    agreement: Agreement
    defaults: Defaults
    parties: dict[str, Party]
    source: str | None = Field(default=None, exclude=True)

    @field_validator("parties")
    @classmethod
    def _names(cls, v: dict[str, Party]) -> dict[str, Party]:
        for name, party in v.items():
            if not re.fullmatch(_NAME, name):
                raise ValueError(f"party name {name!r} must be snake_case")
            party.name = name
        return v

    def party(self, name: str) -> Party:
        try:
            return self.parties[name]
        except KeyError:
            raise PolicyError(f"unknown party {name!r}; known: {', '.join(self.parties)}") from None

    def recipients(self, dataset: str) -> list[str]:
        """Parties that receive ``dataset``, in policy order."""
        return [n for n, p in self.parties.items() if dataset in p.datasets]

    def entry(self, dataset: str, party: str) -> DatasetShare:
        p = self.party(party)
        if dataset not in p.datasets:
            raise PolicyError(f"party {party!r} does not receive dataset {dataset!r} under the policy")
        return p.datasets[dataset]

    def k_for(self, dataset: str, party: str) -> int:
        e, p = self.entry(dataset, party), self.party(party)
        return e.k or p.k or self.defaults.k

    def retention_for(self, party: str) -> str:
        return self.party(party).retention or self.defaults.retention


# --- output plan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OutColumn:
    name: str
    source: str
    type: pa.DataType
    role: str
    spec: ColumnSpec
    en: str
    id: str
    field: str | None = None  # token field kind
    normaliser: str | None = None  # token normaliser

    @property
    def transform(self) -> str:
        return f"token:{self.field}" if self.spec.transform == "token" else self.spec.describe()


def _token_defaults(col: registry.Column, spec: ColumnSpec) -> tuple[str, str]:
    field = spec.field or DEFAULT_FIELD.get(col.normalise or "", col.name)
    norm = spec.normalise or (col.normalise if col.normalise in NORMALISERS else "text")
    return field, norm


def output_columns(dataset: str, entry: DatasetShare) -> list[OutColumn]:
    """The output columns of one policy entry, in registry order (deterministic)."""
    ds = registry.get(dataset)
    out = []
    for col in ds.columns:
        spec = entry.columns.get(col.name)
        if spec is None or spec.transform == "drop" or (spec.transform == "generalise" and spec.to == "region"):
            continue
        if spec.transform == "keep":
            out.append(OutColumn(spec.rename or col.name, col.name, col.arrow_type, col.role, spec, col.en, col.id))
        elif spec.transform == "token":
            field, norm = _token_defaults(col, spec)
            out.append(OutColumn(
                spec.rename or f"{col.name}_token", col.name, pa.string(), col.role, spec,
                f"Pseudonymous token of: {col.en} (keyed HMAC-SHA256, '{field}' key of this recipient; "
                "the same value has the same token in every dataset and month of this recipient)",
                f"Token pseudonim dari: {col.id} (HMAC-SHA256 berkunci, kunci '{field}' milik penerima ini; "
                "nilai yang sama bertoken sama di semua dataset dan bulan penerima ini)",
                field, norm,
            ))
        elif spec.to == "birth_year":
            out.append(OutColumn(spec.rename or "birth_year", col.name, pa.int64(), col.role, spec,
                                 f"Year of birth (generalised from: {col.en})",
                                 f"Tahun lahir (digeneralisasi dari: {col.id})"))
        else:  # age_band
            w, ref = spec.band_width, spec.reference
            ref_col = ds.column(ref) if ref in ds.column_names else None
            ref_en = ref_col.en.lower() if ref_col else ref
            ref_id = ref_col.id.lower() if ref_col else ref
            out.append(OutColumn(
                spec.rename or "age_band", col.name, pa.string(), col.role, spec,
                f"Age band in years at {ref_en}, e.g. '25-29' ({w}-year bands from {col.en.lower()}; "
                "wider 10/20-year bands where needed for k-anonymity)",
                f"Kelompok umur (tahun) pada {ref_id}, mis. '25-29' (rentang {w} tahun dari {col.id.lower()}; "
                "lebih lebar 10/20 tahun bila diperlukan untuk k-anonimitas)",
            ))
    return out


def _quasi_identifiers(outs: list[OutColumn], entry: DatasetShare) -> list[str]:
    if entry.quasi_identifiers is not None:
        return list(entry.quasi_identifiers)
    return [o.name for o in outs if o.role == "quasi_identifier" and o.spec.transform in ("keep", "generalise")]


def _steps(outs: list[OutColumn], entry: DatasetShare, qis: list[str]) -> list[Step]:
    if entry.k_steps is not None:
        return [parse_step(s) for s in entry.k_steps]
    bands = {o.name: o.spec.band_width for o in outs if o.spec.transform == "generalise" and o.spec.to == "age_band"}
    return default_steps(qis, bands)


def shared_schema(dataset: str, party: str, policy: Policy) -> pa.Schema:
    """The schema ``share()`` produces for this dataset and party (from the policy alone)."""
    entry = policy.entry(dataset, party)
    return pa.schema(
        [
            pa.field(o.name, o.type, nullable=True, metadata={
                "description": o.en, "description_id": o.id, "role": o.role,
                "transform": o.transform, "source_column": o.source,
            })
            for o in output_columns(dataset, entry)
        ],
        metadata={"dataset": dataset, "party": party, "policy_version": str(policy.version),
                  "schema_version": str(registry.SCHEMA_VERSION)},
    )


# --- validation against the registry ---------------------------------------------------------


def _check_condition(cond: Condition, ds: registry.Dataset, where: str, errors: list[str]) -> None:
    if cond.column is None:
        subs = cond.all or cond.any or []
        key = "all" if cond.all else "any"
        for i, s in enumerate(subs):
            _check_condition(s, ds, f"{where}.{key}[{i}]", errors)
        if cond.not_ is not None:
            _check_condition(cond.not_, ds, f"{where}.not", errors)
        return
    if cond.column not in ds.column_names:
        errors.append(f"{where}.column: dataset {ds.name!r} has no column {cond.column!r}")
        return
    ctype = ds.column(cond.column).type
    values = cond.in_ if cond.in_ is not None else ([cond.equals] if cond.equals is not None else [])
    expect = {"string": str, "int": int, "bool": bool}.get(ctype)
    for v in values:
        ok = expect is not None and isinstance(v, expect) and not (expect is int and isinstance(v, bool))
        if not ok:
            errors.append(f"{where}: value {v!r} does not match the type of column {cond.column!r} ({ctype})")
    if cond.prefix is not None and ctype != "string":
        errors.append(f"{where}.prefix: column {cond.column!r} is not a string column")


def _check_entry(pname: str, dname: str, entry: DatasetShare, errors: list[str]) -> None:
    where = f"parties.{pname}.datasets.{dname}"
    try:
        ds = registry.get(dname)
    except KeyError:
        errors.append(f"{where}: unknown dataset {dname!r} (not in the registry)")
        return
    for cname, spec in entry.columns.items():
        cw = f"{where}.columns.{cname}"
        if cname not in ds.column_names:
            errors.append(f"{cw}: dataset {dname!r} has no column {cname!r}")
            continue
        col = ds.column(cname)
        if spec.transform == "token" and col.type != "string":
            errors.append(f"{cw}: transform token needs a string column, {cname!r} is {col.type}")
        if spec.transform == "keep" and col.role == "direct_identifier" and not spec.justification:
            errors.append(f"{cw}: keeping a direct identifier needs a written 'justification'")
        if spec.transform == "generalise":
            if spec.to in ("birth_year", "age_band") and col.type != "date":
                errors.append(f"{cw}: generalise to {spec.to} needs a date column, {cname!r} is {col.type}")
            if spec.to == "region":
                if col.type != "string":
                    errors.append(f"{cw}: generalise to region applies to a free-text address column")
                elif "kabkota_code" not in ds.column_names:
                    errors.append(f"{cw}: generalise to region needs the dataset's kabkota_code column")
            if spec.to == "age_band":
                if spec.reference not in ds.column_names:
                    errors.append(f"{cw}.reference: dataset {dname!r} has no column {spec.reference!r}")
                elif ds.column(spec.reference).type != "date":
                    errors.append(f"{cw}.reference: {spec.reference!r} is not a date column")
    for col in ds.columns:
        if col.role in PERSONAL_ROLES and col.name not in entry.columns:
            errors.append(
                f"{where}.columns: {col.role} column {col.name!r} needs an explicit transform "
                f"({', '.join(TRANSFORMS)})"
            )
    if entry.row_filter is not None:
        _check_condition(entry.row_filter, ds, f"{where}.row_filter", errors)
    if any(e.startswith(where) for e in errors):
        return
    outs = output_columns(dname, entry)
    if not outs:
        errors.append(f"{where}.columns: the entry shares no column (remove the dataset instead)")
        return
    names = [o.name for o in outs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        errors.append(f"{where}.columns: output column name(s) {dup} would be produced twice")
    for n in names:
        if n.startswith("_"):
            errors.append(f"{where}.columns: output name {n!r} may not start with '_'")
    qis = _quasi_identifiers(outs, entry)
    for q in qis:
        if q not in names:
            errors.append(f"{where}.quasi_identifiers: {q!r} is not an output column")
    for i, s in enumerate(_steps(outs, entry, qis) if not any(q not in names for q in qis) else []):
        for c in s.columns:
            if c not in qis:
                errors.append(f"{where}.k_steps[{i}]: {c!r} is not a quasi-identifier of this release")
            elif s.action == "widen" and not any(o.name == c and o.spec.to == "age_band" for o in outs):
                errors.append(f"{where}.k_steps[{i}]: only an age_band column can be widened, not {c!r}")


def _pydantic_errors(exc: ValidationError) -> list[str]:
    out = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e["loc"] if not str(p).startswith("function-"))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "missing":
            msg = "missing required key"
        out.append(f"{loc}: {msg}" if loc else msg)
    return out


def validate_policy(data: dict, source: str | None = None) -> Policy:
    """Build and check a Policy from parsed YAML; raises PolicyError listing every problem."""
    if not isinstance(data, dict):
        raise PolicyError(["the policy must be a mapping at the top level"], source)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_pydantic_errors(exc), source) from None
    errors: list[str] = []
    for pname, party in policy.parties.items():
        for dname, entry in party.datasets.items():
            _check_entry(pname, dname, entry, errors)
    for attr in ("bucket", "credentials"):
        seen: dict[str, str] = {}
        for pname, party in policy.parties.items():
            v = getattr(party, attr)
            if v in seen:
                errors.append(f"parties.{pname}.{attr}: {v!r} is already used by party {seen[v]!r}")
            seen[v] = pname
    if errors:
        raise PolicyError(errors, source)
    policy.source = source
    return policy


def default_policy_path() -> Path:
    return Path(str(resources.files("sinergi.config").joinpath("policy.yaml")))


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate the policy (default: include/sinergi/config/policy.yaml)."""
    p = Path(path) if path is not None else default_policy_path()
    try:
        data = yaml.load(p.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise PolicyError([f"not valid YAML: {exc}"], str(p)) from None
    except OSError as exc:
        raise PolicyError([f"cannot read the policy: {exc.strerror}"], str(p)) from None
    return validate_policy(data, str(p))


# --- apply -----------------------------------------------------------------------------------


def _age_band(birth: pa.ChunkedArray, ref: pa.ChunkedArray, width: int) -> pa.Array:
    by, ry = pc.year(birth), pc.year(ref)
    bmd = pc.add(pc.multiply(pc.month(birth), 100), pc.day(birth))
    rmd = pc.add(pc.multiply(pc.month(ref), 100), pc.day(ref))
    age = pc.subtract(pc.subtract(ry, by), pc.cast(pc.less(rmd, bmd), pa.int64()))
    age = pc.if_else(pc.less(age, 0), pa.scalar(None, pa.int64()), age)
    lo = pc.multiply(pc.divide(age, width), width)
    band = pc.binary_join_element_wise(pc.cast(lo, pa.string()), pc.cast(pc.add(lo, width - 1), pa.string()), "-")
    return band.combine_chunks() if isinstance(band, pa.ChunkedArray) else band


def share(
    table: pa.Table | TableSource | ParquetSource,
    dataset: str,
    party: str,
    policy: Policy,
    keyring: Keyring,
) -> tuple[pa.Table, dict]:
    """Apply ``party``'s policy entry for ``dataset`` to a validated canonical table (or a chunked
    source of it: rows are filtered and transformed chunk by chunk; k-anonymity and the leak guard
    then see the whole release, and the dropped identifiers are re-read column by column).

    Returns (table ready to publish, report). The table has exactly ``shared_schema(...)``; the
    report (JSON-able) has rows_in, rows_filtered_out, rows_suppressed (by reason), rows_out,
    k_anonymity, key_versions, transforms, columns_out, leak_guard.
    """
    entry = policy.entry(dataset, party)
    if keyring.version != policy.key_version:
        raise PolicyError(f"keyring is key version {keyring.version} but the policy says key_version "
                          f"{policy.key_version}")
    ds = registry.get(dataset)
    source = as_source(table)
    names = [c for c in source.schema.names if not c.startswith("_")]
    outs = output_columns(dataset, entry)
    needed = {o.source for o in outs} | {s.reference for s in entry.columns.values() if s.reference}
    needed |= set(entry.row_filter.columns()) if entry.row_filter else set()
    missing = sorted(c for c in needed if c not in names)
    if missing:
        raise PolicyError(f"share {dataset} -> {party}: input table lacks column(s) {missing}")

    # Values that must never reappear in the release: every non-kept direct identifier of every row
    # (filtered out or not), read again column by column for the leak guard below.
    dropped_columns = [
        c for c, s in entry.columns.items()
        if c in names and s.transform != "keep" and ds.column(c).role == "direct_identifier"
        and ds.column(c).type == "string"
    ]
    schema = shared_schema(dataset, party, policy)
    rows_in, parts, key_versions = 0, [], {}
    for data in chunks(source, [c for c in names if c in needed]):  # one chunk of the month at a time
        rows_in += data.num_rows
        if entry.row_filter is not None:
            data = data.filter(entry.row_filter.mask(data))
        arrays = {}
        for o in outs:
            src = data.column(o.source)
            if o.spec.transform == "keep":
                arrays[o.name] = src.cast(o.type)
            elif o.spec.transform == "token":
                arrays[o.name] = tokenise(src, keyring.key(party, o.field), o.normaliser)
                key_versions[o.name] = {"source_column": o.source, **keyring.describe(party, o.field)}
            elif o.spec.to == "birth_year":
                arrays[o.name] = pc.cast(pc.year(src), pa.int64())
            else:
                arrays[o.name] = _age_band(src, data.column(o.spec.reference), o.spec.band_width)
        parts.append(pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema))
    out = pa.concat_tables(parts).combine_chunks()
    del parts
    rows_filtered_out = rows_in - out.num_rows
    dropped = {c: column_chunks(source, c) for c in dropped_columns}

    qis = _quasi_identifiers(outs, entry)
    out, k_report = k_anonymise(out, qis, policy.k_for(dataset, party), steps=_steps(outs, entry, qis))
    out = out.replace_schema_metadata(schema.metadata)

    allow = {o.name: o.spec.leak_guard_allow for o in outs if o.spec.leak_guard_allow}
    guard = leak_guard(out, dropped, allow)
    for o in outs:  # tokens must look like tokens (a wrong engine/format must never publish)
        if o.spec.transform == "token":
            col = out.column(o.name)
            if col.null_count < len(col) and not pc.all(pc.match_substring_regex(col.drop_null(), TOKEN_PATTERN)).as_py():
                raise PolicyError(f"share {dataset} -> {party}: column {o.name!r} holds values that are not tokens")

    transforms = {c: s.describe() if s.transform != "token" else next(o.transform for o in outs if o.source == c)
                  for c, s in entry.columns.items()}
    report = {
        "dataset": dataset,
        "party": party,
        "bucket": policy.party(party).bucket,
        "policy_version": policy.version,
        "rows_in": rows_in,
        "rows_filtered_out": rows_filtered_out,
        "row_filter": entry.row_filter.describe() if entry.row_filter else None,
        "rows_suppressed": {"k_anonymity": k_report["rows_suppressed"]},
        "rows_out": out.num_rows,
        "k_anonymity": k_report,
        "key_versions": key_versions,
        "transforms": transforms,
        "columns_out": [f.name for f in schema],
        "columns_not_shared": [c for c in ds.column_names if c not in entry.columns],
        "leak_guard": guard,
    }
    return out, report
