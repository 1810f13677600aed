"""Probes and protocols: separable vs non-separable embeddings, leakage-free selection, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from w2clib.evaluate.probes import ProbeConfig, run_probe, select_and_fit
from w2clib.evaluate.protocols import (
    class_order,
    cross_domain_manifest,
    encode_labels,
    make_splits,
)

FAST = ProbeConfig(
    mlp_hidden=[64],
    mlp_weight_decay=[1e-4, 1e-1],
    mlp_max_epochs=40,
    mlp_patience=5,
    linear_l2=[1e-3, 1.0],
    linear_max_iter=100,
)


def blobs(
    n_per_class: int = 40, n_classes: int = 5, dim: int = 32, spread: float = 3.0, seed: int = 0
):
    """Gaussian clusters, one per class, with an ESC-50-like fold column (folds 1..5)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    centers = rng.normal(size=(n_classes, dim)) * spread
    x = (centers[y] + rng.normal(size=(len(y), dim))).astype(np.float32)
    manifest = pd.DataFrame(
        {
            "clip_id": [f"c{i}" for i in range(len(y))],
            "label": [f"class{c}" for c in y],
            "fold": np.tile(np.arange(1, 6), len(y) // 5),
        }
    )
    return x, y, manifest


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_probe_is_near_perfect_on_separable_embeddings(kind):
    x, y, manifest = blobs()
    result = run_probe(x, y, make_splits(manifest, "esc50"), kind, FAST, seeds=[0])
    assert result.mean >= 0.97
    assert len(result.scores) == 5  # one score per test fold


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_probe_is_near_chance_on_label_independent_embeddings(kind):
    x, y, manifest = blobs(n_per_class=40, n_classes=5)
    noise = np.random.default_rng(1).normal(size=x.shape).astype(np.float32)
    result = run_probe(noise, y, make_splits(manifest, "folds"), kind, FAST, seeds=[0])
    assert abs(result.mean - 0.2) < 0.1  # chance = 1/5


def test_hyperparameter_choice_never_sees_the_test_fold():
    x, y, manifest = blobs(spread=0.6)  # overlapping classes: the choice of regularisation matters
    split = make_splits(manifest, "folds")[0]
    poisoned_x, poisoned_y = x.copy(), y.copy()
    rng = np.random.default_rng(5)
    poisoned_x[split.test] = rng.normal(scale=50.0, size=poisoned_x[split.test].shape)
    poisoned_y[split.test] = rng.permutation(poisoned_y[split.test])
    for kind in ("linear", "mlp"):
        clean = run_probe(x, y, [split], kind, FAST, seeds=[0]).scores.iloc[0]
        dirty = run_probe(poisoned_x, poisoned_y, [split], kind, FAST, seeds=[0]).scores.iloc[0]
        assert clean["hparams"] == dirty["hparams"]
        assert clean["val_score"] == dirty["val_score"]
        assert dirty["score"] < clean["score"]  # the poison did reach the test score


def test_features_are_standardised_with_training_statistics_only():
    x, y, manifest = blobs()
    split = make_splits(manifest, "folds")[0]
    shifted = x.copy()
    shifted[split.test] += 100.0  # test-set statistics would undo this shift; training ones cannot
    clean = run_probe(x, y, [split], "linear", FAST).mean
    broken = run_probe(shifted, y, [split], "linear", FAST).mean
    assert clean > 0.95 and broken < 0.5


def test_probe_scores_are_deterministic_for_a_seed():
    x, y, manifest = blobs(spread=0.8)
    splits = make_splits(manifest, "folds")[:2]
    a = run_probe(x, y, splits, "mlp", FAST, seeds=[3]).scores
    b = run_probe(x, y, splits, "mlp", FAST, seeds=[3]).scores
    pd.testing.assert_frame_equal(a, b)


def test_mean_and_std_cover_folds_and_seeds():
    x, y, manifest = blobs(spread=0.8)
    result = run_probe(x, y, make_splits(manifest, "folds")[:2], "linear", FAST, seeds=[0, 1])
    assert len(result.scores) == 4 and result.n_seeds == 2
    assert result.mean == pytest.approx(result.scores["score"].mean())
    assert result.std == pytest.approx(np.std(result.scores["score"]))
    assert set(result.predictions.columns) == {"seed", "split", "row", "y_true", "y_pred"}


def test_multilabel_probe_reports_map():
    rng = np.random.default_rng(0)
    n, n_classes = 300, 6
    y = (rng.random((n, n_classes)) < 0.3).astype(np.float32)
    y[y.sum(1) == 0, 0] = 1
    x_good = (y @ rng.normal(size=(n_classes, 16)) * 3 + rng.normal(size=(n, 16)) * 0.3).astype(
        np.float32
    )
    x_bad = rng.normal(size=(n, 16)).astype(np.float32)
    manifest = pd.DataFrame({"split": ["train"] * 200 + ["eval"] * 100})
    splits = make_splits(manifest, "fsd50k")
    good = run_probe(x_good, y, splits, "linear", FAST).mean
    bad = run_probe(x_bad, y, splits, "linear", FAST).mean
    assert good > 0.9
    assert bad < 0.5  # random features: mAP near the label prevalence (~0.3-0.4)


def test_tiny_training_sets_fall_back_to_the_first_grid_point():
    x, y, _ = blobs(n_per_class=1)
    probe = select_and_fit(x, y, "linear", FAST)
    assert probe.val_score is None and probe.hparams == {"l2": 1.0}  # strongest penalty first


def test_probe_rejects_non_finite_embeddings():
    x, y, manifest = blobs()
    x[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        run_probe(x, y, make_splits(manifest, "folds"), "linear", FAST)


# ------------------------------------------------------------------------------------------------
# Protocols


def test_folds_protocol_validates_on_a_training_fold_never_the_test_fold():
    _, _, manifest = blobs()
    splits = make_splits(manifest, "esc50")
    assert [s.name for s in splits] == ["fold1", "fold2", "fold3", "fold4", "fold5"]
    folds = manifest["fold"].to_numpy()
    for s in splits:
        assert len(np.intersect1d(s.train, s.test)) == 0
        assert set(folds[s.test]) == {int(s.name[4:])}
        assert np.isin(s.val, s.train).all()
        assert len(set(folds[s.val])) == 1 and set(folds[s.val]) != set(folds[s.test])


def test_train_test_protocol_uses_explicit_validation_rows():
    manifest = pd.DataFrame({"split": ["train", "train", "valid", "test", "test", "train"]})
    (split,) = make_splits(manifest, "train_test")
    assert split.train.tolist() == [0, 1, 2, 5]
    assert split.val.tolist() == [2]
    assert split.test.tolist() == [3, 4]


def test_protocol_errors_name_the_missing_column_and_the_fix():
    with pytest.raises(ValueError, match="'fold' column"):
        make_splits(pd.DataFrame({"split": ["train", "test"]}), "folds")
    with pytest.raises(ValueError, match="expected training values"):
        make_splits(pd.DataFrame({"split": ["a", "b"]}), "train_test")
    with pytest.raises(ValueError, match="unknown protocol"):
        make_splits(pd.DataFrame({"split": ["train"]}), "leave_one_out")


def test_class_order_follows_the_dataset_class_index():
    manifest = pd.DataFrame({"label": ["rooster", "dog", "pig", "dog"], "target": [1, 0, 2, 0]})
    assert class_order(manifest) == ["dog", "rooster", "pig"]
    y, classes = encode_labels(manifest)
    assert y.tolist() == [1, 0, 2, 0] and classes == ["dog", "rooster", "pig"]


def test_multilabel_targets_from_the_labels_column():
    manifest = pd.DataFrame({"label": ["Bark,Dog", "Cat"], "labels": [["Bark", "Dog"], ["Cat"]]})
    y, classes = encode_labels(manifest, multilabel=True)
    assert classes == ["Bark", "Cat", "Dog"]
    assert y.tolist() == [[1, 0, 1], [0, 1, 0]]


def test_cross_domain_manifest_trains_on_one_set_and_tests_on_the_other():
    fluid = pd.DataFrame(
        {"clip_id": ["a", "b", "c"], "label": ["Piano", "Organ", "Bass"], "split": "train"}
    )
    timgm = pd.DataFrame({"clip_id": ["a", "b"], "label": ["Piano", "Organ"], "split": "train"})
    both = cross_domain_manifest(fluid, timgm)
    assert both["split"].tolist() == [
        "train",
        "train",
        "test",
        "test",
    ]  # "Bass" has no test side: dropped
    assert both["clip_id"].tolist() == ["train:a", "train:b", "test:a", "test:b"]
