"""Import rules: the core packages (everything under include/sinergi except the developer environment
``sinergi.local`` and the CLI) never import ``sinergi.local`` or Airflow — checked in the source
(every import statement, also the lazy ones inside functions) and in a fresh interpreter."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "include" / "sinergi"
EXEMPT = ("sinergi.local", "sinergi.cli")


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _core_files() -> list[Path]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module(path)
        if not any(name == e or name.startswith(e + ".") for e in EXEMPT):
            out.append(path)
    return out


def _imports(path: Path, source: str | None = None) -> set[str]:
    """Every module an import statement in ``path`` names (relative imports resolved)."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(source if source is not None else path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _forbidden(name: str) -> bool:
    return name == "airflow" or name.startswith("airflow.") or name == "sinergi.local" or name.startswith("sinergi.local.")


def test_the_rule_sees_what_it_must():
    """The checker itself: lazy imports inside functions and relative imports count."""
    steps = PACKAGE / "pipeline" / "steps.py"
    lazy = "def f():\n    from airflow.sdk import task\n"
    assert any(_forbidden(n) for n in _imports(steps, lazy))
    assert any(_forbidden(n) for n in _imports(steps, "from ..local import store\n"))
    assert any(_forbidden(n) for n in _imports(steps, "from .. import local\n"))
    assert not any(_forbidden(n) for n in _imports(steps))
    assert len(_core_files()) > 40 and not any("/local/" in str(p) for p in _core_files())


def test_core_source_never_imports_local_or_airflow():
    offenders = {str(p.relative_to(ROOT)): sorted(n for n in _imports(p) if _forbidden(n)) for p in _core_files()}
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, offenders


def test_importing_the_core_loads_neither_local_nor_airflow():
    """Every core module (the pipeline steps and everything they import lazily) in one fresh process."""
    modules = [_module(p) for p in _core_files()]
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "from sinergi.pipeline import extract_step, validate_step, share_step, publish_step  # noqa\n"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith(('airflow.', 'sinergi.local')))\n"
        "print(json.dumps({'loaded': len(sys.modules), 'bad': bad}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["bad"] == [] and result["loaded"] > 100, result
