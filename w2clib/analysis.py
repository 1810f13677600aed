"""Small analyses of the encoder used by the notebooks: demo sounds and batch dependence."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .api import embed_audio
from .model import Wav2CLIP

__all__ = ["EncoderDemoConfig", "demo_sounds", "batch_dependence"]


@dataclass
class EncoderDemoConfig:
    """The ``encoder`` section of a profile (notebook 00)."""

    checkpoint: str | None = None  # None: random weights (offline); "wav2clip": the official release
    width: int = 64  # backbone width of the random-weights model (64 = the paper's ResNet-18)
    demo_seconds: float = 5.0  # length of each demo sound, s
    n_batches: int = 8  # how many different sets of batch-mates to try
    batch_size: int = 16  # the target clip plus 15 batch-mates, as in the reported bug


def demo_sounds(seconds: float, sample_rate: int = 16000, seed: int = 0) -> dict[str, np.ndarray]:
    """Four synthetic sounds with different spectro-temporal shapes, float32 at ``sample_rate``.

    A rising chirp, a harmonic tone with vibrato, band-limited noise bursts and a click train: enough
    to see what the front end does without any data download.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    chirp = np.sin(2 * np.pi * (100 * t + (3000 / (2 * seconds)) * t**2))
    f0 = 220 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    harmonic = sum(np.sin(k * phase) / k for k in range(1, 9)) * np.minimum(1, t * 10)
    noise = np.convolve(rng.normal(size=t.size), np.ones(8) / 8, mode="same")
    noise *= (np.sin(2 * np.pi * 1.5 * t) > 0.3).astype(float)
    clicks = np.zeros_like(t)
    clicks[:: sample_rate // 8] = 1.0
    clicks = np.convolve(clicks, np.exp(-np.arange(200) / 20.0), mode="same")
    sounds = {"chirp": chirp, "harmonic tone": harmonic, "noise bursts": noise, "click train": clicks}
    return {name: (0.5 * s / np.abs(s).max()).astype(np.float32) for name, s in sounds.items()}


def batch_dependence(
    model: Wav2CLIP, target: np.ndarray, *, n_batches: int = 8, batch_size: int = 16, seed: int = 0
) -> pd.DataFrame:
    """How much one clip's embedding moves when its batch-mates change, per normalisation mode.

    The target is embedded alone and inside ``n_batches`` batches of ``batch_size - 1`` random
    mates (noise and tones of random loudness, as in real batches of mixed recordings).  Returns one
    row per (norm, batch) with the max absolute and the cosine change vs the clip embedded alone.
    """
    rng = np.random.default_rng(seed)
    n = target.shape[-1]
    t = np.arange(n) / 16000
    rows = []
    alone = {norm: embed_audio(target, model, norm=norm)[0] for norm in ("batch", "clip")}
    for b in range(n_batches):
        mates = []
        for _ in range(batch_size - 1):
            tone = np.sin(2 * np.pi * rng.uniform(60, 6000) * t + rng.uniform(0, 6.3))
            wave = rng.uniform(0, 1) * tone + rng.normal(0, rng.uniform(1e-3, 0.3), n)
            mates.append(wave * 10 ** rng.uniform(-2, 0))
        batch = np.concatenate([target[None], np.asarray(mates, dtype=np.float32)])
        for norm, reference in alone.items():
            inside = embed_audio(batch, model, norm=norm, batch_size=batch_size)[0]
            cos = float(inside @ reference / (np.linalg.norm(inside) * np.linalg.norm(reference)))
            rows.append({"norm": norm, "batch": b, "max_abs_change": float(np.abs(inside - reference).max()),
                         "cosine_to_alone": cos})
    return pd.DataFrame(rows)
