#!/usr/bin/env python3
"""Build notebooks/NN_name.ipynb from their sources notebooks/src/NN_name.py with jupytext.

Sources are jupytext's percent format (plain Python, easy to review and diff); the .ipynb files are
generated, committed without outputs, and checked to be in sync by tests/test_notebooks.py. Every
``notebooks/src/NN_*.py`` is built. The generated notebook keeps only the kernel and the cell tags
(jupytext's own metadata is dropped) and gets stable cell ids (``NN-ii``), so a rebuild of an unchanged
source is byte-identical.

    python scripts/build_notebooks.py          # rebuild all
    python scripts/build_notebooks.py --check  # exit 1 if any .ipynb is stale or a source is not
                                               # in jupytext's canonical percent form (no round trip)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "notebooks" / "src"
METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def build(path: Path) -> str:
    """The .ipynb text (nbformat 4.5, no outputs) built from the percent-format source ``path``."""
    notebook = jupytext.read(path, fmt="py:percent")
    notebook.metadata = dict(METADATA)
    for i, cell in enumerate(notebook.cells):
        cell["id"] = f"{path.stem[:2]}-{i:02d}"
    return jupytext.writes(notebook, fmt="ipynb")


def round_trips(path: Path) -> bool:
    """Whether jupytext writes ``path`` back unchanged (its cells and tags say what the source says)."""
    text = path.read_text()
    return jupytext.writes(jupytext.reads(text, fmt="py:percent"), fmt="py:percent") == text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report stale notebooks")
    args = parser.parse_args()
    stale, loose = [], []
    for src in sorted(SRC.glob("[0-9][0-9]_*.py")):
        if not round_trips(src):
            loose.append(src.name)
        target = ROOT / "notebooks" / f"{src.stem}.ipynb"
        text = build(src)
        if not target.exists() or target.read_text() != text:
            stale.append(target.name)
            if not args.check:
                target.write_text(text)
    if loose:
        print("sources not in jupytext's percent form (`jupytext --to py:percent` them):", ", ".join(loose))
    if args.check and stale:
        print("stale notebooks (run scripts/build_notebooks.py):", ", ".join(stale))
    if not args.check:
        print("built:", ", ".join(stale) if stale else "nothing to do")
    return 1 if loose or (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
