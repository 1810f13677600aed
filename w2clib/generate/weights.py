"""The VQGAN ImageNet f16-16384 weights: where they come from and how they are read.

The file is the taming-transformers release (a PyTorch Lightning checkpoint, ~1 GB, the decoder is
a small part of it).  It is downloaded once into the checkpoint folder (``$W2C_CHECKPOINT_DIR``,
default ``~/.cache/w2clib/checkpoints``; a mirror: ``$W2C_CHECKPOINT_MIRROR`` or
``$W2C_MIRROR/checkpoints``), its SHA-256 recorded on first download and checked on every later
load, and read with ``torch.load(weights_only=True)`` (no pickled code runs) or from a
``.safetensors`` file.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .vqgan import VQGANDecoder, load_decoder

__all__ = ["VQGAN_FILENAME", "VQGAN_URL", "load_vqgan", "vqgan_weights_file"]

VQGAN_URL = "https://heibox.uni-heidelberg.de/d/a7530b09fed84f80a887/files/?p=%2Fckpts%2Flast.ckpt&dl=1"
VQGAN_FILENAME = "vqgan_imagenet_f16_16384.ckpt"


def _fetch_release() -> Path:
    """The one call into the project's downloader (resume, mirror, SHA-256 trust store)."""
    from ..checkpoints import CheckpointEntry, fetch_entry

    entry = CheckpointEntry(url=VQGAN_URL, filename=VQGAN_FILENAME, sha256=None,
                            description="taming-transformers VQGAN ImageNet f16-16384 (last.ckpt)")
    return fetch_entry(entry)


def offline_message(err: BaseException | None = None) -> str:
    """What to download and where, when the VQGAN weights cannot be fetched here."""
    from ..checkpoints import checkpoint_dir

    why = f" ({type(err).__name__}: {str(err)[:200]})" if err is not None else ""
    return (
        f"the paper's generator needs the VQGAN ImageNet f16-16384 weights, which cannot be downloaded here{why}. "
        f"On a machine with internet access download {VQGAN_URL} (~1 GB) and save it as "
        f"{checkpoint_dir() / VQGAN_FILENAME} (or set W2C_CHECKPOINT_DIR to its folder, or pass its path as "
        "generation.vqgan_weights / --vqgan-weights); or use the offline generator: generator='fourier'"
    )


def vqgan_weights_file(weights: str | os.PathLike[str] | None = None) -> Path:
    """A local VQGAN weights file: ``weights`` if given (must exist), else the release, downloaded once.

    Raises:
        FileNotFoundError: ``weights`` does not exist.
        RuntimeError: the release cannot be downloaded (offline): the message says what to fetch and where.
    """
    if weights is not None:
        path = Path(os.path.expandvars(str(weights))).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"vqgan_weights={str(weights)!r}: no such file; " + offline_message())
        return path
    from ..downloads import ChecksumError, DownloadError

    try:
        return _fetch_release()
    except ChecksumError:
        raise  # a damaged or replaced file: its own message says what to do
    except (DownloadError, RuntimeError) as err:
        raise RuntimeError(offline_message(err)) from err


def load_vqgan(weights: str | os.PathLike[str] | None = None, *, device: str | torch.device = "cpu") -> VQGANDecoder:
    """The frozen VQGAN decoder from ``weights`` (a ``.ckpt``/``.pt`` or ``.safetensors`` file) or the release."""
    path = vqgan_weights_file(weights)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as err:  # pickle errors of many kinds: a damaged or non-checkpoint file
            raise ValueError(f"cannot read {path} as a weights-only PyTorch checkpoint ({err}); delete it and "
                             "download it again, or convert its state_dict to .safetensors") from err
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]  # the Lightning wrapper of the release
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict")
    return load_decoder(state).to(device)
