"""Sources of (audio, teacher target) pairs for distillation.

A :class:`PairSource` is an indexable set of clips, each with a 16 kHz mono waveform and a teacher
target: a (dim,) vector (e.g. the mean CLIP frame embedding of the clip, or the teacher's prototype of
the clip's class) or a (views, dim) stack of alternatives (e.g. augmented views of an image), one of
which is drawn per step.  Sources:

* :class:`ArraySource` -- waveforms held in memory (synthetic data, small embedded sets);
* :class:`ManifestSource` -- a manifest ``DataFrame`` (``clip_id``, ``audio_path``, ...) plus a target
  matrix aligned by ``clip_id`` (the teacher cache); audio is decoded on the fly;
* :class:`w2clib.training.shards.ShardSource` -- decoded audio in memory-mapped shards (VGGSound scale).

Problems never stop training and are never dropped silently: a clip whose file is missing or
unreadable, that is shorter than the minimum, whose crop is silent, or that has no teacher target is
reported with a reason (:data:`PROBLEMS`) and counted per epoch by the trainer.
"""

from __future__ import annotations

import copy
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..audio import SILENCE_PEAK
from ..stream import StreamReader

__all__ = [
    "PROBLEMS",
    "ArraySource",
    "ItemProblem",
    "ManifestSource",
    "PairSource",
    "align_targets",
    "load_target_table",
    "split_last_sorted",
]

PROBLEMS = ("missing", "unreadable", "too_short", "silent", "no_target")
"""Reasons a clip is skipped: file missing, file unreadable, shorter than the minimum length, silent
crop (peak below -100 dBFS), no teacher target."""


class ItemProblem(Exception):
    """A clip that cannot be used this time; ``reason`` is one of :data:`PROBLEMS`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def crop_start(length: int, n_samples: int, mode: str, rng: np.random.Generator | None) -> int:
    """Start of an ``n_samples`` window in ``length`` samples: ``random`` (needs rng) or ``center``."""
    if length <= n_samples:
        return 0
    if mode == "random":
        if rng is None:
            raise ValueError("a random crop needs an rng")
        return int(rng.integers(0, length - n_samples + 1))
    return (length - n_samples) // 2


class PairSource(ABC):
    """An indexable set of (waveform, target) pairs; subclasses implement the storage."""

    name: str = "source"

    def __init__(
        self,
        clip_ids: Sequence[str],
        targets: np.ndarray,
        *,
        groups: Sequence[Any] | None = None,
        skipped: Sequence[tuple[str, str]] = (),
        teacher: dict[str, Any] | None = None,
    ) -> None:
        targets = np.asarray(targets)
        if targets.ndim not in (2, 3) or targets.shape[0] != len(clip_ids):
            raise ValueError(
                f"{self.name}: targets must be (n_clips, dim) or (n_clips, views, dim) with n_clips = "
                f"{len(clip_ids)}, got shape {targets.shape}"
            )
        if not np.issubdtype(targets.dtype, np.floating):
            raise TypeError(f"{self.name}: targets must be floating point, got {targets.dtype}")
        self._ids = np.asarray([str(c) for c in clip_ids], dtype=object)
        if len(set(self._ids)) != len(self._ids):
            raise ValueError(f"{self.name}: clip ids are not unique")
        self._targets = targets
        self._groups = None if groups is None else np.asarray(list(groups), dtype=object)
        if self._groups is not None and len(self._groups) != len(self._ids):
            raise ValueError(f"{self.name}: {len(self._groups)} groups for {len(self._ids)} clips")
        self._rows = np.arange(len(self._ids))
        self.skipped: list[tuple[str, str]] = [(str(c), str(r)) for c, r in skipped]
        self.teacher = dict(teacher or {})

    # -- indexing ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._rows)

    @property
    def clip_ids(self) -> list[str]:
        return [str(c) for c in self._ids[self._rows]]

    @property
    def groups(self) -> np.ndarray | None:
        """Group label per item (e.g. class): items of one group never share a batch when asked."""
        return None if self._groups is None else self._groups[self._rows]

    @property
    def target_dim(self) -> int:
        return int(self._targets.shape[-1])

    def subset(self, indices: Sequence[int] | np.ndarray) -> PairSource:
        """A view on some items (indices into this source); ``skipped`` stays with the first view."""
        view = copy.copy(self)
        view._rows = self._rows[np.asarray(indices, dtype=np.int64)]
        view.skipped = []
        return view

    def target(self, index: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """float32 (dim,) target; with several views, a random one (``rng``) or their mean."""
        value = np.asarray(self._targets[self._rows[index]], dtype=np.float32)
        if value.ndim == 2:
            value = value[int(rng.integers(value.shape[0]))] if rng is not None else value.mean(axis=0)
        return value

    def target_views(self, index: int) -> np.ndarray:
        """float32 (n_views, dim): every view of an item's target (one row for a single target)."""
        value = np.asarray(self._targets[self._rows[index]], dtype=np.float32)
        return value if value.ndim == 2 else value[None]

    # -- audio --------------------------------------------------------------------------------
    @abstractmethod
    def _length(self, row: int) -> int:
        """Length of the clip in samples at 16 kHz (may raise ItemProblem)."""

    @abstractmethod
    def _read(self, row: int, start: int, stop: int) -> np.ndarray:
        """float32 samples [start, stop) of the clip at 16 kHz (may raise ItemProblem)."""

    def load(
        self,
        index: int,
        n_samples: int,
        *,
        min_samples: int,
        crop: str = "center",
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """float32 (n_samples,) crop of clip ``index``, zero-padded at the end if shorter.

        Raises:
            ItemProblem: missing/unreadable file, shorter than ``min_samples``, or a silent crop.
        """
        row = int(self._rows[index])
        try:
            length = self._length(row)
            if length < min_samples:
                raise ItemProblem("too_short", f"{length} samples < {min_samples}")
            start = crop_start(length, n_samples, crop, rng)
            wave = self._read(row, start, min(start + n_samples, length))
        except ItemProblem:
            raise
        except FileNotFoundError as err:
            raise ItemProblem("missing", str(err)) from err
        except Exception as err:  # a corrupt file must never stop an epoch
            raise ItemProblem("unreadable", f"{type(err).__name__}: {err}") from err
        if wave.shape[0] < n_samples:
            wave = np.pad(wave, (0, n_samples - wave.shape[0]))
        if not np.isfinite(wave).all():
            raise ItemProblem("unreadable", "NaN or infinite samples")
        if float(np.abs(wave).max(initial=0.0)) < SILENCE_PEAK:
            raise ItemProblem("silent", f"peak below {SILENCE_PEAK:g}")
        return np.ascontiguousarray(wave, dtype=np.float32)

    def clip_id(self, index: int) -> str:
        return str(self._ids[self._rows[index]])


class ArraySource(PairSource):
    """Waveforms held in memory: a list of 1-D float arrays (any lengths) at 16 kHz."""

    def __init__(
        self,
        waves: Sequence[np.ndarray],
        targets: np.ndarray,
        clip_ids: Sequence[str] | None = None,
        *,
        name: str = "array",
        groups: Sequence[Any] | None = None,
        teacher: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        ids = [f"{name}-{i:06d}" for i in range(len(waves))] if clip_ids is None else list(clip_ids)
        super().__init__(ids, targets, groups=groups, teacher=teacher)
        self._waves = [np.asarray(w, dtype=np.float32).reshape(-1) for w in waves]

    def _length(self, row: int) -> int:
        return int(self._waves[row].shape[0])

    def _read(self, row: int, start: int, stop: int) -> np.ndarray:
        return self._waves[row][start:stop]


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


class ManifestSource(PairSource):
    """Clips listed in a manifest, decoded (and resampled to 16 kHz) when loaded.

    Args:
        manifest: rows with at least ``clip_id`` and ``audio_path`` (see :mod:`w2clib.data.base`).
        targets: (n, dim) or (n, views, dim) teacher targets ...
        target_ids: ... and the clip id of each target row.  Manifest rows without a target are
            not used and are reported as ``no_target``.
        group_column: optional manifest column whose values must not repeat within a batch.
    """

    def __init__(
        self,
        manifest: pd.DataFrame,
        targets: np.ndarray,
        target_ids: Sequence[str],
        *,
        name: str = "manifest",
        group_column: str | None = None,
        teacher: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        if not isinstance(manifest, pd.DataFrame):
            raise TypeError(f"{name}: manifest must be a pandas DataFrame, got {type(manifest).__name__}")
        for column in ("clip_id", "audio_path") + ((group_column,) if group_column else ()):
            if column not in manifest.columns:
                raise ValueError(f"{name}: manifest lacks column {column!r}; it has {list(manifest.columns)}")
        matrix, has_target = align_targets(manifest["clip_id"].astype(str).tolist(), targets, target_ids)
        keep = manifest.loc[has_target]
        skipped = [(cid, "no_target") for cid in manifest.loc[~has_target, "clip_id"].astype(str)]
        groups = keep[group_column].tolist() if group_column else None
        super().__init__(keep["clip_id"].astype(str).tolist(), matrix[has_target], groups=groups,
                         skipped=skipped, teacher=teacher)
        self._paths = [None if _is_missing(p) else str(p) for p in keep["audio_path"]]

    def _reader(self, row: int) -> StreamReader:
        cached = getattr(self, "_open", None)
        if cached is not None and cached[0] == row:  # load() asks for the length, then reads
            return cached[1]
        path = self._paths[row]
        if path is None or not os.path.exists(path):
            raise FileNotFoundError(f"audio file not found: {path!r}")
        reader = StreamReader(path)
        self._open = (row, reader)
        return reader

    def _length(self, row: int) -> int:
        return self._reader(row).n_samples

    def _read(self, row: int, start: int, stop: int) -> np.ndarray:
        return self._reader(row).read(start, stop)


def align_targets(
    clip_ids: Sequence[str], targets: np.ndarray, target_ids: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Reorder target rows to follow ``clip_ids``.

    Returns:
        ``(matrix, has_target)``: float array with one row per clip id (zeros where missing) and a
        bool mask of the clip ids that have a target.  A target row holding NaN or infinity (a
        cache's placeholder for a failed clip) counts as no target.
    """
    targets = np.asarray(targets)
    if len(target_ids) != targets.shape[0]:
        raise ValueError(f"{len(target_ids)} target ids for {targets.shape[0]} target rows")
    position = {str(c): i for i, c in enumerate(target_ids)}
    if len(position) != len(target_ids):
        raise ValueError("target ids are not unique")
    rows = np.array([position.get(str(c), -1) for c in clip_ids], dtype=np.int64)
    finite = np.isfinite(targets.reshape(targets.shape[0], -1)).all(axis=1)
    has_target = rows >= 0
    has_target[has_target] = finite[rows[has_target]]
    matrix = np.zeros((len(clip_ids),) + targets.shape[1:], dtype=targets.dtype)
    matrix[has_target] = targets[rows[has_target]]
    return matrix, has_target


def load_target_table(path: str | os.PathLike[str]) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """Read teacher targets from an ``.npz`` file.

    The file holds ``clip_ids`` (n,) strings and ``embeddings`` (n, dim) or (n, views, dim) floats,
    optionally ``teacher`` (a JSON string describing the teacher).

    Returns:
        ``(embeddings, clip_ids, teacher)``.
    """
    import json

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"teacher target file not found: {str(path)!r}; compute the teacher cache first "
            "(an .npz with arrays clip_ids and embeddings)"
        )
    with np.load(path, allow_pickle=False) as data:
        missing = {"clip_ids", "embeddings"} - set(data.files)
        if missing:
            raise ValueError(f"{path} lacks arrays {sorted(missing)}; it has {data.files}")
        teacher = json.loads(str(data["teacher"])) if "teacher" in data.files else {}
        return np.asarray(data["embeddings"]), [str(c) for c in data["clip_ids"]], teacher


def split_last_sorted(source: PairSource, n_valid: int) -> tuple[PairSource, PairSource | None]:
    """Split off the ``n_valid`` items with the largest clip ids (the paper's validation rule).

    Returns ``(train, valid)``; ``valid`` is ``None`` when ``n_valid`` is 0.
    """
    if n_valid == 0:
        return source, None
    if n_valid >= len(source):
        raise ValueError(
            f"{source.name}: n_valid={n_valid} leaves no training clips (the source has {len(source)}); "
            "lower pretrain.n_valid"
        )
    order = np.argsort(np.asarray(source.clip_ids, dtype=object), kind="stable")
    train, valid = source.subset(np.sort(order[:-n_valid])), source.subset(order[-n_valid:])
    train.skipped = list(source.skipped)  # known problems are reported once, with the train split
    return train, valid
