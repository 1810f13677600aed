"""Audio and frames from a video file: 16 kHz mono audio plus frames sampled at a fixed rate.

Decoding uses PyAV (``pip install av``; its wheels bundle FFmpeg, so no system ffmpeg is needed).
Frames are sampled "sample and hold": the frame shown on screen at ``start + k / fps`` for
``k = 0, 1, …`` -- at 30 fps on a 30 fps video that is every frame (the paper's 300 frames per
10 s clip); at the default 1 fps it is 10 frames.  Nothing is padded: a clip shorter than the window
gives fewer samples and frames, and the caller reports it.

Outputs are written atomically (a temporary file/folder renamed into place), so an interrupted
extraction never leaves a half clip that looks finished.
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._io import atomic_path

__all__ = ["ClipExtraction", "require_av", "read_audio", "read_frames", "extract_clip", "DEFAULT_FPS", "PAPER_FPS"]

DEFAULT_FPS = 1.0
"""Default frame rate: 10 frames per 10 s clip, ~30x cheaper than the paper (a reported deviation)."""
PAPER_FPS = 30.0
"""The paper's frame rate: every frame of a 30 fps video, 300 per clip, averaged into one target."""
_EPS = 1e-4  # seconds of timestamp slack (container time bases are rational)


@dataclass(frozen=True)
class ClipExtraction:
    """What :func:`extract_clip` produced.

    ``status``: ``"ok"``, ``"no_audio"`` (video without an audio stream: frames only) or
    ``"no_video"`` (audio only).  ``n_samples`` at the target rate, ``n_frames`` written,
    ``duration_s`` the length of the extracted audio (of the frames when there is no audio).
    """

    status: str
    n_samples: int
    n_frames: int
    duration_s: float


def require_av():
    """Import PyAV or explain how to install it."""
    try:
        import av
    except ImportError as err:
        raise ImportError(
            "reading video needs PyAV (FFmpeg bindings whose wheels bundle FFmpeg): pip install av "
            "(or pip install 'w2clib[paper]')"
        ) from err
    return av


def _check_window(start_s: float, duration_s: float | None) -> None:
    if start_s < 0:
        raise ValueError(f"start_s must be >= 0, got {start_s}")
    if duration_s is not None and duration_s <= 0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")


def read_audio(video_path: str | os.PathLike[str], *, start_s: float = 0.0, duration_s: float | None = None,
               sample_rate: int = 16000, stream_index: int = 0) -> np.ndarray | None:
    """Decode an audio stream of a media file (the first unless ``stream_index`` says which of its
    audio streams: a stems file holds several) as mono float32 at ``sample_rate``.

    Returns:
        (n_samples,) float32 in [-1, 1] covering ``[start_s, start_s + duration_s)`` (shorter if the
        file ends first), or ``None`` when the file has no audio stream.

    Raises:
        FileNotFoundError: missing file.  ValueError: the file cannot be decoded, or has no audio
        stream ``stream_index`` although it has audio.
    """
    av = require_av()
    _check_window(start_s, duration_s)
    path = Path(video_path)
    if not path.is_file():
        raise FileNotFoundError(f"video file not found: {path}")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            if not 0 <= stream_index < len(container.streams.audio):
                raise ValueError(f"{path} has {len(container.streams.audio)} audio stream(s); stream_index "
                                 f"{stream_index} does not exist")
            stream = container.streams.audio[stream_index]
            if start_s > 0:
                container.seek(int(start_s * 1_000_000), backward=True, any_frame=False)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            end_s = math.inf if duration_s is None else start_s + duration_s
            chunks, first_time = [], None
            for frame in container.decode(stream):
                if frame.time is not None and first_time is None:
                    first_time = float(frame.time)
                if frame.time is not None and frame.time >= end_s:
                    break
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):  # flush the resampler's delay line
                chunks.append(out.to_ndarray().reshape(-1))
    except av.error.FFmpegError as err:  # type: ignore[attr-defined]
        raise ValueError(f"cannot decode audio of {path}: {err}; the file may be damaged, re-download it") from err
    wave = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    # Align sample 0 with start_s: the decoder starts at a packet boundary before (or just after) it.
    shift = int(round((start_s - (first_time if first_time is not None else start_s)) * sample_rate))
    wave = wave[shift:] if shift >= 0 else np.concatenate([np.zeros(-shift, np.float32), wave])
    if duration_s is not None:
        wave = wave[: int(round(duration_s * sample_rate))]
    return np.ascontiguousarray(wave)


def read_frames(video_path: str | os.PathLike[str], *, start_s: float = 0.0, duration_s: float | None = None,
                fps: float = DEFAULT_FPS) -> list:
    """Frames on screen at ``start_s + k / fps`` (k = 0, 1, …) within the window, as PIL RGB images.

    Returns an empty list when the file has no video stream.  Targets after the end of the video get
    no frame (the list is shorter).
    """
    av = require_av()
    _check_window(start_s, duration_s)
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    path = Path(video_path)
    if not path.is_file():
        raise FileNotFoundError(f"video file not found: {path}")
    end_s = math.inf if duration_s is None else start_s + duration_s
    chosen: list = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return []
            stream = container.streams.video[0]
            rate = float(stream.average_rate or stream.guessed_rate or 25)
            if start_s > 0:
                container.seek(int(start_s * 1_000_000), backward=True, any_frame=False)
            held, held_time = None, None
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else (held_time or 0.0) + 1 / rate
                # every target strictly before this frame shows the held (previous) frame
                while True:
                    target = start_s + len(chosen) / fps
                    if target >= end_s - _EPS or t <= target + _EPS:
                        break
                    chosen.append(held if held is not None else frame)
                if start_s + len(chosen) / fps >= end_s - _EPS:
                    break
                held, held_time = frame, t
            if held is not None:  # targets inside the last frame's display time
                last_end = min(held_time + 1 / rate, end_s)
                while start_s + len(chosen) / fps < last_end - _EPS:
                    chosen.append(held)
            images = [frame.to_image() for frame in chosen]
    except av.error.FFmpegError as err:  # type: ignore[attr-defined]
        raise ValueError(f"cannot decode video of {path}: {err}; the file may be damaged, re-download it") from err
    return images


def extract_clip(video_path: str | os.PathLike[str], audio_out: str | os.PathLike[str],
                 frames_dir: str | os.PathLike[str], *, start_s: float = 0.0, duration_s: float | None = 10.0,
                 fps: float = DEFAULT_FPS, sample_rate: int = 16000, max_side: int | None = None,
                 jpeg_quality: int = 90) -> ClipExtraction:
    """Extract ``audio_out`` (16-bit PCM wav, mono, ``sample_rate``) and ``frames_dir/NNNN.jpg``.

    Args:
        video_path: the downloaded video.
        audio_out: wav file to write (not written when the video has no audio).
        frames_dir: folder of frames ``0000.jpg, 0001.jpg, …`` (replaced atomically).
        start_s: where the clip starts in the file (0 for pre-cut 10 s clips).
        duration_s: clip length (VGGSound: 10 s); ``None`` = to the end of the file.
        fps: frame sampling rate (1 by default; 30 as in the paper).
        max_side: downscale frames so the longer side is at most this many pixels (``None``: keep).

    Raises:
        FileNotFoundError: no video file.  ValueError: undecodable file, or neither audio nor video.
    """
    import soundfile as sf

    audio = read_audio(video_path, start_s=start_s, duration_s=duration_s, sample_rate=sample_rate)
    images = read_frames(video_path, start_s=start_s, duration_s=duration_s, fps=fps)
    if audio is None and not images:
        raise ValueError(f"{video_path}: no audio and no video stream could be read")
    frames_dir = Path(frames_dir)
    tmp = frames_dir.parent / f".{frames_dir.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for k, image in enumerate(images):
        if max_side and max(image.size) > max_side:
            scale = max_side / max(image.size)
            image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
        image.convert("RGB").save(tmp / f"{k:04d}.jpg", quality=jpeg_quality)
    if frames_dir.exists():
        shutil.rmtree(frames_dir)
    os.replace(tmp, frames_dir)
    if audio is not None:
        with atomic_path(audio_out) as out:
            sf.write(str(out), np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")
    status = "ok" if audio is not None and images else ("no_audio" if audio is None else "no_video")
    n_samples = 0 if audio is None else len(audio)
    covered = n_samples / sample_rate if audio is not None else len(images) / fps
    return ClipExtraction(status, n_samples, len(images), round(covered, 4))
