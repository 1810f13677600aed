"""Augmented views of a still image, so a photo behaves like the frames of a video.

A video clip's teacher target is the mean of its frame embeddings, and the frames differ a little
from each other.  A still image (a Tux Paint photo standing in for a video) gets ``n`` views instead:
view 0 is the image itself, the others are random crops, flips, small rotations and colour changes.
Views are deterministic: they depend only on the image, ``n`` and the seed (derive one per item
with :func:`item_seed` so results do not depend on batch or shard composition).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

from .base import WHITE, ImageLike, to_rgb

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["augmented_views", "item_seed"]


def item_seed(seed: int, key: str) -> int:
    """A 63-bit seed for one item (e.g. its clip id) from a global ``seed``."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "big") >> 1


def augmented_views(image: ImageLike, n: int, seed: int, *, min_area: float = 0.55,
                    max_rotation_deg: float = 10.0, jitter: float = 0.2) -> list[Image.Image]:
    """``n`` RGB views of ``image``: view 0 unchanged, views 1.. randomly augmented.

    Each augmented view: a crop covering ``min_area``..1 of the picture with aspect ratio 3/4..4/3,
    a horizontal flip with probability 1/2, a rotation of up to ``max_rotation_deg`` degrees (white
    fill) and brightness, contrast and saturation factors in ``1 +- jitter``.

    Raises:
        ValueError: ``n < 1`` or parameters out of range.
    """
    from PIL import Image, ImageEnhance

    if n < 1:
        raise ValueError(f"the number of views must be >= 1, got {n}")
    if not 0.0 < min_area <= 1.0 or not 0.0 <= jitter < 1.0:
        raise ValueError(f"min_area must be in (0, 1] and jitter in [0, 1), got {min_area}, {jitter}")
    base = to_rgb(image, WHITE)
    rng = np.random.default_rng(seed)
    views = [base]
    width, height = base.size
    for _ in range(n - 1):
        area = rng.uniform(min_area, 1.0) * width * height
        aspect = float(np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3))))
        w = round(min(width, np.sqrt(area * aspect)))
        h = round(min(height, np.sqrt(area / aspect)))
        left = int(rng.integers(0, width - w + 1))
        top = int(rng.integers(0, height - h + 1))
        view = base.crop((left, top, left + w, top + h))
        if rng.random() < 0.5:
            view = view.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        angle = float(rng.uniform(-max_rotation_deg, max_rotation_deg))
        view = view.rotate(angle, resample=Image.BICUBIC, expand=False, fillcolor=WHITE)
        for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
            view = enhancer(view).enhance(float(rng.uniform(1 - jitter, 1 + jitter)))
        views.append(view)
    return views
