"""One captioner of notebook 09 as a self-contained job: train it (or load it from the cache), then
caption the clips of every scored split.

A job carries everything it needs as plain arrays and settings, so notebook 09 can hand its
captioners to worker processes (:class:`w2clib.processes.WorkerPool`, ``captioning.workers``) on a
CPU, or run them one after the other in its own process on a GPU.  The result does not depend on
where a job runs: the captioner's initial weights, dropout and example order come from its seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .decoder import DecoderConfig, load_captioner, train_captioner
from .gpt2 import require_gpt2

__all__ = ["CaptionerJob", "run_captioner_job", "resolve_device"]


@dataclass
class CaptionerJob:
    """Train or load the captioner stored in ``folder``, then caption ``decode``'s features."""

    folder: Path  # the captioner's cache folder: a config.json there means it is already trained
    x_train: np.ndarray  # (n, D) training clips' features
    refs_train: list[list[str]]  # their references
    decoder: DecoderConfig
    seed: int
    decode: dict[str, np.ndarray] = field(default_factory=dict)  # split -> (m, D) features to caption
    x_valid: np.ndarray | None = None  # model selection (the epoch with the lowest loss on these)
    refs_valid: list[list[str]] | None = None
    kind: str = "prefix"  # "prefix" or "gpt2"
    embedder: dict[str, Any] = field(default_factory=dict)  # recorded in the saved config
    device: str = "cpu"
    progress: bool = False


def resolve_device(device: str) -> str:
    """``"auto"``: CUDA when available, else the CPU; anything else as given.

    Raises:
        RuntimeError: torch does not know the name.
        ValueError: a CUDA device on a machine without one (before any captioner is trained).
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():  # an unknown name fails in torch.device
        raise ValueError(f"captioning.device is {device!r}, but torch sees no CUDA device here; "
                         "set it to 'auto' or 'cpu'")
    return device


def run_captioner_job(job: CaptionerJob) -> dict[str, list[str]]:
    """Split -> one caption per row of ``job.decode[split]``; the captioner is saved in ``job.folder``."""
    if (job.folder / "config.json").is_file():
        captioner = load_captioner(job.folder).to(job.device)
    else:
        language_model = require_gpt2() if job.kind == "gpt2" else None  # a fresh copy per captioner
        valid = (job.x_valid, job.refs_valid) if job.x_valid is not None and len(job.x_valid) else None
        captioner = train_captioner(job.x_train, job.refs_train, job.decoder, seed=job.seed, valid=valid,
                                    embedder=job.embedder, progress=job.progress, language_model=language_model,
                                    device=job.device)
        captioner.save(job.folder)
    return {split: captioner.generate(x) for split, x in job.decode.items()}
