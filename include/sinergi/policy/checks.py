"""The sharing policy checked against the dataset registry (and across parties).

The pydantic models check each key's shape; these checks need the registry: the columns a policy
entry names exist and have a type the transform can handle, every personal column has an explicit
decision, row filters compare columns with values of their type, the release plan is consistent
(unique output names, quasi-identifiers and k-steps that exist), and no two parties share a bucket
or a read key. Each problem is reported with the dotted path of the offending key.
"""

from __future__ import annotations

from sinergi import registry
from sinergi.policy.model import PERSONAL_ROLES, TRANSFORMS, Condition, DatasetShare, Policy
from sinergi.policy.plan import generalisation_steps, output_columns, quasi_identifiers


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
    qis = quasi_identifiers(outs, entry)
    for q in qis:
        if q not in names:
            errors.append(f"{where}.quasi_identifiers: {q!r} is not an output column")
    if any(q not in names for q in qis):
        return
    for i, s in enumerate(generalisation_steps(outs, entry, qis)):
        for c in s.columns:
            if c not in qis:
                errors.append(f"{where}.k_steps[{i}]: {c!r} is not a quasi-identifier of this release")
            elif s.action == "widen" and not any(o.name == c and o.spec.to == "age_band" for o in outs):
                errors.append(f"{where}.k_steps[{i}]: only an age_band column can be widened, not {c!r}")


def policy_errors(policy: Policy) -> list[str]:
    """Every problem of a (shape-valid) policy against the registry; empty when it can be applied."""
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
    return errors
