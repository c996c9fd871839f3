"""The sharing policy as data: pydantic models of ``config/policy.yaml`` and its loader.

Light on purpose: importing this module and calling :func:`load_policy` needs pydantic, PyYAML and
the registry only (no Arrow, no tokens, no disclosure engine), because the indicators DAG loads the
policy at parse time. The rules themselves are described in :mod:`sinergi.policy`; the checks
against the registry are :mod:`sinergi.policy.checks`.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sinergi.errors import ConfigError
from sinergi.safeguards import DROPPED_VALUES, NORMALISERS, PATTERNS, parse_step

TRANSFORMS = ("drop", "token", "record", "generalise", "keep")
GENERALISE_TO = ("birth_year", "age_band", "region", "month", "iso_week", "year")
#: Generalisation targets of a date column (the value becomes the first day of its month, the Monday
#: of its ISO week or the 1st of January of its year; the column keeps its name and type, so the
#: published schema is stable).
DATE_GRAINS = ("month", "iso_week", "year")
PERSONAL_ROLES = ("direct_identifier", "quasi_identifier", "sensitive")
DEFAULT_FIELD = {"nik": "person", "passport": "passport", "phone": "phone", "email": "email", "name": "name"}
_NAME = r"[a-z][a-z0-9_]*"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~25x faster than pure Python
_BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"


class PolicyError(ConfigError):
    """The policy is invalid (each line names the dotted path of the offending key) or cannot be applied
    (at share time: the keyring's key version or the input table does not match the policy). Permanent:
    retrying cannot help until the policy or the input is fixed."""

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
    to: str | None = None  # generalise: birth_year | age_band | region | month | iso_week | year
    width: int | None = Field(default=None, ge=1, le=50)  # age_band width in years (default 5)
    reference: str | None = None  # age_band: date column the age is computed at
    rename: str | None = Field(default=None, alias="as")  # output column name override
    justification: str | None = None  # required for keep on a direct identifier or on an exact QI date
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
        if t == "record" and self.rename:
            raise ValueError("a record id keeps its name (to its system's owner) or becomes <column>_token")
        if self.justification is not None and t != "keep":
            raise ValueError(f"'justification' only applies to transform keep, not {t!r}")
        for p in self.leak_guard_allow:
            if p not in (*PATTERNS, DROPPED_VALUES):
                raise ValueError(f"unknown leak-guard pattern {p!r} (known: {', '.join(PATTERNS)}, {DROPPED_VALUES})")
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
        if self.transform == "record":
            return "record"
        if self.transform == "token":
            return f"token:{self.field}" if self.field else "token"
        return self.transform


class Condition(_Model):
    """A declarative row filter (evaluated on Arrow tables by ``sinergi.policy.apply.row_mask``)."""

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
    l: int | None = Field(default=None, ge=1)  # noqa: E741 - l-diversity's own name
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
    l: int | None = Field(default=None, ge=1)  # noqa: E741
    #: source systems this party runs (or has full access to): it can map their record ids, and
    #: every column of their records, straight back to the person - their ids reach it as they are
    owns: list[str] = []
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
    l: int = Field(default=2, ge=1)  # noqa: E741
    retention: str


class AttackerModel(_Model):
    """Who could try to single a person out of a dataset's releases and what they know (the
    knowable columns themselves are the registry's ``quasi_identifier`` columns)."""

    description: str = Field(min_length=20)
    description_id: str = Field(min_length=20)  # the same in Bahasa Indonesia (DPIA draft)
    #: per sensitive column, the values whose disclosure harms (default: every value): a class
    #: holding one of them must hold >= l distinct values of the column (l-diversity)
    sensitive_values: dict[str, list[str]] = {}
    #: a register of organisations (no natural person): k and l do not apply; the reason, in words
    no_person: str | None = None


class Policy(_Model):
    version: int = Field(ge=1)
    key_version: int = Field(default=1, ge=1)
    agreement: Agreement
    defaults: Defaults
    attacker_models: dict[str, AttackerModel] = {}
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

    def l_for(self, dataset: str, party: str) -> int:
        e, p = self.entry(dataset, party), self.party(party)
        return e.l or p.l or self.defaults.l

    def owners(self, system: str) -> list[str]:
        """Parties that own (run) a source system."""
        return [n for n, p in self.parties.items() if system in p.owns]

    def retention_for(self, party: str) -> str:
        return self.party(party).retention or self.defaults.retention




# --- loading -----------------------------------------------------------------------------------


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
    from sinergi.policy.checks import policy_errors  # the checks use the models above

    if not isinstance(data, dict):
        raise PolicyError(["the policy must be a mapping at the top level"], source)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_pydantic_errors(exc), source) from None
    errors = policy_errors(policy)
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
