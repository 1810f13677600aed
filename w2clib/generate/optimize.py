"""Draw a picture whose perceptor embedding approaches a target vector.

    from w2clib.generate import generate_image
    image = generate_image(target, teacher, steps=300, size=160, cutouts=8, seed=0)

``target`` is any vector in the perceptor's space: an audio embedding of a Wav2CLIP encoder
distilled from that teacher, a text embedding of the teacher, or a mixture of them.  Each step
makes ``cutouts`` augmented views of the picture (:mod:`w2clib.generate.cutouts`), embeds them with
the perceptor (gradients flow through it; its weights stay frozen) and moves the latent with Adam
to lower the mean *spherical distance* ``2 * arcsin(|a - b| / 2) ** 2`` between each view's
embedding and the target (both unit length): the squared great-circle angle, which unlike the
cosine keeps a useful gradient when the two are nearly opposite.

Deterministic for a seed on one machine and thread count: every random draw (initial latent,
cutouts, augmentations) comes from one ``torch.Generator`` seeded with ``seed``.  Stoppable and
resumable: with ``checkpoint=<path>`` the latent, the optimiser's state and the generator's state
are saved every ``save_every`` steps (atomically); a later call with the same arguments continues
from the saved step and ends with exactly the picture an uninterrupted run draws.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .._io import atomic_path
from .cutouts import CutoutConfig, make_cutouts
from .images import FourierImage, VQGANImage
from .vqgan import VQGANDecoder

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["Generation", "generate", "generate_image", "spherical_distance", "to_pil"]

CHECKPOINT_VERSION = 1


@dataclass
class Generation:
    """The outcome of :func:`generate`: the picture, its latent and the loss curve."""

    image: Image.Image
    latent: dict[str, torch.Tensor]  # the parameterisation's state_dict (CPU): init of a next frame
    losses: list[float] = field(default_factory=list)  # mean spherical distance per step
    seconds: float = 0.0  # wall time of the steps run in this call (0 when resumed finished)
    resumed_from: int = 0  # the step a saved checkpoint let this call start at


def spherical_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared great-circle distance between unit vectors along the last axis (broadcasts)."""
    return (x - y).norm(dim=-1).div(2).clamp(max=1.0).arcsin().pow(2).mul(2)


def to_pil(image: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) float in [0, 1] -> an RGB ``PIL.Image``."""
    from PIL import Image

    array = image.detach().float().cpu().reshape(-1, *image.shape[-2:]).clamp(0, 1)
    return Image.fromarray((array.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), mode="RGB")


def _as_target(target: Any, dim: int, device: torch.device) -> torch.Tensor:
    vector = torch.as_tensor(np.asarray(target, dtype=np.float32)).reshape(-1)
    if vector.numel() != dim:
        raise ValueError(f"target has {vector.numel()} values, the perceptor's space has {dim}: pass one embedding "
                         "of an encoder distilled from this perceptor (or its text embedding)")
    if not torch.isfinite(vector).all() or float(vector.norm()) == 0.0:
        raise ValueError("target must be a finite, non-zero vector")
    return torch.nn.functional.normalize(vector, dim=0).to(device)


def _check_size(size: int | tuple[int, int]) -> tuple[int, int]:
    height, width = (size, size) if isinstance(size, int) else tuple(size)
    if min(height, width) < 16 or max(height, width) > 4096:
        raise ValueError(f"size must be 16..4096 px (an int or (height, width)), got {size!r}")
    return int(height), int(width)


def _make_image(generator: str | VQGANDecoder, size: tuple[int, int], rng: torch.Generator) -> torch.nn.Module:
    if isinstance(generator, VQGANDecoder):
        return VQGANImage(generator, *size, generator=rng)
    if generator == "fourier":
        return FourierImage(*size, generator=rng)
    raise ValueError(f"generator must be 'fourier' or a VQGANDecoder (w2clib.generate.load_vqgan()), got {generator!r}")


def _run_key(target: torch.Tensor, generator: str | VQGANDecoder, size: tuple[int, int], seed: int, lr: float,
             cutouts: CutoutConfig, cut_size: int, init: Mapping[str, torch.Tensor] | None) -> str:
    """What a saved checkpoint must match to be resumed: everything that changes the picture but ``steps``."""
    digest = hashlib.sha256(target.detach().cpu().numpy().astype(np.float32).tobytes())
    kind = "fourier" if isinstance(generator, str) else f"vqgan{generator.config}"
    digest.update(repr((kind, size, seed, lr, cutouts, cut_size, CHECKPOINT_VERSION)).encode())
    for name, tensor in sorted((init or {}).items()):
        digest.update(name.encode() + tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()[:20]


def _save(path: Path, **state: Any) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, str(tmp))


def _load(path: Path, key: str) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception:  # a damaged file: start again rather than fail a long run
        return None
    return state if isinstance(state, dict) and state.get("key") == key else None


def generate(
    target: Any,
    perceptor: Any,
    *,
    steps: int = 300,
    size: int | tuple[int, int] = 224,
    cutouts: int | CutoutConfig = 32,
    seed: int = 0,
    init: Mapping[str, torch.Tensor] | None = None,
    generator: str | VQGANDecoder = "fourier",
    lr: float | None = None,
    cut_size: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    save_every: int = 50,
    progress: bool = True,
    desc: str = "generating",
) -> Generation:
    """Optimise a picture so the perceptor's embedding of its views approaches ``target``.

    Args:
        target: (dim,) vector in the perceptor's space (numpy or torch; normalised here).
        perceptor: a teacher with ``embed_image_tensor`` (``w2clib.load_teacher(...)``: the packaged
            teacher's image tower offline, CLIP on the paper path), ``dim`` and ``image_size``.
        steps: Adam steps (the authors: 500).
        size: picture side in pixels, or (height, width); multiples of 16 for VQGAN.
        cutouts: views per step, or a full :class:`CutoutConfig`.
        seed: seeds the initial latent and every cutout and augmentation.
        init: a latent to start from (``Generation.latent`` of an earlier run of the same size and
            generator, e.g. the previous video frame) instead of a random one.
        generator: ``"fourier"`` (offline, :class:`FourierImage`) or a VQGAN decoder
            (:func:`w2clib.generate.load_vqgan`).
        lr: Adam learning rate; default 0.1 for VQGAN (the authors'), 0.05 for the Fourier image.
        cut_size: side of the views the perceptor sees (default its ``image_size``; smaller is faster).
        checkpoint: a file the run is saved to every ``save_every`` steps and resumed from.
        progress: show a tqdm bar.

    Returns:
        a :class:`Generation` (picture, latent, per-step losses).
    """
    if not hasattr(perceptor, "embed_image_tensor"):
        raise TypeError(f"perceptor must be a teacher with embed_image_tensor (w2clib.load_teacher), got "
                        f"{type(perceptor).__name__}")
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    if not isinstance(save_every, int) or save_every < 1:
        raise ValueError(f"save_every must be an int >= 1, got {save_every!r}")
    hw = _check_size(size)
    cfg = cutouts if isinstance(cutouts, CutoutConfig) else CutoutConfig(n=int(cutouts))
    cut = int(cut_size or perceptor.image_size)
    lr = float(lr if lr is not None else (0.05 if generator == "fourier" else 0.1))
    device = getattr(perceptor, "device", torch.device("cpu"))
    goal = _as_target(target, int(perceptor.dim), torch.device(device))

    rng = torch.Generator().manual_seed(int(seed))
    image = _make_image(generator, hw, rng).to(device)
    if init is not None:
        try:
            image.load_state_dict({k: torch.as_tensor(v) for k, v in init.items()})
        except RuntimeError as err:
            raise ValueError(f"init does not fit a {hw[1]} x {hw[0]} {type(image).__name__}: {err}") from err
    optimizer = torch.optim.Adam(image.parameters(), lr=lr)
    key = _run_key(goal, generator, hw, int(seed), lr, cfg, cut, init)
    path = Path(checkpoint) if checkpoint is not None else None
    start, losses = 0, []
    saved = _load(path, key) if path is not None else None
    if saved is not None and saved["step"] <= steps:
        image.load_state_dict(saved["latent"])
        optimizer.load_state_dict(saved["optimizer"])
        rng.set_state(saved["rng"])
        start, losses = int(saved["step"]), list(saved["losses"])

    from tqdm.auto import tqdm

    began = time.perf_counter()
    with tqdm(total=steps, initial=start, desc=desc, unit="step", disable=not progress, leave=False) as bar:
        for step in range(start, steps):
            views = make_cutouts(image(), cut, cfg, rng)
            loss = spherical_distance(perceptor.embed_image_tensor(views), goal[None]).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            image.project_()
            losses.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
            done = step + 1
            if path is not None and (done % save_every == 0 or done == steps):
                _save(path, key=key, step=done, latent=image.state_dict(), optimizer=optimizer.state_dict(),
                      rng=rng.get_state(), losses=losses)
    seconds = time.perf_counter() - began
    with torch.no_grad():
        picture = to_pil(image())
    latent = {k: v.detach().cpu().clone() for k, v in image.state_dict().items()}
    return Generation(picture, latent, losses, seconds if steps > start else 0.0, start)


def generate_image(target: Any, perceptor: Any, *, steps: int = 300, size: int | tuple[int, int] = 224,
                   cutouts: int | CutoutConfig = 32, seed: int = 0, init: Mapping[str, torch.Tensor] | None = None,
                   **kwargs: Any) -> Image.Image:
    """The picture of :func:`generate` (same arguments), as an RGB ``PIL.Image``."""
    return generate(target, perceptor, steps=steps, size=size, cutouts=cutouts, seed=seed, init=init,
                    **kwargs).image
