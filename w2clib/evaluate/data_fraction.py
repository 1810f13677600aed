"""Data-fraction curves (the paper's Figure 2): score vs share of labelled training data.

For each seed, every class's training rows are shuffled once; the subset at fraction f keeps the
first ``max(1, round(f * n_c))`` rows of class c.  Subsets are therefore class-stratified and
*nested* (the 5 % subset contains the 2 % subset), so the curve measures more data, not different
data.  The test rows never change.

What is trained on a subset is pluggable (:data:`FitScore`): a probe on frozen embeddings
(:func:`probe_fit_score`) for Wav2CLIP and the feature baselines, or a model trained from scratch
(:func:`w2clib.evaluate.supervised.supervised_fit_score`) for the supervised baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from .probes import ProbeConfig, ProbeKind, score, select_and_fit, torch_threads

__all__ = [
    "DEFAULT_FRACTIONS",
    "FitScore",
    "nested_subsets",
    "probe_fit_score",
    "data_fraction_curve",
    "summarize_curve",
]

DEFAULT_FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)

# fit_score(train_rows, test_rows, seed) -> score in [0, 1]; rows index the full arrays.
FitScore = Callable[[np.ndarray, np.ndarray, int], float]


def nested_subsets(
    labels: np.ndarray, fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0
) -> dict[float, np.ndarray]:
    """Class-stratified, nested subsets of positions ``0 .. len(labels)-1``.

    Args:
        labels: (n,) class of each training row (for multi-label data: one label per row, e.g. argmax).
        fractions: values in (0, 1].

    Returns:
        ``{fraction: sorted int64 positions}``; every class keeps at least one row.
    """
    fractions = sorted(float(f) for f in fractions)
    if not fractions or fractions[0] <= 0 or fractions[-1] > 1:
        raise ValueError(f"fractions must lie in (0, 1], got {fractions}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    order = {c: rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)}
    subsets = {}
    for f in fractions:
        keep = [rows[: max(1, int(round(f * len(rows))))] for rows in order.values()]
        subsets[f] = np.sort(np.concatenate(keep)).astype(np.int64)
    return subsets


def probe_fit_score(
    x: np.ndarray, y: np.ndarray, kind: ProbeKind = "mlp", config: ProbeConfig | None = None
) -> FitScore:
    """A :data:`FitScore` that selects and fits a probe on the subset's embeddings.

    Hyper-parameters are chosen on a stratified validation share of the subset itself; subsets too
    small for that (fewer than two rows per class) use the first grid point.
    """
    config = config or ProbeConfig()
    n_classes = None if y.ndim == 2 else int(y.max()) + 1

    def fit_score(train: np.ndarray, test: np.ndarray, seed: int) -> float:
        with torch_threads(config.num_threads):
            probe = select_and_fit(x[train], y[train], kind, config, seed=seed, n_classes=n_classes)
            return score(y[test], probe.predict_scores(x[test]))

    return fit_score


def data_fraction_curve(
    fit_score: FitScore,
    labels: np.ndarray,
    train_rows: np.ndarray,
    test_rows: np.ndarray,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seeds: Sequence[int] = (0, 1, 2),
    *,
    model: str = "wav2clip",
    dataset: str = "",
    progress: bool = False,
) -> pd.DataFrame:
    """Scores of ``fit_score`` on nested fractions of ``train_rows``, tested on ``test_rows``.

    Args:
        labels: (n,) class of every row (positions index all arrays); only ``labels[train_rows]`` is used.
        train_rows, test_rows: positions of the training pool and the fixed test set.

    Returns:
        One row per (fraction, seed): ``model, dataset, fraction, seed, n_train, score``.
    """
    train_rows = np.asarray(train_rows, dtype=np.int64)
    test_rows = np.asarray(test_rows, dtype=np.int64)
    if np.intersect1d(train_rows, test_rows).size:
        raise ValueError("train_rows and test_rows overlap: the test set must stay unseen")
    from tqdm.auto import tqdm

    records = []
    jobs = [
        (seed, f, rows)
        for seed in seeds
        for f, rows in nested_subsets(labels[train_rows], fractions, seed).items()
    ]
    for seed, fraction, rows in tqdm(jobs, desc=f"data fraction ({model})", disable=not progress):
        subset = train_rows[rows]
        records.append(
            {
                "model": model,
                "dataset": dataset,
                "fraction": fraction,
                "seed": int(seed),
                "n_train": int(len(subset)),
                "score": float(fit_score(subset, test_rows, int(seed))),
            }
        )
    return pd.DataFrame(records)


def summarize_curve(curve: pd.DataFrame) -> pd.DataFrame:
    """Mean and population std over seeds: ``model, dataset, fraction, n_train, mean, std, n_seeds``."""
    grouped = curve.groupby(["model", "dataset", "fraction"], sort=True)
    out = grouped.agg(
        n_train=("n_train", "mean"),
        mean=("score", "mean"),
        std=("score", lambda s: float(np.std(s, ddof=0))),
        n_seeds=("seed", "nunique"),
    )
    return out.reset_index()
