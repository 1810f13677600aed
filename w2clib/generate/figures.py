"""Figures 4 and 5, rendered from the saved pictures and the judge's CSV (never from memory)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    import matplotlib.figure

__all__ = ["plot_figure4", "plot_figure5", "plot_figure5_tracks"]


def _frame(data: pd.DataFrame | str | os.PathLike[str]) -> pd.DataFrame:
    return data if isinstance(data, pd.DataFrame) else pd.read_csv(data)


def _show(ax, path: str) -> None:  # noqa: ANN001 - a matplotlib Axes
    from PIL import Image

    ax.imshow(Image.open(path).convert("RGB"), interpolation="none")  # native pixels: small PDFs
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _verdict(scores: pd.DataFrame, job: str, label: str) -> str:
    hit = scores[(scores["job"] == job) & (scores["class"] == label)]
    if hit.empty:
        return "not judged"
    row = hit.iloc[0]
    return f"rank {int(row['rank'])}, p={row['p_class']:.2f}"


def plot_figure4(pictures: pd.DataFrame | str | os.PathLike[str], scores: pd.DataFrame | str | os.PathLike[str],
                 *, title: str = "") -> matplotlib.figure.Figure:
    """Columns = classes; top row: the class name through the text tower; bottom row: a held-out
    sound of the class through the encoder.  Under each picture: the judge's rank of the class.

    ``pictures``: the drawn table (``job, condition, label, image_path``); ``scores``: the judge table.
    """
    import matplotlib.pyplot as plt

    pictures, scores = _frame(pictures), _frame(scores)
    labels = list(pictures.loc[pictures["condition"] == "audio", "label"])
    rows = [("text", "text"), ("audio", "audio")]
    fig, axes = plt.subplots(len(rows), len(labels), figsize=(1.7 * len(labels), 1.9 * len(rows) + 0.4),
                             squeeze=False)
    for r, (condition, name) in enumerate(rows):
        for c, label in enumerate(labels):
            ax = axes[r, c]
            hit = pictures[(pictures["condition"] == condition) & (pictures["label"] == label)]
            if hit.empty:
                ax.axis("off")
                continue
            _show(ax, hit.iloc[0]["image_path"])
            ax.set_xlabel(_verdict(scores, hit.iloc[0]["job"], label), fontsize=7)
            if r == 0:
                ax.set_title(label, fontsize=9)
            if c == 0:
                ax.set_ylabel(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_figure5(pictures: pd.DataFrame | str | os.PathLike[str], scores: pd.DataFrame | str | os.PathLike[str],
                 *, title: str = "") -> matplotlib.figure.Figure:
    """One row per mixture: sound A alone, sound B alone, A + B at equal loudness; under each
    picture the judge's rank and probability of class A and of class B."""
    import matplotlib.pyplot as plt

    pictures, scores = _frame(pictures), _frame(scores)
    mixtures = pictures[pictures["condition"] == "mixture"]
    fig, axes = plt.subplots(max(len(mixtures), 1), 3, figsize=(6.0, 2.4 * max(len(mixtures), 1) + 0.3),
                             squeeze=False)
    for r, mix in enumerate(mixtures.itertuples()):
        a, b = mix.labels.split("|")
        alone = {lab: pictures[(pictures["condition"] == "audio") & (pictures["label"] == lab)] for lab in (a, b)}
        panels = [(alone[a], a), (alone[b], b), (mixtures.iloc[[r]], f"{a} + {b}")]
        for c, (hit, name) in enumerate(panels):
            ax = axes[r, c]
            if hit.empty:
                ax.axis("off")
                continue
            job = hit.iloc[0]["job"]
            _show(ax, hit.iloc[0]["image_path"])
            ax.set_title(name, fontsize=9)
            ax.set_xlabel(f"{a}: {_verdict(scores, job, a)}\n{b}: {_verdict(scores, job, b)}", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_figure5_tracks(pictures: pd.DataFrame | str | os.PathLike[str],
                        scores: pd.DataFrame | str | os.PathLike[str], *, title: str = "") -> matplotlib.figure.Figure:
    """One row per music track: each stem drawn alone, then the track's own mix; under a stem its
    judge verdict, under the mix the verdict for every stem (``not judged`` where the profile's
    ``accept`` lists no ImageNet class for a stem)."""
    import matplotlib.pyplot as plt

    pictures, scores = _frame(pictures), _frame(scores)
    tracks = pictures[pictures["condition"] == "track"]
    stems_of = [row.labels.split("|") for row in tracks.itertuples()]
    n_cols = max((len(s) for s in stems_of), default=0) + 1
    fig, axes = plt.subplots(max(len(tracks), 1), n_cols, figsize=(1.9 * n_cols, 2.5 * max(len(tracks), 1) + 0.3),
                             squeeze=False)
    for r, (mix, stems) in enumerate(zip(tracks.itertuples(), stems_of)):
        for c in range(n_cols):
            ax = axes[r, c]
            if c < len(stems):
                hit = pictures[(pictures["condition"] == "stem") & (pictures["clip_id"] == f"{mix.label}/{stems[c]}")]
                name, lines = stems[c], [_verdict(scores, hit.iloc[0]["job"], stems[c])] if not hit.empty else []
            else:
                hit, name = tracks.iloc[[r]], "mix"
                lines = [f"{s}: {_verdict(scores, mix.job, s)}" for s in stems]
            if hit.empty:
                ax.axis("off")
                continue
            _show(ax, hit.iloc[0]["image_path"])
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("\n".join(lines), fontsize=6)
            if c == 0:
                ax.set_ylabel(mix.label if len(mix.label) <= 28 else mix.label[:26] + "…", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig

