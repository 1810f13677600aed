"""Random cutouts with augmentation: the views of the picture the perceptor scores at each step.

Following the authors' recipe (a VQGAN-CLIP derivative): ``n`` square crops whose side is drawn as
``u ** cut_power`` of the way between ``min_fraction`` of the picture and the whole picture
(``cut_power`` 1.0: uniform), each resized to the perceptor's input size, then -- each with
probability ``p`` -- a random affine warp (rotation, translation, shear) combined with a random
perspective warp, colour jitter (brightness, saturation), random erasing of a rectangle and a little
Gaussian noise.  Scoring many distorted views keeps the optimiser from drawing an adversarial
pattern that one exact view would accept.

All randomness comes from the ``torch.Generator`` passed in, so a run is reproducible from its seed
and a resumed run continues the same random sequence (the generator's state is saved with the latent).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["CutoutConfig", "make_cutouts"]


@dataclass(frozen=True)
class CutoutConfig:
    """How the views are made (defaults: the authors' choices where known)."""

    n: int = 32  # cutouts per step (the authors: 32)
    cut_power: float = 1.0  # exponent on the uniform draw of a cutout's size (1.0: uniform)
    min_fraction: float = 0.25  # smallest cutout side, as a fraction of the picture's shorter side
    p: float = 0.7  # probability of each augmentation per cutout
    degrees: float = 15.0  # affine: largest rotation
    translate: float = 0.1  # affine: largest shift, fraction of the side
    shear: float = 5.0  # affine: largest shear, degrees
    perspective: float = 0.2  # largest corner displacement of the perspective warp, fraction of the side
    jitter: float = 0.1  # brightness and saturation changes up to this fraction
    erase_area: tuple[float, float] = (0.02, 0.1)  # random erasing: area of the rectangle, fraction of the cutout
    noise: float = 0.1  # standard deviation of added noise is uniform in [0, noise]

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"cutouts must be >= 1, got {self.n}")
        if self.cut_power <= 0 or not 0 < self.min_fraction <= 1 or not 0 <= self.p <= 1:
            raise ValueError("cut_power must be > 0, min_fraction in (0, 1] and p in [0, 1]")


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def _warp_grids(n: int, size: int, crops: torch.Tensor, cfg: CutoutConfig, generator: torch.Generator) -> torch.Tensor:
    """(n, size, size, 2) sampling grids into the picture: a random affine warp and a random
    perspective warp (each with probability ``cfg.p``), then the crop ``crops[i] = (cx, cy, sx, sy)``
    (centre and half-size in the picture's [-1, 1] coordinates).  One ``grid_sample`` then makes
    every view: cropping and resizing separately costs ~10x more in the backward pass on a CPU."""
    use_affine = (torch.rand(n, generator=generator) < cfg.p).float()
    angle = torch.deg2rad(_uniform(n, -cfg.degrees, cfg.degrees, generator)) * use_affine
    shear = torch.deg2rad(_uniform(n, -cfg.shear, cfg.shear, generator)) * use_affine
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * 2 * cfg.translate * use_affine[:, None]
    cos, sin, tan = torch.cos(angle), torch.sin(angle), torch.tan(shear)
    matrix = torch.zeros(n, 3, 3)
    matrix[:, 0, 0], matrix[:, 0, 1], matrix[:, 0, 2] = cos, -sin + cos * tan, shift[:, 0]
    matrix[:, 1, 0], matrix[:, 1, 1], matrix[:, 1, 2] = sin, cos + sin * tan, shift[:, 1]
    matrix[:, 2, 2] = 1.0
    use_persp = (torch.rand(n, generator=generator) < cfg.p).float()
    persp = (torch.rand(n, 2, generator=generator) * 2 - 1) * cfg.perspective * use_persp[:, None]
    matrix[:, 2, 0], matrix[:, 2, 1] = persp[:, 0], persp[:, 1]  # projective row: a keystone warp
    axis = (torch.arange(size) + 0.5) / size * 2 - 1  # pixel centres (align_corners=False)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    base = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1).reshape(-1, 3)  # (size*size, 3)
    mapped = base @ matrix.transpose(1, 2)  # (n, size*size, 3)
    warped = mapped[..., :2] / mapped[..., 2:].clamp(min=0.2)
    return (crops[:, None, :2] + warped * crops[:, None, 2:]).reshape(n, size, size, 2)


def make_cutouts(image: torch.Tensor, size: int, cfg: CutoutConfig, generator: torch.Generator) -> torch.Tensor:
    """``cfg.n`` augmented square views of ``image`` (1, 3, H, W) in [0, 1] -> (n, 3, size, size).

    Differentiable with respect to ``image``; the random draws come from ``generator`` only.
    """
    _, _, height, width = image.shape
    n, short = cfg.n, min(height, width)
    smallest = max(1, min(short, int(short * cfg.min_fraction)))
    crops = torch.zeros(n, 4)
    for i in range(n):
        u = float(torch.rand(1, generator=generator))
        side = int(smallest + (short - smallest) * u**cfg.cut_power)
        top = int(torch.randint(height - side + 1, (1,), generator=generator))
        left = int(torch.randint(width - side + 1, (1,), generator=generator))
        crops[i] = torch.tensor([(2 * left + side) / width - 1, (2 * top + side) / height - 1,
                                 side / width, side / height])
    grid = _warp_grids(n, size, crops, cfg, generator).to(image)
    views = F.grid_sample(image.expand(n, -1, -1, -1), grid, mode="bilinear", padding_mode="zeros",
                          align_corners=False)
    # colour jitter: brightness and saturation
    use = (torch.rand(n, generator=generator) < cfg.p).float()
    bright = 1 + _uniform(n, -cfg.jitter, cfg.jitter, generator) * use
    satur = 1 + _uniform(n, -cfg.jitter, cfg.jitter, generator) * use
    grey = views.mean(dim=1, keepdim=True)
    views = (grey + (views - grey) * satur.to(views)[:, None, None, None]) * bright.to(views)[:, None, None, None]
    # random erasing: one rectangle per chosen view, filled with noise
    use = torch.rand(n, generator=generator) < cfg.p
    mask = torch.zeros(n, 1, size, size)
    for i in torch.nonzero(use).flatten().tolist():
        area = float(_uniform(1, *cfg.erase_area, generator)) * size * size
        aspect = math.exp(float(_uniform(1, math.log(0.3), math.log(3.3), generator)))
        h = max(1, min(size, int(round(math.sqrt(area * aspect)))))
        w = max(1, min(size, int(round(math.sqrt(area / aspect)))))
        top = int(torch.randint(size - h + 1, (1,), generator=generator))
        left = int(torch.randint(size - w + 1, (1,), generator=generator))
        mask[i, :, top:top + h, left:left + w] = 1.0
    fill = torch.rand(n, 3, size, size, generator=generator)
    mask = mask.to(views)
    views = views * (1 - mask) + fill.to(views) * mask
    sigma = _uniform(n, 0.0, cfg.noise, generator)[:, None, None, None]
    noise = torch.randn(n, 3, size, size, generator=generator) * sigma
    return (views + noise.to(views)).clamp(0, 1)
