"""Confusion matrices (the paper's Figure 3): a baseline's, Wav2CLIP's, and their difference.

Rows are true classes, columns predicted classes, both in the dataset's class order; each row is
normalised to sum to 1 (so the diagonal is per-class recall).  The matrices are saved as JSON
(``write_confusions``) and the figure is rendered from that file (:func:`w2clib.evaluate.plots.plot_confusions`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .._io import atomic_write_json

__all__ = [
    "confusion_matrix",
    "confusion_from_predictions",
    "confusion_difference",
    "write_confusions",
    "read_confusions",
]


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, *, normalize: bool = True
) -> np.ndarray:
    """(n_classes, n_classes) float64 counts, or row-normalised shares when ``normalize``.

    ``y_true``/``y_pred`` are (n,) integer class indices in the dataset's class order.  A class with
    no test item has a zero row.  ``sklearn.metrics.confusion_matrix`` (``normalize="true"``) with
    every class listed, after checking the indices (sklearn would drop an out-of-range one).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true {y_true.shape} and y_pred {y_pred.shape} must be equal-length 1-D arrays"
        )
    if len(y_true) and (
        min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= n_classes
    ):
        raise ValueError(f"class indices must lie in [0, {n_classes})")
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix

    matrix = sk_confusion_matrix(
        y_true, y_pred, labels=np.arange(n_classes), normalize="true" if normalize else None
    )
    return matrix.astype(np.float64)  # sklearn leaves a row without items at zero

def confusion_from_predictions(
    predictions: pd.DataFrame, n_classes: int, *, seed: int | None = None
) -> np.ndarray:
    """Row-normalised confusion of a probe's test predictions (``ProbeResult.predictions``).

    Uses one seed (default: the first), pooling every test fold, so under cross-validation each
    clip counts exactly once.
    """
    if predictions.empty:
        raise ValueError("no predictions (multi-label results have no confusion matrix)")
    seed = int(predictions["seed"].iloc[0]) if seed is None else seed
    chosen = predictions[predictions["seed"] == seed]
    if chosen.empty:
        raise ValueError(
            f"no predictions for seed {seed}; seeds present: {sorted(predictions['seed'].unique())}"
        )
    return confusion_matrix(chosen["y_true"].to_numpy(), chosen["y_pred"].to_numpy(), n_classes)


def confusion_difference(model: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """``model - baseline``: positive on the diagonal where the model recalls a class better."""
    if model.shape != baseline.shape:
        raise ValueError(f"confusion matrices differ in shape: {model.shape} vs {baseline.shape}")
    return model - baseline


def write_confusions(
    path: str | os.PathLike[str],
    classes: Sequence[str],
    matrices: Mapping[str, np.ndarray],
    **meta: object,
) -> Path:
    """Save ``{model name: (C, C) matrix}`` with the class order as JSON (atomic); returns the path."""
    for name, m in matrices.items():
        if np.shape(m) != (len(classes), len(classes)):
            raise ValueError(
                f"matrix {name!r} has shape {np.shape(m)}, expected {(len(classes), len(classes))}"
            )
    atomic_write_json(
        path,
        {
            "classes": list(classes),
            "matrices": {k: np.asarray(v).tolist() for k, v in matrices.items()},
            "meta": meta,
        },
    )
    return Path(path)


def read_confusions(
    path: str | os.PathLike[str],
) -> tuple[list[str], dict[str, np.ndarray], dict[str, object]]:
    """(classes, {model: matrix}, meta) from a file written by :func:`write_confusions`."""
    data = json.loads(Path(path).read_text())
    return (
        data["classes"],
        {k: np.asarray(v, dtype=np.float64) for k, v in data["matrices"].items()},
        data.get("meta", {}),
    )
