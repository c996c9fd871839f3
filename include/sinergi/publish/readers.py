"""How analysts read a party bucket: DuckDB, pandas, polars or a spreadsheet, from the party's credentials file.

The credentials file is what ``sinergi store`` hands to a party (``<home>/credentials/<party>.env``):
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ``AWS_REGION``,
``SINERGI_BUCKET``. The documented read path is a plain hive glob
``s3://<bucket>/<dataset>/**/*.parquet`` (see ``sinergi.publish.protocol`` for what it guarantees);
every engine reads the partition columns ``year`` and ``month`` as integers (32-bit), which each
needs told: DuckDB ``hive_types`` (else ``month=07`` is text), pyarrow/pandas a partitioning schema
(else dictionary columns), polars ``hive_partitioning=True`` with ``hive_schema`` (without it polars
silently drops both columns on a ``**`` glob). The spreadsheet route is the monthly XLSX extract the
publisher writes per dataset (``sinergi.publish.kit``), downloaded with the same key.

``read_snippet`` returns self-contained code (no ``sinergi`` import) to paste into a notebook; the
reading kit in each bucket (``_catalog/README.md``) and ``sinergi summary`` print the same snippets.
``pip install "sinergi[reader]"`` installs what they need (:data:`READER_REQUIREMENTS`), not Airflow.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from sinergi.layout import data_glob
from sinergi.settings import S3Settings, read_env_file

ENGINES = ("duckdb", "pandas", "polars", "spreadsheet")

#: What the snippets need: the ``reader`` extra of pyproject.toml, pinned as in requirements.txt (a test
#: keeps the three in step).
READER_REQUIREMENTS = ("duckdb==1.4.4", "duckdb-ext-httpfs==1.4.4.20260205", "pyarrow==26.0.1", "pandas==3.1.1",
                       "polars==2.1.0")
#: The partition columns of the read path, and their type in every engine.
PARTITION_COLUMNS = ("year", "month")


def load_credentials(path: str | os.PathLike) -> S3Settings:
    env = read_env_file(Path(path))
    missing = [k for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL") if not env.get(k)]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)}")
    return S3Settings(env["AWS_ENDPOINT_URL"], env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_REGION") or "us-east-1")


def duckdb_source(bucket: str, dataset: str) -> str:
    """The DuckDB table function for a dataset. ``hive_types`` makes year/month integers, as in
    pyarrow and polars (DuckDB would otherwise keep the zero-padded ``month=07`` as text);
    ``union_by_name`` keeps months readable together if the shared schema gains a column."""
    return (f"read_parquet('{_sql(data_glob(bucket, dataset))}', hive_partitioning = true, "
            "hive_types = {'year': INTEGER, 'month': INTEGER}, union_by_name = true)")


def _host_and_ssl(endpoint: str) -> tuple[str, bool]:
    u = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    return u.netloc, u.scheme == "https"


# -- DuckDB -----------------------------------------------------------------------------------------
def httpfs_extension_path() -> Path | None:
    """The httpfs extension shipped by the ``duckdb-ext-httpfs`` wheel for this DuckDB, if installed."""
    import duckdb

    try:
        import duckdb_ext  # namespace package from the wheel
    except ImportError:
        return None
    platform = duckdb.execute("PRAGMA platform").fetchone()[0]
    for base in duckdb_ext.__path__:
        candidate = Path(base) / "extensions" / f"v{duckdb.__version__}" / platform / "httpfs.duckdb_extension"
        if candidate.exists():
            return candidate
    return None


def duckdb_connection(credentials_env_path: str | os.PathLike, *, database: str = ":memory:"):
    """A DuckDB connection that can read the party's bucket (httpfs loaded, S3 secret created)."""
    import duckdb

    creds = load_credentials(credentials_env_path)
    con = duckdb.connect(database, config={"allow_unsigned_extensions": "true"})
    ext = httpfs_extension_path()
    try:
        con.execute(f"LOAD '{ext}'" if ext else "LOAD httpfs")
    except duckdb.Error as e:
        con.close()
        raise RuntimeError(
            "DuckDB cannot load httpfs: install the duckdb-ext-httpfs wheel matching duckdb "
            f"{duckdb.__version__} (extensions cannot be downloaded here): {e}"
        ) from e
    host, ssl = _host_and_ssl(creds.endpoint)
    con.execute(
        # DDL takes no bind parameters: quote the values instead
        f"CREATE OR REPLACE SECRET sinergi (TYPE s3, KEY_ID '{_sql(creds.access_key)}', SECRET '{_sql(creds.secret_key)}', "
        f"ENDPOINT '{_sql(host)}', URL_STYLE 'path', USE_SSL {str(ssl).lower()}, REGION '{_sql(creds.region)}')"
    )
    return con


def _sql(text: str) -> str:
    return text.replace("'", "''")


def read_duckdb(credentials_env_path: str | os.PathLike, bucket: str, dataset: str):
    """The whole dataset as an Arrow table via DuckDB (hive columns year/month included)."""
    con = duckdb_connection(credentials_env_path)
    try:
        return con.sql(f"SELECT * FROM {duckdb_source(bucket, dataset)}").to_arrow_table()
    finally:
        con.close()


# -- pyarrow / pandas -------------------------------------------------------------------------------
def pyarrow_filesystem(credentials_env_path: str | os.PathLike):
    from pyarrow import fs

    creds = load_credentials(credentials_env_path)
    host, ssl = _host_and_ssl(creds.endpoint)
    return fs.S3FileSystem(
        access_key=creds.access_key,
        secret_key=creds.secret_key,
        endpoint_override=host,
        scheme="https" if ssl else "http",
        region=creds.region,
        retry_strategy=fs.AwsStandardS3RetryStrategy(max_attempts=3),
    )


def hive_partitioning():
    """The pyarrow partitioning of the read path: ``year=YYYY/month=MM`` as int32 columns."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    return ds.partitioning(pa.schema([(c, pa.int32()) for c in PARTITION_COLUMNS]), flavor="hive")


def read_pandas(credentials_env_path: str | os.PathLike, bucket: str, dataset: str):
    """The dataset as a pandas DataFrame with Arrow dtypes (date32 dates, string codes, int64; year and
    month int32)."""
    import pandas as pd

    return pd.read_parquet(f"{bucket}/{dataset}", filesystem=pyarrow_filesystem(credentials_env_path),
                           partitioning=hive_partitioning(), dtype_backend="pyarrow")


# -- polars -----------------------------------------------------------------------------------------
def polars_storage_options(credentials_env_path: str | os.PathLike) -> dict[str, str]:
    creds = load_credentials(credentials_env_path)
    return {
        "aws_access_key_id": creds.access_key,
        "aws_secret_access_key": creds.secret_key,
        "aws_endpoint_url": creds.endpoint,
        "aws_region": creds.region,
        "aws_allow_http": "true" if creds.endpoint.startswith("http://") else "false",
        "aws_virtual_hosted_style_request": "false",
    }


def read_polars(credentials_env_path: str | os.PathLike, bucket: str, dataset: str):
    """The dataset as a polars DataFrame; ``hive_partitioning=True`` keeps year and month (polars drops
    them on a ``**`` glob otherwise) and ``hive_schema`` makes them Int32 as in the other engines."""
    import polars as pl

    return pl.read_parquet(
        data_glob(bucket, dataset), storage_options=polars_storage_options(credentials_env_path),
        hive_partitioning=True, hive_schema={c: pl.Int32 for c in PARTITION_COLUMNS},
    )


# -- snippets ---------------------------------------------------------------------------------------
# The credentials file as sinergi.settings.read_env_file reads it (comments, `export `, quotes).
_CREDS = '''creds = {{}}
for line in open({path!r}, encoding="utf-8"):  # the key file you received: keep it private
    key, sep, value = line.strip().removeprefix("export ").partition("=")
    if sep and not key.startswith("#"):
        creds[key.strip()] = value.strip().strip("'\\"")
'''

_PYARROW_FS = '''endpoint = urllib.parse.urlsplit(creds["AWS_ENDPOINT_URL"])
s3 = fs.S3FileSystem(access_key=creds["AWS_ACCESS_KEY_ID"], secret_key=creds["AWS_SECRET_ACCESS_KEY"],
                     endpoint_override=endpoint.netloc, scheme=endpoint.scheme,
                     region=creds.get("AWS_REGION", "us-east-1"))
'''

_SNIPPETS = {
    "duckdb": '''import duckdb, urllib.parse
{creds}endpoint = urllib.parse.urlsplit(creds["AWS_ENDPOINT_URL"])
con = duckdb.connect(config={{"allow_unsigned_extensions": "true"}})
try:  # offline installs: the httpfs extension from the duckdb-ext-httpfs wheel
    import pathlib, duckdb_ext
    platform = con.execute("PRAGMA platform").fetchone()[0]
    ext = next(p for b in duckdb_ext.__path__ for p in [pathlib.Path(b, "extensions", "v" + duckdb.__version__,
               platform, "httpfs.duckdb_extension")] if p.exists())
    con.execute(f"LOAD '{{ext}}'")
except (ImportError, StopIteration):
    con.execute("INSTALL httpfs; LOAD httpfs")  # online: DuckDB's extension repository
con.execute(f"""CREATE SECRET (TYPE s3, KEY_ID '{{creds["AWS_ACCESS_KEY_ID"]}}', SECRET '{{creds["AWS_SECRET_ACCESS_KEY"]}}',
    ENDPOINT '{{endpoint.netloc}}', URL_STYLE 'path', USE_SSL {{str(endpoint.scheme == "https").lower()}},
    REGION '{{creds.get("AWS_REGION", "us-east-1")}}')""")
# hive_types: year and month as integers (DuckDB would read month=07 as the text '07')
df = con.sql("SELECT * FROM {duckdb_source}").df()
print(df.groupby(["year", "month"]).size())  # rows per month
''',
    "pandas": '''import pandas as pd, pyarrow as pa, pyarrow.dataset as ds, urllib.parse
from pyarrow import fs
{creds}{pyarrow_fs}# year and month from the folder names, as integers
months = ds.partitioning(pa.schema([("year", pa.int32()), ("month", pa.int32())]), flavor="hive")
df = pd.read_parquet("{bucket}/{dataset}", filesystem=s3, partitioning=months, dtype_backend="pyarrow")
print(df.groupby(["year", "month"]).size())  # rows per month
''',
    "polars": '''import polars as pl
{creds}# hive_partitioning=True keeps year and month (on a ** glob polars silently drops them otherwise)
df = pl.read_parquet("{glob}",
    hive_partitioning=True, hive_schema={{"year": pl.Int32, "month": pl.Int32}},
    storage_options={{"aws_access_key_id": creds["AWS_ACCESS_KEY_ID"],
                     "aws_secret_access_key": creds["AWS_SECRET_ACCESS_KEY"],
                     "aws_endpoint_url": creds["AWS_ENDPOINT_URL"], "aws_region": creds.get("AWS_REGION", "us-east-1"),
                     "aws_allow_http": str(creds["AWS_ENDPOINT_URL"].startswith("http://")).lower(),
                     "aws_virtual_hosted_style_request": "false"}})
print(df.group_by("year", "month").len().sort("year", "month"))  # rows per month
''',
    "spreadsheet": '''import pathlib, urllib.parse
from pyarrow import fs
{creds}{pyarrow_fs}# one XLSX per month (columns as in the Parquet, plus year and month), into the folder {folder}/
out = pathlib.Path("{folder}")
out.mkdir(exist_ok=True)
for f in s3.get_file_info(fs.FileSelector("{bucket}/{extracts}", allow_not_found=True)):
    if f.path.endswith(".xlsx"):
        with s3.open_input_stream(f.path) as src:
            (out / f.base_name).write_bytes(src.read())
        print(out / f.base_name)  # open it in Excel, LibreOffice Calc or Google Sheets
''',
}


def read_snippet(
    party: str, bucket: str, dataset: str, *, engine: str = "duckdb", credentials_path: str | None = None
) -> str:
    """Self-contained Python that loads ``dataset`` from ``bucket`` with the party's key: into ``df``
    (DuckDB, pandas, polars), or, for ``spreadsheet``, downloads its monthly XLSX extracts into the
    folder ``<dataset>-xlsx/``. Each engine reads ``year`` and ``month`` as integers.

    ``credentials_path`` defaults to ``<party>.env`` (the file the party received)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    from sinergi.layout import extracts_prefix

    path = credentials_path or f"{party}.env"
    what = "monthly XLSX extracts of " if engine == "spreadsheet" else ""
    header = f"# {what}{dataset} from s3://{bucket} with the '{party}' read-only key ({engine})\n"
    return header + _SNIPPETS[engine].format(
        creds=_CREDS.format(path=str(path)), pyarrow_fs=_PYARROW_FS, glob=data_glob(bucket, dataset), bucket=bucket,
        dataset=dataset, duckdb_source=duckdb_source(bucket, dataset), folder=f"{dataset}-xlsx",
        extracts=extracts_prefix(dataset),
    )
