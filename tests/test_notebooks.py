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


def test_builder_keeps_tags_drops_outputs_and_gives_stable_ids(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "scripts/build_notebooks.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    source = tmp_path / "12_example.py"
    source.write_text('# %% [markdown]\n# # Title\n\n# %% tags=["parameters"]\nprofile = "smoke"\n\n'
                      "# %%\nprint(profile)\n")
    nb = json.loads(builder.build(source))
    assert [c["cell_type"] for c in nb["cells"]] == ["markdown", "code", "code"]
    assert [c["id"] for c in nb["cells"]] == ["12-00", "12-01", "12-02"]
    assert nb["cells"][1]["metadata"] == {"tags": ["parameters"]}
    assert "".join(nb["cells"][0]["source"]) == "# Title"
    assert all(c["outputs"] == [] for c in nb["cells"] if c["cell_type"] == "code")
    assert nb["metadata"] == builder.METADATA
    assert builder.build(source) == builder.build(source)
    assert builder.round_trips(source)
