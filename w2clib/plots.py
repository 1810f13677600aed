"""One figure style for every figure; figures are saved as PDF and PNG, atomically.

Figures are rendered from the CSV/JSON written next to them (``results/``), never from values that
exist only in a notebook's memory.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import matplotlib.axes
    import matplotlib.figure
    import pandas as pd

__all__ = [
    "STYLE",
    "figure_style",
    "save_figure",
    "PALETTE",
    "MODEL_COLORS",
    "model_color",
    "plot_data_fraction",
    "plot_confusions",
    "plot_results_bars",
    "plot_summary_panels",
]

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


def save_figure(
    fig: matplotlib.figure.Figure, name: str, figures_dir: str | os.PathLike[str]
) -> list[Path]:
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


# ------------------------------------------------------------------------------------------------
# Evaluation figures, rendered from the CSV/JSON files the evaluation writes.

# Fixed colour per model, so a model looks the same in every figure.
MODEL_COLORS = {
    "wav2clip": PALETTE[0],
    "supervised": PALETTE[1],
    "random_init": PALETTE[2],
    "logmel_stats": PALETTE[3],
    "mfcc_stats": PALETTE[4],
    "openl3": PALETTE[5],
    "yamnet": PALETTE[6],
    "panns": PALETTE[7],
    "clap": "#999999",
}


def model_color(name: str) -> str:
    """The colour of ``name`` (models not in :data:`MODEL_COLORS` get a stable palette entry)."""
    import zlib

    return MODEL_COLORS.get(name, PALETTE[zlib.crc32(name.encode()) % len(PALETTE)])


def _frame(data: pd.DataFrame | str | os.PathLike[str]) -> "pd.DataFrame":
    import pandas as pd

    return data if isinstance(data, pd.DataFrame) else pd.read_csv(data)


def plot_data_fraction(
    curve: pd.DataFrame | str | os.PathLike[str],
    *,
    metric: str = "accuracy",
    title: str | None = None,
) -> matplotlib.figure.Figure:
    """Figure 2: score vs fraction of labelled training data, one line per model, mean ± std band.

    ``curve``: a CSV path or frame from :func:`w2clib.evaluate.data_fraction.data_fraction_curve`
    (``model, fraction, seed, score``; scores in [0, 1], shown in percent).  Log x-axis.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    from .evaluate.data_fraction import summarize_curve

    frame = _frame(curve)
    if "dataset" not in frame.columns:
        frame = frame.assign(dataset="")
    summary = summarize_curve(frame)
    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    for model in dict.fromkeys(frame["model"]):  # models in the order the CSV lists them
        part = summary[summary["model"] == model].sort_values("fraction")
        x, mean, std = part["fraction"] * 100, part["mean"] * 100, part["std"] * 100
        color = model_color(str(model))
        ax.plot(x, mean, marker="o", ms=3.5, color=color, label=str(model))
        ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.18, linewidth=0)
    ax.set_xscale("log")
    ticks = sorted(summary["fraction"].unique() * 100)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
    ax.set_xlabel("labelled training data")
    ax.set_ylabel(f"{metric} (%)")
    if title:
        ax.set_title(title)
    ax.legend(loc="lower right")
    return fig


def plot_confusions(
    path_or_data: str | os.PathLike[str] | tuple,
    *,
    baseline: str,
    model: str = "wav2clip",
    show_labels: bool | None = None,
) -> matplotlib.figure.Figure:
    """Figure 3: the baseline's confusion matrix, the model's, and model − baseline.

    ``path_or_data``: a JSON file from :func:`w2clib.evaluate.confusion.write_confusions` or its
    ``(classes, matrices, meta)``.  Rows: true class, columns: predicted, in the dataset's class order.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from .evaluate.confusion import read_confusions

    classes, matrices, _ = (
        read_confusions(path_or_data) if not isinstance(path_or_data, tuple) else path_or_data
    )
    for name in (baseline, model):
        if name not in matrices:
            raise ValueError(f"no confusion matrix for {name!r}; have {sorted(matrices)}")
    a, b = matrices[baseline], matrices[model]
    diff = b - a
    n = len(classes)
    show_labels = n <= 30 if show_labels is None else show_labels
    size = min(4.2, max(2.6, 0.12 * n + 1.8))
    fig, axes = plt.subplots(1, 3, figsize=(3 * size + 1.2, size), constrained_layout=True)
    lim = max(float(np.abs(diff).max()), 1e-6)
    panels = [
        (a, baseline, "Blues", 0.0, 1.0),
        (b, model, "Blues", 0.0, 1.0),
        (diff, f"{model} − {baseline}", "RdBu", -lim, lim),
    ]
    for ax, (m, label, cmap, lo, hi) in zip(axes, panels):
        image = ax.imshow(m, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(label)
        ax.grid(False)
        ax.set_xlabel("predicted")
        if show_labels:
            ax.set_xticks(range(n), classes, rotation=90, fontsize=6)
            ax.set_yticks(range(n), classes if ax is axes[0] else [""] * n, fontsize=6)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
        fig.colorbar(image, ax=ax, shrink=0.75)
    axes[0].set_ylabel("true")
    return fig


def _summary_frame(
    summary: pd.DataFrame | str | os.PathLike[str], profile: str | None, task: str | None
) -> pd.DataFrame:
    from .results import read_summary

    frame = summary if not isinstance(summary, (str, os.PathLike)) else read_summary(summary)
    if profile is not None:
        frame = frame[frame["profile"] == profile]
    if task is not None:
        frame = frame[frame["task"] == task]
    frame = frame[frame["task"] != "data-fraction"].dropna(subset=["ours_mean"])
    if frame.empty:
        raise ValueError(
            "no rows to plot (check the profile/task filters and that summary.csv has results)"
        )
    return frame


def _bars(ax: matplotlib.axes.Axes, frame: pd.DataFrame, *, legend: bool = True) -> None:
    """Grouped bars of summary rows on ``ax``: one group per (task, dataset, metric, protocol)."""
    import textwrap

    import numpy as np

    from .results import reading_order

    one_task = frame["task"].nunique() == 1
    def label(row: pd.Series) -> str:
        parts = ([] if one_task else [row["task"]]) + [row["dataset"]]
        parts += str(row["protocol"]).replace("->", " → ").replace("=", ": ").split(", ") + [row["metric"]]
        return "\n".join(textwrap.fill(part, 16) for part in parts)

    frame = reading_order(frame)
    frame = frame.assign(group=frame.apply(label, axis=1))
    groups = list(dict.fromkeys(frame["group"]))
    models = list(dict.fromkeys(frame["model"]))
    models.sort(key=lambda m: m != "wav2clip")  # Wav2CLIP first, the others in table order
    width = 0.8 / len(models)
    offset = {m: (j - (len(models) - 1) / 2) * width for j, m in enumerate(models)}
    for model in models:
        part = frame[frame["model"] == model].set_index("group")
        idx = [i for i, g in enumerate(groups) if g in part.index]
        rows = [part.loc[groups[i]] for i in idx]
        ax.bar(
            [i + offset[model] for i in idx],
            [r["ours_mean"] for r in rows],
            width,
            yerr=[r["ours_std"] for r in rows],
            capsize=2,
            color=model_color(model),
            label=model,
        )
    paper_labelled = False
    for i, g in enumerate(groups):
        part = frame[frame["group"] == g]
        paper = part["paper"].dropna()
        if len(paper):  # the paper's value sits on the Wav2CLIP bar it is compared with
            x = i + offset.get("wav2clip", 0.0)
            ax.plot(
                [x],
                [float(paper.iloc[0])],
                marker="D",
                color="black",
                ms=5,
                linestyle="none",
                label=None if paper_labelled else "paper (Wav2CLIP)",
            )
            paper_labelled = True
        chance = part["chance"].dropna()
        if len(chance):
            ax.hlines(
                float(chance.iloc[0]),
                i - 0.45,
                i + 0.45,
                colors="grey",
                linestyles="dashed",
                linewidth=1,
                label="chance" if i == 0 else None,
            )
    ax.set_xticks(range(len(groups)), groups, fontsize=7)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.grid(axis="x", visible=False)
    ax.set_ylabel("score (%)")
    if legend:
        ax.legend(
            fontsize=7, ncol=min(7, len(models) + 2), loc="lower center", bbox_to_anchor=(0.5, 1.0)
        )
    ax.set_ylim(
        0, max(100.0, float(np.nanmax(frame["ours_mean"] + frame["ours_std"].fillna(0))) * 1.05)
    )


def plot_results_bars(
    summary: pd.DataFrame | str | os.PathLike[str],
    *,
    profile: str | None = None,
    task: str | None = None,
    title: str | None = None,
) -> matplotlib.figure.Figure:
    """Grouped bars of ``results/summary.csv``: one group per (task, dataset, metric), one bar per model.

    Error bars: ``ours_std``; black diamond: the paper's value where known; dashed tick: chance.
    The title (if any) sits above the legend.
    """
    import matplotlib.pyplot as plt

    frame = _summary_frame(summary, profile, task)
    n_groups = frame[["dataset", "protocol", "metric", "task"]].drop_duplicates().shape[0]
    per_group = max(1.1, 0.45 * frame["model"].nunique())  # inches: room for the wrapped labels
    fig, ax = plt.subplots(figsize=(max(4.0, per_group * n_groups + 1.5), 3.6))
    _bars(ax, frame)
    if title:
        ax.set_title(title, pad=24)
    return fig


def plot_summary_panels(
    summary: pd.DataFrame | str | os.PathLike[str],
    *,
    profile: str | None = None,
    metrics: dict[str, list[str]] | None = None,
    title: str | None = None,
) -> matplotlib.figure.Figure:
    """Every task of the summary (but the data-fraction curve) as one panel each, stacked.

    ``metrics``: per task, the metrics to show (default: retrieval shows ``R@1`` and ``MRR`` only,
    the full set is in the CSV and in notebook 06's figure).
    """
    import matplotlib.pyplot as plt

    frame = _summary_frame(summary, profile, None)
    keep = {"retrieval": ["R@1", "MRR"], **(metrics or {})}
    tasks = [t for t in dict.fromkeys(frame["task"])]
    panels = []
    for task in tasks:
        part = frame[frame["task"] == task]
        if task in keep:
            part = part[part["metric"].isin(keep[task])]
        if not part.empty:
            panels.append((task, part))
    widest = max(
        p[["dataset", "protocol", "metric"]].drop_duplicates().shape[0] * max(1.1, 0.42 * p["model"].nunique())
        for _, p in panels
    )
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(max(5.0, widest + 1.5), 3.3 * len(panels)), squeeze=False
    )
    for k, (ax, (task, part)) in enumerate(zip(axes[:, 0], panels)):
        _bars(ax, part, legend=True)
        ax.set_title(task, pad=24 if k else 40, fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
