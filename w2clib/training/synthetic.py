"""Synthetic (audio, target) pairs: learnable, generated in milliseconds, for tests and the smoke run.

Each class has three fixed tone frequencies; a clip is those tones with random amplitudes and phases
plus noise, a little longer than the training crop so random crops differ.  Its target is the class's
random unit "prototype" plus per-clip noise, so a model can only lower the loss by hearing the class.
Optional silent and too-short clips exercise the problem report.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .config import SAMPLE_RATE, PretrainConfig
from .loader import BatchPart, PairData
from .sources import ArraySource, split_last_sorted

__all__ = ["build_synthetic", "synthetic_source"]

DEFAULTS: dict[str, Any] = {
    "n_clips": 64,  # clips per source
    "n_classes": 8,  # tone classes per source
    "dim": 32,  # target size
    "target_noise": 0.1,  # std of the per-clip perturbation of the class prototype
    "n_silent": 0,  # extra all-zero clips (reported as silent)
    "n_short": 0,  # extra clips shorter than min_clip_seconds (reported as too_short)
    "parts": 1,  # 2: batches mix two sources half/half, the second with distinct classes per batch
    "seed": 0,  # the data's own seed (independent of the training seed)
}


def synthetic_source(
    name: str, *, n_clips: int, n_classes: int, dim: int, seconds: float, min_seconds: float,
    target_noise: float, n_silent: int, n_short: int, seed: int,
) -> ArraySource:
    """An :class:`ArraySource` of tone clips (lengths ``seconds`` to 1.5 x ``seconds``), groups = class."""
    rng = np.random.default_rng(seed)
    freqs = np.exp(rng.uniform(np.log(100.0), np.log(4000.0), size=(n_classes, 3)))
    protos = rng.standard_normal((n_classes, dim)).astype(np.float32)
    protos /= np.linalg.norm(protos, axis=1, keepdims=True)
    waves, targets, labels = [], [], []
    for i in range(n_clips + n_silent + n_short):
        c = i % n_classes
        length = int(SAMPLE_RATE * seconds * rng.uniform(1.0, 1.5))
        if i >= n_clips + n_silent:  # too short
            length = max(1, int(SAMPLE_RATE * min_seconds * 0.5))
        t = np.arange(length) / SAMPLE_RATE
        wave = sum(rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f in freqs[c])
        wave = wave + rng.normal(0.0, 0.01, size=length)
        if n_clips <= i < n_clips + n_silent:
            wave = np.zeros(length)
        waves.append(wave.astype(np.float32))
        targets.append(protos[c] + target_noise * rng.standard_normal(dim).astype(np.float32))
        labels.append(f"{name}-class{c}")
    order = rng.permutation(len(waves))  # scatter the problem clips over the sorted ids (train and valid)
    ids = [f"{name}-{order[i]:05d}" for i in range(len(waves))]
    return ArraySource(waves, np.stack(targets), ids, name=name, groups=labels,
                       teacher={"name": "synthetic", "dim": dim})


def build_synthetic(config: PretrainConfig, options: dict[str, Any]) -> PairData:
    """``pretrain.data: synthetic``; ``data_options`` are the keys of :data:`DEFAULTS`."""
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"pretrain.data_options: unknown keys {unknown} for synthetic data; known: {sorted(DEFAULTS)}")
    opts = {**DEFAULTS, **options}
    if opts["parts"] not in (1, 2):
        raise ValueError(f"synthetic data_options.parts must be 1 or 2, got {opts['parts']}")
    common = {"n_clips": opts["n_clips"], "n_classes": opts["n_classes"], "dim": opts["dim"],
              "seconds": config.clip_seconds, "min_seconds": config.min_clip_seconds,
              "target_noise": opts["target_noise"]}
    first = synthetic_source("synth-a", n_silent=opts["n_silent"], n_short=opts["n_short"], seed=opts["seed"], **common)
    train, valid = split_last_sorted(first, config.n_valid)
    if opts["parts"] == 1:
        parts = [BatchPart(train, config.batch_size)]
        valid_parts = [] if valid is None else [BatchPart(valid, min(config.batch_size, len(valid)))]
        return PairData(parts, valid_parts, teacher=first.teacher)
    half = config.batch_size // 2
    second = synthetic_source("synth-b", n_silent=0, n_short=0, seed=opts["seed"] + 1, **common)
    train_b, valid_b = split_last_sorted(second, config.n_valid)
    parts = [BatchPart(train, config.batch_size - half), BatchPart(train_b, half, distinct_groups=True)]
    valid_parts = []
    if valid is not None and valid_b is not None:
        valid_parts = [BatchPart(valid, min(config.batch_size - half, len(valid))),
                       BatchPart(valid_b, min(half, len(valid_b)))]
    return PairData(parts, valid_parts, teacher=first.teacher)
