"""File extraction (CSV / XLSX / JSON) for every file dataset of the registry, on fixtures written at
test time (synthetic NIKs only)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sinergi import regions, registry, vocab
from sinergi.extract import (
    ExtractError,
    MissingColumnError,
    SourceConfig,
    SourceEncodingError,
    SourceNotFoundError,
    UnreadableSourceError,
    extract,
    iter_extract,
    output_schema,
)

MONTH = "2025-07"
FILE_DATASETS = [n for n, d in registry.datasets().items() if d.source.kind == "file"]
KAB_SPELLINGS = ["Lampung Timur", "KAB. LAMPUNG TENGAH", "LAMSEL", "Kota Metro", "1871", "kabupaten  pesawaran"]
COUNTRY_SPELLINGS = ["Taiwan", "HONGKONG", "Malaysia", "Jepang", "korea selatan"]
DATE_FORMATS = ["%d/%m/%Y", "%Y-%m-%d"]


def synthetic_nik(i: int) -> str:
    kab = regions.lampung()[i % 15].kemendagri_code
    return f"{kab}01{(i % 28) + 41:02d}0790{(i % 9998) + 1:04d}"


def raw_value(col: registry.Column, i: int, r: random.Random) -> str:
    kind = col.normalise or "text"
    day = dt.date(2025, 7, 1) + dt.timedelta(days=i % 28)
    if col.name == "birth_date":
        day = dt.date(1990, 7, 1) + dt.timedelta(days=i % 28)
    if kind.startswith("vocab:"):
        values = vocab.vocabularies()[kind[6:]]
        canonical = r.choice(list(values))
        return r.choice([canonical, *values[canonical]]).lower() if r.random() < 0.5 else canonical
    return {
        "id": f"{col.name[:3].upper()}-{i:06d}",
        "nik": synthetic_nik(i),
        "name": f"  nama  contoh {i} ",
        "text": f"Jl. Contoh  No. {i}",
        "date": day.strftime(DATE_FORMATS[i % 2]),
        "int": str(i % 50 + 1),
        "bool": "YA" if i % 2 else "TIDAK",
        "phone": f"0812-{i:04d}-{i:04d}",
        "email": f"User{i}@Mail.com",
        "passport": f"c{i:07d}",
        "kabkota": KAB_SPELLINGS[i % len(KAB_SPELLINGS)],
        "country": COUNTRY_SPELLINGS[i % len(COUNTRY_SPELLINGS)],
    }[kind]


def make_rows(ds: registry.Dataset, n: int, seed: int = 1) -> tuple[list[str], list[list[str]]]:
    r = random.Random(seed)
    cols = ds.source_columns
    return [c.headers[0] for c in cols], [[raw_value(c, i, r) for c in cols] for i in range(n)]


def file_path(root: Path, ds: registry.Dataset, ext: str, month: str = MONTH) -> Path:
    folder = root / ds.source.system / month
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{ds.source.file_stem}_{month.replace('-', '')}.{ext}"


def write_csv(path: Path, headers, rows, *, delimiter=";", encoding="utf-8", title=("LAPORAN", "Periode: Juli 2025")):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    for t in title:
        w.writerow([t] + [""] * 2)
    if title:
        w.writerow([])
    w.writerow(headers)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, headers, rows, *, title=("KEMENTERIAN P2MI", "LAPORAN BULANAN", "Periode Juli 2025"), sheet="Data"):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for t in title:
        ws.append([t])
    ws.append(list(headers))
    for row in rows:
        ws.append(list(row))
    wb.save(path)
    return path


def write_json(path: Path, headers, rows):
    path.write_text(json.dumps({"data": [dict(zip(headers, r, strict=True)) for r in rows]}), encoding="utf-8")
    return path


def config(root: Path) -> SourceConfig:
    return SourceConfig(exports_dir=root, disnaker_db_url="sqlite://")


def assert_canonical(ds: registry.Dataset, table: pa.Table, n: int):
    assert table.schema.equals(output_schema(ds), check_metadata=False)
    assert table.num_rows == n
    assert table.column("_source_row").to_pylist() == list(range(1, n + 1))
    assert table.column("_extract_issues").null_count == n, table.column("_extract_issues").drop_null().to_pylist()[:3]
    for col in ds.columns:
        values = table.column(col.name)
        if col.required:
            assert values.null_count == 0, col.name
        if col.normalise == "kabkota":
            assert set(values.drop_null().to_pylist()) <= set(regions.by_code()), col.name
        if col.normalise == "country":
            assert set(values.drop_null().to_pylist()) <= set(vocab.countries()), col.name
        if col.vocabulary:
            assert set(values.drop_null().to_pylist()) <= set(vocab.values(col.vocabulary)), col.name
        if col.derive_via == "bps_code":
            assert values.null_count == 0


@pytest.mark.parametrize("dataset", FILE_DATASETS)
@pytest.mark.parametrize("fmt", ["csv-cp1252-semicolon-title", "csv-utf8-comma", "xlsx-title", "json"])
def test_every_file_dataset_every_format(tmp_path, dataset, fmt):
    ds = registry.get(dataset)
    headers, rows = make_rows(ds, 25)
    if fmt == "csv-cp1252-semicolon-title":
        write_csv(file_path(tmp_path, ds, "csv"), headers, rows, encoding="cp1252")
    elif fmt == "csv-utf8-comma":
        write_csv(file_path(tmp_path, ds, "csv"), headers, rows, delimiter=",", title=())
    elif fmt == "xlsx-title":
        write_xlsx(file_path(tmp_path, ds, "xlsx"), headers, rows)
    else:
        write_json(file_path(tmp_path, ds, "json"), headers, rows)
    result = extract(dataset, MONTH, config(tmp_path))
    assert_canonical(ds, result.table, 25)
    assert result.rows_read == 25 and not result.rows_skipped and result.complete
    assert result.sources[0]["rows"] == 25
    assert result.sources[0]["sha256"] and result.sources[0]["landing_key"] is None
    assert not [w for w in result.warnings if "drift" in w]


def test_header_variants_case_space_punctuation_insensitive(tmp_path):
    ds = registry.get("placements")
    _, rows = make_rows(ds, 5)
    headers = [f"  {c.headers[-1].lower().replace(' ', '_')}. " for c in ds.source_columns]
    write_csv(file_path(tmp_path, ds, "csv"), headers, rows)
    result = extract("placements", MONTH, config(tmp_path))
    assert_canonical(ds, result.table, 5)
    assert result.info["columns"]["kabkota_code"].strip().startswith("kab_kota_asal")


def test_values_normalised(tmp_path):
    ds = registry.get("placements")
    headers, rows = make_rows(ds, 6)
    write_csv(file_path(tmp_path, ds, "csv"), headers, rows, encoding="cp1252")
    t = extract("placements", MONTH, config(tmp_path)).table
    row = t.slice(0, 1).to_pylist()[0]
    assert row["full_name"] == "NAMA CONTOH 0"
    assert row["kabkota_code"] == "1807" and row["kabkota_bps_code"] == "1804" and row["province_code"] == "18"
    assert row["destination_country"] == "TW" and row["destination_country_name"] == "Taiwan"
    assert row["phone"] == "+6281200000000"
    assert row["birth_date"] == dt.date(1990, 7, 1)
    assert row["kecamatan_code"] == synthetic_nik(0)[:6]
    assert t.column("departure_date").to_pylist()[1] == dt.date(2025, 7, 2)  # ISO in odd rows


def test_cp1252_text_decoded(tmp_path):
    ds = registry.get("stranded_returnees")
    headers, rows = make_rows(ds, 3)
    rows[1][headers.index("NAMA")] = "José Ñoño"
    path = write_csv(file_path(tmp_path, ds, "csv"), headers, rows, encoding="cp1252")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    result = extract("stranded_returnees", MONTH, config(tmp_path))
    assert result.info["encoding"] == "cp1252"
    assert result.table.column("full_name")[1].as_py() == "JOSÉ ÑOÑO"


def test_utf8_bom_without_title(tmp_path):
    ds = registry.get("p3mi")
    headers, rows = make_rows(ds, 4)
    path = write_csv(file_path(tmp_path, ds, "csv"), headers, rows, title=(), encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    result = extract("p3mi", MONTH, config(tmp_path))
    assert_canonical(ds, result.table, 4)
    assert result.table.column("operates_in_lampung").to_pylist() == [False, True, False, True]


def test_mangled_and_float_niks_and_lost_values(tmp_path):
    ds = registry.get("placements")
    headers, rows = make_rows(ds, 5)
    nik_i, date_i = headers.index("NIK"), headers.index("TGL LAHIR")
    rows[0][nik_i] = "1.80701E+15"
    rows[1][nik_i] = synthetic_nik(1) + ".0"
    rows[2][date_i] = "31/02/1990"
    write_csv(file_path(tmp_path, ds, "csv"), headers, rows)
    t = extract("placements", MONTH, config(tmp_path)).table
    assert t.column("nik").to_pylist()[:2] == ["1.80701E+15", synthetic_nik(1)]
    assert t.column("kecamatan_code")[0].as_py() is None
    assert t.column("birth_date")[2].as_py() is None
    assert t.column("_extract_issues").to_pylist() == [None, None, "birth_date: unparseable date '31/02/1990'", None, None]


def test_unmappable_values_kept_as_text(tmp_path):
    ds = registry.get("returns")
    headers, rows = make_rows(ds, 2)
    rows[0][headers.index("KAB/KOTA")] = " Kab.  Atlantis "
    rows[0][headers.index("NEGARA PENEMPATAN")] = "Narnia"
    rows[0][headers.index("STATUS KEPULANGAN")] = "liburan"
    write_csv(file_path(tmp_path, ds, "csv"), headers, rows)
    row = extract("returns", MONTH, config(tmp_path)).table.slice(0, 1).to_pylist()[0]
    assert (row["kabkota_code"], row["destination_country"], row["return_status"]) == ("Kab. Atlantis", "Narnia", "liburan")
    assert row["kabkota_bps_code"] is None and row["province_code"] is None
    assert row["_extract_issues"] is None  # not lost: validation reports these


def test_xlsx_cells_numbers_dates_and_niks(tmp_path):
    ds = registry.get("health_checks")
    headers, rows = make_rows(ds, 4)
    nik_i, date_i, birth_i = headers.index("NIK"), headers.index("TGL PEMERIKSAAN"), headers.index("TGL LAHIR")
    rows[0][nik_i] = int(synthetic_nik(0))  # numeric cell, all digits there
    rows[1][nik_i] = 1807010000000000  # Excel rounded 1.80701E+15: not repaired
    rows[2][nik_i] = "1.80701E+15"
    rows[0][date_i] = dt.datetime(2025, 7, 9)
    rows[1][date_i] = 45847  # Excel serial = 2025-07-09
    rows[2][birth_i] = dt.date(1990, 7, 3)
    write_xlsx(file_path(tmp_path, ds, "xlsx"), headers, rows)
    result = extract("health_checks", MONTH, config(tmp_path))
    t = result.table
    assert t.column("nik").to_pylist()[:3] == [synthetic_nik(0), "1807010000000000.0", "1.80701E+15"]
    assert t.column("check_date").to_pylist()[:2] == [dt.date(2025, 7, 9)] * 2
    assert t.column("birth_date")[2].as_py() == dt.date(1990, 7, 3)
    assert result.info["header_row"] == 4 and result.info["format"] == "xlsx"


def test_schema_drift_is_a_warning_not_an_error(tmp_path):
    ds = registry.get("job_orders")
    headers, rows = make_rows(ds, 3)
    headers = headers + ["KOLOM BARU"]
    rows = [r + ["x"] for r in rows]
    drop = headers.index("BERLAKU SAMPAI")  # optional column missing
    headers.pop(drop)
    for r in rows:
        r.pop(drop)
    write_csv(file_path(tmp_path, ds, "csv"), headers, rows)
    result = extract("job_orders", MONTH, config(tmp_path))
    assert result.table.num_rows == 3
    assert any("unknown column 'KOLOM BARU'" in w and "schema drift" in w for w in result.warnings)
    assert any("optional column valid_until missing" in w for w in result.warnings)
    assert result.table.column("valid_until").null_count == 3


def test_row_accounting_footer_empty_and_broken_rows(tmp_path):
    ds = registry.get("complaints")
    headers, rows = make_rows(ds, 6)
    path = file_path(tmp_path, ds, "csv")
    write_csv(path, headers, rows)
    lines = path.read_bytes().decode().split("\r\n")
    first_data = lines.index(";".join(headers)) + 1
    lines.insert(first_data + 2, "broken;row")  # data row 3: wrong field count
    lines.insert(first_data + 5, ";" * (len(headers) - 1))  # data row 6: empty
    lines.insert(len(lines) - 1, "TOTAL;6" + ";" * (len(headers) - 2))  # footer (data row 9)
    path.write_bytes("\r\n".join(lines).encode())
    result = extract("complaints", MONTH, config(tmp_path))
    t = result.table
    assert t.num_rows == 6
    assert t.column("_source_row").to_pylist() == [1, 2, 4, 5, 7, 8]
    assert t.column("complaint_id").to_pylist() == [f"COM-{i:06d}" for i in range(6)]
    skipped = {s["row"]: s["reason"] for s in result.rows_skipped}
    assert set(skipped) == {6, 9}  # no data row: empty, footer
    assert skipped[6] == "empty row" and "footer" in skipped[9]
    # the broken line is a data row: quarantined as malformed with its raw text, not skipped
    [bad] = result.malformed
    assert (bad["row"], bad["line"], bad["rule"]) == (3, "broken;row", "malformed_line")
    assert bad["reason"].startswith(f"2 fields where the header has {len(headers)}")
    assert result.rows_in_source == 9 == result.sources[0]["rows"]
    assert result.sources[0]["source_rows"] == 7 and result.sources[0]["malformed"] == 1


def test_iter_extract_streams_batches(tmp_path):
    ds = registry.get("placements")
    headers, rows = make_rows(ds, 3000)
    write_csv(file_path(tmp_path, ds, "csv"), headers, rows)
    batches, result = iter_extract("placements", MONTH, config(tmp_path), block_size=64 * 1024)
    assert result.rows_read == 0 and not result.complete  # lazy
    got = list(batches)
    assert len(got) > 3
    assert all(b.schema.equals(output_schema(ds), check_metadata=False) for b in got)
    table = pa.Table.from_batches(got)
    assert result.complete and result.rows_read == 3000 == table.num_rows
    assert table.column("_source_row").to_pylist() == list(range(1, 3001))
    assert pc.all(pc.equal(table.column("kabkota_bps_code"), table.column("kabkota_bps_code"))).as_py()


# ------------------------------------------------------------------------------------------- errors


def test_missing_file_names_expected_paths(tmp_path):
    with pytest.raises(SourceNotFoundError) as err:
        extract("placements", MONTH, config(tmp_path))
    msg = str(err.value)
    assert "PENEMPATAN_PMI_202507.csv" in msg and "PENEMPATAN_PMI_202507.xlsx" in msg and "siskop2mi/2025-07" in msg
    assert isinstance(err.value, ExtractError)


def test_missing_required_column_names_file_column_and_headers(tmp_path):
    ds = registry.get("placements")
    headers, rows = make_rows(ds, 2)
    i = headers.index("NEGARA PENEMPATAN")
    write_csv(file_path(tmp_path, ds, "csv"), headers[:i] + headers[i + 1 :], [r[:i] + r[i + 1 :] for r in rows])
    with pytest.raises(MissingColumnError) as err:
        extract("placements", MONTH, config(tmp_path))
    msg = str(err.value)
    assert "PENEMPATAN_PMI_202507.csv" in msg and "destination_country" in msg and "'NEGARA PENEMPATAN'" in msg
    assert err.value.columns == ("destination_country",)


def test_no_header_row(tmp_path):
    ds = registry.get("p3mi")
    file_path(tmp_path, ds, "csv").write_text("just;some;text\n1;2;3\n")
    with pytest.raises(MissingColumnError, match="no header row found"):
        extract("p3mi", MONTH, config(tmp_path))


def test_corrupt_xlsx_is_unreadable(tmp_path):
    ds = registry.get("health_facilities")
    file_path(tmp_path, ds, "xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(UnreadableSourceError, match="SARANA_KESEHATAN_CPMI_202507.xlsx"):
        extract("health_facilities", MONTH, config(tmp_path))


def test_undecodable_csv_is_an_encoding_error(tmp_path):
    ds = registry.get("p3mi")
    random.seed(3)
    # bytes undefined in cp1252 (0x81, 0x8D, 0x8F, 0x90, 0x9D) mixed with NULs: not text in any encoding
    garbage = bytes(random.choice([0x00, 0x81, 0x8D, 0x8F, 0x90, 0x9D, 0xFF, 0xFE, 0x01]) for _ in range(4000))
    file_path(tmp_path, ds, "csv").write_bytes(b"KODE P3MI;NAMA P3MI\n" + garbage)
    with pytest.raises(SourceEncodingError) as err:
        extract("p3mi", MONTH, config(tmp_path))
    assert "P3MI_202507.csv" in str(err.value) and "UTF-8" in str(err.value)
    assert isinstance(err.value, UnreadableSourceError | ExtractError)


def test_bad_month():
    with pytest.raises(ValueError, match="YYYY-MM"):
        extract("placements", "2025-7", config(Path("/nonexistent")))


def test_encoding_checked_over_the_whole_file(tmp_path):
    """The only cp1252 byte is past the first 4 MB: the file is still read as cp1252 (not UTF-8)."""
    ds = registry.get("p3mi")
    headers, rows = make_rows(ds, 2)
    filler = [list(rows[0]) for _ in range(45_000)]
    for i, r in enumerate(filler):
        r[0] = f"P3M-{i:06d}"
        r[1] = f"PT Contoh Sejahtera Abadi Nomor {i} " + "x" * 40
    filler[-1][1] = "PT Café Ñusantara"
    path = write_csv(file_path(tmp_path, ds, "csv"), headers, filler, encoding="cp1252")
    assert path.stat().st_size > 4 * 1024 * 1024
    result = extract("p3mi", MONTH, config(tmp_path))
    assert result.info["encoding"] == "cp1252"
    assert result.table.column("company_name")[-1].as_py() == "PT Café Ñusantara"
    assert result.rows_read == 45_000
