"""Applying the policy to data: ``share()`` one party's release of one validated table, and its schema.

``share()`` follows the release plan (:mod:`sinergi.policy.plan`): row filter -> transforms (chunk
by chunk; record ids of a system the party does not own become its keyed tokens, dates are cut to
their month or ISO week) -> k-anonymity over persons and l-diversity -> leak guard, and returns the
table to publish plus a JSON-able report for the manifest, whose ``disclosure`` part is the measured
risk of the release. Persons are counted by a keyed HMAC of the normalised NIK: the release's own
person token where it publishes one, else the pipeline's internal person key (the link key of the NIK
under ``Keyring.internal_key("person")``), computed here and never published. ``shared_schema()`` gives the output schema from the policy alone (deterministic).
The leak guard's exact-match list holds the values of every direct identifier that is not kept
(dropped, tokenised or generalised: names, addresses, phones, passports, NIKs), taken from all input
rows; quasi-identifier codes are not in it, because codes legitimately recur (a regency's BPS code
is another regency's Kemendagri code).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from sinergi import registry
from sinergi.chunks import ParquetSource, TableSource, as_source, chunks, column_chunks
from sinergi.disclosure import k_anonymise, leak_guard
from sinergi.policy.model import Condition, Policy, PolicyError
from sinergi.policy.plan import SYSTEM_COLUMNS, ReleasePlan, release_plan
from sinergi.timing import stage
from sinergi.tokens import TOKEN_PATTERN, Keyring, link_keys, tokenise, tokenise_records


def row_mask(cond: Condition, table: pa.Table) -> pa.ChunkedArray | pa.Array:
    """Boolean mask of the rows ``cond`` selects; null (a missing value) counts as not matching."""
    if cond.column is not None:
        col = table.column(cond.column)
        if cond.prefix is not None:
            m = pc.starts_with(col, cond.prefix)
        elif cond.in_ is not None:
            m = pc.is_in(col, value_set=pa.array(cond.in_).cast(col.type))
            m = pc.if_else(pc.is_null(col), pa.scalar(False), m)
        elif cond.not_null is not None:
            m = pc.is_valid(col) if cond.not_null else pc.is_null(col)
        else:
            m = pc.equal(col, pa.scalar(cond.equals).cast(col.type))
        return pc.fill_null(m, False)
    if cond.not_ is not None:
        return pc.invert(row_mask(cond.not_, table))
    masks = [row_mask(c, table) for c in (cond.all or cond.any)]
    out = masks[0]
    for m in masks[1:]:
        out = pc.and_(out, m) if cond.all else pc.or_(out, m)
    return out


def _schema(plan: ReleasePlan, policy: Policy) -> pa.Schema:
    return pa.schema(
        [
            pa.field(o.name, o.type, nullable=True, metadata={
                "description": o.en, "description_id": o.id, "role": o.role,
                "transform": o.transform, "source_column": o.source,
            })
            for o in plan.columns
        ],
        metadata={"dataset": plan.dataset, "party": plan.party, "policy_version": str(policy.version),
                  "schema_version": str(registry.SCHEMA_VERSION)},
    )


def shared_schema(dataset: str, party: str, policy: Policy) -> pa.Schema:
    """The schema ``share()`` produces for this dataset and party (from the policy alone)."""
    return _schema(release_plan(policy, dataset, party), policy)


def _age_band(birth: pa.ChunkedArray, ref: pa.ChunkedArray, width: int) -> pa.Array:
    by, ry = pc.year(birth), pc.year(ref)
    bmd = pc.add(pc.multiply(pc.month(birth), 100), pc.day(birth))
    rmd = pc.add(pc.multiply(pc.month(ref), 100), pc.day(ref))
    age = pc.subtract(pc.subtract(ry, by), pc.cast(pc.less(rmd, bmd), pa.int64()))
    age = pc.if_else(pc.less(age, 0), pa.scalar(None, pa.int64()), age)
    lo = pc.multiply(pc.divide(age, width), width)
    band = pc.binary_join_element_wise(pc.cast(lo, pa.string()), pc.cast(pc.add(lo, width - 1), pa.string()), "-")
    return band.combine_chunks() if isinstance(band, pa.ChunkedArray) else band


def _date_grain(dates: pa.ChunkedArray | pa.Array, grain: str) -> pa.Array:
    """The first day of each date's month or year, or the Monday of its ISO week (type stays date32)."""
    if grain in ("month", "year"):
        out = pc.floor_temporal(dates, unit=grain)
    else:
        out = pc.floor_temporal(dates, unit="week", week_starts_monday=True)
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def disclosure_report(plan: ReleasePlan, k_report: dict) -> dict:
    """The measured risk of one release, as the manifest publishes it (INTERFACES item 5): the
    attacker model, the quasi-identifiers and sensitive columns, k and l required and achieved, the
    share of persons unique on the quasi-identifiers before and after disclosure control, and the
    information lost (rows suppressed, cells generalised and withheld per column)."""
    exempt = plan.counted_over is None
    return {
        "attacker_model": plan.attacker_model,
        "counted_over": plan.counted_over,
        "exempt": plan.no_person if exempt else None,
        "quasi_identifiers": list(plan.quasi_identifiers),
        "sensitive": list(plan.sensitive),
        "sensitive_values": {c: list(v) for c, v in plan.sensitive_values.items()},
        "k_required": None if exempt else plan.k,
        "k_achieved": None if exempt else k_report.get("k_achieved"),
        "l_required": plan.l if plan.sensitive and not exempt else None,
        "l_achieved": k_report.get("l_achieved") if plan.sensitive and not exempt else None,
        "persons_unique_before": None if exempt else k_report.get("persons_unique_before"),
        "persons_unique_after": None if exempt else k_report.get("persons_unique_after"),
        "persons_in": k_report.get("persons_in"),
        "persons_out": k_report.get("persons_out"),
        "rows_suppressed": k_report["rows_suppressed"],
        "rows_suppressed_by": dict(k_report["rows_suppressed_by"]),
        "cells_generalised": dict(k_report["cells_generalised"]),
        "withheld": dict(k_report["withheld"]),
        "dates": plan.date_grains,
        "record_ids": plan.record_columns,
    }


#: What the engine reports that ``disclosure`` already carries (kept once in the manifest and the XCom).
_IN_DISCLOSURE = ("quasi_identifiers", "sensitive", "sensitive_values", "cells_generalised", "withheld",
                  "persons_unique_before", "persons_unique_after", "persons_in", "persons_out", "rows_suppressed_by")


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
    report (JSON-able) has rows_in, rows_filtered_out, rows_suppressed (by reason: k_anonymity,
    l_diversity), rows_out, k_anonymity (the engine's steps and class counts), disclosure (the
    measured risk, :func:`disclosure_report`), key_versions, transforms, columns_out, leak_guard.
    """
    plan = release_plan(policy, dataset, party)
    entry = plan.entry
    if keyring.version != policy.key_version:
        raise PolicyError(f"keyring is key version {keyring.version} but the policy says key_version "
                          f"{policy.key_version}")
    source = as_source(table)
    names = [c for c in source.schema.names if not c.startswith("_")]
    needed = plan.input_columns
    system = {c.name for c in SYSTEM_COLUMNS}  # passed through to every party; null if the input lacks them
    missing = sorted(c for c in needed if c not in names and c not in system)
    if missing:
        raise PolicyError(f"share {dataset} -> {party}: input table lacks column(s) {missing}")

    # Values that must never reappear in the release: every non-kept direct identifier of every row
    # (filtered out or not), read again column by column for the leak guard below.
    dropped_columns = [c for c in plan.guarded_columns if c in names]
    schema = _schema(plan, policy)
    rows_in, parts, key_versions, person_parts = 0, [], {}, []
    person_col = plan.person_key if plan.counted_over == "persons" else None
    # Persons are counted by a keyed HMAC of the normalised NIK: the release's own person token when it
    # publishes one (the same partition of rows into persons, without hashing every NIK twice), else
    # the pipeline's internal link key of the NIK (Keyring.internal_key("person")).
    person_token = next((o.name for o in plan.columns if o.source == person_col and o.spec.transform == "token"
                         and o.field == "person" and o.normaliser == "nik"), None)
    for data in chunks(source, [c for c in names if c in needed]):  # one chunk of the month at a time
        rows_in += data.num_rows
        if entry.row_filter is not None:
            data = data.filter(row_mask(entry.row_filter, data))
        arrays = {}
        for o in plan.columns:
            src = data.column(o.source) if o.source not in system or o.source in names else \
                pa.nulls(data.num_rows, o.type)
            if o.spec.transform == "record" and o.is_token:
                with stage("tokens"):
                    arrays[o.name] = tokenise_records(src, keyring.key(party, o.field), o.system)
                key_versions[o.name] = {"source_column": o.source, "system": o.system,
                                        **keyring.describe(party, o.field)}
            elif o.spec.transform in ("keep", "record"):
                arrays[o.name] = src.cast(o.type)
            elif o.spec.transform == "token":
                with stage("tokens"):
                    arrays[o.name] = tokenise(src, keyring.key(party, o.field), o.normaliser)
                key_versions[o.name] = {"source_column": o.source, **keyring.describe(party, o.field)}
            elif o.date_grain is not None:
                arrays[o.name] = _date_grain(src, o.date_grain)
            elif o.spec.to == "birth_year":
                arrays[o.name] = pc.cast(pc.year(src), pa.int64())
            else:
                arrays[o.name] = _age_band(src, data.column(o.spec.reference), o.spec.band_width)
        parts.append(pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema))
        if person_col is not None and person_token is None:  # the internal person key: never published
            with stage("tokens"):
                person_parts.append(link_keys(data.column(person_col), keyring.internal_key("person"), "nik"))
    out = pa.concat_tables(parts).combine_chunks()
    del parts
    if person_col is None:
        persons = None
    elif person_token is not None:
        persons = out.column(person_token)
    else:
        persons = pa.concat_arrays(person_parts) if person_parts else pa.array([], pa.int64())
    del person_parts
    rows_filtered_out = rows_in - out.num_rows
    dropped = {c: column_chunks(source, c) for c in dropped_columns}

    with stage("k-anonymity"):
        out, k_report = k_anonymise(out, list(plan.quasi_identifiers), plan.k, steps=list(plan.steps),
                                    persons=persons, sensitive=list(plan.sensitive), l=plan.l,
                                    sensitive_values=plan.sensitive_values)
    out = out.replace_schema_metadata(schema.metadata)
    del persons

    with stage("leak guard"):
        guard = leak_guard(out, dropped, plan.leak_guard_allow)
        for o in plan.columns:  # tokens must look like tokens (a wrong engine/format must never publish)
            if o.spec.transform == "token":
                col = out.column(o.name)
                if col.null_count < len(col) and not pc.all(
                        pc.match_substring_regex(col.drop_null(), TOKEN_PATTERN)).as_py():
                    raise PolicyError(f"share {dataset} -> {party}: column {o.name!r} holds values that are not tokens")

    report = {
        "dataset": dataset,
        "party": party,
        "bucket": policy.party(party).bucket,
        "policy_version": policy.version,
        "rows_in": rows_in,
        "rows_filtered_out": rows_filtered_out,
        "row_filter": entry.row_filter.describe() if entry.row_filter else None,
        "rows_suppressed": dict(k_report["rows_suppressed_by"]),
        "rows_out": out.num_rows,
        "k_anonymity": {k: v for k, v in k_report.items() if k not in _IN_DISCLOSURE},
        "disclosure": disclosure_report(plan, k_report),
        "key_versions": key_versions,
        "transforms": plan.transforms,
        "columns_out": [f.name for f in schema],
        "columns_not_shared": plan.columns_not_shared,
        "leak_guard": guard,
    }
    return out, report
