"""PyAV helpers shared by the writers of mp4 files (generated videos, the rehearsal's stand-in videos)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

__all__ = ["mux_audio"]


def mux_audio(container: Any, stream: Any, planar: np.ndarray, sample_rate: int, chunk: int = 1024) -> None:
    """Encode ``planar`` (channels, samples) float32 audio into ``stream`` of ``container`` (PyAV), in
    ``chunk``-sample frames (AAC's frame size), and flush the encoder."""
    import av

    layout = "mono" if planar.shape[0] == 1 else "stereo"
    for start in range(0, planar.shape[1], chunk):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planar[:, start:start + chunk], dtype=np.float32),
                                           format="fltp", layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = sample_rate, start, Fraction(1, sample_rate)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
