"""The sharing policy: who receives which dataset, which rows and columns, and how each personal
column is transformed (config/policy.yaml, validated with pydantic and against the registry).

Rules (a violation fails at load time with the dotted path of the offending key):

* a party receives only the datasets listed under it; a dataset receives only the columns listed
  (minimisation by default: an unlisted column is not shared);
* every ``direct_identifier``, ``quasi_identifier`` and ``sensitive`` column of a received dataset
  must be listed with an explicit transform — even when it is dropped — so each decision about
  personal data is written down (and appears in the record of processing, sinergi.ropa);
* transforms: ``drop``; ``token`` (keyed HMAC, sinergi.tokens; output ``<column>_token`` string);
  ``record`` (a record id, registry ``issued_by``: as is to a party that ``owns`` the issuing system,
  as that party's keyed token ``<column>_token``, key field ``record``, to any other); ``generalise``
  with ``to: birth_year`` (int64 ``birth_year``), ``to: age_band`` (string ``age_band`` such as
  ``25-29``; ``width`` default 5; age at the date column ``reference``), ``to: month | iso_week |
  year`` (a date cut to its period, type and name kept) or ``to: region`` (for a free-text address:
  dropped in favour of the canonical kabkota_code / kecamatan_code columns, which must then be listed
  themselves); ``keep`` (on a direct identifier, or on an exact date an attacker could know, only
  with a written ``justification``);
* the attacker model: every dataset a party receives has one (``attacker_models``); every published
  column the registry marks ``quasi_identifier`` (knowable to a neighbour or the other party) counts
  in k, which is counted over persons; sensitive columns are l-diverse (``l``, default 2);
* row filters are declarative conditions, never code: ``{column: kabkota_code, prefix: "18"}``,
  ``{column: c, in: [...]}``, ``{column: c, equals: v}``, ``{column: c, not_null: true}``, and
  ``{all: [...]}`` / ``{any: [...]}`` / ``{not: {...}}``; a null never matches.

Modules, from data to effect:

* ``model``  — the pydantic models of the YAML and ``load_policy``/``validate_policy`` (light: no
  Arrow, so DAG files may load the policy at parse time);
* ``checks`` — the checks against the dataset registry (run by ``validate_policy``);
* ``plan``   — the release plan of one party × dataset: output columns, quasi-identifiers, k and
  the further-generalisation steps (shared with the record of processing, ``sinergi.ropa``);
* ``apply``  — ``share()`` (row filter -> transforms -> k over persons, l -> leak guard) and
  ``shared_schema()``; imported on first use of those names (it loads Arrow and the engines).
"""

from __future__ import annotations

from sinergi.policy.model import (
    DATE_GRAINS,
    DEFAULT_FIELD,
    GENERALISE_TO,
    PERSONAL_ROLES,
    TRANSFORMS,
    Agreement,
    AttackerModel,
    ColumnSpec,
    Condition,
    DatasetShare,
    Defaults,
    Party,
    Policy,
    PolicyError,
    default_policy_path,
    load_policy,
    validate_policy,
)
from sinergi.policy.plan import (
    OutColumn,
    ReleasePlan,
    generalisation_steps,
    output_columns,
    quasi_identifiers,
    release_plan,
)

__all__ = [
    "DATE_GRAINS", "DEFAULT_FIELD", "GENERALISE_TO", "PERSONAL_ROLES", "TRANSFORMS",
    "Agreement", "AttackerModel", "ColumnSpec", "Condition", "DatasetShare", "Defaults", "OutColumn", "Party", "Policy", "PolicyError",
    "ReleasePlan", "default_policy_path", "generalisation_steps", "load_policy", "output_columns",
    "quasi_identifiers", "release_plan", "row_mask", "share", "shared_schema", "validate_policy",
]

_APPLY = ("row_mask", "share", "shared_schema")


def __getattr__(name: str):
    if name in _APPLY:  # Arrow, tokens and the disclosure engines load only when data is shared
        from sinergi.policy import apply

        return getattr(apply, name)
    raise AttributeError(f"module 'sinergi.policy' has no attribute {name!r}")
