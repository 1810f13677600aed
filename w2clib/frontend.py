"""The Wav2CLIP front end: power spectrogram -> log -> standardisation.

The released model was trained on ``Spectrogram(n_fft=512, hop_length=353)`` (Hann window, power 2,
centred frames: 257 bins, 454 frames per 10 s at 16 kHz), then ``log(x + 1e-7)``, then
``(x - mean) / (std + 1e-9)``.  Two normalisation modes:

* ``"batch"`` -- the original: one mean/std over the whole batch tensor.  A clip's embedding then
  depends on the other clips in the batch and on padding (upstream issue #21).  Kept for
  bit-compatibility with ``wav2clip==0.1.0``.
* ``"clip"`` -- the default here: mean/std per clip (per window in frame mode), so an embedding is a
  function of its own audio only.

``std`` is the unbiased (n - 1) estimate, as ``torch.std`` computes it in the reference code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import torch
import torchaudio

__all__ = [
    "N_FFT",
    "HOP_LENGTH",
    "MIN_SAMPLES",
    "Norm",
    "make_spectrogram",
    "pad_short",
    "log_power",
    "standardize",
    "global_stats",
    "check_norm",
]

N_FFT = 512
HOP_LENGTH = 353  # looks like a misreading of the VGGSound baseline's noverlap=353; the checkpoint uses it
LOG_EPS = 1e-7
STD_EPS = 1e-9
MIN_SAMPLES = N_FFT
"""Shorter clips are zero-padded at the end to this many samples (32 ms at 16 kHz): the centred STFT
reflect-pads by n_fft/2 and needs more input than that.  The reference code fails on such clips."""

Norm = Literal["clip", "batch"]


def check_norm(norm: str) -> None:
    if norm not in ("clip", "batch"):
        raise ValueError(
            f"norm must be 'clip' (per-clip statistics, the default) or 'batch' (the original "
            f"batch-wide statistics, for bit-compatibility with wav2clip 0.1.0), got {norm!r}"
        )


def make_spectrogram(n_fft: int = N_FFT, hop_length: int = HOP_LENGTH) -> torchaudio.transforms.Spectrogram:
    """The front end's STFT module (its Hann ``window`` buffer is part of the checkpoint layout)."""
    return torchaudio.transforms.Spectrogram(n_fft=n_fft, hop_length=hop_length)


def pad_short(wave: torch.Tensor, min_samples: int = MIN_SAMPLES) -> torch.Tensor:
    """Zero-pad the last axis at the end up to ``min_samples`` (no-op for longer input)."""
    short = min_samples - wave.shape[-1]
    return torch.nn.functional.pad(wave, (0, short)) if short > 0 else wave


def log_power(spectrogram: torch.nn.Module, wave: torch.Tensor) -> torch.Tensor:
    """(batch, samples) float32 waveform -> (batch, 1, 257, frames) log power spectrogram."""
    return torch.log(spectrogram(pad_short(wave).unsqueeze(1)) + LOG_EPS)


def standardize(
    logspec: torch.Tensor, norm: Norm, stats: tuple[float, float] | None = None
) -> torch.Tensor:
    """Standardise a (batch, 1, freq, time) log spectrogram.

    Args:
        norm: ``"clip"`` (statistics per item) or ``"batch"`` (one set for the whole tensor).
        stats: precomputed ``(mean, std)`` for ``"batch"`` when the batch is processed in chunks
            (see :func:`global_stats`); ``None`` computes them from ``logspec`` itself.
    """
    if norm == "clip":
        flat = logspec.flatten(1)
        mean = flat.mean(dim=1).view(-1, 1, 1, 1)
        std = flat.std(dim=1).view(-1, 1, 1, 1)
        return (logspec - mean) / (std + STD_EPS)
    check_norm(norm)
    if stats is None:
        return (logspec - torch.mean(logspec)) / (torch.std(logspec) + STD_EPS)
    mean, std = stats
    return (logspec - mean) / (std + STD_EPS)


def global_stats(chunks: Iterable[torch.Tensor]) -> tuple[float, float]:
    """Mean and unbiased std over the union of several log-spectrogram chunks.

    Accumulates in float64 so that processing a large batch in pieces reproduces the statistics of
    the whole tensor (as the reference computes them) to ~1e-7 relative.
    """
    count, total, total_sq = 0, 0.0, 0.0
    for chunk in chunks:
        values = chunk.detach().to(torch.float64)
        count += values.numel()
        total += float(values.sum())
        total_sq += float((values * values).sum())
    if count < 2:
        raise ValueError("need at least two spectrogram values to compute batch statistics")
    mean = total / count
    var = max((total_sq - count * mean * mean) / (count - 1), 0.0)
    return mean, var**0.5
