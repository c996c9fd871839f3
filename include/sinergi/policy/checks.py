"""The sharing policy checked against the dataset registry (and across parties).

The pydantic models check each key's shape; these checks need the registry: the columns a policy
entry names exist and have a type the transform can handle, every personal column has an explicit
decision, row filters compare columns with values of their type, the release plan is consistent
(unique output names, quasi-identifiers and k-steps that exist), and no two parties share a bucket
or a read key. Each problem is reported with the dotted path of the offending key.

The attacker model (issue 16) is checked here too: every dataset a party receives has an attacker
model; every published column an attacker could know (registry role ``quasi_identifier``) is
counted as a quasi-identifier of the release; an exact date of such a column is published only with
a written ``justification`` (else it is generalised to its month or ISO week); a record id
(registry ``issued_by``) is published with transform ``record`` (as is to the owner of its system,
as a keyed token to others) or dropped; a generalisation step drops a code together with its
BPS code or name, and kab/kota only once kecamatan is gone; parties own known source systems.
"""

from __future__ import annotations

from sinergi import registry, vocab
from sinergi.policy.model import DATE_GRAINS, PERSONAL_ROLES, TRANSFORMS, Condition, DatasetShare, Policy
from sinergi.policy.plan import (
    generalisation_steps,
    knowable_outputs,
    output_columns,
    quasi_identifiers,
    step_groups,
)


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


def _check_entry(pname: str, dname: str, entry: DatasetShare, errors: list[str], owns: list[str]) -> None:
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
        if col.issued_by is not None and spec.transform not in ("record", "drop"):
            errors.append(f"{cw}: {cname!r} is a {col.issued_by} record id: use transform record (as is to a "
                          f"party that owns {col.issued_by}, that party's keyed token to any other) or drop")
        elif spec.transform == "record" and col.issued_by is None:
            errors.append(f"{cw}: transform record applies to a record id (registry issued_by), "
                          f"{cname!r} is not one")
        elif spec.transform == "keep" and col.role == "direct_identifier" and not spec.justification:
            errors.append(f"{cw}: keeping a direct identifier needs a written 'justification'")
        if (spec.transform == "keep" and col.type == "date" and col.role == "quasi_identifier"
                and not spec.justification):
            errors.append(f"{cw}: an exact date an attacker could know is published only for a written "
                          "'justification' (the purpose that needs the day); else generalise it to month or "
                          "iso_week")
        if spec.transform == "generalise":
            if spec.to in ("birth_year", "age_band", *DATE_GRAINS) and col.type != "date":
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
    outs = output_columns(dname, entry, owns)
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
    qis = quasi_identifiers(outs, entry)
    for q in qis:
        if q not in names:
            errors.append(f"{where}.quasi_identifiers: {q!r} is not an output column")
    if any(q not in names for q in qis):
        return
    for q in knowable_outputs(outs):
        if q not in qis:
            errors.append(f"{where}.quasi_identifiers: published column {q!r} could be known to an attacker "
                          "(registry role quasi_identifier) but is not declared a quasi-identifier")
    steps = generalisation_steps(outs, entry, qis, dname)
    groups = step_groups(dname, outs)
    gone: set[str] = set()
    for i, s in enumerate(steps):
        for c in s.columns:
            if c not in qis:
                errors.append(f"{where}.k_steps[{i}]: {c!r} is not a quasi-identifier of this release")
            elif s.action == "widen" and not any(o.name == c and o.spec.to == "age_band" for o in outs):
                errors.append(f"{where}.k_steps[{i}]: only an age_band column can be widened, not {c!r}")
        if s.action != "drop":
            continue
        for g in groups:
            if set(g) & set(s.columns) and not set(g) <= set(s.columns) | gone:
                errors.append(f"{where}.k_steps[{i}]: {' and '.join(g)} carry the same information: drop them "
                              "in one step ('" + "+".join(g) + ":drop')")
        if "kabkota_code" in s.columns and "kecamatan_code" in qis and "kecamatan_code" not in gone | set(s.columns):
            errors.append(f"{where}.k_steps[{i}]: kecamatan_code (whose code holds the kab/kota) must be dropped "
                          "before or with kabkota_code")
        gone |= set(s.columns)


def _check_attacker_models(policy: Policy, errors: list[str]) -> None:
    received = {d for p in policy.parties.values() for d in p.datasets}
    for dname in sorted(received):
        if dname in policy.attacker_models or dname not in registry.datasets():
            continue
        who = ", ".join(policy.recipients(dname))
        errors.append(f"attacker_models: dataset {dname!r} (received by {who}) has no attacker model")
    for dname, model in policy.attacker_models.items():
        where = f"attacker_models.{dname}"
        try:
            ds = registry.get(dname)
        except KeyError:
            errors.append(f"{where}: unknown dataset {dname!r} (not in the registry)")
            continue
        if model.no_person and ds.person_key:
            errors.append(f"{where}.no_person: {dname!r} has a person column ({ds.person_key}): k and l apply")
        if not model.no_person and not ds.person_key and ds.columns_with_role("quasi_identifier"):
            errors.append(f"{where}: {dname!r} has no person column: say why k and l do not apply ('no_person') "
                          "or give it one")
        for cname, values in model.sensitive_values.items():
            cw = f"{where}.sensitive_values.{cname}"
            if cname not in ds.column_names:
                errors.append(f"{cw}: dataset {dname!r} has no column {cname!r}")
                continue
            col = ds.column(cname)
            if col.role != "sensitive":
                errors.append(f"{cw}: {cname!r} is not a sensitive column (registry role {col.role})")
            if not values:
                errors.append(f"{cw}: list at least one value (omit the column to protect every value)")
            if col.vocabulary:
                known = vocab.values(col.vocabulary)
                for v in values:
                    if v not in known:
                        errors.append(f"{cw}: {v!r} is not a value of vocabulary {col.vocabulary!r}")


def policy_errors(policy: Policy) -> list[str]:
    """Every problem of a (shape-valid) policy against the registry; empty when it can be applied."""
    errors: list[str] = []
    systems = registry.systems()
    for pname, party in policy.parties.items():
        for i, system in enumerate(party.owns):
            if system not in systems:
                errors.append(f"parties.{pname}.owns[{i}]: {system!r} is not a source system ({', '.join(systems)})")
        for dname, entry in party.datasets.items():
            _check_entry(pname, dname, entry, errors, party.owns)
    _check_attacker_models(policy, errors)
    for attr in ("bucket", "credentials"):
        seen: dict[str, str] = {}
        for pname, party in policy.parties.items():
            v = getattr(party, attr)
            if v in seen:
                errors.append(f"parties.{pname}.{attr}: {v!r} is already used by party {seen[v]!r}")
            seen[v] = pname
    return errors
