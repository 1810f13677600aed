"""Random access to long audio files at 16 kHz without decoding or resampling the whole file.

``StreamReader.read(start, stop)`` returns target-rate samples ``[start, stop)`` (zeros outside the
file) by reading only the native-rate samples around that range and resampling them with a margin.
Block starts are aligned to the rate ratio (e.g. 441 native : 160 target samples for 44.1 kHz), so
the result equals resampling the whole file to within float rounding, and memory stays proportional
to the requested range.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import torch

from .audio import MAX_PEAK, SAMPLE_RATE, _open_error, audio_info, check_resample, resample

__all__ = ["StreamReader"]

# Context (target-rate samples) read on each side of a block before resampling; the windowed-sinc
# kernel of torchaudio spans only a few samples at these ratios, so 1024 is ample.
_MARGIN = 1024


class StreamReader:
    """Read a mono, 16 kHz view of an audio file in arbitrary ranges (bounded memory)."""

    def __init__(self, path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE) -> None:
        self.info = audio_info(path)
        self.sample_rate = sample_rate
        native = self.info.sample_rate
        check_resample(native, sample_rate, name=f"audio file {str(self.info.path)!r}: sample rate")
        g = math.gcd(native, sample_rate)
        self._up, self._down = sample_rate // g, native // g  # target : native samples per block
        self.n_samples = math.ceil(self.info.n_samples * sample_rate / native)
        if self.info.n_samples == 0:
            raise ValueError(f"audio file {str(self.info.path)!r} holds no samples")

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sample_rate

    def _read_native(self, start: int, stop: int) -> np.ndarray:
        """Native-rate mono samples [start, stop), zero-filled outside the file."""
        import soundfile as sf

        lo, hi = max(start, 0), min(stop, self.info.n_samples)
        out = np.zeros(stop - start, dtype=np.float32)
        if hi > lo:
            try:
                data, _ = sf.read(str(self.info.path), start=lo, stop=hi, dtype="float32", always_2d=True)
            except Exception as err:
                raise _open_error(self.info.path, err) from err
            if data.shape[0] < hi - lo:
                warnings.warn(
                    f"audio file {str(self.info.path)!r} ends early: its header promises "
                    f"{self.info.n_samples} samples but reading stopped at {lo + data.shape[0]}; the rest "
                    "reads as silence. Re-download or re-extract it.", stacklevel=4,
                )
            self._check_values(data, lo)
            out[lo - start : lo - start + data.shape[0]] = data.mean(axis=1)
        return out

    def _check_values(self, data: np.ndarray, first: int) -> None:
        """Refuse NaN/inf or absurdly large samples, naming the file and the first bad sample's time."""
        bad = ~np.isfinite(data).all(axis=1)
        what = "a NaN or infinite sample"
        if not bad.any():
            bad = (np.abs(data) > MAX_PEAK).any(axis=1)
            what = f"a sample beyond {MAX_PEAK:g} (audio should lie in [-1, 1])"
            if not bad.any():
                return
        index = first + int(np.argmax(bad))
        raise ValueError(
            f"audio file {str(self.info.path)!r} holds {what} at {index / self.info.sample_rate:.6f} s "
            f"(sample {index}); its embedding would be NaN. Repair or re-export the file"
        )

    def read(self, start: int, stop: int) -> np.ndarray:
        """Target-rate samples [start, stop) as float32; positions outside the file read as zeros."""
        if stop <= start:
            return np.zeros(0, dtype=np.float32)
        if self._up == self._down:
            return self._read_native(start, stop)
        up, down = self._up, self._down
        first = math.floor((start - _MARGIN) / up) * up  # aligned: maps to an integer native index
        last = math.ceil((stop + _MARGIN) / up) * up
        native = self._read_native(first // up * down, last // up * down)
        block = resample(torch.from_numpy(native), self.info.sample_rate, self.sample_rate).numpy()
        out = block[start - first : stop - first].copy()
        # Whole-file resampling ends at n_samples and pads with exact zeros after it.
        if stop > self.n_samples:
            out[max(0, self.n_samples - start) :] = 0.0
        if start < 0:
            out[: min(-start, out.shape[0])] = 0.0
        return out
