"""Audio files for stand-in datasets: a tone plus noise, and a file that only pretends to be audio."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

__all__ = ["Expected", "write_wav", "write_corrupt", "md5_of"]


def write_wav(path: Path, seconds: float, sr: int = 44100, *, channels: int = 1, freq: float = 440.0,
              subtype: str = "PCM_16", seed: int = 0) -> Path:
    """A ``freq`` Hz tone plus a little noise: ``seconds`` long, ``channels`` channels, ``subtype`` samples."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    rng = np.random.default_rng(seed)
    wave = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(n)
    data = np.stack([wave] * channels, axis=1) if channels > 1 else wave
    sf.write(str(path), data.astype(np.float32), sr, subtype=subtype)
    return path


def write_corrupt(path: Path) -> Path:
    """A file with an audio name holding no decodable audio (what a failed download leaves)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"<html>Rate limit exceeded</html>" + bytes(range(256)) * 8)
    return path


def md5_of(path: Path) -> str:
    """Hex MD5 of a file (the checksum the public releases publish)."""
    return hashlib.md5(path.read_bytes()).hexdigest()


@dataclass
class Expected:
    """What a dataset reader must report for a stand-in: every clip id, and the broken files by kind."""

    root: Path
    clip_ids: list[str]
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    too_short: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
