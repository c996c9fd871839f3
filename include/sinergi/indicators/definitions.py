"""The MoU indicator definitions: one table, the single place that says what each indicator counts.

Every indicator names the annex work-plan row (Lampiran Rencana Kerja) it serves, cited exactly as
the row is numbered in the MoU annex ("1e", "2.1", "3.2", "4d", "5.2d", "5.3b", ...), the published
(pseudonymised) dataset it is computed from, and its formula in words. Computation is in
``sinergi.indicators.compute``; disclosure control in ``sinergi.indicators.suppress``.

Kinds
  count   rows (``records``) or distinct ``nik_token`` (``persons``) of the source dataset in the
          period, after an optional filter; broken down by the listed dimension columns.
  sum     the sum of other count cells (e.g. sick + deceased returns); suppressed when exactly one
          part is (the published parts would reveal it), then protected like any count.
  alias   one dimension cell of another count indicator, published as its own headline indicator
          (shares that cell's value *and* suppression, so the two can never disagree).
  rate    numerator / denominator of two count indicators (same area, dimension "total").
  median  median days (complaint resolution); base = a count indicator.
  cohort  trained CPMI (trainings) linked by ``nik_token`` to placements (special computation).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Cells with a count from 1 to THRESHOLD-1 are suppressed (configurable per call).
DEFAULT_THRESHOLD = 5
#: Window for "placed within 6 months of training".
PLACED_WITHIN_DAYS = 183


@dataclass(frozen=True)
class Indicator:
    id: str
    name_en: str
    name_id: str
    workplan_row: str
    dataset: str
    kind: str  # count | sum | alias | rate | median | cohort
    unit: str  # persons | records | ratio | days | facilities
    formula: str
    dimensions: tuple[str, ...] = ()
    where: dict[str, tuple] = field(default_factory=dict)  # column -> allowed values (count kind)
    distinct: str | None = None  # count distinct this column (persons) instead of rows
    parts: tuple[str, ...] = ()  # sum: (indicator, dimension, value) flattened as "ind|dim|value"
    numerator: str | None = None
    denominator: str | None = None
    small_cell: bool = True  # False only for counts of organisations (not persons)
    headline: bool = True


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "cpmi_registered", "CPMI registrations", "Pendaftaran CPMI", "1e", "cpmi_registrations", "count", "records",
        "Rows of cpmi_registrations in the period (deduplicated by registration_id, latest month wins).",
        dimensions=("verification_status", "sex"),
    ),
    Indicator(
        "cpmi_verified", "CPMI registrations verified", "Pendaftaran CPMI terverifikasi", "5.2a",
        "cpmi_registrations", "alias", "records",
        "cpmi_registered where verification_status = 'terverifikasi'.",
        parts=("cpmi_registered|verification_status|terverifikasi",),
    ),
    Indicator(
        "cpmi_verified_rate", "Share of CPMI registrations verified", "Persentase pendaftaran CPMI terverifikasi",
        "5.2a", "cpmi_registrations", "rate", "ratio", "cpmi_verified / cpmi_registered.",
        numerator="cpmi_verified", denominator="cpmi_registered",
    ),
    Indicator(
        "initial_registrations", "Initial registrations at kab/kota labour offices",
        "Pendaftaran awal di Disnaker kab/kota", "1e", "initial_registrations", "count", "records",
        "Rows of initial_registrations in the period (deduplicated by registration_id).", dimensions=("sex",),
    ),
    Indicator(
        "placements", "Migrant workers placed", "PMI ditempatkan", "4d", "placements", "count", "records",
        "Rows of placements in the period (deduplicated by placement_id).",
        dimensions=("destination_country", "sector", "placement_scheme", "sex"),
    ),
    Indicator(
        "returns", "Migrant workers returned", "PMI pulang", "4e", "returns", "count", "records",
        "Rows of returns in the period (deduplicated by return_id).", dimensions=("return_status", "sex"),
    ),
    Indicator(
        "returns_sick_deceased", "Workers repatriated sick or deceased", "PMI dipulangkan karena sakit atau meninggal",
        "3.3", "returns", "sum", "records", "returns with return_status 'sakit' + 'meninggal'.",
        parts=("returns|return_status|sakit", "returns|return_status|meninggal"),
    ),
    Indicator(
        "complaints", "Complaints", "Pengaduan", "5.2d", "complaints", "count", "records",
        "Complaints in the period (deduplicated by complaint_id; type and status as of the latest month).",
        dimensions=("complaint_type", "workflow_status"),
    ),
    Indicator(
        "complaints_resolved", "Complaints resolved", "Pengaduan selesai", "5.3c", "complaints", "count", "records",
        "Complaints with workflow_status 'Selesai' and resolved_date inside the period.", headline=False,
    ),
    Indicator(
        "complaint_days_to_resolution_median", "Median days to resolve a complaint",
        "Median hari penyelesaian pengaduan", "5.3c", "complaints", "median", "days",
        "Median of resolved_date - complaint_date over complaints_resolved.", denominator="complaints_resolved",
    ),
    Indicator(
        "cpmi_trained", "CPMI trained", "CPMI dilatih", "2.1", "trainings", "count", "persons",
        "Distinct nik_token with a training record in the period.", dimensions=("training_type", "result"),
        distinct="nik_token",
    ),
    Indicator(
        "trained_cohort", "Trained CPMI who completed a training", "CPMI yang menyelesaikan pelatihan", "2.1",
        "trainings", "cohort", "persons",
        "Distinct nik_token with a training record in the period that has an end_date (first end_date counts).",
        headline=False,
    ),
    Indicator(
        "trained_placed_6m", "Trained CPMI placed within 6 months", "CPMI terlatih yang ditempatkan dalam 6 bulan",
        "2.1", "trainings", "cohort", "persons",
        f"trained_cohort whose nik_token has a placement departing 0-{PLACED_WITHIN_DAYS} days after the training "
        "end_date (placements of the party's bucket up to the reporting month; recent cohorts still maturing).",
        headline=False,
    ),
    Indicator(
        "trained_placed_6m_share", "Share of trained CPMI placed within 6 months",
        "Persentase CPMI terlatih yang ditempatkan dalam 6 bulan", "2.1", "trainings", "rate", "ratio",
        "trained_placed_6m / trained_cohort.", numerator="trained_placed_6m", denominator="trained_cohort",
    ),
    Indicator(
        "health_checks", "CPMI health checks", "Pemeriksaan kesehatan CPMI", "3.2", "health_checks", "count",
        "records", "Rows of health_checks in the period (deduplicated by check_id).", dimensions=("result", "sex"),
    ),
    Indicator(
        "health_checks_fit", "Health checks with result fit", "Pemeriksaan kesehatan dengan hasil fit", "3.2",
        "health_checks", "alias", "records", "health_checks where result = 'fit'.",
        parts=("health_checks|result|fit",), headline=False,
    ),
    Indicator(
        "health_fit_rate", "Fit rate of CPMI health checks", "Persentase hasil pemeriksaan fit", "3.2",
        "health_checks", "rate", "ratio", "health_checks_fit / health_checks.",
        numerator="health_checks_fit", denominator="health_checks",
    ),
    Indicator(
        "health_facilities_licensed", "Licensed health facilities for CPMI",
        "Sarana kesehatan berizin pemeriksa CPMI", "3.1", "health_facilities", "count", "facilities",
        "Facilities in the latest register snapshot of the period whose license_valid_until is empty or not "
        "before the end of the period. Organisations, not persons: exempt from small-cell suppression.",
        dimensions=("facility_type",), small_cell=False,
    ),
    Indicator(
        "stranded_received", "Stranded returnees received (terlantar)", "PMI terlantar yang diterima Dinas Sosial",
        "5.3b", "stranded_returnees", "count", "records",
        "Rows of stranded_returnees in the period (deduplicated by case_id).", dimensions=("condition",),
    ),
    Indicator(
        "empowerment_returnees", "Returned workers in empowerment programmes",
        "Purna PMI peserta pemberdayaan", "2.3", "empowerment", "count", "persons",
        "Distinct nik_token of empowerment records in the period with participant_type 'purna PMI'.",
        dimensions=("program_type",), where={"participant_type": ("purna PMI",)}, distinct="nik_token",
    ),
    Indicator(
        "empowerment_families", "Migrant workers' family members in empowerment programmes",
        "Keluarga PMI peserta pemberdayaan", "2.2", "empowerment", "count", "persons",
        "Distinct nik_token of empowerment records in the period with participant_type 'keluarga PMI'.",
        dimensions=("program_type",), where={"participant_type": ("keluarga PMI",)}, distinct="nik_token",
    ),
)

BY_ID: dict[str, Indicator] = {i.id: i for i in INDICATORS}

#: Source datasets used (and the extra filter the complaints_resolved count applies).
SOURCE_DATASETS: tuple[str, ...] = tuple(dict.fromkeys(i.dataset for i in INDICATORS))
#: Register snapshots: the period value is the latest month's snapshot, not a sum of months.
SNAPSHOT_DATASETS = frozenset({"health_facilities"})
#: Datasets an indicator needs besides its own (cohort linkage).
EXTRA_NEEDS: dict[str, tuple[str, ...]] = {"trained_placed_6m": ("placements",), "trained_placed_6m_share": ("placements",)}

PERIODS = ("month", "ytd", "year")
PERIOD_LABEL = {"month": "Bulan ini / month", "ytd": "Januari s.d. bulan ini / year to date",
                "year": "12 bulan terakhir / last 12 months"}


def needed_datasets(ind: Indicator) -> tuple[str, ...]:
    return (ind.dataset, *EXTRA_NEEDS.get(ind.id, ()))
