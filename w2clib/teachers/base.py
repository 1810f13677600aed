"""The teacher interface: a frozen image-text model whose image space the audio encoder learns.

Every teacher returns L2-normalised float32 numpy embeddings of size ``dim`` for images and texts,
in one shared space, so audio embeddings distilled from it can be compared with both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Union

import numpy as np

__all__ = ["Teacher", "ImageLike"]

ImageLike = Union["PIL.Image.Image", np.ndarray]  # noqa: F821  (H x W x 3 uint8 arrays or PIL images)


class Teacher(ABC):
    """A frozen image/text embedding model."""

    name: str  # e.g. "ViT-B-32/openai" or "packaged"
    dim: int  # embedding size
    image_size: int  # side of the square input the image tower expects, pixels

    @abstractmethod
    def embed_images(self, images: Sequence[ImageLike], *, batch_size: int = 32) -> np.ndarray:
        """(n, dim) float32, L2-normalised.  ``images``: PIL images or H x W x 3 uint8 arrays."""

    @abstractmethod
    def embed_texts(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """(n, dim) float32, L2-normalised, in the same space as :meth:`embed_images`."""

    @abstractmethod
    def preprocess(self, image: ImageLike) -> Any:
        """The image tower's own preprocessing: one image -> (3, image_size, image_size) tensor."""

    def describe(self) -> dict[str, Any]:
        """What a checkpoint records about the teacher it was distilled from."""
        return {"name": self.name, "dim": self.dim, "image_size": self.image_size}
