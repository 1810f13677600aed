"""reproduce.sh's engine: notebooks in order, stamps, resume, selection, failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from w2clib import pipeline


def _notebook(path: Path, code: str) -> None:
    cells = [
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "execution_count": None, "outputs": [],
         "source": 'profile = "smoke"'},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": code},
    ]
    nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "profiles" / "tiny.yaml").write_text("name: tiny\noutputs:\n  run_dir: runs/tiny\n")
    log = tmp_path / "log.txt"
    for name in ("00_first", "01_second", "02_third"):
        # the notebook reads the profile file it is handed, as the real notebooks do
        _notebook(tmp_path / "notebooks" / f"{name}.ipynb",
                  f"import yaml; p = yaml.safe_load(open(profile)); "
                  f"open({str(log)!r}, 'a').write('{name} ' + p['name'] + (' ' + str(p['x']) if 'x' in p else '') + '\\n')")
    monkeypatch.setenv("W2C_PROJECT_ROOT", str(tmp_path))
    return tmp_path, log


def runs(log: Path) -> list[str]:
    return log.read_text().split("\n")[:-1] if log.exists() else []


def test_runs_in_order_then_resumes_from_stamps(project):
    root, log = project
    assert pipeline.run_pipeline("tiny") == 0
    assert runs(log) == ["00_first tiny", "01_second tiny", "02_third tiny"]
    stamp = json.loads((root / "runs/tiny/stamps/01_second.json").read_text())
    assert stamp["wall_s"] >= 0 and stamp["kernel_peak_rss_mib"] > 0
    assert (root / "runs/tiny/notebooks/02_third.ipynb").exists()
    assert pipeline.run_pipeline("tiny") == 0
    assert len(runs(log)) == 3  # everything up to date


def test_notebooks_get_the_resolved_profile_with_extends_and_overrides(project):
    root, log = project
    (root / "profiles" / "child.yaml").write_text("extends: tiny\nname: child\nx: 1\noutputs: {run_dir: runs/child}\n")
    assert pipeline.run_pipeline("child", only="00", overrides=["x=2"]) == 0
    assert runs(log) == ["00_first child 2"]
    resolved = (root / "runs/child/profile.yaml").read_text()
    assert "extends" not in resolved and "x=2" in resolved and "child.yaml" in resolved
    assert pipeline.run_pipeline("child", only="00", overrides=["x=3"]) == 0  # an override changes the key
    assert runs(log)[1:] == ["00_first child 3"]


def test_changing_a_notebook_reruns_it_and_everything_after(project):
    root, log = project
    pipeline.run_pipeline("tiny")
    nb = root / "notebooks/01_second.ipynb"
    nb.write_text(nb.read_text().replace("01_second", "01_second_v2"))
    pipeline.run_pipeline("tiny")
    assert runs(log)[3:] == ["01_second_v2 tiny", "02_third tiny"]


def test_rerunning_a_notebook_invalidates_the_ones_after_it(project):
    _, log = project
    pipeline.run_pipeline("tiny")
    pipeline.run_pipeline("tiny", only="01", force=True)
    pipeline.run_pipeline("tiny")
    assert runs(log)[3:] == ["01_second tiny", "02_third tiny"]


def test_only_and_from_select_notebooks(project):
    _, log = project
    pipeline.run_pipeline("tiny", only="02,first")
    assert runs(log) == ["00_first tiny", "02_third tiny"]
    pipeline.run_pipeline("tiny", start="01", force=True)
    assert runs(log)[2:] == ["01_second tiny", "02_third tiny"]
    with pytest.raises(SystemExit, match="no notebook matches '7'"):
        pipeline.run_pipeline("tiny", only="7")


def test_a_failing_notebook_stops_the_run_without_a_stamp(project):
    root, log = project
    _notebook(root / "notebooks/01_second.ipynb", "raise RuntimeError('boom')")
    assert pipeline.run_pipeline("tiny") == 1
    assert runs(log) == ["00_first tiny"]
    assert not (root / "runs/tiny/stamps/01_second.json").exists()
    assert "boom" in (root / "runs/tiny/notebooks/01_second.ipynb").read_text()


def test_unknown_profile_lists_the_available_ones(project):
    with pytest.raises(FileNotFoundError, match="available: tiny"):
        pipeline.run_pipeline("huge")
