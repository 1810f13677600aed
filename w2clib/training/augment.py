"""Waveform augmentations of the training loader: each a pure function of (wave, rng, settings).

All work on one float32 mono clip at 16 kHz in numpy, inside the loader's per-item step, so that they
cost no GPU time, run in the DataLoader workers when there are any, and are reproducible from the
item's own random generator (:class:`w2clib.training.loader.PairDataset` seeds one per item).

Why not ``torch-audiomentations`` or torchaudio's transforms: they work on batched tensors on the
training device and draw from torch's global generator, whereas the loader's contract is that an
item's crop and augmentation depend only on (seed, epoch, step, slot) -- so a resumed or re-sharded
run sees the same batches.  The transforms here are the few the embedded recipe measured
(benchmarks/real_sweep.py); each is a few lines of FFT or interpolation.

* :func:`random_eq` -- a random smooth equaliser (another microphone or instrument body);
* :func:`change_speed` -- tape-style speed change (pitch and tempo together), by interpolation;
* :func:`add_reverb` -- a synthetic room: exponentially decaying noise with a random RT60;
* :func:`mask_time` / :func:`mask_frequency` -- SpecAugment-style masks, applied to the waveform
  (zeroed spans; a band removed in the spectrum) so the front end stays untouched;
* :func:`mix_pair` -- two clips at equal loudness with weights (w, 1 - w); the caller mixes their
  teacher targets with the same weights (a "mixup" of sounds and targets).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "EQ_POINTS_HZ",
    "add_reverb",
    "change_speed",
    "mask_frequency",
    "mask_time",
    "mix_pair",
    "random_eq",
]

SAMPLE_RATE = 16000
EQ_POINTS_HZ = np.geomspace(50.0, 8000.0, 6)  # where the random EQ's gains are drawn


def _rms(wave: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))


def random_eq(wave: np.ndarray, rng: np.random.Generator, max_db: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``wave`` (samples,) through a random smooth EQ: gains uniform in [-max_db, max_db] dB at
    :data:`EQ_POINTS_HZ`, linear in log-frequency between them (flat beyond), applied by FFT."""
    gains = rng.uniform(-max_db, max_db, size=len(EQ_POINTS_HZ))
    freqs = np.fft.rfftfreq(len(wave), 1.0 / sample_rate)
    curve = np.interp(np.log(np.maximum(freqs, 1.0)), np.log(EQ_POINTS_HZ), gains)
    return np.fft.irfft(np.fft.rfft(wave) * 10.0 ** (curve / 20.0), len(wave)).astype(np.float32)


def change_speed(wave: np.ndarray, rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """Play ``wave`` at a speed factor uniform in [low, high] (> 1: faster and higher), keeping its
    length: a faster clip is zero-padded at the end, a slower one cut.  Linear interpolation is
    enough here: the front end keeps 8 kHz of bandwidth and the factors are near 1."""
    factor = float(rng.uniform(low, high))
    n = len(wave)
    positions = np.arange(n, dtype=np.float64) * factor
    inside = positions <= n - 1
    out = np.zeros(n, dtype=np.float32)
    out[inside] = np.interp(positions[inside], np.arange(n, dtype=np.float64), wave)
    return out


def add_reverb(wave: np.ndarray, rng: np.random.Generator, rt60_low: float, rt60_high: float,
               sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Convolve with a synthetic room response (a unit direct path, then Gaussian noise decaying by
    60 dB over an RT60 uniform in [rt60_low, rt60_high] s, at a random direct-to-reverberant ratio
    of 0-10 dB), keep the clip's length and its RMS level."""
    rt60 = float(rng.uniform(rt60_low, rt60_high))
    length = max(1, int(rt60 * sample_rate))
    t = np.arange(length) / sample_rate
    tail = rng.standard_normal(length) * np.power(10.0, -3.0 * t / rt60)
    tail[0] = 0.0
    drr_db = rng.uniform(0.0, 10.0)  # direct energy over tail energy
    tail *= 1.0 / (np.sqrt(np.sum(tail ** 2)) * 10.0 ** (drr_db / 20.0) + 1e-12)
    response = tail
    response[0] = 1.0
    size = len(wave) + length - 1
    nfft = 1 << (size - 1).bit_length()
    wet = np.fft.irfft(np.fft.rfft(wave, nfft) * np.fft.rfft(response, nfft), nfft)[: len(wave)]
    before, after = _rms(wave), _rms(wet)
    if after > 0:
        wet *= before / after
    return wet.astype(np.float32)


def mask_time(wave: np.ndarray, rng: np.random.Generator, count: int, max_samples: int) -> np.ndarray:
    """Zero ``count`` spans, each of a length uniform in [0, max_samples] at a uniform position."""
    out = wave.copy()
    n = len(out)
    for _ in range(count):
        width = int(rng.integers(0, max_samples + 1))
        start = int(rng.integers(0, max(1, n - width + 1)))
        out[start:start + width] = 0.0
    return out


def _mel(hz: np.ndarray | float) -> np.ndarray | float:
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def mask_frequency(wave: np.ndarray, rng: np.random.Generator, count: int, max_fraction: float,
                   sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Remove ``count`` frequency bands, each of a width uniform in [0, max_fraction] of the mel
    range up to Nyquist at a uniform position: SpecAugment's frequency mask, in the spectrum."""
    spectrum = np.fft.rfft(wave)
    mel = _mel(np.fft.rfftfreq(len(wave), 1.0 / sample_rate))
    top = float(_mel(sample_rate / 2))
    for _ in range(count):
        width = float(rng.uniform(0.0, max_fraction)) * top
        start = float(rng.uniform(0.0, top - width))
        spectrum[(mel >= start) & (mel < start + width)] = 0.0
    return np.fft.irfft(spectrum, len(wave)).astype(np.float32)


def mix_pair(wave: np.ndarray, other: np.ndarray, weight: float) -> np.ndarray:
    """``weight * wave + (1 - weight) * other`` after scaling ``other`` to ``wave``'s RMS level
    (equal loudness, so the weight says how much of each is heard); a silent ``other`` adds nothing."""
    a, b = _rms(wave), _rms(other)
    scaled = other * np.float32(a / b) if b > 0 else np.zeros_like(other)
    return (np.float32(weight) * wave + np.float32(1.0 - weight) * scaled).astype(np.float32)
