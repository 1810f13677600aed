"""Batched, autograd-free encoding shared by ``embed_audio``, ``embed_files``, HEAR and evaluation.

Frame mode cuts the waveform into windows of ``frame_length`` samples every ``hop_length`` samples
and embeds each window as a clip.  Windows are *centred* by default: the waveform is zero-padded by
``frame_length // 2`` on both sides, so window ``i`` is centred on sample ``i * hop_length`` and there
are ``1 + n_samples // hop_length`` windows (for even ``frame_length``); audio shorter than a window
still yields windows.  ``center=False`` reproduces ``wav2clip`` 0.1.0 (windows start at sample 0;
audio shorter than one window is zero-padded at the end to one window).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Literal

import numpy as np
import torch

from . import frontend
from .cpu_features import resolve_precision
from ._validate import check_int
from .frontend import Norm
from .model import Wav2CLIP

__all__ = [
    "Precision",
    "check_precision",
    "check_frames",
    "check_batch_size",
    "frame_count",
    "frame_offset",
    "frame_centers",
    "frame_windows",
    "encode_batches",
    "encode_waveforms",
    "model_device",
    "evaluation_mode",
]

Precision = Literal["fp32", "bf16"]

# On a CPU, ResNet throughput is flat once a pass holds a few 10 s clips, while activation memory grows
# with it (the stem alone keeps ~15 MB per 10 s clip).  Passes are therefore cut to at most this many
# samples of audio (8 x 10 s at 16 kHz); BatchNorm runs in eval mode and the normalisation statistics
# are fixed per chunk, so the cut never changes a result.  GPUs get the caller's whole batch.
CPU_MAX_PASS_SAMPLES = 8 * 160_000

# Longest accepted window or hop in samples (10 minutes at 16 kHz): a longer window only pads.
MAX_FRAME_SAMPLES = 600 * 16000


def check_precision(precision: str) -> None:
    if precision not in ("fp32", "bf16"):
        raise ValueError(
            f"precision must be 'fp32' (exact) or 'bf16' (fast, autocast), got {precision!r}"
        )


def check_frames(frame_length: int | None, hop_length: int | None) -> tuple[int | None, int | None]:
    """Validate frame settings (both or neither; whole positive sample counts); returns them as ints."""
    if (frame_length is None) != (hop_length is None):
        raise ValueError("frame mode needs both frame_length and hop_length (in samples), or neither")
    if frame_length is None or hop_length is None:
        return None, None
    try:
        return (check_int("frame_length", frame_length, high=MAX_FRAME_SAMPLES),
                check_int("hop_length", hop_length, high=MAX_FRAME_SAMPLES))
    except ValueError as err:
        raise ValueError(f"{err} (a positive number of samples at 16 kHz)") from None


def check_batch_size(batch_size: object) -> int:
    return check_int("batch_size", batch_size, high=1 << 20)


def frame_offset(frame_length: int, center: bool) -> int:
    """Sample index (may be negative) where window 0 starts."""
    return -(frame_length // 2) if center else 0


def frame_count(n_samples: int, frame_length: int, hop_length: int, center: bool = True) -> int:
    """Number of windows frame mode produces for ``n_samples`` of audio."""
    padded = n_samples + 2 * (frame_length // 2) if center else max(n_samples, frame_length)
    return 1 + (padded - frame_length) // hop_length


def frame_centers(
    n_frames: int, frame_length: int, hop_length: int, center: bool = True, sample_rate: int = 16000
) -> np.ndarray:
    """Centre time of each window in seconds, float64 (n_frames,)."""
    starts = np.arange(n_frames) * hop_length + frame_offset(frame_length, center)
    return (starts + frame_length / 2) / sample_rate


def frame_windows(
    wave: torch.Tensor, frame_length: int, hop_length: int, center: bool = True
) -> torch.Tensor:
    """(n, samples) -> (n, n_frames, frame_length) windows (a strided view of a padded copy)."""
    n_samples = wave.shape[-1]
    if center:
        pad = frame_length // 2
        padded = torch.nn.functional.pad(wave, (pad, pad))
    else:
        padded = torch.nn.functional.pad(wave, (0, max(0, frame_length - n_samples)))
    return padded.unfold(-1, frame_length, hop_length)


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@contextlib.contextmanager
def evaluation_mode(model: torch.nn.Module) -> Iterator[None]:
    """Run in eval mode (BatchNorm running stats, no dropout) and restore the caller's mode after."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _autocast(device: torch.device, precision: Precision) -> contextlib.AbstractContextManager[object]:
    if resolve_precision(precision, device) == "bf16":  # fp32, with one warning, where bf16 is not native
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def encode_batches(
    model: Wav2CLIP,
    batches: Callable[[], Iterator[torch.Tensor]],
    *,
    norm: Norm = "clip",
    precision: Precision = "fp32",
    single_batch: bool = False,
) -> torch.Tensor:
    """Embed waveforms delivered in chunks; returns float32 (total, embed_dim) on the CPU.

    Args:
        batches: called once (twice for ``norm="batch"`` over several chunks) to yield float32
            (b, samples) tensors at 16 kHz; together they form the "batch" of ``norm="batch"``.
        single_batch: the caller guarantees one chunk; ``norm="batch"`` then uses ``torch.mean`` /
            ``torch.std`` of that tensor exactly as the reference does (bit-identical statistics).
    """
    frontend.check_norm(norm)
    check_precision(precision)
    device = model_device(model)
    encoder = model.audio_encoder
    outputs: list[torch.Tensor] = []
    with torch.inference_mode(), evaluation_mode(model):
        stats = None
        if norm == "batch" and not single_batch:
            stats = frontend.global_stats(
                frontend.log_power(encoder.spectrogram, chunk.to(device)) for chunk in batches()
            )
        for chunk in batches():
            spec = encoder.spectrogram_input(chunk.to(device), norm, stats)  # fp32 front end
            spec = spec.contiguous(memory_format=torch.channels_last)
            step = len(spec) if device.type != "cpu" else max(1, CPU_MAX_PASS_SAMPLES // max(1, chunk.shape[-1]))
            for start in range(0, len(spec), step):
                with _autocast(device, precision):
                    emb = model.audio_transform(encoder.trunk(spec[start : start + step]))
                outputs.append(emb.float().cpu())
    return torch.cat(outputs) if outputs else torch.empty(0, model.embed_dim)


def encode_waveforms(
    model: Wav2CLIP,
    wave: torch.Tensor,
    *,
    norm: Norm = "clip",
    precision: Precision = "fp32",
    batch_size: int = 32,
    frame_length: int | None = None,
    hop_length: int | None = None,
    center: bool = True,
) -> torch.Tensor:
    """(n, samples) 16 kHz float32 -> (n, D) or, in frame mode, (n, D, n_frames) float32 (CPU).

    Memory stays bounded by ``batch_size`` windows/clips: windows are cut lazily from a strided view.
    """
    batch_size = check_batch_size(batch_size)
    frame_length, hop_length = check_frames(frame_length, hop_length)
    if frame_length is None or hop_length is None:
        n = wave.shape[0]

        def clip_batches() -> Iterator[torch.Tensor]:
            for start in range(0, n, batch_size):
                yield wave[start : start + batch_size]

        return encode_batches(
            model, clip_batches, norm=norm, precision=precision, single_batch=n <= batch_size
        )

    windows = frame_windows(wave, int(frame_length), int(hop_length), center)  # (n, F, L) view
    n_clips, n_frames, _ = windows.shape
    total = n_clips * n_frames

    def window_batches() -> Iterator[torch.Tensor]:
        for start in range(0, total, batch_size):
            stop = min(start + batch_size, total)
            pieces = []
            index = start
            while index < stop:  # a chunk may span the end of one clip and the start of the next
                clip, frame = divmod(index, n_frames)
                take = min(stop - index, n_frames - frame)
                pieces.append(windows[clip, frame : frame + take])
                index += take
            yield torch.cat(pieces) if len(pieces) > 1 else pieces[0].contiguous()

    flat = encode_batches(
        model, window_batches, norm=norm, precision=precision, single_batch=total <= batch_size
    )
    return flat.reshape(n_clips, n_frames, -1).transpose(1, 2).contiguous()
