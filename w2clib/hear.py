"""The HEAR 2021 common API for Wav2CLIP (``hear-validator w2clib.hear --model PATH``).

HEAR (Holistic Evaluation of Audio Representations) evaluates an encoder through three
functions of a module: :func:`load_model`, :func:`get_scene_embeddings` (one vector per sound) and
:func:`get_timestamp_embeddings` (a sequence of vectors, each stamped with a time in ms).

Choices, and why:

* **Timestamp embeddings**: the embedding of a 1 s window (``window_ms``, the length the reference
  wrapper used) every 50 ms (``hop_size_ms``, the tolerance of HEAR's onset-based tasks).  Windows
  are *centred*: window ``i`` covers ``[t_i - 500 ms, t_i + 500 ms)`` with ``t_i = i * hop`` and the
  sound is zero-padded by half a window at both ends, so there are ``1 + n_samples // hop``
  windows, the first centred on 0 ms and the last on (or just before) the end of the sound, and
  even a sound shorter than a window gets embeddings.  The timestamp is the window's centre
  (:func:`w2clib.inference.frame_centers`), which is what HEAR expects; the reference wrapper
  reported window *starts*, 500 ms early, and scored 0.0 on both HEAR timestamp tasks.
* **Scene embeddings**: the embedding of the whole sound in one pass, as the model was trained
  (whole 10 s clips) and as the paper and :func:`w2clib.embed_audio` use it.  A mean of timestamp
  embeddings would cost ~20 forward passes per second of audio and would average 1 s views the
  model never saw as a whole clip.
* **Normalisation**: per sound (``norm="clip"``; per window for timestamp embeddings), so an
  embedding never depends on the other sounds in the batch or on HEAR's batch size.

No call changes the model: no attribute is set (the reference wrapper cleared the model's frame
settings inside ``get_scene_embeddings``, which broke every later timestamp call), BatchNorm always
runs with its running statistics and the caller's train/eval mode is restored, and nothing is
recorded for autograd.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from . import api
from .audio import check_peak
from .inference import Precision, check_precision, encode_waveforms, frame_centers, frame_count
from .model import Wav2CLIP

__all__ = [
    "HearWav2CLIP",
    "load_model",
    "get_scene_embeddings",
    "get_timestamp_embeddings",
    "DEFAULT_HOP_MS",
    "DEFAULT_WINDOW_MS",
]

DEFAULT_HOP_MS = 50.0
"""Spacing of timestamp embeddings in ms (HEAR suggests <= 50 ms for its 50 ms onset tolerance)."""

DEFAULT_WINDOW_MS = 1000.0
"""Length of the window behind each timestamp embedding in ms (the reference wrapper's 1 s)."""


class HearWav2CLIP(nn.Module):
    """A Wav2CLIP encoder with the attributes the HEAR API requires.

    Attributes:
        encoder: the wrapped :class:`w2clib.model.Wav2CLIP`.
        sample_rate: expected input rate in Hz (16000).
        scene_embedding_size, timestamp_embedding_size: the embedding size D (512 for the
            released model; the checkpoint's ``embed_dim`` otherwise).
    """

    def __init__(self, encoder: Wav2CLIP) -> None:
        super().__init__()
        if not isinstance(encoder, Wav2CLIP):
            raise TypeError(
                f"encoder must be a w2clib Wav2CLIP model, got {type(encoder).__name__}"
            )
        self.encoder = encoder
        self.sample_rate: int = int(encoder.sample_rate)
        self.scene_embedding_size: int = int(encoder.embed_dim)
        self.timestamp_embedding_size: int = int(encoder.embed_dim)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """(n_sounds, n_samples) -> (n_sounds, D): see :func:`get_scene_embeddings`."""
        return get_scene_embeddings(audio, self)


def load_model(
    model_file_path: str | os.PathLike[str] = "", *, device: str | torch.device | None = None
) -> HearWav2CLIP:
    """Load an encoder for HEAR.

    Args:
        model_file_path: ``""`` loads the official release by name (downloaded once and verified;
            offline, the error says where to place the file by hand); otherwise anything
            :func:`w2clib.load_model` accepts: an official-layout ``.pt`` file, a folder (or
            ``.safetensors`` file) written by :func:`w2clib.checkpoints.save_checkpoint`, or a
            registry name.
        device: where to put the model; ``None`` picks CUDA when available, else CPU (HEAR's
            tools move the model to their device afterwards anyway).

    Returns:
        :class:`HearWav2CLIP` in eval mode with int attributes ``sample_rate``,
        ``scene_embedding_size`` and ``timestamp_embedding_size``.
    """
    if not isinstance(model_file_path, (str, os.PathLike)):
        raise TypeError(
            f"model_file_path must be a path or '' (the official checkpoint), got "
            f"{type(model_file_path).__name__}"
        )
    checkpoint = None if model_file_path == "" else model_file_path
    return HearWav2CLIP(api.load_model(checkpoint, device=device)).eval()


def _encoder(model: object) -> Wav2CLIP:
    if isinstance(model, HearWav2CLIP):
        return model.encoder
    if isinstance(model, Wav2CLIP):
        return model
    raise TypeError(
        f"model must come from w2clib.hear.load_model (or w2clib.load_model), got "
        f"{type(model).__name__}; note the argument order get_*_embeddings(audio, model)"
    )


def _check_audio(audio: object) -> torch.Tensor:
    """Validate HEAR input and return it as float32 (n_sounds, n_samples), detached, same device."""
    if not isinstance(audio, torch.Tensor):
        raise TypeError(
            f"audio must be a torch.Tensor of shape (n_sounds, n_samples), got "
            f"{type(audio).__name__}; convert numpy arrays with torch.from_numpy(x)"
        )
    if audio.ndim != 2:
        raise ValueError(
            f"audio must be 2-D (n_sounds, n_samples) mono, got shape {tuple(audio.shape)}; "
            "add a batch axis with audio.unsqueeze(0) or downmix channels first"
        )
    if not audio.dtype.is_floating_point:
        raise TypeError(
            f"audio must hold float samples in [-1, 1], got dtype {audio.dtype}; "
            "convert integer PCM first (e.g. int16 / 32768)"
        )
    if audio.shape[1] == 0:
        raise ValueError(
            f"audio has no samples (shape {tuple(audio.shape)}); pass at least one sample per sound"
        )
    wave = audio.detach().to(torch.float32)
    if not bool(torch.isfinite(wave).all()):
        bad = (~torch.isfinite(wave)).any(dim=1).nonzero().flatten().tolist()
        raise ValueError(
            f"audio contains NaN or infinite samples in sound(s) {bad[:10]}; clean the input first"
        )
    check_peak(wave, "audio")
    return wave


def _samples(ms: float, sample_rate: int, name: str) -> int:
    if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not ms > 0:
        raise ValueError(f"{name} must be a positive number of milliseconds, got {ms!r}")
    samples = round(ms * sample_rate / 1000.0)
    if samples < 1:
        raise ValueError(f"{name}={ms} ms is shorter than one sample at {sample_rate} Hz")
    return samples


def get_timestamp_embeddings(
    audio: torch.Tensor,
    model: HearWav2CLIP,
    hop_size_ms: float = DEFAULT_HOP_MS,
    window_ms: float = DEFAULT_WINDOW_MS,
    batch_size: int = 64,
    precision: Precision = "fp32",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings of centred windows at regular times.

    Args:
        audio: float (n_sounds, n_samples) mono in [-1, 1] at ``model.sample_rate`` (16 kHz),
            on the model's device.
        model: from :func:`load_model`.
        hop_size_ms: spacing of the timestamps (default 50 ms); rounded to whole samples
            (800 at 16 kHz), and the timestamps use the rounded hop, so they stay exact.
        window_ms: length of each window (default 1000 ms = 16000 samples).
        batch_size: windows per forward pass; bounds memory, never changes the result.
        precision: ``"fp32"`` (exact) or ``"bf16"`` (autocast, faster on bf16 CPUs and GPUs).

    Returns:
        ``(embeddings, timestamps)``: float32 (n_sounds, T, D) and float32 (n_sounds, T) in ms,
        on ``audio``'s device, with ``T = 1 + n_samples // hop`` for an even window length and
        ``timestamps[:, i]`` the centre of window ``i`` (``i * hop_size_ms``).  The sound is
        zero-padded by half a window at each end.
    """
    encoder = _encoder(model)
    wave = _check_audio(audio)
    check_precision(precision)
    sr = int(encoder.sample_rate)
    hop = _samples(hop_size_ms, sr, "hop_size_ms")
    window = _samples(window_ms, sr, "window_ms")
    n_sounds, n_samples = wave.shape
    n_frames = frame_count(n_samples, window, hop, center=True)
    centers_s = frame_centers(n_frames, window, hop, center=True, sample_rate=sr)  # float64
    centers_ms = torch.from_numpy(centers_s * 1000.0)
    timestamps = centers_ms.to(torch.float32).expand(n_sounds, n_frames).contiguous()
    if n_sounds == 0:
        embeddings = torch.empty(0, n_frames, encoder.embed_dim)
    else:
        frames = encode_waveforms(
            encoder, wave, norm="clip", precision=precision, batch_size=batch_size,
            frame_length=window, hop_length=hop, center=True,
        )  # (n, D, T) on the CPU
        embeddings = frames.transpose(1, 2).contiguous()
    return embeddings.to(audio.device), timestamps.to(audio.device)


def get_scene_embeddings(
    audio: torch.Tensor,
    model: HearWav2CLIP,
    batch_size: int = 32,
    precision: Precision = "fp32",
) -> torch.Tensor:
    """One embedding per sound: the model applied to the whole sound.

    Args:
        audio: float (n_sounds, n_samples) mono in [-1, 1] at 16 kHz, on the model's device.
        model: from :func:`load_model`.
        batch_size: sounds per forward pass; bounds memory, never changes the result.
        precision: ``"fp32"`` (exact) or ``"bf16"``.

    Returns:
        float32 (n_sounds, D) on ``audio``'s device; equal to ``w2clib.embed_audio(audio, encoder)``
        (per-sound normalisation, not L2-normalised).
    """
    encoder = _encoder(model)
    wave = _check_audio(audio)
    check_precision(precision)
    if wave.shape[0] == 0:
        return torch.empty(0, encoder.embed_dim, device=audio.device)
    out = encode_waveforms(encoder, wave, norm="clip", precision=precision, batch_size=batch_size)
    return out.to(audio.device)
