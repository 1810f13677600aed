#!/usr/bin/env python3
"""Build notebooks/NN_name.ipynb from their sources notebooks/src/NN_name.py (percent format).

Sources are plain Python, easy to review and diff; the .ipynb files are generated, committed without
outputs, and checked to be in sync by tests/test_notebooks.py.

Source format::

    # %% [markdown]
    # # Title
    # Some *markdown*; every line starts with "# ".

    # %% tags=["parameters"]
    profile = "smoke"

    # %%
    import w2clib

    python scripts/build_notebooks.py          # rebuild all
    python scripts/build_notebooks.py --check  # exit 1 if any .ipynb is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "notebooks" / "src"
HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?: tags=(?P<tags>\[.*\]))?\s*$")


def parse(source: str) -> list[dict]:
    cells: list[dict] = []
    kind, tags, lines = None, [], []

    def flush() -> None:
        if kind is None:
            return
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if kind == "markdown":
            text = [re.sub(r"^# ?", "", line) if line.startswith("#") else line for line in lines]
            cells.append({"cell_type": "markdown", "metadata": {}, "source": _join(text)})
        else:
            cells.append({"cell_type": "code", "execution_count": None, "metadata": {"tags": tags} if tags else {},
                          "outputs": [], "source": _join(lines)})

    for line in source.splitlines():
        match = HEADER.match(line)
        if match:
            flush()
            kind = "markdown" if match.group("md") else "code"
            tags = json.loads(match.group("tags")) if match.group("tags") else []
            lines = []
        elif kind is not None:
            lines.append(line)
    flush()
    return cells


def _join(lines: list[str]) -> list[str]:
    return [line + "\n" for line in lines[:-1]] + lines[-1:] if lines else []


def build(path: Path) -> str:
    notebook = {
        "cells": parse(path.read_text()),
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for i, cell in enumerate(notebook["cells"]):
        cell["id"] = f"{path.stem[:2]}-{i:02d}"
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report stale notebooks")
    args = parser.parse_args()
    stale = []
    for src in sorted(SRC.glob("[0-9][0-9]_*.py")):
        target = ROOT / "notebooks" / f"{src.stem}.ipynb"
        text = build(src)
        if not target.exists() or target.read_text() != text:
            stale.append(target.name)
            if not args.check:
                target.write_text(text)
    if args.check and stale:
        print("stale notebooks (run scripts/build_notebooks.py):", ", ".join(stale))
        return 1
    if not args.check:
        print("built:", ", ".join(stale) if stale else "nothing to do")
    return 0


if __name__ == "__main__":
    sys.exit(main())
