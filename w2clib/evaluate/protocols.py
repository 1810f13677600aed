"""Evaluation protocols: which rows train, validate and test, per dataset (docs/method.md §6).

A protocol turns a manifest (:mod:`w2clib.data.base`) into a list of :class:`Split` objects:

* ``folds`` -- cross-validation over the predefined ``fold`` column (ESC-50: 5 folds,
  UrbanSound8K: 10 folds).  Test = one fold; train = all other folds; the validation rows for
  hyper-parameter selection are one *training* fold (the next one, cyclically), so clips cut from
  the same source recording (kept in one fold by the dataset authors) never straddle train and
  validation, and the test fold is never seen before the final score.
* ``train_test`` -- the official train/test split of the ``split`` column (VGGSound train/test,
  TAU 2020 fold1 train/evaluate, FSD50K dev/eval, the embedded sets).  When the manifest has
  explicit validation rows (``valid``/``val``/``validation``) they are the validation set; otherwise
  the probe draws a stratified validation subset from the training rows.

Labels: :func:`class_order` gives the dataset's own class order (its class-index column when present,
else sorted names) and :func:`encode_labels` maps a manifest to integer targets (single-label) or a
(n, n_classes) 0/1 matrix (multi-label).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "Split",
    "PROTOCOLS",
    "TRAIN_SPLITS",
    "VALID_SPLITS",
    "TEST_SPLITS",
    "make_splits",
    "class_order",
    "encode_labels",
    "item_labels",
    "cross_domain_manifest",
    "limit_clips",
]

# The official protocol of each dataset known to w2clib.data (docs/method.md §6).
PROTOCOLS: dict[str, str] = {
    "esc50": "folds",
    "urbansound8k": "folds",
    "vggsound": "train_test",
    "tau2020": "train_test",
    "fsd50k": "train_test",
    "tuxpaint": "train_test",
    "gm_families": "train_test",  # train on one soundfont, test on the other (cross_domain_manifest)
    "gm_imagenet": "train_test",  # the GM programs with an ImageNet class, same two soundfonts
}

TRAIN_SPLITS = ("train", "dev", "development")
VALID_SPLITS = ("valid", "val", "validation")
TEST_SPLITS = ("test", "eval", "evaluate", "evaluation")

# Columns that hold a dataset's own class index (ESC-50 "target", UrbanSound8K "classID", ...).
_CLASS_INDEX_COLUMNS = ("class_index", "target", "classID", "class_id", "label_index")


@dataclass(frozen=True)
class Split:
    """One train/test partition of a manifest, as integer row positions.

    ``val`` (a subset of ``train``) holds the validation rows for hyper-parameter selection, or is
    ``None`` when the probe should draw its own stratified validation subset from ``train``.
    """

    name: str  # "fold1", ..., or "test"
    train: np.ndarray  # (n_train,) int64 row positions
    test: np.ndarray  # (n_test,) int64 row positions
    val: np.ndarray | None = None  # (n_val,) int64 row positions, subset of train


def _positions(mask: pd.Series | np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.asarray(mask, dtype=bool)).astype(np.int64)


def make_splits(
    manifest: pd.DataFrame,
    protocol: str,
    *,
    train_splits: Sequence[str] = TRAIN_SPLITS,
    valid_splits: Sequence[str] = VALID_SPLITS,
    test_splits: Sequence[str] = TEST_SPLITS,
) -> list[Split]:
    """The train/validation/test partitions of ``manifest`` under ``protocol``.

    Args:
        manifest: one row per clip; ``fold`` (int) for ``"folds"``, ``split`` (str) for ``"train_test"``.
        protocol: ``"folds"`` or ``"train_test"`` (see the module docstring), or a dataset name
            from :data:`PROTOCOLS`.

    Returns:
        One :class:`Split` per test fold (``folds``) or a single one (``train_test``).

    Raises:
        ValueError: unknown protocol, missing column, or an empty train/test side.
    """
    protocol = PROTOCOLS.get(protocol, protocol)
    if protocol == "folds":
        if "fold" not in manifest.columns:
            raise ValueError(
                "protocol 'folds' needs a 'fold' column in the manifest (ESC-50, UrbanSound8K); "
                "use protocol='train_test' for datasets with a train/test 'split' column"
            )
        folds = np.asarray(manifest["fold"])
        unique = sorted(pd.unique(folds).tolist())
        if len(unique) < 3:
            raise ValueError(
                f"protocol 'folds' needs at least 3 folds (one test, one validation, one train); "
                f"the manifest has folds {unique}"
            )
        splits = []
        for i, fold in enumerate(unique):
            val_fold = unique[
                (i + 1) % len(unique)
            ]  # the next fold validates (never the test fold)
            splits.append(
                Split(
                    f"fold{fold}",
                    _positions(folds != fold),
                    _positions(folds == fold),
                    _positions(folds == val_fold),
                )
            )
        return splits
    if protocol == "train_test":
        if "split" not in manifest.columns:
            raise ValueError("protocol 'train_test' needs a 'split' column in the manifest")
        split = manifest["split"].astype(str).str.lower()
        is_val = split.isin([s.lower() for s in valid_splits])
        train = _positions(split.isin([s.lower() for s in train_splits]) | is_val)
        test = _positions(split.isin([s.lower() for s in test_splits]))
        if len(train) == 0 or len(test) == 0:
            raise ValueError(
                f"protocol 'train_test': found {len(train)} training and {len(test)} test rows; the "
                f"'split' column holds {sorted(split.unique())[:10]}, expected training values "
                f"{list(train_splits)} (+ validation {list(valid_splits)}) and test values {list(test_splits)}"
            )
        val = _positions(is_val) if bool(is_val.any()) else None
        return [Split("test", train, test, val)]
    raise ValueError(
        f"unknown protocol {protocol!r}; use 'folds', 'train_test' or one of {sorted(PROTOCOLS)}"
    )


def item_labels(manifest: pd.DataFrame) -> list[list[str]]:
    """The label list of every row: the ``labels`` column when present, else ``label`` split on ``,``."""
    if "labels" in manifest.columns:
        return [
            list(v) if not isinstance(v, str) else [s for s in v.split(",") if s]
            for v in manifest["labels"]
        ]
    return [[s.strip() for s in str(v).split(",") if s.strip()] for v in manifest["label"]]


def class_order(manifest: pd.DataFrame, *, multilabel: bool = False) -> list[str]:
    """Class names in the dataset's own order.

    Single-label: ordered by the dataset's class-index column when it has one (e.g. ESC-50
    ``target``, UrbanSound8K ``classID``), else by name.  Multi-label: sorted names.
    """
    if multilabel:
        return sorted({name for names in item_labels(manifest) for name in names})
    for column in _CLASS_INDEX_COLUMNS:
        if column in manifest.columns:
            pairs = manifest[[column, "label"]].drop_duplicates()
            if pairs["label"].is_unique and pairs[column].is_unique:
                return [str(v) for v in pairs.sort_values(column)["label"]]
    return sorted(str(v) for v in manifest["label"].unique())


def encode_labels(
    manifest: pd.DataFrame, classes: Sequence[str] | None = None, *, multilabel: bool = False
) -> tuple[np.ndarray, list[str]]:
    """Integer targets (n,) int64, or a (n, n_classes) float32 0/1 matrix when ``multilabel``.

    Raises:
        ValueError: a row's label is not among ``classes``.
    """
    classes = list(classes) if classes is not None else class_order(manifest, multilabel=multilabel)
    index = {name: i for i, name in enumerate(classes)}
    if multilabel:
        y = np.zeros((len(manifest), len(classes)), dtype=np.float32)
        for row, names in enumerate(item_labels(manifest)):
            for name in names:
                if name not in index:
                    raise ValueError(
                        f"label {name!r} (row {row}) is not among the {len(classes)} classes given"
                    )
                y[row, index[name]] = 1.0
        return y, classes
    unknown = sorted(set(map(str, manifest["label"])) - set(index))
    if unknown:
        raise ValueError(f"labels {unknown[:5]} are not among the {len(classes)} classes given")
    return np.array([index[str(v)] for v in manifest["label"]], dtype=np.int64), classes


def cross_domain_manifest(
    train: pd.DataFrame, test: pd.DataFrame, *, label_column: str = "label"
) -> pd.DataFrame:
    """Concatenate two manifests as one train/test set (e.g. GM families: FluidR3 -> TimGM6mb).

    Keeps only classes present on both sides, so the test never asks for a class the probe could
    not learn; ``clip_id`` is prefixed with ``train:``/``test:`` to stay unique.
    """
    shared = sorted(set(train[label_column]) & set(test[label_column]))
    if not shared:
        raise ValueError(
            "the two manifests share no class label; check the label column of both datasets"
        )
    parts = []
    for side, frame in (("train", train), ("test", test)):
        part = frame[frame[label_column].isin(shared)].copy()
        part["clip_id"] = side + ":" + part["clip_id"].astype(str)
        part["split"] = side
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def limit_clips(manifest: pd.DataFrame, max_clips: int | None, *, seed: int = 0) -> pd.DataFrame:
    """A class-stratified subset of about ``max_clips`` rows (quick profiles); ``None`` keeps all.

    Every (split, fold, label) group keeps its share, at least one row, so each protocol side and
    class survives.  The row order of the manifest is preserved.
    """
    if max_clips is None or len(manifest) <= max_clips:
        return manifest
    if max_clips < 1:
        raise ValueError(f"max_clips must be >= 1 or None, got {max_clips}")
    keys = [c for c in ("split", "fold", "label") if c in manifest.columns]
    rng = np.random.default_rng(seed)
    share = max_clips / len(manifest)
    keep: list[int] = []
    for _, group in manifest.groupby(keys, sort=True) if keys else [(None, manifest)]:
        n = max(1, int(round(share * len(group))))
        keep.extend(rng.choice(np.asarray(group.index), size=n, replace=False).tolist())
    return manifest.loc[sorted(keep, key=manifest.index.get_loc)]
