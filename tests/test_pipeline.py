"""reproduce.sh's engine: notebooks in order, stamps, resume, selection, failure."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
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


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A tiny project after one complete run (3 notebook executions, shared: each costs a kernel start).

    The notebooks append to ``../log.txt`` (relative to their own folder, where they run), so a copy
    of the project logs into the copy."""
    root = tmp_path_factory.mktemp("finished")
    (root / "profiles").mkdir()
    (root / "notebooks").mkdir()
    (root / "pyproject.toml").write_text("")
    (root / "profiles" / "tiny.yaml").write_text("name: tiny\noutputs:\n  run_dir: runs/tiny\n")
    for name in ("00_first", "01_second", "02_third"):
        # the notebook reads the profile file it is handed (the resolved one), as the real notebooks do
        _notebook(root / "notebooks" / f"{name}.ipynb",
                  f"import yaml; p = yaml.safe_load(open(profile)); open('../log.txt', 'a').write("
                  f"'{name} ' + p['name'] + (' ' + str(p['x']) if 'x' in p else '') + '\\n')")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("W2C_PROJECT_ROOT", str(root))
        assert pipeline.run_pipeline("tiny") == 0
    return root


@pytest.fixture
def project(finished, tmp_path, monkeypatch):
    """A private copy of the finished project (stamps stay valid: keys hash contents, not paths)."""
    root = tmp_path / "project"
    shutil.copytree(finished, root)
    monkeypatch.setenv("W2C_PROJECT_ROOT", str(root))
    return root, root / "log.txt"


class _InProcessKernel:
    """Stands in for ``subprocess`` in ``w2clib.pipeline``: runs a notebook's cells in this process.

    A real execution starts papermill and a kernel (seconds idle, over a minute on a loaded 2-core
    machine); the orchestration tests need only the contract: parameters injected, cells run in the
    notebook's folder, the executed copy written, a JSON line with the memory on stdout, exit 1 on an
    error.  The ``finished`` fixture and the failure test execute for real."""

    PIPE = subprocess.PIPE

    @staticmethod
    def run(cmd: list[str], **_: object) -> subprocess.CompletedProcess:
        notebook, output, profile = (Path(cmd[-3]), Path(cmd[-2]), cmd[-1])
        scope: dict[str, object] = {}
        here = os.getcwd()
        os.chdir(notebook.parent)
        try:
            for cell in json.loads(notebook.read_text())["cells"]:
                exec(cell["source"], scope)  # noqa: S102 - the tests' own two-line notebooks
                if "parameters" in cell["metadata"].get("tags", []):
                    scope["profile"] = profile
        except Exception as error:  # noqa: BLE001 - reported like a failed kernel
            return subprocess.CompletedProcess(cmd, 1, stdout=repr(error))
        finally:
            os.chdir(here)
            shutil.copy(notebook, output)
        return subprocess.CompletedProcess(cmd, 0, stdout='{"kernel_peak_rss_mib": 1.0}\n')


@pytest.fixture
def in_process(monkeypatch):
    monkeypatch.setattr(pipeline, "subprocess", _InProcessKernel)


def runs(log: Path) -> list[str]:
    return log.read_text().split("\n")[:-1] if log.exists() else []


def test_runs_in_order_then_resumes_from_stamps(project):
    root, log = project
    assert runs(log) == ["00_first tiny", "01_second tiny", "02_third tiny"]
    stamp = json.loads((root / "runs/tiny/stamps/01_second.json").read_text())
    assert stamp["wall_s"] >= 0 and stamp["kernel_peak_rss_mib"] > 0
    assert (root / "runs/tiny/notebooks/02_third.ipynb").exists()
    assert pipeline.run_pipeline("tiny") == 0
    assert len(runs(log)) == 3  # everything up to date


def test_notebooks_get_the_resolved_profile_with_extends_and_overrides(project, in_process):
    root, log = project
    (root / "profiles" / "child.yaml").write_text("extends: tiny\nname: child\nx: 1\noutputs: {run_dir: runs/child}\n")
    assert pipeline.run_pipeline("child", only="00", overrides=["x=2"]) == 0
    assert runs(log)[3:] == ["00_first child 2"]
    resolved = (root / "runs/child/profile.yaml").read_text()
    assert "extends" not in resolved and "x=2" in resolved and "child.yaml" in resolved
    assert pipeline.run_pipeline("child", only="00", overrides=["x=3"]) == 0  # an override changes the key
    assert runs(log)[4:] == ["00_first child 3"]


def test_changing_a_notebook_reruns_it_and_everything_after(project, in_process):
    root, log = project
    nb = root / "notebooks/01_second.ipynb"
    nb.write_text(nb.read_text().replace("01_second", "01_second_v2"))
    pipeline.run_pipeline("tiny")
    assert runs(log)[3:] == ["01_second_v2 tiny", "02_third tiny"]


def test_rerunning_a_notebook_invalidates_the_ones_after_it(project, in_process):
    _, log = project
    pipeline.run_pipeline("tiny", only="01", force=True)
    pipeline.run_pipeline("tiny")
    assert runs(log)[3:] == ["01_second tiny", "02_third tiny"]


def test_only_and_from_select_notebooks(project, in_process):
    root, log = project
    notebooks = pipeline.list_notebooks(root)
    names = lambda chosen: [nb.stem for nb in chosen]  # noqa: E731
    assert names(pipeline.select_notebooks(notebooks, only="02,first")) == ["00_first", "02_third"]
    assert names(pipeline.select_notebooks(notebooks, start="01")) == ["01_second", "02_third"]
    assert names(pipeline.select_notebooks(notebooks, only="0,2", start="01")) == ["02_third"]
    pipeline.run_pipeline("tiny", only="02,first", force=True)
    assert runs(log)[3:] == ["00_first tiny", "02_third tiny"]
    with pytest.raises(SystemExit, match="no notebook matches '7'"):
        pipeline.run_pipeline("tiny", only="7")
    with pytest.raises(SystemExit, match="--from: no notebook matches '9'"):
        pipeline.run_pipeline("tiny", start="9")


def test_a_failing_notebook_stops_the_run_without_a_stamp(project):
    root, log = project
    _notebook(root / "notebooks/01_second.ipynb", "raise RuntimeError('boom')")
    assert pipeline.run_pipeline("tiny") == 1
    assert len(runs(log)) == 3  # 00 was up to date, 01 failed, 02 never ran
    assert not (root / "runs/tiny/stamps/01_second.json").exists()
    assert "boom" in (root / "runs/tiny/notebooks/01_second.ipynb").read_text()


def test_unknown_profile_lists_the_available_ones(project):
    with pytest.raises(FileNotFoundError, match="available: tiny"):
        pipeline.run_pipeline("huge")


def test_too_little_free_disk_stops_before_the_next_notebook_and_a_rerun_resumes(project, in_process, monkeypatch,
                                                                                  capsys):
    from collections import namedtuple

    from w2clib import diskspace

    root, log = project
    usage = namedtuple("usage", "total used free")
    free = {"gib": 5.0}
    monkeypatch.setattr(diskspace.shutil, "disk_usage", lambda path: usage(0, 0, int(free["gib"] * diskspace.GIB)))
    need = ["outputs.min_free_gib=2"]
    assert pipeline.run_pipeline("tiny", overrides=need) == 0  # enough space (the override reruns all three)
    assert len(runs(log)) == 6
    nb = root / "notebooks/01_second.ipynb"
    nb.write_text(nb.read_text().replace("01_second", "01_second_v2"))  # 01 and 02 must run again
    free["gib"] = 0.5
    assert pipeline.run_pipeline("tiny", overrides=need) == 1
    err = capsys.readouterr().err
    assert "01_second not started: only 0.5 GiB free" in err and "at least 2 GiB (outputs.min_free_gib)" in err
    assert "run folder" in err and str(root / "runs/tiny") in err
    assert len(runs(log)) == 6 and (root / "runs/tiny/stamps/00_first.json").exists()  # nothing ran, 00 kept
    free["gib"] = 5.0
    assert pipeline.run_pipeline("tiny", overrides=need) == 0  # resumes at 01
    assert runs(log)[6:] == ["01_second_v2 tiny", "02_third tiny"]
    with pytest.raises(ValueError, match="min_free_gib must be a number of GiB >= 0"):
        pipeline.run_pipeline("tiny", overrides=["outputs.min_free_gib=-1"])
