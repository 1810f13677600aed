"""The public embedding API: load a model, embed arrays, embed files.

Example::

    import w2clib
    model = w2clib.load_model()                       # the official checkpoint (downloads once)
    emb = w2clib.embed_audio(wave, model, sample_rate=44100)   # (n, 512) float32
    frames = w2clib.embed_audio(wave, model, frame_length=16000, hop_length=800)  # (n, 512, T)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from ._validate import check_number
from .audio import SAMPLE_RATE, AudioArray, as_waveform_batch, warn_if_silent
from .checkpoints import load_checkpoint
from .frontend import Norm, check_norm
from .inference import (
    Precision,
    check_batch_size,
    check_frames,
    check_precision,
    encode_batches,
    encode_waveforms,
    frame_count,
    frame_offset,
)
from .model import ModelConfig, Wav2CLIP, build_model
from .stream import StreamReader

__all__ = ["load_model", "get_model", "embed_audio", "embed_files", "file_list"]

PathLike = str | os.PathLike[str]


def _resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def load_model(
    checkpoint: PathLike | None = None,
    *,
    pretrained: bool = True,
    device: str | torch.device | None = None,
    verify: bool = True,
    allow_unfinished: bool = False,
) -> Wav2CLIP:
    """Load a Wav2CLIP encoder in eval mode.

    Args:
        checkpoint: ``None`` (the official release), a registry name (``"wav2clip"``), an
            official-layout ``.pt`` file, or a folder / ``.safetensors`` file written by w2clib.
        pretrained: ``False`` builds the paper architecture with random weights (no download);
            ``checkpoint`` must then be ``None``.
        device: ``"cpu"``, ``"cuda"``, ... ; ``None`` picks CUDA when available, else CPU.
        verify: check a w2clib folder's weights against the SHA-256 in its ``config.json`` (a folder
            without one is refused); ``False`` skips the check -- only for files you made yourself.
        allow_unfinished: load a training folder whose run has not finished (killed or still
            running); refused by default so a half-trained encoder is never taken for the result.

    Returns:
        The model (``torch.nn.Module``), parameters in channels-last layout for fast convolutions.
    """
    if not pretrained:
        if checkpoint is not None:
            raise ValueError("pass either checkpoint=... or pretrained=False (random weights), not both")
        model = build_model(ModelConfig())
    else:
        model = load_checkpoint("wav2clip" if checkpoint is None else checkpoint, verify=verify,
                                allow_unfinished=allow_unfinished)
    model = model.to(_resolve_device(device)).to(memory_format=torch.channels_last)
    return model.eval()


def get_model(
    device: str = "cpu",
    pretrained: bool = True,
    frame_length: int | None = None,
    hop_length: int | None = None,
) -> Wav2CLIP:
    """Call-compatible with ``wav2clip.get_model``: the same model, correct by default.

    Unlike the reference, ``pretrained=False`` gives the full model (backbone + head) in eval mode,
    and frame settings are remembered as defaults for :func:`embed_audio`.
    """
    frame_length, hop_length = check_frames(frame_length, hop_length)
    model = load_model(pretrained=pretrained, device=device)
    model.frame_length, model.hop_length = frame_length, hop_length
    return model


def _frame_settings(
    model: Wav2CLIP, frame_length: int | None, hop_length: int | None
) -> tuple[int | None, int | None]:
    if frame_length is None and hop_length is None:
        frame_length, hop_length = getattr(model, "frame_length", None), getattr(model, "hop_length", None)
    return check_frames(frame_length, hop_length)


def _check_model(model: object) -> Wav2CLIP:
    if not isinstance(model, Wav2CLIP):
        raise TypeError(
            f"model must be a w2clib Wav2CLIP model (from w2clib.load_model), got {type(model).__name__}; "
            "note the argument order embed_audio(audio, model)"
        )
    return model


def embed_audio(
    audio: AudioArray,
    model: Wav2CLIP,
    *,
    sample_rate: int = SAMPLE_RATE,
    norm: Norm = "clip",
    precision: Precision = "fp32",
    batch_size: int = 32,
    frame_length: int | None = None,
    hop_length: int | None = None,
    center: bool = True,
    channels: str | None = None,
) -> np.ndarray:
    """Embed waveforms.

    Args:
        audio: (n_samples,) or (n_clips, n_samples), numpy or torch, float in [-1, 1] or integer
            PCM, mono, at ``sample_rate`` (resampled to 16 kHz when different).
        model: from :func:`load_model`.
        norm: ``"clip"`` (default; an embedding depends only on its own clip) or ``"batch"``
            (statistics over the whole input, reproducing ``wav2clip`` 0.1.0 to <= 1e-5).
        precision: ``"fp32"`` (exact) or ``"bf16"`` (autocast; ~2x faster on CPUs with bf16 and on
            GPUs; cosine similarity >= 0.999 to fp32; fp32 with one warning where bf16 is not
            native, see :mod:`w2clib.cpu_features`).
        batch_size: clips (or windows) per forward pass; bounds memory, never changes results.
        frame_length, hop_length: frame mode, in samples at 16 kHz (e.g. 16000 and 800 for 1 s
            windows every 50 ms); see :mod:`w2clib.inference` for the centring and padding rule.
        center: centre windows on ``i * hop_length`` (default) or start them there (reference).
        channels: ``None``: 2-D audio is (n_clips, n_samples) and a second axis of <= 8 samples is
            refused as a likely (samples, channels) array; ``"first"`` / ``"last"``: 2-D audio is
            ONE clip laid out (channels, samples) / (samples, channels), averaged to mono.

    Returns:
        float32 (n_clips, D) in clip mode, (n_clips, D, n_frames) in frame mode; D = 512 for the
        released model.  Not L2-normalised.
    """
    model = _check_model(model)
    check_norm(norm)
    check_precision(precision)
    batch_size = check_batch_size(batch_size)
    frame_length, hop_length = _frame_settings(model, frame_length, hop_length)
    wave = as_waveform_batch(audio, sample_rate, channels=channels)
    warn_if_silent(wave)
    out = encode_waveforms(
        model, wave, norm=norm, precision=precision, batch_size=batch_size,
        frame_length=frame_length, hop_length=hop_length, center=center,
    )
    return out.numpy()


# ------------------------------------------------------------------------------------------------
# Files


def _embed_long_clip(
    model: Wav2CLIP, reader: StreamReader, segment: int, precision: Precision, batch_size: int
) -> torch.Tensor:
    """Length-weighted mean of the embeddings of consecutive ``segment``-sample pieces."""
    bounds = [(s, min(s + segment, reader.n_samples)) for s in range(0, reader.n_samples, segment)]
    embeddings, weights = [], []
    for start, stop in bounds:  # pieces differ in length only at the end: embed one at a time
        piece = torch.from_numpy(reader.read(start, stop)).unsqueeze(0)
        embeddings.append(encode_batches(model, lambda p=piece: iter([p]), norm="clip", precision=precision))
        weights.append(stop - start)
    w = torch.tensor(weights, dtype=torch.float32).unsqueeze(1)
    return (torch.cat(embeddings) * w).sum(0) / w.sum()


def _embed_frames_streamed(
    model: Wav2CLIP,
    reader: StreamReader,
    frame_length: int,
    hop_length: int,
    center: bool,
    precision: Precision,
    batch_size: int,
) -> np.ndarray:
    n_frames = frame_count(reader.n_samples, frame_length, hop_length, center)
    offset = frame_offset(frame_length, center)

    def batches() -> Iterator[torch.Tensor]:
        for first in range(0, n_frames, batch_size):
            last = min(first + batch_size, n_frames)
            start = first * hop_length + offset
            stop = (last - 1) * hop_length + offset + frame_length
            block = torch.from_numpy(reader.read(start, stop))
            yield block.unfold(0, frame_length, hop_length)

    return encode_batches(model, batches, norm="clip", precision=precision).T.numpy()


def embed_files(
    paths: Sequence[PathLike] | PathLike,
    model: Wav2CLIP,
    *,
    norm: Norm = "clip",
    precision: Precision = "fp32",
    batch_size: int = 32,
    frame_length: int | None = None,
    hop_length: int | None = None,
    center: bool = True,
    max_clip_seconds: float = 30.0,
    segment_seconds: float = 10.0,
    progress: bool = False,
) -> np.ndarray | list[np.ndarray]:
    """Embed audio files of any length with bounded memory.

    Files are read with soundfile (wav, flac, ogg, mp3), downmixed and resampled to 16 kHz in
    blocks.  Clip mode: a file up to ``max_clip_seconds`` is embedded whole (same result as
    :func:`embed_audio` on its samples); a longer file is cut into consecutive ``segment_seconds``
    pieces (10 s, the training length) whose embeddings are averaged, weighted by length.
    Frame mode streams windows, so a 1-hour file needs memory for its embeddings only.

    Returns:
        Clip mode: float32 (n_files, D).  Frame mode: a list of float32 (D, n_frames_i) arrays;
        window centres are :func:`w2clib.inference.frame_centers`.

    Raises:
        FileNotFoundError / ValueError naming the file that is missing, unreadable, or holds NaN/inf
        or absurdly large samples (with the time of the first one).  A file shorter than its header
        says (truncated) is embedded as read, with a warning naming it.
    """
    model = _check_model(model)
    if norm != "clip":
        check_norm(norm)
        raise ValueError(
            "embed_files supports norm='clip' only: batch-wide statistics across files of different "
            "lengths are not defined; load the files and call embed_audio(..., norm='batch') instead"
        )
    check_precision(precision)
    batch_size = check_batch_size(batch_size)
    max_clip_seconds = check_number("max_clip_seconds", max_clip_seconds, high=24 * 3600.0)
    segment_seconds = check_number("segment_seconds", segment_seconds, low=0.1, low_inclusive=True, high=600.0)
    frame_length, hop_length = _frame_settings(model, frame_length, hop_length)
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if not isinstance(paths, Sequence) or not all(isinstance(p, (str, os.PathLike)) for p in paths):
        raise TypeError(f"paths must be a path or a sequence of paths (str or os.PathLike), got {paths!r:.200}")
    readers = [StreamReader(p) for p in paths]  # opens headers only: fails early on a bad path
    from tqdm.auto import tqdm

    if frame_length is not None and hop_length is not None:
        return [
            _embed_frames_streamed(model, r, int(frame_length), int(hop_length), center, precision, batch_size)
            for r in tqdm(readers, desc="embedding", unit="file", disable=not progress)
        ]

    out = torch.empty(len(readers), model.embed_dim)
    limit = int(max_clip_seconds * SAMPLE_RATE)
    segment = int(segment_seconds * SAMPLE_RATE)
    short = [i for i, r in enumerate(readers) if r.n_samples <= limit]
    bar = tqdm(total=len(readers), desc="embedding", unit="file", disable=not progress)
    # Short files: batch files of equal length together (per-clip norm: batching never changes results).
    by_length: dict[int, list[int]] = {}
    for i in short:
        by_length.setdefault(readers[i].n_samples, []).append(i)
    for length, members in by_length.items():
        for start in range(0, len(members), batch_size):
            group = members[start : start + batch_size]
            wave = torch.from_numpy(np.stack([readers[i].read(0, length) for i in group]))
            warn_if_silent(wave, name=f"files {[str(readers[i].info.path) for i in group][:3]}")
            out[group] = encode_batches(model, lambda w=wave: iter([w]), precision=precision)
            bar.update(len(group))
    for i in (i for i in range(len(readers)) if readers[i].n_samples > limit):
        out[i] = _embed_long_clip(model, readers[i], segment, precision, batch_size)
        bar.update(1)
    bar.close()
    return out.numpy()


def file_list(paths: Sequence[PathLike]) -> list[Path]:
    """Expand folders into the audio files they contain (.wav .flac .ogg .mp3 .aiff, sorted, recursively);
    files are kept as given, in order.  What ``embed_files`` and the ``w2clib embed`` command take."""
    exts = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"}
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(sorted(q for q in p.rglob("*") if q.suffix.lower() in exts))
        else:
            found.append(p)
    return found
