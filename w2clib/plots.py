"""One figure style for every figure; figures are saved as PDF and PNG, atomically.

Figures are rendered from the CSV/JSON written next to them (``results/``), never from values that
exist only in a notebook's memory.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["STYLE", "figure_style", "save_figure", "PALETTE"]

# Colour-blind-safe palette (Okabe-Ito), fixed order so a model keeps its colour across figures.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "axes.prop_cycle": None,  # filled in figure_style (needs matplotlib's cycler)
}


@contextlib.contextmanager
def figure_style() -> Iterator[None]:
    """Apply the project's matplotlib style inside the block."""
    import matplotlib.pyplot as plt
    from cycler import cycler

    style = dict(STYLE, **{"axes.prop_cycle": cycler(color=PALETTE)})
    with plt.rc_context(style):
        yield


def save_figure(fig: "matplotlib.figure.Figure", name: str, figures_dir: str | os.PathLike[str]) -> list[Path]:  # noqa: F821
    """Save ``fig`` as ``<figures_dir>/<name>.pdf`` and ``.png`` (atomic writes); return the paths."""
    from ._io import atomic_path

    folder = Path(figures_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("pdf", "png"):
        target = folder / f"{name}.{ext}"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=ext, metadata={"CreationDate": None} if ext == "pdf" else None)
        paths.append(target)
    return paths
