"""A video of a sound: one picture per window, each conditioned on its own window.

The authors' video script conditioned every frame on the whole file's embedding; here frame ``i``
is drawn for the embedding of the 1 s window centred on ``i * hop`` (frame mode of
:func:`w2clib.embed_audio`, 0.1 s hop = 10 frames per second), starting from frame ``i - 1``'s
latent, so the picture changes when the sound does and stays put when it does not.  The frames are
saved as PNG files and written, with the sound muxed in (AAC), to an mp4 (H.264) with PyAV.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .._av import mux_audio
from .._io import atomic_path
from ..audio import SAMPLE_RATE
from .optimize import generate

__all__ = ["VideoResult", "generate_video", "write_mp4"]


@dataclass
class VideoResult:
    path: Path  # the mp4
    frames: list[Path]  # one PNG per window, in time order
    fps: float  # frames per second (1 / hop)
    seconds_per_frame: float  # mean optimisation time of a frame


def write_mp4(path: str | os.PathLike[str], images: list[Any], fps: float, audio: np.ndarray | None = None,
              sample_rate: int = SAMPLE_RATE) -> Path:
    """Write ``images`` (PIL, all one size) as an H.264 mp4 at ``fps``, with mono ``audio`` (float in
    [-1, 1] at ``sample_rate``) as an AAC track; atomically."""
    import av

    if not images:
        raise ValueError("write_mp4 needs at least one image")
    width, height = images[0].size
    width, height = width - width % 2, height - height % 2  # 4:2:0 chroma needs even sides
    path = Path(path)
    with atomic_path(path) as tmp, av.open(str(tmp), "w", format="mp4") as out:
        video = out.add_stream("h264", rate=Fraction(fps).limit_denominator(1000))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = out.add_stream("aac", rate=sample_rate) if audio is not None else None
        if sound is not None:
            sound.layout = "mono"
        for image in images:
            frame = av.VideoFrame.from_ndarray(np.asarray(image.convert("RGB"))[:height, :width], format="rgb24")
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            mux_audio(out, sound, np.clip(np.asarray(audio, dtype=np.float32).reshape(1, -1), -1.0, 1.0), sample_rate)
    return path


def generate_video(audio: Any, model: Any, perceptor: Any, out: str | os.PathLike[str], *,
                   sample_rate: int = SAMPLE_RATE, window_seconds: float = 1.0, hop_seconds: float = 0.1,
                   steps: int = 300, frame_steps: int | None = None, frames_dir: str | os.PathLike[str] | None = None,
                   progress: bool = True, **kwargs: Any) -> VideoResult:
    """Draw one picture per audio window and write them, with the sound, to the mp4 ``out``.

    Args:
        audio: (n_samples,) mono waveform in [-1, 1] at ``sample_rate``.
        model: the Wav2CLIP encoder (:func:`w2clib.load_model`) distilled from ``perceptor``.
        perceptor: the teacher whose space the encoder's embeddings live in.
        window_seconds, hop_seconds: the windows (the authors: 1 s every 0.1 s -> 10 fps).
        steps: optimisation steps of the first frame; ``frame_steps`` (default ``steps // 4``) of
            every later frame, which starts from the previous frame's latent.
        frames_dir: where the frame PNGs go (default ``<out without suffix>_frames/``).
        **kwargs: passed to :func:`w2clib.generate.generate` (``size``, ``cutouts``, ``seed``, ``generator``, ...).
    """
    from ..api import embed_audio
    from ..audio import as_waveform_batch

    if not 0 < hop_seconds <= window_seconds:
        raise ValueError(f"need 0 < hop_seconds <= window_seconds, got {hop_seconds} and {window_seconds}")
    wave = as_waveform_batch(audio, sample_rate)[0].numpy()  # mono, 16 kHz
    frame_length, hop_length = int(round(window_seconds * SAMPLE_RATE)), int(round(hop_seconds * SAMPLE_RATE))
    embeddings = embed_audio(wave, model, frame_length=frame_length, hop_length=hop_length)[0]  # (D, frames)
    out = Path(out)
    folder = Path(frames_dir) if frames_dir is not None else out.with_name(out.stem + "_frames")
    folder.mkdir(parents=True, exist_ok=True)
    frame_steps = max(1, steps // 4) if frame_steps is None else frame_steps
    latent, paths, images, seconds = None, [], [], 0.0
    from tqdm.auto import tqdm

    for i in tqdm(range(embeddings.shape[1]), desc="frames", unit="frame", disable=not progress):
        result = generate(embeddings[:, i], perceptor, steps=steps if latent is None else frame_steps, init=latent,
                          progress=False, **kwargs)
        latent, seconds = result.latent, seconds + result.seconds
        path = folder / f"frame_{i:05d}.png"
        with atomic_path(path) as tmp:
            result.image.save(tmp, format="PNG")
        paths.append(path)
        images.append(result.image)
    fps = 1.0 / hop_seconds
    write_mp4(out, images, fps, wave, SAMPLE_RATE)
    return VideoResult(out, paths, fps, seconds / max(len(paths), 1))
