"""tools/scaffold_suite.py: the developer tool that drafts a suite from the registry."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sinergi import registry
from sinergi.validate import suites

TOOL = Path(__file__).resolve().parents[2] / "tools" / "scaffold_suite.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("scaffold_suite", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", registry.names())
def test_the_draft_covers_the_committed_suite_and_is_a_valid_suite(tool, name):
    draft = tool.scaffold(name)
    spec = suites.parse(name, draft, f"scaffold({name})")  # also: exactly the registry's references
    committed = {r.rule for r in suites.load(name).rules}
    assert committed <= {r.rule for r in spec.rules}
    for column in registry.get(name).references:
        assert f"reference:{column}" in committed


def test_the_tool_runs_as_a_script(tool, tmp_path):
    out = subprocess.run([sys.executable, str(TOOL), "--dataset", "placements", "--stdout"],
                         capture_output=True, text=True, check=True, cwd=tmp_path)
    assert json.loads(out.stdout) == tool.scaffold("placements")
    dry = subprocess.run([sys.executable, str(TOOL)], capture_output=True, text=True, check=True,
                         cwd=tmp_path)
    assert dry.stdout == ""  # every dataset has its committed suite: nothing to draft, nothing written
