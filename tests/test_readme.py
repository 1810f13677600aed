"""The README's commands are the ones CI runs, and its measured tables match the files behind them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_names_the_two_commands_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "./reproduce.sh" in readme and "./run_tests.sh" in readme
    assert "./run_tests.sh" in (ROOT / ".ci/run").read_text()


def test_readme_tables_are_rendered_from_the_current_result_files():
    check = subprocess.run([sys.executable, str(ROOT / "scripts/render_readme.py"), "--check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
