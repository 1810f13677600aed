"""Audio input: reading files, checking arrays, PCM conversion, mono, resampling, crop/pad.

Everything downstream (the front end, the encoder, training) sees float32 mono waveforms at
16 kHz in [-1, 1].  Files are read with ``soundfile`` (wav, flac, ogg, mp3 without FFmpeg);
``torchaudio`` is used only for resampling.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
import torch

from ._validate import check_sample_rate

__all__ = [
    "SAMPLE_RATE",
    "AudioArray",
    "AudioInfo",
    "audio_info",
    "load_audio",
    "as_waveform_batch",
    "resample",
    "pcm_to_float",
    "fit_length",
    "silent_rows",
    "check_peak",
    "check_resample",
    "MAX_PEAK",
]

SAMPLE_RATE = 16000
"""The encoder's sample rate in Hz (the released model was trained at 16 kHz)."""

AudioArray = Union[np.ndarray, torch.Tensor]

# Peak amplitude below which a clip counts as silent (about -100 dBFS).
SILENCE_PEAK = 1e-5

MAX_PEAK = 1e12
"""Largest accepted absolute sample value.  Float audio is expected in [-1, 1] (integer PCM cast to
float reaches ~2e9, which still embeds correctly); the power spectrum of a clip peaking near 1e17
overflows float32 and would give NaN embeddings, so anything above this bound is refused."""

# Largest windowed-sinc kernel (in floats) a resampling may build: torchaudio's kernel is
# (target / gcd) x (orig / gcd + taps), so a rate like 44101 Hz (gcd 1 with 16000) would need 2.8 GB.
# Real recordings come at odd rates too (Tux Paint ships 22254 Hz sounds: a 0.33 GiB kernel), so the
# bound is 1 GiB: it stops the absurd cases (1 Hz, 44101 Hz) and keeps every rate seen in real files.
_MAX_RESAMPLE_KERNEL = 1 << 28


@dataclass(frozen=True)
class AudioInfo:
    """What ``soundfile`` reports about a file without decoding it."""

    path: Path
    sample_rate: int
    n_samples: int
    channels: int

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sample_rate


def _open_error(path: Path, err: Exception) -> ValueError:
    return ValueError(
        f"cannot read audio file {str(path)!r}: {err}. Check that it is a complete wav/flac/ogg/mp3 "
        "file (re-download or re-extract it); other formats need converting first, e.g. "
        "`ffmpeg -i in.m4a -ac 1 -ar 16000 out.wav`."
    )


def audio_info(path: str | os.PathLike[str]) -> AudioInfo:
    """Sample rate, length and channel count of an audio file (header only).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file exists but cannot be decoded.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file not found: {str(path)!r}")
    try:
        info = sf.info(str(path))
    except Exception as err:  # soundfile raises LibsndfileError/RuntimeError variants
        raise _open_error(path, err) from err
    _warn_if_truncated(path, info)
    return AudioInfo(path, int(info.samplerate), int(info.frames), int(info.channels))


def _warn_if_truncated(path: Path, info: object) -> None:
    """Warn when libsndfile reports a data chunk shorter than the header promises (a cut-off file)."""
    log = str(getattr(info, "extra_info", ""))
    cut = re.search(r"\bdata\s*:\s*(\d+)\s*\(should be (\d+)\)", log)
    align = re.search(r"Block Align\s*:\s*(\d+)", log)
    if cut is None or int(cut.group(1)) <= int(cut.group(2)):
        return
    block = int(align.group(1)) if align and int(align.group(1)) > 0 else 1
    rate = max(int(getattr(info, "samplerate", 1)), 1)
    expected, found = int(cut.group(1)) // block, int(getattr(info, "frames", 0))
    warnings.warn(
        f"audio file {str(path)!r} is truncated: its header promises {expected} samples "
        f"({expected / rate:.3f} s) but it holds {found} ({found / rate:.3f} s); it is read as the "
        "shorter file. Re-download or re-extract it.",
        stacklevel=3,
    )


def load_audio(
    path: str | os.PathLike[str],
    sample_rate: int | None = SAMPLE_RATE,
    *,
    offset_s: float = 0.0,
    duration_s: float | None = None,
) -> np.ndarray:
    """Read an audio file as mono float32 at ``sample_rate``.

    Args:
        path: wav, flac, ogg or mp3 file.
        sample_rate: target rate in Hz; ``None`` keeps the file's own rate.
        offset_s: start reading this many seconds into the file.
        duration_s: read at most this many seconds (``None``: to the end).

    Returns:
        1-D float32 array (n_samples,), channels averaged, values as stored (normally [-1, 1]).

    Raises:
        FileNotFoundError: missing file.  ValueError: unreadable file or empty audio.
    """
    import soundfile as sf

    info = audio_info(path)
    start = int(round(offset_s * info.sample_rate))
    stop = None if duration_s is None else start + int(round(duration_s * info.sample_rate))
    try:
        data, sr = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)
    except Exception as err:
        raise _open_error(info.path, err) from err
    if data.shape[0] == 0:
        raise ValueError(f"audio file {str(info.path)!r} holds no samples in the requested range")
    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if sample_rate is not None and sr != sample_rate:
        wave = resample(torch.from_numpy(np.ascontiguousarray(wave)), sr, sample_rate).numpy()
    return np.ascontiguousarray(wave, dtype=np.float32)


def pcm_to_float(audio: AudioArray) -> torch.Tensor:
    """Convert integer PCM to float32 in [-1, 1]; float input is cast to float32 unchanged.

    int16 is divided by 2**15, int32 by 2**31, int8 by 2**7 and uint8 is centred on 128.
    """
    tensor = torch.as_tensor(audio) if not isinstance(audio, torch.Tensor) else audio
    dtype = tensor.dtype
    if dtype.is_floating_point:
        return tensor.to(torch.float32)
    if dtype == torch.uint8:
        return (tensor.to(torch.float32) - 128.0) / 128.0
    scales = {torch.int8: 2.0**7, torch.int16: 2.0**15, torch.int32: 2.0**31, torch.int64: 2.0**31}
    if dtype not in scales:
        raise TypeError(f"unsupported audio dtype {dtype}; pass float or integer PCM samples")
    return tensor.to(torch.float32) / scales[dtype]


def check_resample(orig_rate: int, target_rate: int = SAMPLE_RATE, *, name: str = "sample rate") -> None:
    """Refuse a rate pair whose resampling filter would need unbounded memory (no common factor)."""
    if orig_rate <= 0 or target_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {name} {orig_rate} -> {target_rate}")
    g = math.gcd(int(orig_rate), int(target_rate))
    up, down = target_rate // g, orig_rate // g
    taps = 2 * math.ceil(6 * down / (min(up, down) * 0.99)) + down
    if up * taps > _MAX_RESAMPLE_KERNEL:
        raise ValueError(
            f"{name} {orig_rate} Hz cannot be resampled to {target_rate} Hz with bounded memory: the two "
            f"rates share only the factor {g}, so the filter would take {up * taps * 4 / 2**30:.1f} GiB. "
            "Resample the audio to a standard rate first (e.g. 44100, 48000 or 16000 Hz)"
        )


def resample(wave: torch.Tensor, orig_rate: int, target_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Band-limited (windowed sinc) resampling along the last axis, float32 in and out.

    Raises:
        ValueError: a rate is not positive, or the pair needs an unbounded filter (see
            :func:`check_resample`).
    """
    if orig_rate == target_rate and orig_rate > 0:
        return wave
    check_resample(orig_rate, target_rate)
    import torchaudio.functional as AF

    return AF.resample(wave, int(orig_rate), int(target_rate))


# A 2-D input whose second axis is at most this long is taken for (samples, channels), not clips.
_MAX_CHANNELS = 8


def as_waveform_batch(
    audio: AudioArray, sample_rate: int = SAMPLE_RATE, *, name: str = "audio", channels: str | None = None
) -> torch.Tensor:
    """Validate user audio and return a float32 (n_clips, n_samples) tensor at 16 kHz.

    Args:
        audio: 1-D (n_samples,) or 2-D (n_clips, n_samples) numpy array or torch tensor, float
            in [-1, 1] or integer PCM, at ``sample_rate``.
        sample_rate: rate of ``audio`` in Hz, a whole number from 1 kHz to 384 kHz; anything other
            than 16 kHz is resampled.
        name: how error messages refer to the input.
        channels: ``None`` (default): 2-D means (n_clips, n_samples), and a second axis of at most 8
            samples is refused as a likely (samples, channels) array.  ``"first"``: ``audio`` is one
            multichannel clip (channels, samples); ``"last"``: one clip (samples, channels).  Both
            average the channels into one mono clip.

    Raises:
        TypeError: not an array, an unsupported dtype, or a non-integer ``sample_rate``.
        ValueError: wrong number of dimensions, no samples, NaN/inf or absurdly large values
            (> ``MAX_PEAK``), a likely (samples, channels) layout, or a rate out of range.
    """
    sample_rate = check_sample_rate(sample_rate)
    if channels not in (None, "first", "last"):
        raise ValueError(f"channels must be None, 'first' or 'last', got {channels!r}")
    check_resample(sample_rate, SAMPLE_RATE, name="sample_rate")
    if not isinstance(audio, (np.ndarray, torch.Tensor)):
        raise TypeError(
            f"{name} must be a numpy array or torch tensor, got {type(audio).__name__}; "
            "for files use w2clib.embed_files or w2clib.audio.load_audio"
        )
    if audio.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D (n_samples,) or 2-D (n_clips, n_samples), got shape "
            f"{tuple(audio.shape)}; downmix multichannel audio first (e.g. audio.mean(axis=-1))"
        )
    if channels is not None and audio.ndim != 2:
        raise ValueError(f"channels={channels!r} needs a 2-D {name}, got shape {tuple(audio.shape)}")
    if channels is None and audio.ndim == 2 and audio.shape[0] > 0 and 0 < audio.shape[1] <= _MAX_CHANNELS:
        raise ValueError(
            f"{name} of shape {tuple(audio.shape)} looks like (samples, channels); pass (channels, samples) "
            f"with channels='first' (or channels='last' for this layout), or downmix "
            "(audio.mean(axis=-1)) first. 2-D input means (n_clips, n_samples)"
        )
    wave = pcm_to_float(audio.detach() if isinstance(audio, torch.Tensor) else audio)
    if channels is not None and wave.numel() > 0:
        wave = wave.mean(dim=0 if channels == "first" else 1)
    wave = wave.reshape(1, -1) if wave.ndim == 1 else wave
    if wave.shape[0] == 0 or wave.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(audio.shape)}); pass at least one sample per clip")
    finite = torch.isfinite(wave)
    if not bool(finite.all()):
        bad = (~finite).any(dim=1).nonzero().flatten().tolist()
        raise ValueError(
            f"{name} contains NaN or infinite samples in clip(s) {bad[:10]}; "
            "clean the input (e.g. np.nan_to_num) before embedding"
        )
    check_peak(wave, name)
    if sample_rate != SAMPLE_RATE:
        wave = resample(wave.contiguous(), sample_rate, SAMPLE_RATE)
    return wave.contiguous()


def check_peak(wave: torch.Tensor, name: str = "audio") -> None:
    """Refuse (n, samples) audio whose absolute peak exceeds :data:`MAX_PEAK` (NaN embeddings otherwise)."""
    peaks = wave.abs().amax(dim=-1) if wave.numel() else wave.new_zeros(0)
    rows = (peaks > MAX_PEAK).nonzero().flatten().tolist()
    if rows:
        raise ValueError(
            f"{name} has samples up to {float(peaks.max()):.3g} in clip(s) {rows[:10]}, far outside [-1, 1] "
            f"(limit {MAX_PEAK:g}); scale it first, e.g. audio / np.abs(audio).max()"
        )


def silent_rows(wave: torch.Tensor, threshold: float = SILENCE_PEAK) -> list[int]:
    """Indices of rows of a (n, samples) batch whose peak amplitude is below ``threshold``."""
    peaks = wave.abs().amax(dim=-1)
    return (peaks < threshold).nonzero().flatten().tolist()


def warn_if_silent(wave: torch.Tensor, name: str = "audio") -> None:
    """Warn (not fail) about silent clips: their embedding is well defined but carries no content."""
    rows = silent_rows(wave)
    if rows:
        warnings.warn(
            f"{name}: clip(s) {rows[:10]} are silent (peak < {SILENCE_PEAK:g}); their embeddings "
            "describe silence only. Check the input gain or drop these clips.",
            stacklevel=3,
        )


def fit_length(
    wave: np.ndarray,
    n_samples: int,
    *,
    mode: str = "center",
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Crop or zero-pad the last axis of ``wave`` to exactly ``n_samples``.

    ``mode`` picks the crop window: ``"start"``, ``"center"`` or ``"random"`` (needs ``rng``).
    Padding is always appended at the end (zeros), matching how short clips are padded elsewhere.
    """
    length = wave.shape[-1]
    if length > n_samples:
        if mode == "start":
            start = 0
        elif mode == "center":
            start = (length - n_samples) // 2
        elif mode == "random":
            if rng is None:
                raise ValueError("fit_length(mode='random') needs an rng")
            start = int(rng.integers(0, length - n_samples + 1))
        else:
            raise ValueError(f"unknown crop mode {mode!r}; use 'start', 'center' or 'random'")
        return wave[..., start : start + n_samples]
    if length < n_samples:
        pad = [(0, 0)] * (wave.ndim - 1) + [(0, n_samples - length)]
        return np.pad(wave, pad)
    return wave
