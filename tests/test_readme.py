"""The README's commands are the ones CI runs, and its measured tables match the files behind them.

The tables must match either the result files here or their committed (git HEAD) versions: a user's
own ``./reproduce.sh`` rewrites ``results/`` with numbers of its machine, and that must never turn the
suite red (``scripts/render_readme.py --check``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from w2clib.config import load_profile

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("render_readme", ROOT / "scripts/render_readme.py")
render_readme = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(render_readme)


def test_readme_names_the_two_commands_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "./reproduce.sh" in readme and "./run_tests.sh" in readme
    assert "./run_tests.sh" in (ROOT / ".ci/run").read_text()


def test_readme_tables_are_rendered_from_the_committed_or_current_result_files(capsys):
    assert render_readme.main(["--check"]) == 0, capsys.readouterr().out


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=cwd,
                   check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path) -> Path:
    """The pages and every file their tables come from, as committed, in a fresh git repository.

    Taken from HEAD, not the working tree: after a local ``./reproduce.sh`` the working tree's results
    differ from the committed README (found running the README's two commands in that order).
    """
    names = ["README.md", "docs", "results", "benchmarks/results"]
    archive = subprocess.run(["git", "archive", "HEAD", *names], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive, check=True)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "snapshot")
    return tmp_path


def test_a_local_rerun_keeps_the_check_green_and_a_hand_edit_fails_it(checkout, capsys):
    heldout = checkout / "results/pretrain_heldout.csv"
    table = render_readme.pretrain(checkout)
    frame = pd.read_csv(heldout)  # a rerun on another machine: every held-out number moves a little
    frame["value"] = frame["value"] * 0.9
    frame.to_csv(heldout, index=False)
    assert render_readme.pretrain(checkout) != table
    assert render_readme.main(["--check", "--root", str(checkout)]) == 0
    assert "pretrain show the committed results" in capsys.readouterr().out
    # Re-rendering from the local files is accepted too (ready to commit).
    assert render_readme.main(["--root", str(checkout)]) == 0
    assert render_readme.main(["--check", "--root", str(checkout)]) == 0
    # A number typed by hand matches no version of its file.
    readme = checkout / "README.md"
    readme.write_text(readme.read_text().replace("_profile `mini`, step", "| extra | row |\n\n_profile `mini`, step", 1))
    assert render_readme.main(["--check", "--root", str(checkout)]) == 1
    assert "README.md (pretrain)" in capsys.readouterr().out


def test_a_result_file_committed_without_re_rendering_fails_the_check(checkout, capsys):
    sizes = checkout / "results/data_sizes.csv"
    sizes.write_text(sizes.read_text().replace(",29,", ",30,", 1))
    _git(checkout, "commit", "-q", "-am", "new numbers, README forgotten")
    assert render_readme.main(["--check", "--root", str(checkout)]) == 1
    assert "csv:results/data_sizes.csv" in capsys.readouterr().out


def test_the_smoke_profile_never_writes_a_file_the_readme_shows():
    """``./reproduce.sh --profile smoke`` and the nbval notebooks write under runs/smoke only."""
    smoke = load_profile("smoke")
    outputs = [smoke.run_dir, smoke.results_dir, smoke.figures_dir]
    sources = {render_readme.source_of(m.group("name")) for page in render_readme.pages(ROOT)
               for m in render_readme.BLOCK.finditer(page.read_text())} - {None}
    assert "results/summary.csv" in sources and len(sources) >= 8
    for source in sources:
        path = (ROOT / source).resolve()
        assert not any(path.is_relative_to(out.resolve()) for out in outputs), (source, outputs)


@pytest.mark.slow
def test_reproduce_then_run_tests_on_the_smoke_profile_stays_green():
    """The two README commands in order (smoke profile, ~5 min on 2 loaded cores: hence slow); the
    default suite's nbval run of the same notebooks covers the notebooks themselves."""
    inputs = b"".join((ROOT / f).read_bytes() for f in ("pyproject.toml", "requirements/constraints.txt", "scripts/bootstrap.sh"))
    stamp = Path(sys.prefix) / ".bootstrap-stamp"
    if not stamp.exists() or stamp.read_text().split()[0] != hashlib.sha256(inputs).hexdigest():
        pytest.skip("this environment was set up from other sources: scripts/bootstrap.sh would reinstall it")
    env = {**os.environ, "W2C_VENV": sys.prefix}  # the environment running these tests (bootstrap: no-op)
    before = {p: p.read_bytes() for p in render_readme.pages(ROOT)}
    reproduce = subprocess.run([str(ROOT / "reproduce.sh"), "--profile", "smoke", "--force"], cwd=ROOT, env=env,
                               capture_output=True, text=True)
    assert reproduce.returncode == 0, reproduce.stdout[-3000:] + reproduce.stderr[-3000:]
    assert {p: p.read_bytes() for p in render_readme.pages(ROOT)} == before
    tests = subprocess.run([str(ROOT / "run_tests.sh"), "-k", "readme", "-p", "no:cacheprovider"],
                           cwd=ROOT, env=env, capture_output=True, text=True)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-3000:]
