"""One figure style for every figure (seaborn's theme); figures are saved as PDF and PNG, atomically.

Figures are rendered from the CSV/JSON written next to them (``results/``), never from values that
exist only in a notebook's memory.  The statistical figures are drawn by seaborn from long-form
frames (one row per observation); the theme is set in one place, :func:`set_figure_style`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import matplotlib.axes
    import matplotlib.figure
    import numpy as np
    import pandas as pd

__all__ = [
    "STYLE",
    "set_figure_style",
    "figure_style",
    "save_figure",
    "PALETTE",
    "MODEL_COLORS",
    "model_color",
    "plot_data_fraction",
    "plot_confusions",
    "plot_results_bars",
    "plot_summary_panels",
    "plot_data_examples",
    "plot_gm_families",
    "HELDOUT_TITLES",
    "plot_pretrain_curves",
    "plot_heldout_epochs",
    "plot_heldout_final",
]

# Colour-blind-safe palette (Okabe-Ito), fixed order so a model keeps its colour across figures.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

# matplotlib settings on top of seaborn's "whitegrid" theme; the same for PDF and PNG.
STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,  # TrueType text in the PDF (editable, the same glyphs as the PNG)
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "grid.color": ".88",
    "legend.frameon": False,
}


def set_figure_style() -> None:
    """Set the project's figure theme globally: seaborn's ``whitegrid``, :data:`PALETTE`, :data:`STYLE`."""
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE, rc=STYLE)


@contextlib.contextmanager
def figure_style() -> Iterator[None]:
    """Apply the project's theme (:func:`set_figure_style`) inside the block only."""
    import matplotlib.pyplot as plt

    with plt.rc_context():
        set_figure_style()
        yield


def save_figure(
    fig: matplotlib.figure.Figure, name: str, figures_dir: str | os.PathLike[str]
) -> list[Path]:
    """Save ``fig`` as ``<figures_dir>/<name>.pdf`` and ``.png`` (atomic writes); return the paths."""
    from .._io import atomic_path

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


def _mean_std(values: pd.Series) -> tuple[float, float]:
    """Band of mean ± population std (as :func:`w2clib.evaluate.data_fraction.summarize_curve`)."""
    mean, std = float(values.mean()), float(values.std(ddof=0))
    return mean - std, mean + std


def plot_data_fraction(
    curve: pd.DataFrame | str | os.PathLike[str],
    *,
    metric: str = "accuracy",
    title: str | None = None,
    chance: float | None = None,
) -> matplotlib.figure.Figure:
    """Figure 2: score vs fraction of labelled training data, one line per model, mean ± std band.

    ``curve``: a CSV path or frame from :func:`w2clib.evaluate.data_fraction.data_fraction_curve`
    (long form: ``model, fraction, seed, score``; scores in [0, 1], shown in percent); seaborn
    averages over seeds.  Log x-axis.  ``chance``: a dashed line at this score (percent).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    frame = _frame(curve)
    data = frame.assign(percent=frame["fraction"] * 100, score=frame["score"] * 100)
    models = [str(m) for m in dict.fromkeys(frame["model"])]  # in the order the CSV lists them
    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    sns.lineplot(data, x="percent", y="score", hue="model", hue_order=models, errorbar=_mean_std,
                 palette={m: model_color(m) for m in models}, marker="o", markersize=4.5,
                 markeredgewidth=0, err_kws={"alpha": 0.18, "linewidth": 0}, ax=ax)  # fmt: skip
    if chance is not None:
        ax.axhline(chance, color="grey", ls="--", lw=1, label="chance")
    ticks = sorted(data["percent"].unique())
    ax.set_xscale("log")
    ax.set_xticks(ticks, [f"{v:g}%" for v in ticks])
    ax.minorticks_off()
    ax.set(xlabel="labelled training data", ylabel=f"{metric} (%)", title=title or "")
    ax.legend(loc="best", fontsize=8)
    return fig


def plot_confusions(
    path_or_data: str | os.PathLike[str] | tuple,
    *,
    baseline: str,
    model: str = "wav2clip",
    show_labels: bool | None = None,
) -> matplotlib.figure.Figure:
    """Figure 3: the baseline's confusion matrix, the model's, and model − baseline (seaborn heatmaps).

    ``path_or_data``: a JSON file from :func:`w2clib.evaluate.confusion.write_confusions` or its
    ``(classes, matrices, meta)``.  Rows: true class, columns: predicted, in the dataset's class order.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    import seaborn as sns

    from .confusion import read_confusions

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
    for k, (ax, (m, label, cmap, lo, hi)) in enumerate(zip(axes, panels)):
        sns.heatmap(m, ax=ax, cmap=cmap, vmin=lo, vmax=hi, square=True, cbar_kws={"shrink": 0.75},
                    xticklabels=classes if show_labels else False,
                    yticklabels=classes if show_labels and k == 0 else False)  # fmt: skip
        ax.set(title=label, xlabel="predicted", ylabel="true" if k == 0 else "")
        ax.tick_params(labelsize=6, length=0)
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


def _spread(values: pd.Series) -> tuple[float, float]:
    """Error bar from the lowest to the highest value; none (NaN) where they are equal."""
    low, high = float(values.min()), float(values.max())
    return (low, high) if high > low else (float("nan"), float("nan"))


def _bars(ax: matplotlib.axes.Axes, frame: pd.DataFrame, *, legend: bool = True) -> None:
    """Grouped bars of summary rows on ``ax``: one group per (task, dataset, metric, protocol)."""
    import textwrap

    import numpy as np
    import pandas as pd
    import seaborn as sns

    from .results import reading_order

    one_task = frame["task"].nunique() == 1

    def label(row: pd.Series) -> str:
        parts = ([] if one_task else [row["task"]]) + [row["dataset"]]
        parts += str(row["protocol"]).replace("->", " → ").replace("=", ": ").split(", ") + [row["metric"]]
        return "\n".join(textwrap.fill(part, 16) for part in parts)

    frame = reading_order(frame)
    frame = frame.assign(group=frame.apply(label, axis=1))
    groups = list(dict.fromkeys(frame["group"]))
    models = sorted(dict.fromkeys(frame["model"]), key=lambda m: m != "wav2clip")  # Wav2CLIP first
    # Long form for seaborn: each summary row as its two ends, mean - std and mean + std; their mean
    # is ours_mean and their range the error bar (mean ± std; none where one value stands behind it).
    std = frame["ours_std"].fillna(0.0)
    ends = pd.concat([frame.assign(score=frame["ours_mean"] - std), frame.assign(score=frame["ours_mean"] + std)])
    sns.barplot(ends, x="group", y="score", hue="model", order=groups, hue_order=models,
                palette={m: model_color(m) for m in models}, errorbar=_spread,
                saturation=1, capsize=0.1, err_kws={"linewidth": 1, "color": "black"}, legend=legend, ax=ax)  # fmt: skip
    by_group = frame.groupby("group", sort=False)
    paper, chance = by_group["paper"].first().dropna(), by_group["chance"].first().dropna()
    if len(paper):  # the paper's value sits on the Wav2CLIP bar it is compared with (the first bar)
        first = -0.4 + 0.4 / len(models) if models[0] == "wav2clip" else 0.0
        x = [groups.index(g) + first for g in paper.index]
        ax.scatter(x, paper, marker="D", s=25, color="black", zorder=3, label="paper (Wav2CLIP)")
    if len(chance):
        x = np.array([groups.index(g) for g in chance.index])
        ax.hlines(chance, x - 0.45, x + 0.45, colors="grey", linestyles="dashed", linewidth=1, label="chance")
    ax.tick_params(axis="x", labelsize=7)
    ax.set(xlabel=None, ylabel="score (%)")
    ax.set_ylim(0, max(100.0, float(np.nanmax(frame["ours_mean"] + std)) * 1.05))
    if legend:
        ax.legend(fontsize=7, ncol=min(7, len(models) + 2), loc="lower center", bbox_to_anchor=(0.5, 1.0))


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


# ---------------------------------------------------------------------------------- notebook 01: data


def plot_data_examples(examples: pd.DataFrame, waves: Sequence[np.ndarray]) -> matplotlib.figure.Figure:
    """One row per example: its photo (or the class prototype a GM clip stands for), waveform, spectrogram.

    ``examples``: rows of ``data_examples.csv`` with absolute paths (``dataset, clip_id, label`` and,
    where the set has them, ``image_path, caption, sound_kind, imagenet_class``); ``waves``: each row's
    audio, (n_samples,) float32 mono at 16 kHz in [-1, 1].  The spectrogram is the encoder's own front
    end (``n_fft=512``, ``hop=353``, log power), 0-8 kHz.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    import torch

    from ..audio import SAMPLE_RATE
    from ..data.embedded.tuxpaint import load_stamp_image
    from ..frontend import log_power, make_spectrogram

    if len(examples) != len(waves):
        raise ValueError(f"{len(examples)} examples but {len(waves)} waves; give one wave per row")
    spectrogram = make_spectrogram()
    n = len(examples)
    fig, axes = plt.subplots(n, 3, figsize=(11, 2.1 * n), width_ratios=[1, 2, 2], squeeze=False)
    for row, (item, wave) in enumerate(zip(examples.to_dict("records"), waves)):
        ax_img, ax_wave, ax_spec = axes[row]
        last = row == n - 1
        if item.get("image_path"):
            ax_img.imshow(load_stamp_image(item["image_path"]))
        else:
            ax_img.text(0.5, 0.5, f"no photo\nclass prototype:\n{item.get('imagenet_class') or '-'}",
                        ha="center", va="center", fontsize=8)
        ax_img.set_axis_off()
        ax_img.set_title(f"{item['dataset']}: {item['label']}", fontsize=8)
        ax_wave.plot(np.arange(wave.size) / SAMPLE_RATE, wave, lw=0.4)
        ax_wave.set(xlabel="time (s)" if last else None, ylim=(-1, 1))
        kind = f" ({item['sound_kind']})" if item.get("sound_kind") else ""
        ax_wave.set_title(str(item.get("caption") or item["clip_id"])[:60] + kind, fontsize=8)
        spec = log_power(spectrogram, torch.from_numpy(wave)[None])[0, 0].numpy()
        ax_spec.imshow(spec, origin="lower", aspect="auto", cmap="magma", extent=(0, wave.size / SAMPLE_RATE, 0, 8000))
        ax_spec.set(ylabel="Hz", xlabel="time (s)" if last else None)
        ax_spec.grid(False)
    fig.tight_layout()
    return fig


def plot_gm_families(counts: pd.DataFrame) -> matplotlib.figure.Figure:
    """Rendered clips per GM family (index, in GM order), one bar per soundfont (column)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3))
    counts.plot.bar(ax=ax, width=0.8)
    ax.set(xlabel=None, ylabel="clips", title="Rendered clips per GM family")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------ notebook 03: pretrain

#: the embedded held-out tasks (:data:`w2clib.evaluate.embedded_heldout.TASKS`) as figure titles
HELDOUT_TITLES = {"timgm_prototype": "TimGM clip -> class prototype", "timgm_zeroshot": "TimGM clip -> class name",
                  "tux_photo": "Tux Paint sound -> photo"}


def plot_pretrain_curves(metrics: pd.DataFrame, epochs: pd.DataFrame, *, optimizer: str = "",
                         schedule: str = "") -> matplotlib.figure.Figure:
    """Loss terms per step (thin) with a 25-step running mean (thick) and the validation loss per epoch;
    the two learned temperatures (log scale); the learning rate.

    ``metrics``/``epochs``: a run's ``metrics.csv`` / ``epochs.csv`` (:mod:`w2clib.training.state`).
    """
    import matplotlib.pyplot as plt

    m, e = metrics, epochs
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    for k, term in enumerate(["loss", "loss_a", "loss_i"]):
        axes[0].plot(m["step"], m[term], color=PALETTE[k], lw=0.5, alpha=0.35)
        axes[0].plot(m["step"], m[term].rolling(25, min_periods=1).mean(), color=PALETTE[k], lw=1.6, label=term)
    if "val_loss" in e:
        axes[0].plot(e["step"], e["val_loss"], "o--", color=PALETTE[3], ms=4, label="validation loss")
    axes[0].set(xlabel="step", ylabel="contrastive loss", title="loss")
    axes[0].legend(fontsize=8)
    for k, temp in enumerate(["temp_a", "temp_i"]):
        axes[1].plot(m["step"], m[temp], color=PALETTE[k + 1], label=temp)
    axes[1].set(xlabel="step", ylabel="temperature 1/exp(s)", title="temperatures", yscale="log")
    axes[1].legend(fontsize=8)
    axes[2].plot(m["step"], m["lr"], color=PALETTE[4])
    axes[2].set(xlabel="step", ylabel="learning rate", title=f"{optimizer}, {schedule} schedule".strip(", "))
    fig.tight_layout()
    return fig


def plot_heldout_epochs(epochs: pd.DataFrame, chance: Mapping[str, float],
                        sizes: Mapping[str, tuple[int, int]]) -> matplotlib.figure.Figure:
    """Held-out R@1, R@5 and MRR after every epoch, one panel per task, chance dotted.

    ``epochs``: ``epochs.csv`` with ``heldout_<task>_<metric>`` columns; ``chance``: ``{"<task>_<metric>":
    value}`` and ``sizes``: ``{task: (n_queries, n_items)}`` of the evaluator
    (:func:`w2clib.evaluate.embedded_heldout.heldout_evaluator`).
    """
    import matplotlib.pyplot as plt

    from .embedded_heldout import METRICS, TASKS

    fig, axes = plt.subplots(1, len(TASKS), figsize=(11, 3.2), sharey=True)
    for ax, task in zip(axes, TASKS):
        for k, metric in enumerate(METRICS):
            ax.plot(epochs["step"], epochs[f"heldout_{task}_{metric}"], "o-", color=PALETTE[k], ms=4, label=metric)
            ax.axhline(chance[f"{task}_{metric}"], color=PALETTE[k], ls=":", lw=1)
        n_q, n_i = sizes[task]
        ax.set(title=f"{HELDOUT_TITLES[task]}\n({n_q} queries, {n_i} items)", xlabel="step", ylim=(0, 1))
    axes[0].set_ylabel("held-out retrieval")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_heldout_final(table: pd.DataFrame) -> matplotlib.figure.Figure:
    """The final held-out table (``pretrain_heldout.csv``: ``task, metric, model, value, chance,
    n_queries, n_items``): trained vs random-weight bars per metric, chance as a black tick."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .embedded_heldout import METRICS, TASKS

    fig, axes = plt.subplots(1, len(TASKS), figsize=(11, 3.2), sharey=True)
    for ax, task in zip(axes, TASKS):
        rows = table[table["task"] == task]
        sns.barplot(rows, x="metric", y="value", hue="model", order=METRICS, hue_order=["trained", "random weights"],
                    palette=[PALETTE[0], PALETTE[3]], saturation=1, legend=ax is axes[0], ax=ax)
        chance = rows.drop_duplicates("metric").set_index("metric").loc[list(METRICS), "chance"]
        ax.scatter(range(len(METRICS)), chance, marker="_", s=400, color="black", label="chance", zorder=3)
        ax.set(title=f"{HELDOUT_TITLES[task]}\n({rows['n_queries'].iloc[0]} queries, {rows['n_items'].iloc[0]} items)",
               xlabel=None, ylabel=None, ylim=(0, 1))
    axes[0].set_ylabel("held-out retrieval")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig
