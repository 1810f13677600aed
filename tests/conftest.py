"""Shared fixtures: deterministic audio and models with non-trivial weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from w2clib.model import ModelConfig, Wav2CLIP, build_model


def randomize_batchnorm(model: torch.nn.Module, seed: int = 0) -> None:
    """Give BatchNorm layers non-trivial running statistics, so eval vs train mode differs."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) * 0.5 + 0.75)


@pytest.fixture(scope="session")
def paper_model() -> Wav2CLIP:
    """The paper architecture (width 64) with seeded random weights and BN statistics."""
    model = build_model(ModelConfig(), seed=1234)
    randomize_batchnorm(model)
    return model.eval()


@pytest.fixture(scope="session")
def small_model() -> Wav2CLIP:
    """A narrow encoder (width 16) for fast behavioural tests."""
    model = build_model(ModelConfig(width=16), seed=99)
    randomize_batchnorm(model)
    return model.eval()


def tone_mix(n: int, seconds: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """(n, samples) float32 clips: a few random tones plus noise, each clip different."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    clips = []
    for _ in range(n):
        freqs = rng.uniform(80, 4000, size=3)
        amps = rng.uniform(0.05, 0.3, size=3)
        wave = sum(a * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)) for a, f in zip(amps, freqs))
        wave = wave + rng.normal(0, rng.uniform(0.001, 0.05), size=t.shape)
        clips.append(wave * rng.uniform(0.2, 1.0))
    return np.asarray(clips, dtype=np.float32)


@pytest.fixture
def clips() -> np.ndarray:
    return tone_mix(4, 2.0)
