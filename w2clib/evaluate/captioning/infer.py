"""Captions for a user's own audio files with a saved captioner (``w2clib caption``)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..embeddings import segmented_embedder
from .decoder import Captioner, load_captioner

__all__ = ["embed_for", "caption_files"]

PathLike = str | os.PathLike[str]


def embed_for(captioner: Captioner, paths: Sequence[PathLike], *, checkpoint: str | None = None,
              device: str | None = None, batch_size: int = 32) -> np.ndarray:
    """(n_files, D) float32 inputs of ``captioner``, computed the way its training features were.

    A Wav2CLIP captioner uses ``checkpoint`` (default: the checkpoint it was trained on, whose SHA-256
    must match the recorded one); a ``logmel_stats`` captioner computes log-mel statistics.  A captioner
    trained on segment sequences (``captioning.input_segments``) gets its files cut the same way.

    Raises:
        ValueError: a captioner of another kind, or an encoder other than the one it was trained on.
    """
    name = captioner.embedder.get("name", "")
    segments = int(captioner.embedder.get("segments", 1))  # captioners saved before segments existed: 1
    files = [str(p) for p in paths]
    if name == "wav2clip":
        from ...api import load_model
        from ..embeddings import model_embedder

        source = checkpoint or captioner.embedder.get("checkpoint")
        if not source:
            raise ValueError("the captioner does not record its encoder checkpoint; pass --checkpoint")
        model = load_model(source, device=device)
        expected = captioner.embedder.get("checkpoint_sha256")
        got = getattr(model, "checkpoint_sha256", None)
        if expected and got and got != expected:
            raise ValueError(f"the captioner was trained on embeddings of checkpoint {expected[:12]}..., but "
                             f"{source} is {got[:12]}...; pass the encoder it was trained with (--checkpoint)")
        embedder = model_embedder(model, batch_size=batch_size)
    elif name == "logmel_stats":
        from ..baselines import get_baseline

        embedder = get_baseline("logmel_stats")
    else:
        raise ValueError(f"captioners on {name or 'unknown'!r} features cannot caption new files here; "
                         "use one trained on wav2clip (notebook 09 saves <run_dir>/captioner)")
    return np.asarray(segmented_embedder(embedder, segments).embed(files), dtype=np.float32)


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
