"""Synthetic videos like YouTube's: an mp4 with H.264 video and AAC audio, written with PyAV."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._av import mux_audio

__all__ = ["write_video"]


def write_video(path: Path, seconds: float, *, fps: int = 30, audio: bool = True, sr: int = 44100,
                freq: float = 440.0, silent_until: float = 0.0, size: tuple[int, int] = (64, 48),
                still: bool = False, codec: str = "h264") -> Path:
    """Write a ``seconds`` long mp4 (``codec`` video, AAC stereo audio unless ``audio=False``).

    Frame ``i`` of ``n`` has red level ``round(255 * i / (n - 1))`` (every frame 128 when ``still``:
    a picture with a soundtrack); the audio is a ``freq`` Hz tone, silent before ``silent_until`` s.
    ``size`` is (width, height) in pixels, both even (H.264 with 4:2:0 chroma).
    """
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    n_frames = int(round(seconds * fps))
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        stream = out.add_stream("aac", rate=sr) if audio else None
        if stream is not None:
            stream.layout = "stereo"
        for i in range(n_frames):
            image = np.zeros((height, width, 3), np.uint8)
            image[..., 0] = 128 if still else round(255 * i / max(n_frames - 1, 1))
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if stream is not None:
            t = np.arange(int(round(seconds * sr))) / sr
            wave = (0.3 * np.sin(2 * np.pi * freq * t) * (t >= silent_until)).astype(np.float32)
            mux_audio(out, stream, np.stack([wave, wave]), sr)
    return path
