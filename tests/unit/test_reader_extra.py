"""`pip install "sinergi[reader]"`: the reading kit's packages, pinned as the runtime, without Airflow."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from sinergi.publish.readers import READER_REQUIREMENTS

ROOT = Path(__file__).parents[2]


def _pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def test_extra_equals_the_kit_and_the_runtime_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]["reader"]
    assert tuple(extra) == READER_REQUIREMENTS
    assert not project.get("dependencies"), "the base package must stay dependency-free (the extra is the reader)"
    runtime = _pins(ROOT / "requirements.txt")
    for req in map(Requirement, extra):
        pin = str(req.specifier).removeprefix("==")
        assert runtime[req.name.lower()] == pin, req


def test_extra_does_not_pull_airflow():
    """The installed dependency tree of the extra (not counting optional extras) has no Airflow."""
    seen: set[str] = set()
    todo = [Requirement(r).name for r in READER_REQUIREMENTS]
    while todo:
        name = todo.pop().lower()
        if name in seen:
            continue
        seen.add(name)
        for r in metadata.requires(name) or []:
            req = Requirement(r)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    assert {"duckdb", "pyarrow", "pandas", "polars", "numpy"} <= seen
    assert not [n for n in seen if "airflow" in n or n in ("great-expectations", "sqlalchemy")], sorted(seen)


def test_readers_import_without_airflow_or_great_expectations():
    code = ("import sys\n"
            "for m in ('airflow', 'great_expectations', 'sqlalchemy', 'boto3'):\n"
            "    sys.modules[m] = None  # any import of these fails\n"
            "import sinergi.publish.readers as r\n"
            "print(sorted(r.ENGINES))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['duckdb', 'pandas', 'polars', 'spreadsheet']"
