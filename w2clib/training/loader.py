"""Batches of (audio, target) pairs: which items, in which order, on which process, with which crop.

Determinism: the items of step ``s`` of epoch ``e`` on rank ``r`` and every random choice made while
loading them (crop, target view, mixing partner, every augmentation) are pure functions of ``(seed, e, s, r)``.  They do not
depend on the number of loader workers, on which worker loads an item, or on whether the run was
interrupted: resuming at step ``s`` replays exactly the batches an uninterrupted run would see.

Batch composition: a batch concatenates :class:`BatchPart` s -- ``per_batch`` items from each source
(e.g. 16 Tux Paint pairs + 16 instrument clips).  The first part defines the epoch (one pass over it
in a seeded permutation, split across ranks); further parts are drawn from an endless sequence of
seeded permutations.  A part with ``distinct_groups`` draws ``per_batch`` different groups each step
(one random member each), so two clips whose target is the same class prototype never meet as
false negatives.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch

from .augment import add_reverb, change_speed, mask_frequency, mask_time, mix_pair, random_eq
from .config import SAMPLE_RATE, PretrainConfig
from .sources import ItemProblem, PairSource

__all__ = [
    "DATA_BUILDERS",
    "Batch",
    "BatchPart",
    "BatchPlan",
    "PairData",
    "PairDataset",
    "build_data",
    "collate",
    "make_loader",
    "random_eq",
    "register_data_builder",
    "valid_batches",
]

Key = tuple[int, int, int, int, int]  # (part, index, epoch (-1: validation), step, slot)


@dataclass
class BatchPart:
    """``per_batch`` items of ``source`` in every batch."""

    source: PairSource
    per_batch: int
    distinct_groups: bool = False  # never two items of the same group in one batch

    def __post_init__(self) -> None:
        if self.per_batch < 1:
            raise ValueError(f"{self.source.name}: per_batch must be >= 1, got {self.per_batch}")
        if self.per_batch > len(self.source):
            raise ValueError(
                f"{self.source.name}: per_batch={self.per_batch} exceeds the {len(self.source)} clips "
                "of the source; lower the batch size or add data"
            )
        if self.distinct_groups:
            if self.source.groups is None:
                raise ValueError(f"{self.source.name}: distinct_groups needs a source with groups")
            n_groups = len(set(self.source.groups))
            if n_groups < self.per_batch:
                raise ValueError(
                    f"{self.source.name}: {self.per_batch} distinct groups per batch requested, "
                    f"the source has {n_groups}"
                )


@dataclass
class PairData:
    """What a data builder returns: training and validation batch compositions."""

    train: list[BatchPart]
    valid: list[BatchPart] = field(default_factory=list)
    teacher: dict[str, Any] = field(default_factory=dict)  # recorded in the checkpoint

    def __post_init__(self) -> None:
        if not self.train:
            raise ValueError("PairData needs at least one training part")
        dims = {p.source.target_dim for p in self.train + self.valid}
        if len(dims) != 1:
            raise ValueError(f"all sources must have the same target size, got {sorted(dims)}")

    @property
    def target_dim(self) -> int:
        return self.train[0].source.target_dim

    @property
    def batch_size(self) -> int:
        return sum(p.per_batch for p in self.train)


def _permutation(seed: int, part: int, cycle: int, n: int) -> np.ndarray:
    return np.random.default_rng([seed, 11, part, cycle]).permutation(n)


class BatchPlan:
    """The keys of every training batch of one rank (see the module docstring)."""

    def __init__(self, parts: Sequence[BatchPart], seed: int, world_size: int = 1, rank: int = 0) -> None:
        self.parts, self.seed, self.world_size, self.rank = list(parts), int(seed), world_size, rank
        first = self.parts[0]
        self.steps_per_epoch = len(first.source) // (first.per_batch * world_size)
        if self.steps_per_epoch < 1:
            raise ValueError(
                f"{first.source.name}: {len(first.source)} clips are fewer than one batch of "
                f"{first.per_batch} x {world_size} processes; lower the batch size or add data"
            )
        self._members: dict[int, list[np.ndarray]] = {}
        for i, part in enumerate(self.parts):
            if part.distinct_groups:
                groups = np.asarray(part.source.groups, dtype=object)  # not None: checked by BatchPart
                labels = sorted(set(groups), key=str)
                self._members[i] = [np.flatnonzero(groups == g) for g in labels]
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    def _perm(self, part: int, cycle: int) -> np.ndarray:
        key = (part, cycle)
        if key not in self._cache:
            if len(self._cache) > 8:
                self._cache.clear()
            self._cache[key] = _permutation(self.seed, part, cycle, len(self.parts[part].source))
        return self._cache[key]

    def _indices(self, part: int, epoch: int, step: int) -> np.ndarray:
        spec = self.parts[part]
        k, n = spec.per_batch, len(spec.source)
        if spec.distinct_groups:
            rng = np.random.default_rng([self.seed, 13, part, epoch, step, self.rank])
            members = self._members[part]
            chosen = rng.choice(len(members), size=k, replace=False)
            return np.array([members[g][rng.integers(len(members[g]))] for g in chosen])
        if part == 0:
            first = (step * self.world_size + self.rank) * k
            return self._perm(0, epoch)[first : first + k]
        first = ((epoch * self.steps_per_epoch + step) * self.world_size + self.rank) * k
        positions = np.arange(first, first + k)
        return np.array([self._perm(part, int(q // n))[q % n] for q in positions])

    def keys(self, epoch: int, step: int) -> list[Key]:
        """Keys of the batch of ``step`` (0-based within ``epoch``) on this rank."""
        keys: list[Key] = []
        slot = self.rank * sum(p.per_batch for p in self.parts)
        for part in range(len(self.parts)):
            for index in self._indices(part, epoch, step):
                keys.append((part, int(index), epoch, step, slot))
                slot += 1
        return keys

    def epoch_keys(self, epoch: int, start_step: int = 0) -> list[list[Key]]:
        return [self.keys(epoch, s) for s in range(start_step, self.steps_per_epoch)]


def valid_batches(parts: Sequence[BatchPart], world_size: int = 1, rank: int = 0) -> list[list[Key]]:
    """Validation batches of this rank: the first part in order, in chunks of its ``per_batch``.

    A last chunk of fewer than two clips joins the one before (the loss needs negatives).  Further
    parts contribute ``per_batch`` items to each batch, cycling in order.
    """
    if not parts:
        return []
    first = parts[0]
    n, k = len(first.source), first.per_batch
    bounds = list(range(0, n, k)) + [n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < 2:
        bounds.pop(-2)
    batches: list[list[Key]] = []
    for j in range(len(bounds) - 1):
        if j % world_size != rank:
            continue
        keys: list[Key] = [(0, i, -1, j, s) for s, i in enumerate(range(bounds[j], bounds[j + 1]))]
        for p, part in enumerate(parts[1:], start=1):
            m = len(part.source)
            take = min(part.per_batch, m)
            keys += [(p, (j * take + i) % m, -1, j, len(keys) + i) for i in range(take)]
        batches.append(keys)
    return batches


class Batch(NamedTuple):
    """A collated batch: the usable items and the problems met while loading the others."""

    wave: torch.Tensor  # (n, samples) float32 at 16 kHz
    target: torch.Tensor  # (n, dim) float32
    problems: list[tuple[str, str, str, str]]  # (source, clip_id, reason, detail)
    requested: int  # items asked for (usable + problems)


class PairDataset(torch.utils.data.Dataset):
    """Map-style dataset over :data:`Key` s: loads, crops and augments one item."""

    def __init__(self, parts: Sequence[BatchPart], config: PretrainConfig, *, train: bool) -> None:
        self.sources = [p.source for p in parts]
        self.n_samples, self.min_samples = config.clip_samples, config.min_samples
        self.seed, self.train = config.seed, train
        self.random_crop = config.random_crop
        self.gain_db, self.noise_snr_db = config.gain_db, config.noise_snr_db
        self.shift_samples, self.eq_db = round(config.shift_seconds * SAMPLE_RATE), config.eq_db
        self.config = config

    def __len__(self) -> int:  # keys are generated by BatchPlan; the length is informative only
        return sum(len(s) for s in self.sources)

    def __getitem__(self, key: Key) -> dict[str, Any]:
        part, index, epoch, step, slot = key
        source = self.sources[part]
        rng = np.random.default_rng([self.seed, 17, epoch + 1, step, slot]) if self.train else None
        crop = "random" if self.train and self.random_crop else "center"
        item: dict[str, Any] = {"source": source.name, "clip_id": source.clip_id(index)}
        try:
            wave = source.load(index, self.n_samples, min_samples=self.min_samples, crop=crop, rng=rng)
        except ItemProblem as problem:
            return {**item, "ok": False, "reason": problem.reason, "detail": problem.detail}
        target = source.target(index, rng)
        if rng is not None:
            wave, target = self._mix(wave, target, rng, crop)
            wave = self._augment(wave, rng)
        return {**item, "ok": True, "wave": wave, "target": target}

    def _mix(self, wave: np.ndarray, target: np.ndarray, rng: np.random.Generator,
             crop: str) -> tuple[np.ndarray, np.ndarray]:
        """With probability ``mix_prob``: add a random item of a random part at equal loudness with
        weight 1 - w (w uniform in ``mix_range``) and mix the targets with the same weights."""
        cfg = self.config
        if cfg.mix_prob <= 0 or rng.random() >= cfg.mix_prob:
            return wave, target
        weight = float(rng.uniform(*cfg.mix_range))
        source = self.sources[int(rng.integers(len(self.sources)))]
        index = int(rng.integers(len(source)))
        try:
            other = source.load(index, self.n_samples, min_samples=self.min_samples, crop=crop, rng=rng)
        except ItemProblem:
            return wave, target  # the partner is unusable: this item stays unmixed
        other_target = source.target(index, rng)
        unit = target / max(float(np.linalg.norm(target)), 1e-12)
        other_unit = other_target / max(float(np.linalg.norm(other_target)), 1e-12)
        return mix_pair(wave, other, weight), (weight * unit + (1.0 - weight) * other_unit).astype(np.float32)

    def _augment(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # Each augmentation draws from rng only when enabled, so configs without it keep their batches.
        cfg = self.config
        if cfg.speed_range is not None:
            wave = change_speed(wave, rng, *cfg.speed_range)
        if cfg.reverb_prob > 0 and rng.random() < cfg.reverb_prob:
            wave = add_reverb(wave, rng, *cfg.reverb_rt60)
        if self.shift_samples > 0:
            delay = int(rng.integers(0, self.shift_samples + 1))
            if delay:
                wave = np.concatenate([np.zeros(delay, np.float32), wave[: len(wave) - delay]])
        if self.eq_db > 0:
            wave = random_eq(wave, rng, self.eq_db)
        if self.gain_db > 0:
            wave = wave * np.float32(10.0 ** (rng.uniform(-self.gain_db, self.gain_db) / 20.0))
        if self.noise_snr_db is not None:
            snr = rng.uniform(*self.noise_snr_db)
            rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))
            noise = rng.standard_normal(wave.shape[0]).astype(np.float32)
            wave = wave + noise * np.float32(rms / 10.0 ** (snr / 20.0))
        if cfg.time_masks > 0:
            wave = mask_time(wave, rng, cfg.time_masks, round(cfg.time_mask_seconds * SAMPLE_RATE))
        if cfg.freq_masks > 0:
            wave = mask_frequency(wave, rng, cfg.freq_masks, cfg.freq_mask_fraction)
        return wave.astype(np.float32, copy=False)


def collate(items: list[dict[str, Any]]) -> Batch:
    """Stack usable items; keep problems for the per-epoch report."""
    good = [it for it in items if it["ok"]]
    problems = [(it["source"], it["clip_id"], it["reason"], it["detail"]) for it in items if not it["ok"]]
    if good:
        wave = torch.from_numpy(np.stack([it["wave"] for it in good]))
        target = torch.from_numpy(np.stack([it["target"] for it in good]).astype(np.float32))
    else:
        wave, target = torch.zeros(0, 0), torch.zeros(0, 0)
    return Batch(wave, target, problems, len(items))


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # each worker decodes/resamples one clip at a time; no oversubscription


def make_loader(
    dataset: PairDataset, batches: list[list[Key]], *, num_workers: int, prefetch_batches: int, seed: int
) -> torch.utils.data.DataLoader:
    """A DataLoader yielding :class:`Batch` es in the given order (several workers, prefetching)."""
    return torch.utils.data.DataLoader(
        dataset,
        batch_sampler=batches,
        num_workers=num_workers,
        collate_fn=collate,
        prefetch_factor=prefetch_batches if num_workers > 0 else None,
        worker_init_fn=_worker_init if num_workers > 0 else None,
        # Its own generator: creating the iterator must not consume the global torch RNG.
        generator=torch.Generator().manual_seed(seed),
        pin_memory=torch.cuda.is_available(),
    )


# ------------------------------------------------------------------------------------------------
# Data builders: config -> PairData

Builder = Callable[[PretrainConfig, dict[str, Any]], PairData]

DATA_BUILDERS: dict[str, str | Builder] = {
    "synthetic": "w2clib.training.synthetic:build_synthetic",
    "manifest": "w2clib.training.builders:build_manifest",
    "shards": "w2clib.training.builders:build_shards",
    "embedded": "w2clib.training.embedded:build_embedded",  # Tux Paint + rendered GM (offline profiles)
}


def register_data_builder(name: str, builder: str | Builder) -> None:
    """Make ``pretrain.data: <name>`` use ``builder`` (a callable or ``"module:function"``)."""
    DATA_BUILDERS[name] = builder


def build_data(config: PretrainConfig, profile: Any = None) -> PairData:
    """Call the builder named by ``config.data`` with ``config.data_options``.

    ``profile`` (a :class:`w2clib.config.Profile`) is handed to builders that take it (keyword
    ``profile``): those that draw their items and teacher from the profile's ``data:``/``teacher:``
    sections, such as ``embedded``.
    """
    if config.data not in DATA_BUILDERS:
        raise ValueError(
            f"unknown pretrain.data {config.data!r}; known: {sorted(DATA_BUILDERS)} "
            "(or register one with w2clib.training.register_data_builder)"
        )
    builder = DATA_BUILDERS[config.data]
    if isinstance(builder, str):
        module, attribute = builder.split(":")
        builder = getattr(importlib.import_module(module), attribute)
    takes_profile = "profile" in inspect.signature(builder).parameters
    data = builder(config, dict(config.data_options), profile=profile) if takes_profile else \
        builder(config, dict(config.data_options))
    if not isinstance(data, PairData):
        raise TypeError(f"data builder {config.data!r} returned {type(data).__name__}, expected PairData")
    return data
