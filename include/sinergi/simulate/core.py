"""``simulate()``: build the world, render each dataset-month, damage it, write files, DB and ledger."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sinergi import registry
from sinergi.months import Month

from . import malformed
from . import model as M
from .defects import Injector, schema_drift
from .lifecycle import Lifecycle, history_months
from .population import World
from .sources import render
from .writers import choose_format, title_block, write_csv, write_sql, write_xlsx

LEDGER_NAME = "_defects.jsonl"


@dataclass
class SimulationResult:
    out_dir: Path
    months: list[str]
    files: dict[tuple[str, str], Path] = field(default_factory=dict)  # (dataset, month) -> file (file sources)
    rows: dict[tuple[str, str], int] = field(default_factory=dict)  # (dataset, month) -> rows written
    ledger_path: Path | None = None
    dinas_db_url: str = ""
    defects: int = 0  # ledger lines

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def default_db_url(out_dir: Path) -> str:
    return f"sqlite:///{Path(out_dir).resolve() / 'disnaker.sqlite'}"


def file_path(out_dir: Path, dataset: str, month: str, ext: str) -> Path:
    src = registry.get(dataset).source
    m = Month.of(month)
    return Path(out_dir) / src.system / str(m) / f"{src.file_stem}_{m.compact}.{ext}"


def simulate(out_dir, month: str = "2025-07", months: int = 1, scale: str | int = "demo", seed: int = 42,
             defect_rate: float = 0.03, dinas_db_url: str | None = None,
             formats: dict[str, str] | None = None, malformed_files: bool = False) -> SimulationResult:
    """Write ``months`` months of source data starting at ``month`` under ``out_dir``.

    ``formats`` forces a file format per dataset (``{"placements": "csv"}``); otherwise each
    (dataset, month) gets a deterministic mix of CSV/XLSX. ``malformed_files`` also damages some
    exports the way real ones are damaged (sinergi.simulate.malformed: trailing delimiters, a stray
    quote or a missing field on one line, an understated XLSX dimension), each with a ledger entry.
    Same arguments -> byte-identical output.
    """
    M.parse_month(month)
    if months < 1:
        raise ValueError("months must be >= 1")
    if not 0 <= defect_rate <= 1:
        raise ValueError("defect_rate must be between 0 and 1")
    formats = formats or {}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    world = World(month, months, M.get_scale(scale), seed, defect_rate)
    life = Lifecycle(world)
    result = SimulationResult(out_dir=out, months=list(world.window))
    ledger: list[dict] = []
    sql_rows: dict[str, list[dict]] = {n: [] for n in registry.names() if registry.get(n).source.kind == "sql"}

    # Clean history in the Disnaker database (people registered before the window).
    for hm in history_months(world):
        for name in sql_rows:
            sql_rows[name] += render(name, hm, life.records(name, hm))

    for m in world.window:
        for name in registry.names():
            ds = registry.get(name)
            records = life.records(name, m)
            kab = [r.get("kabkota_code") for r in records]
            rows = render(name, m, records)
            inj = Injector(name, m, seed, defect_rate, sql=ds.source.kind == "sql")
            rows = inj.apply(rows, kab)
            result.rows[(name, m)] = len(rows)
            if ds.source.kind == "sql":
                sql_rows[name] += rows
                if ds.snapshot:  # a register is pulled whole: every row entered so far
                    result.rows[(name, m)] = len(sql_rows[name])
                for e in inj.ledger:
                    e.update(file=f"db:{ds.source.table}", source_row=None)
                ledger += inj.ledger
                continue
            fmt = choose_format(seed, name, m, formats.get(name))
            path = file_path(out, name, m, fmt.ext)
            path.parent.mkdir(parents=True, exist_ok=True)
            for ext in ("csv", "xlsx", "json"):  # exactly one file per dataset and month
                other = file_path(out, name, m, ext)
                if other != path and other.exists():
                    other.unlink()
            headers, drift = schema_drift(name, m, seed, defect_rate)
            cols = [c.name for c in ds.source_columns]
            header_row = [headers[c] for c in cols]
            table = [[r.get(c) for c in cols] for r in rows]
            if drift and "extra" in drift:
                header_row.append(drift["extra"])
                for i, row in enumerate(table, 1):
                    row.append(str(i) if drift["extra"] == "NO URUT" else ("ADMIN" if drift["extra"] == "PETUGAS INPUT" else None))
                ledger.append({"month": m, "dataset": name, "record_id": None, "kind": "schema_drift_extra_column",
                               "column": None, "detail": f"extra column {drift['extra']!r}", "file": path.name,
                               "source_row": None})
            elif drift:
                col = drift["rename"]
                ledger.append({"month": m, "dataset": name, "record_id": None, "kind": "schema_drift_rename",
                               "column": col, "detail": f"header {registry.get(name).column(col).headers[0]!r} "
                               f"written as {headers[col]!r}", "file": path.name, "source_row": None})
            if fmt.ext == "csv":
                write_csv(path, header_row, table, fmt.encoding)
            else:
                write_xlsx(path, header_row, table, fmt, title_block(name, m))
            position = {id(r): i for i, r in enumerate(rows, 1)}
            for e in inj.ledger:
                e.update(file=path.name, source_row=position.get(id(e["_row"])))
            ledger += inj.ledger
            if malformed_files and defect_rate > 0:
                if fmt.ext == "csv":
                    spoiled = {e["source_row"] for e in inj.ledger if e["source_row"]}
                    ledger += malformed.malform_csv(path, fmt.encoding, name, m, seed,
                                                    [r.get(ds.record_id) for r in rows], spoiled)
                else:
                    ledger += malformed.understate_dimension(path, name, m, seed)
            result.files[(name, m)] = path

    url = dinas_db_url or default_db_url(out)
    if dinas_db_url is None:
        Path(out / "disnaker.sqlite").unlink(missing_ok=True)  # ours: recreate for byte-identical output
    write_sql(url, sql_rows)
    result.dinas_db_url = url

    result.ledger_path = out / LEDGER_NAME
    with open(result.ledger_path, "w", encoding="utf-8", newline="\n") as f:
        for e in ledger:
            e.pop("_row", None)
            f.write(json.dumps(e, ensure_ascii=False) + "\n")
    result.defects = len(ledger)
    return result


def read_ledger(path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
