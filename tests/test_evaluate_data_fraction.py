"""Data-fraction curves: nested, stratified subsets; a fixed test set; mean ± std over seeds."""

from __future__ import annotations

import numpy as np
import pytest

from w2clib.evaluate.data_fraction import (
    data_fraction_curve,
    nested_subsets,
    probe_fit_score,
    summarize_curve,
)
from w2clib.evaluate.probes import ProbeConfig

FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


def test_subsets_are_nested_stratified_and_keep_every_class():
    labels = np.repeat(np.arange(4), [10, 50, 100, 200])
    subsets = nested_subsets(labels, FRACTIONS, seed=0)
    previous = np.array([], dtype=np.int64)
    for f in FRACTIONS:
        rows = subsets[f]
        assert np.isin(previous, rows).all()  # nested
        counts = np.bincount(labels[rows], minlength=4)
        assert (counts >= 1).all()
        expected = np.maximum(1, np.round(f * np.array([10, 50, 100, 200])))
        np.testing.assert_array_equal(counts, expected)
        previous = rows
    assert len(subsets[1.0]) == len(labels)


def test_subsets_depend_on_the_seed_only():
    labels = np.repeat(np.arange(3), 100)
    a, b, c = (nested_subsets(labels, [0.1], seed=s)[0.1] for s in (0, 0, 1))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_curve_rises_with_more_data_and_never_touches_the_test_rows():
    rng = np.random.default_rng(0)
    n_classes, dim = 10, 16
    y = np.repeat(np.arange(n_classes), 60)
    x = (rng.normal(size=(n_classes, dim))[y] * 1.0 + rng.normal(size=(len(y), dim))).astype(
        np.float32
    )
    test = np.arange(0, len(y), 3)
    train = np.setdiff1d(np.arange(len(y)), test)
    seen: list[np.ndarray] = []
    inner = probe_fit_score(x, y, "linear", ProbeConfig(linear_l2=[1e-2], linear_max_iter=50))

    def spy(train_rows, test_rows, seed):
        seen.append(train_rows)
        return inner(train_rows, test_rows, seed)

    curve = data_fraction_curve(
        spy, y, train, test, fractions=(0.05, 0.2, 1.0), seeds=(0, 1), dataset="blobs"
    )
    assert list(curve.columns) == ["model", "dataset", "fraction", "seed", "n_train", "score"]
    assert len(curve) == 6
    assert all(len(np.intersect1d(rows, test)) == 0 for rows in seen)
    summary = summarize_curve(curve)
    means = summary.sort_values("fraction")["mean"].to_numpy()
    assert means[-1] > means[0] + 0.05 and means[-1] > 0.8
    assert summary["n_seeds"].tolist() == [2, 2, 2]


def test_overlapping_train_and_test_rows_are_rejected():
    with pytest.raises(ValueError, match="overlap"):
        data_fraction_curve(
            lambda a, b, s: 0.0, np.zeros(10, dtype=int), np.arange(6), np.arange(5, 10)
        )
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        nested_subsets(np.zeros(4, dtype=int), [0.0, 0.5])
