"""Checkpoints: the official release by name, official-layout ``.pt`` files, and our own format.

Formats
-------
* Official layout (``Wav2CLIP.pt`` as released, or any ``.pt``/``.pth``/``.ckpt`` holding the same
  keys): a flat state dict with ``audio_encoder.*`` and ``audio_transform.*``; ``image_transform.*``
  is kept when present; the loss temperatures (``loss_fn*``) are ignored.  Read with
  ``torch.load(..., weights_only=True)`` only -- no pickled code is ever executed.
* Our format: a folder with ``checkpoint.safetensors`` (same key layout) and ``config.json``
  (``{"model": ModelConfig, "sha256": <of the safetensors file>, ...}``); the hash is verified on
  every load, and a folder without one is refused unless the caller passes ``verify=False``.
  A folder written by the trainer also carries ``training.finished``: ``false`` while the run is
  going (or was killed), ``true`` once it completed; an unfinished run loads only with
  ``allow_unfinished=True``.

Downloads come from the release URL, or from a mirror (``$W2C_CHECKPOINT_MIRROR``, else
``$W2C_MIRROR/checkpoints``: :mod:`w2clib.mirrors`); they go to ``$W2C_CHECKPOINT_DIR`` (default
``~/.cache/w2clib/checkpoints``, also the place for a copy downloaded by hand) and are verified by
SHA-256.  Where the project does not know a release's hash yet, the first download records it
(``checksums.json`` in that folder, announced on stderr) and every later load is checked against it.
Downloading and the hash record are the project's one implementation (:mod:`w2clib.downloads`), as
for the datasets; its errors (``DownloadError``, ``ChecksumError``) are re-exported here.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import __version__, mirrors
from ._io import atomic_path, atomic_write_json, sha256_file, user_cache_dir
from .downloads import ChecksumError, DownloadError, download_file, verify_download
from .model import ModelConfig, Wav2CLIP

__all__ = [
    "CheckpointEntry",
    "REGISTRY",
    "available_checkpoints",
    "checkpoint_dir",
    "download_checkpoint",
    "fetch_entry",
    "load_checkpoint",
    "save_checkpoint",
    "read_state_dict",
    "mark_finished",
    "CheckpointError",
    "ChecksumError",
    "DownloadError",
]

SAFETENSORS_NAME = "checkpoint.safetensors"
CONFIG_NAME = "config.json"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used as asked (bad name, bad keys, bad hash)."""


@dataclass(frozen=True)
class CheckpointEntry:
    """A named, downloadable checkpoint."""

    url: str
    filename: str
    sha256: str | None  # None: unknown to the project; recorded on first download (trust on first use)
    description: str


REGISTRY: dict[str, CheckpointEntry] = {
    "wav2clip": CheckpointEntry(
        url="https://github.com/descriptinc/lyrebird-wav2clip/releases/download/v0.1.0-alpha/Wav2CLIP.pt",
        filename="Wav2CLIP.pt",
        sha256=None,
        description="the official release (v0.1.0-alpha/Wav2CLIP.pt): ResNet-18 + head, CLIP ViT-B/32 space",
    ),
}
ALIASES = {"official": "wav2clip", "Wav2CLIP": "wav2clip", "v0.1.0-alpha/Wav2CLIP.pt": "wav2clip"}


def available_checkpoints() -> list[str]:
    """Names accepted by :func:`w2clib.load_model` besides file paths."""
    return sorted(REGISTRY) + sorted(ALIASES)


def checkpoint_dir() -> Path:
    """Where named checkpoints are cached: ``$W2C_CHECKPOINT_DIR`` or ``<cache>/checkpoints``."""
    env = os.environ.get("W2C_CHECKPOINT_DIR")
    return Path(env).expanduser() if env else user_cache_dir() / "checkpoints"


def _manual_instructions(entry: CheckpointEntry, target: Path) -> str:
    return (
        f"download {entry.url} on a machine with internet access and place it at {target} "
        f"(or set W2C_CHECKPOINT_DIR to the folder holding {entry.filename}, or pass the file path "
        "to load_model)"
    )


def _verify(path: Path, entry: CheckpointEntry) -> str:
    """Check ``path`` against the registry hash or the hash recorded at first download; its SHA-256."""
    legacy = path.with_name(path.name + ".sha256")  # where releases before 0.2 recorded the first hash
    recorded = entry.sha256
    if recorded is None and legacy.is_file():
        words = legacy.read_text().split()
        if not words or len(words[0]) != 64:
            raise ChecksumError(f"the hash record {legacy} is empty or damaged, so {path} cannot be verified; "
                                f"delete both files and download again ({entry.url})")
        recorded = words[0]
    return verify_download(path, entry.filename, sha256=recorded, url=entry.url, record_dir=path.parent,
                           redo=f"load it again to re-download it ({entry.url})")["sha256"]


def download_checkpoint(name: str, *, progress: bool = True) -> Path:
    """Return the local path of a named checkpoint, downloading and verifying it if needed.

    Interrupted downloads resume from the ``.part`` file (:func:`w2clib.downloads.download_file`).

    Raises:
        CheckpointError: an unknown name.
        DownloadError: offline or not downloadable; the message says where to place the file by hand.
        ChecksumError: the file does not match the published or first-recorded SHA-256.
    """
    key = ALIASES.get(name, name)
    if key not in REGISTRY:
        raise CheckpointError(
            f"unknown checkpoint name {name!r}; known names: {', '.join(available_checkpoints())}, "
            "or pass the path of a .pt file or of a folder saved by w2clib"
        )
    return fetch_entry(REGISTRY[key], progress=progress)


def fetch_entry(entry: CheckpointEntry, *, progress: bool = True) -> Path:
    """The local, verified copy of ``entry`` in :func:`checkpoint_dir`, downloaded (resumably, from the
    checkpoint mirror when one is set) if absent; also for weights that are no Wav2CLIP checkpoint."""
    name = entry.filename
    target = checkpoint_dir() / entry.filename
    if target.exists():
        _verify(target, entry)
        return target
    url = mirrors.checkpoint_url(entry.filename) or entry.url
    try:  # resumable, and a transfer that ends early is retried, never taken for the whole file
        download_file(url, target, progress=progress)
    except DownloadError as err:
        raise DownloadError(
            f"could not download checkpoint {name!r} from {url} ({err}). To use it offline, "
            + _manual_instructions(entry, target)
        ) from err
    _verify(target, entry)
    return target


# --------------------------------------------------------------------------------------------
# Reading and writing


def _read_config(config_path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(config_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"cannot read {config_path} ({err}); re-export or re-download the checkpoint") from err
    if not isinstance(meta, dict) or not isinstance(meta.get("model", {}), dict):
        raise CheckpointError(
            f"{config_path} is not a w2clib checkpoint config (expected a JSON object with 'model' and "
            f"'sha256', got {type(meta).__name__}); re-export the checkpoint with save_checkpoint"
        )
    return meta


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as err:  # SafetensorError, OSError: truncated or not a safetensors file
        raise CheckpointError(
            f"cannot read {path} as safetensors ({err}); the file is damaged or partly written -- "
            "re-export or re-download it"
        ) from err


def read_state_dict(
    path: str | os.PathLike[str], *, verify: bool = True
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read weights and the stored config (empty for official-layout files) from a file or folder.

    ``verify`` (default): a w2clib file must match the ``sha256`` in its ``config.json``; a config
    without one is refused.  ``verify=False`` reads it unchecked.
    """
    path = Path(path)
    if path.is_dir():
        path = path / SAFETENSORS_NAME
        if not path.exists():
            raise FileNotFoundError(
                f"{path.parent} holds no {SAFETENSORS_NAME}; pass a folder written by "
                "w2clib.checkpoints.save_checkpoint (or `w2clib pretrain`) or a .pt file"
            )
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {str(path)!r}")
    if path.suffix == ".safetensors":
        config_path = path.with_name(CONFIG_NAME)
        if not config_path.exists():
            raise FileNotFoundError(f"{path} has no {CONFIG_NAME} beside it; it is needed for the architecture")
        meta = _read_config(config_path)
        expected = meta.get("sha256")
        if verify and not (isinstance(expected, str) and expected):
            raise CheckpointError(
                f"{config_path} records no sha256 for {path.name}, so its weights cannot be verified; "
                "re-export it with w2clib.checkpoints.save_checkpoint, or pass verify=False to load it "
                "unchecked (only for files you made yourself)"
            )
        if verify and sha256_file(path) != expected:
            raise CheckpointError(
                f"SHA-256 of {path} does not match {config_path} ({expected[:12]}...): the file was "
                "changed or partly written; re-export or re-download it"
            )
        return _load_safetensors(path), meta
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(
            f"cannot read {str(path)!r} as a weights-only PyTorch checkpoint ({err}); pass an "
            "official-layout .pt state dict or a folder saved by w2clib"
        ) from err
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # Lightning-style wrapper
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{str(path)!r} does not hold a state dict of tensors")
    return state, {}


_IGNORED_PREFIXES = ("loss_fn",)  # training-only temperatures stored by the original trainer


def config_from_state(state: dict[str, torch.Tensor]) -> ModelConfig:
    """Infer the architecture of an official-layout state dict from its tensor shapes."""
    try:
        width = int(state["audio_encoder.conv1.weight"].shape[0])
        embed_dim = int(state["audio_transform.sequential.3.weight"].shape[0])
    except KeyError as err:
        raise CheckpointError(
            f"checkpoint lacks {err.args[0]!r}: it is not in the Wav2CLIP layout "
            "(audio_encoder.* backbone + audio_transform.* head)"
        ) from None
    has_image_head = any(k.startswith("image_transform.") for k in state)
    return ModelConfig(width=width, embed_dim=embed_dim, image_head=has_image_head)


def load_weights(model: Wav2CLIP, state: dict[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``model`` strictly, naming missing/unexpected keys on failure."""
    state = {k: v for k, v in state.items() if not k.startswith(_IGNORED_PREFIXES)}
    window_key = "audio_encoder.spectrogram.window"
    if window_key not in state:  # a layout without the STFT window: it is always the Hann window
        state[window_key] = model.audio_encoder.spectrogram.window.clone()
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong_shape = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong_shape:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} keys (e.g. {missing[:3]})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} keys (e.g. {unexpected[:3]})")
        if wrong_shape:
            parts.append(f"wrong shapes for {wrong_shape[:3]}")
        raise CheckpointError(
            f"checkpoint {source!r} does not match the Wav2CLIP layout: {'; '.join(parts)}. "
            "Expected audio_encoder.* (ResNet) and audio_transform.sequential.{0,3}.* keys; "
            "convert other layouts to this one or save with w2clib.checkpoints.save_checkpoint"
        )
    model.load_state_dict(state, strict=True)


def _check_finished(meta: dict[str, Any], source: str, allow_unfinished: bool) -> None:
    training = meta.get("training")
    if not isinstance(training, dict) or training.get("finished", True) is not False:
        return  # not a training folder, finished, or written before the marker existed
    where = f"step {training.get('step', '?')}, epoch {training.get('epoch', '?')}"
    if not allow_unfinished:
        raise CheckpointError(
            f"{source!r} holds an UNFINISHED training run (last checkpoint at {where}): the run was "
            f"interrupted or is still going. Finish it (`w2clib pretrain --resume --out {source}`), or "
            "pass allow_unfinished=True to load the intermediate weights anyway"
        )
    warnings.warn(f"loading the unfinished training run {source!r} (last checkpoint at {where})", stacklevel=3)


def load_checkpoint(
    checkpoint: str | os.PathLike[str], *, verify: bool = True, allow_unfinished: bool = False
) -> Wav2CLIP:
    """Build a model from a registry name, an official-layout file or a w2clib folder (CPU, eval).

    ``verify``: see :func:`read_state_dict`.  ``allow_unfinished``: accept a training folder whose
    ``training.finished`` is ``false`` (refused by default, with a message saying so).
    """
    source = str(checkpoint)
    path = Path(checkpoint).expanduser()
    if not path.exists():
        if isinstance(checkpoint, str) and (checkpoint in REGISTRY or checkpoint in ALIASES):
            path = download_checkpoint(checkpoint)
        elif isinstance(checkpoint, str) and os.sep not in checkpoint and "." not in Path(checkpoint).name:
            raise CheckpointError(
                f"unknown checkpoint name {checkpoint!r}; known names: "
                f"{', '.join(available_checkpoints())}, or pass a file or folder path"
            )
        else:
            raise FileNotFoundError(
                f"checkpoint not found: {source!r}; pass an existing .pt file, a folder written by "
                f"w2clib, or one of the names {', '.join(available_checkpoints())}"
            )
    state, meta = read_state_dict(path, verify=verify)
    _check_finished(meta, source, allow_unfinished)
    config = ModelConfig.from_dict(meta["model"]) if "model" in meta else config_from_state(state)
    model = Wav2CLIP(config)
    load_weights(model, state, source)
    model.checkpoint_sha256 = meta.get("sha256") or sha256_file(
        path / SAFETENSORS_NAME if path.is_dir() else path
    )
    return model.eval()


def save_checkpoint(model: Wav2CLIP, directory: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> Path:
    """Write ``checkpoint.safetensors`` + ``config.json`` into ``directory`` atomically.

    ``extra`` (e.g. the training config, teacher, metrics) is stored in ``config.json`` beside the
    model config and the weights' SHA-256.  Returns the folder.
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(directory / SAFETENSORS_NAME) as tmp:
        save_file(state, str(tmp))
        digest = sha256_file(tmp)
    meta = {
        "format": "w2clib",
        "format_version": FORMAT_VERSION,
        "w2clib_version": __version__,
        "model": model.config.to_dict(),
        "sha256": digest,
        **(extra or {}),
    }
    atomic_write_json(directory / CONFIG_NAME, meta)
    return directory


def mark_finished(directory: str | os.PathLike[str]) -> None:
    """Set ``training.finished = true`` in a folder's ``config.json`` (atomic; the last write of a run)."""
    config_path = Path(directory) / CONFIG_NAME
    meta = _read_config(config_path)
    meta["training"] = {**(meta.get("training") or {}), "finished": True}
    atomic_write_json(config_path, meta)
