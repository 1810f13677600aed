"""Captions for a user's own audio files with a saved captioner (``w2clib caption``)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .decoder import Captioner, load_captioner

__all__ = ["embed_for", "caption_files"]

PathLike = str | os.PathLike[str]


def embed_for(captioner: Captioner, paths: Sequence[PathLike], *, checkpoint: str | None = None,
              device: str | None = None, batch_size: int = 32) -> np.ndarray:
    """(n_files, D) float32 inputs of ``captioner``, computed the way its training features were.

    A Wav2CLIP captioner uses ``checkpoint`` (default: the checkpoint it was trained on, whose SHA-256
    must match the recorded one); a ``logmel_stats`` captioner computes log-mel statistics.

    Raises:
        ValueError: a captioner of another kind, or an encoder other than the one it was trained on.
    """
    name = captioner.embedder.get("name", "")
    files = [str(p) for p in paths]
    if name == "wav2clip":
        from ...api import embed_files, load_model

        source = checkpoint or captioner.embedder.get("checkpoint")
        if not source:
            raise ValueError("the captioner does not record its encoder checkpoint; pass --checkpoint")
        model = load_model(source, device=device)
        expected = captioner.embedder.get("checkpoint_sha256")
        got = getattr(model, "checkpoint_sha256", None)
        if expected and got and got != expected:
            raise ValueError(f"the captioner was trained on embeddings of checkpoint {expected[:12]}..., but "
                             f"{source} is {got[:12]}...; pass the encoder it was trained with (--checkpoint)")
        return np.asarray(embed_files(files, model, batch_size=batch_size), dtype=np.float32)
    if name == "logmel_stats":
        from ..baselines import get_baseline

        return np.asarray(get_baseline("logmel_stats").embed(files), dtype=np.float32)
    raise ValueError(f"captioners on {name or 'unknown'!r} features cannot caption new files here; "
                     "use one trained on wav2clip (notebook 09 saves <run_dir>/captioner)")


def caption_files(paths: Sequence[PathLike], captioner_dir: PathLike, *, checkpoint: str | None = None,
                  beam_size: int | None = None, device: str | None = None) -> list[str]:
    """One caption per audio file (wav/flac/ogg/mp3) with the captioner saved in ``captioner_dir``.

    Raises:
        FileNotFoundError: a missing file or captioner folder.
    """
    missing = [str(p) for p in paths if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(f"input file(s) not found: {missing[:5]}; check the paths")
    captioner = load_captioner(captioner_dir)
    return captioner.generate(embed_for(captioner, paths, checkpoint=checkpoint, device=device), beam_size)
