"""Notebooks are generated from notebooks/src, committed without outputs, smoke by default."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_every_notebook_is_built_from_its_source():
    sources = sorted(p.stem for p in (ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py"))
    assert sources == [p.stem for p in NOTEBOOKS]
    check = subprocess.run([sys.executable, str(ROOT / "scripts/build_notebooks.py"), "--check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


def test_notebooks_have_no_outputs_and_a_smoke_parameters_cell():
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert not any(c.get("outputs") for c in code), path.name
        assert nb["metadata"]["kernelspec"]["name"] == "python3"
        first = code[0]
        assert "parameters" in first["metadata"].get("tags", []), path.name
        assert "".join(first["source"]).strip() == 'profile = "smoke"', path.name
