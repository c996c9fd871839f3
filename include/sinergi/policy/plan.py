"""The release plan of one party × dataset, from the policy and the registry alone (no data, no Arrow).

What the party's release of a dataset will hold: its output columns (name, type, role, transform,
bilingual description), the quasi-identifiers k-anonymity counts classes over, k, and the
further-generalisation steps tried before suppressing a row. ``share()`` applies exactly this plan,
``shared_schema()`` is its schema, the policy checks validate it and the record of processing
(``sinergi.ropa``) prints it — one computation, so what the record says is what is published.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sinergi import registry
from sinergi.policy.model import DEFAULT_FIELD, ColumnSpec, DatasetShare
from sinergi.safeguards import NORMALISERS, Step, default_steps, parse_step

if TYPE_CHECKING:
    import pyarrow as pa

    from sinergi.policy.model import Policy


@dataclass(frozen=True)
class OutColumn:
    """One published column: its name, the source column it comes from and how."""

    name: str
    source: str
    dtype: str  # registry type name of the output (string | int | date | bool)
    role: str
    spec: ColumnSpec
    en: str
    id: str
    field: str | None = None  # token field kind
    normaliser: str | None = None  # token normaliser
    column: registry.Column | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def transform(self) -> str:
        return f"token:{self.field}" if self.spec.transform == "token" else self.spec.describe()

    @property
    def type(self) -> pa.DataType:
        """The Arrow type (imported lazily: the plan is also read where Arrow is not loaded)."""
        return dataclasses.replace(self.column, type=self.dtype).arrow_type


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
            out.append(OutColumn(spec.rename or col.name, col.name, col.type, col.role, spec, col.en, col.id,
                                 column=col))
        elif spec.transform == "token":
            field, norm = _token_defaults(col, spec)
            out.append(OutColumn(
                spec.rename or f"{col.name}_token", col.name, "string", col.role, spec,
                f"Pseudonymous token of: {col.en} (keyed HMAC-SHA256, '{field}' key of this recipient; "
                "the same value has the same token in every dataset and month of this recipient)",
                f"Token pseudonim dari: {col.id} (HMAC-SHA256 berkunci, kunci '{field}' milik penerima ini; "
                "nilai yang sama bertoken sama di semua dataset dan bulan penerima ini)",
                field, norm, column=col,
            ))
        elif spec.to == "birth_year":
            out.append(OutColumn(spec.rename or "birth_year", col.name, "int", col.role, spec,
                                 f"Year of birth (generalised from: {col.en})",
                                 f"Tahun lahir (digeneralisasi dari: {col.id})", column=col))
        else:  # age_band
            w, ref = spec.band_width, spec.reference
            ref_col = ds.column(ref) if ref in ds.column_names else None
            ref_en = ref_col.en.lower() if ref_col else ref
            ref_id = ref_col.id.lower() if ref_col else ref
            out.append(OutColumn(
                spec.rename or "age_band", col.name, "string", col.role, spec,
                f"Age band in years at {ref_en}, e.g. '25-29' ({w}-year bands from {col.en.lower()}; "
                "wider 10/20-year bands where needed for k-anonymity)",
                f"Kelompok umur (tahun) pada {ref_id}, mis. '25-29' (rentang {w} tahun dari {col.id.lower()}; "
                "lebih lebar 10/20 tahun bila diperlukan untuk k-anonimitas)",
                column=col,
            ))
    return out


def quasi_identifiers(outs: list[OutColumn], entry: DatasetShare) -> list[str]:
    """The entry's ``quasi_identifiers`` if given; else every quasi-identifier the release shows
    (kept or generalised; a token is not one)."""
    if entry.quasi_identifiers is not None:
        return list(entry.quasi_identifiers)
    return [o.name for o in outs if o.role == "quasi_identifier" and o.spec.transform in ("keep", "generalise")]


def age_bands(outs: list[OutColumn]) -> dict[str, int]:
    """Output age-band columns and their width in years."""
    return {o.name: o.spec.band_width for o in outs if o.spec.transform == "generalise" and o.spec.to == "age_band"}


def generalisation_steps(outs: list[OutColumn], entry: DatasetShare, qis: list[str]) -> list[Step]:
    """The entry's ``k_steps`` if given; else the default order (``sinergi.safeguards.default_steps``)."""
    if entry.k_steps is not None:
        return [parse_step(s) for s in entry.k_steps]
    return default_steps(qis, age_bands(outs))


@dataclass(frozen=True)
class ReleasePlan:
    """Everything the policy decides about one party's release of one dataset."""

    dataset: str
    party: str
    entry: DatasetShare
    columns: tuple[OutColumn, ...]
    quasi_identifiers: tuple[str, ...]
    k: int
    steps: tuple[Step, ...]

    @property
    def column_names(self) -> list[str]:
        return [o.name for o in self.columns]

    @property
    def step_labels(self) -> list[str]:
        return [s.label for s in self.steps]

    @property
    def token_fields(self) -> list[str]:
        """The token key fields the release uses (sorted)."""
        return sorted({o.field for o in self.columns if o.field})

    @property
    def input_columns(self) -> set[str]:
        """Columns of the validated table ``share()`` reads (sources, age references, row filter)."""
        needed = {o.source for o in self.columns}
        needed |= {s.reference for s in self.entry.columns.values() if s.reference}
        return needed | (set(self.entry.row_filter.columns()) if self.entry.row_filter else set())

    @property
    def guarded_columns(self) -> list[str]:
        """Direct-identifier text columns that are not kept: none of their values may reappear in the
        release (the leak guard's exact match)."""
        ds = registry.get(self.dataset)
        return [c for c, s in self.entry.columns.items()
                if s.transform != "keep" and c in ds.column_names and ds.column(c).role == "direct_identifier"
                and ds.column(c).type == "string"]

    @property
    def leak_guard_allow(self) -> dict[str, list[str]]:
        """Reviewed leak-guard exemptions per output column."""
        return {o.name: list(o.spec.leak_guard_allow) for o in self.columns if o.spec.leak_guard_allow}

    @property
    def transforms(self) -> dict[str, str]:
        """Source column → transform label (tokens name their key field)."""
        by_source = {o.source: o for o in self.columns}
        return {c: by_source[c].transform if s.transform == "token" else s.describe()
                for c, s in self.entry.columns.items()}

    @property
    def columns_not_shared(self) -> list[str]:
        """Columns of the dataset the entry does not list (withheld by minimisation)."""
        return [c for c in registry.get(self.dataset).column_names if c not in self.entry.columns]


#: Columns the pipeline adds to every validated dataset and every party receives, whatever the policy
#: lists: per-row data-quality warnings (sinergi.validate) are about the record, not the person, and
#: an analyst needs them to weigh the row. Never a quasi-identifier; absent input reads as null.
SYSTEM_COLUMNS = (
    registry.Column(
        name=registry.DATA_QUALITY_FLAGS, type="string", role="attribute",
        en="Data-quality warnings on the record: the names of the validation warning rules it breaks, "
           "';'-separated (e.g. kabkota_matches_nik: the kab/kota differs from the NIK's region of first "
           "registration, as for a worker who moved); empty when none. The record is valid and counted.",
        id="Peringatan mutu data atas rekaman: nama aturan validasi (peringatan) yang dilanggarnya, dipisah "
           "';' (mis. kabkota_matches_nik: kab/kota berbeda dari wilayah pendaftaran pertama pada NIK, seperti "
           "pekerja yang pindah); kosong bila tidak ada. Rekaman tetap sah dan dihitung.",
    ),
)


def system_columns() -> tuple[OutColumn, ...]:
    from sinergi.policy.model import ColumnSpec

    return tuple(OutColumn(c.name, c.name, c.type, c.role, ColumnSpec.model_validate("keep"), c.en, c.id, column=c)
                 for c in SYSTEM_COLUMNS)


def release_plan(policy: Policy, dataset: str, party: str) -> ReleasePlan:
    """The plan of ``party``'s release of ``dataset`` (PolicyError if the party does not receive it)."""
    entry = policy.entry(dataset, party)
    outs = output_columns(dataset, entry)
    qis = quasi_identifiers(outs, entry)
    return ReleasePlan(
        dataset=dataset, party=party, entry=entry, columns=(*outs, *system_columns()), quasi_identifiers=tuple(qis),
        k=policy.k_for(dataset, party), steps=tuple(generalisation_steps(outs, entry, qis)),
    )
