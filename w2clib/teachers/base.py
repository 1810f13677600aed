"""The teacher interface: a frozen image-text model whose image space the audio encoder learns.

Every teacher returns L2-normalised float32 numpy embeddings of size ``dim`` for images and texts,
in one shared space, so audio embeddings distilled from it can be compared with both.  It also
gives the *class prototype* of an ImageNet class (the target of clips that have no picture, e.g.
rendered instrument notes) and a description that a checkpoint records.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from ..metrics import l2_normalize

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["ImageLike", "Teacher", "imagenet_index", "l2_normalize", "pad_to_square", "to_rgb"]

ImageLike = Union["Image.Image", np.ndarray]  # H x W x 3 uint8 arrays or PIL images

WHITE = (255, 255, 255)


def to_rgb(image: ImageLike, background: tuple[int, int, int] = WHITE) -> Image.Image:
    """An RGB ``PIL.Image`` from a PIL image or an H x W x 3 (or x 4, or H x W) uint8 array.

    Transparency is composited over ``background`` (white: stamps and cut-outs are drawn on a page).

    Raises:
        TypeError: not a PIL image or numpy array.
        ValueError: an array of the wrong shape or dtype.
    """
    from PIL import Image

    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise ValueError(f"image arrays must be uint8 (0..255), got {image.dtype}; convert with (x*255).astype('uint8')")
        if image.ndim == 2:
            image = Image.fromarray(image, mode="L")
        elif image.ndim == 3 and image.shape[2] in (3, 4):
            image = Image.fromarray(image, mode="RGB" if image.shape[2] == 3 else "RGBA")
        else:
            raise ValueError(f"image arrays must be H x W x 3 (RGB) or H x W x 4 (RGBA), got shape {image.shape}")
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL image or an H x W x 3 uint8 array, got {type(image).__name__}")
    if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, background + (255,))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return image.convert("RGB")


def pad_to_square(image: Image.Image, fill: tuple[int, int, int] = WHITE) -> Image.Image:
    """Centre ``image`` on a square canvas of its longer side (nothing is cropped away)."""
    from PIL import Image

    side = max(image.size)
    if image.size == (side, side):
        return image
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(image, ((side - image.size[0]) // 2, (side - image.size[1]) // 2))
    return canvas


def imagenet_index(cls: int | str) -> int:
    """The ImageNet-1k index (0..999) of ``cls``: an index, or a class name / synonym (case-insensitive).

    Raises:
        ValueError: an index out of range, or a name that is no ImageNet class synonym.
    """
    if isinstance(cls, (int, np.integer)):
        if not 0 <= int(cls) < 1000:
            raise ValueError(f"ImageNet class index must be in 0..999, got {cls}")
        return int(cls)
    if not isinstance(cls, str):
        raise TypeError(f"an ImageNet class is an index or a name, got {type(cls).__name__}")
    lookup = _synonym_lookup()
    key = cls.strip().lower()
    if key not in lookup:
        raise ValueError(
            f"{cls!r} is not an ImageNet-1k class name or synonym (timm.data.ImageNetInfo lists them); "
            "pass the class index instead"
        )
    return lookup[key]


_SYNONYMS: dict[str, int] | None = None


def _synonym_lookup() -> dict[str, int]:
    global _SYNONYMS
    if _SYNONYMS is None:
        from timm.data import ImageNetInfo

        info = ImageNetInfo()
        table: dict[str, int] = {}
        for index in range(1000):
            for name in info.index_to_description(index).split(","):
                table.setdefault(name.strip().lower(), index)  # first class wins ("crane": the bird)
        _SYNONYMS = table
    return _SYNONYMS


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
        """The image tower's own preprocessing: one image -> (3, image_size, image_size) float tensor."""

    def embed_image_tensor(self, pixels: Any) -> Any:
        """Differentiable image embedding: (n, 3, S, S) float RGB in [0, 1] at ``image_size`` ->
        (n, dim) L2-normalised torch tensor with gradients to ``pixels`` (the generator's perceptor)."""
        raise NotImplementedError(f"{type(self).__name__} has no differentiable image tower; use the packaged "
                                  "or an open_clip teacher as the perceptor")

    def class_prototypes(self, classes: Sequence[int | str]) -> np.ndarray:
        """(n, dim) float32, L2-normalised: the teacher's embedding of each ImageNet class.

        The distillation target of clips that have no picture (a class prototype standing in for
        averaged frame embeddings).  ``classes``: ImageNet indices or class names.  The default is
        the text embedding of an ensemble of photo prompts; a teacher with a class-aware image
        tower overrides it.
        """
        from timm.data import ImageNetInfo

        info = ImageNetInfo()
        names = [info.index_to_description(imagenet_index(c)).split(",")[0].strip() for c in classes]
        templates = ("a photo of a {}.", "a photo of the {}.", "a picture of a {}.", "an image of a {}.")
        if not names:
            return np.zeros((0, self.dim), dtype=np.float32)
        flat = self.embed_texts([t.format(n) for n in names for t in templates])
        return l2_normalize(flat.reshape(len(names), len(templates), -1).mean(axis=1))

    def describe(self) -> dict[str, Any]:
        """What a checkpoint records about the teacher it was distilled from (JSON-serialisable)."""
        return {"name": self.name, "dim": self.dim, "image_size": self.image_size}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim})"
