"""Teachers: CLIP through open_clip (the paper's) and the packaged offline teacher."""

from __future__ import annotations

from .base import ImageLike, Teacher

__all__ = ["Teacher", "ImageLike", "load_teacher"]


def load_teacher(name: str = "ViT-B-32", pretrained: str | None = "openai", **kwargs: object) -> Teacher:
    """``load_teacher("ViT-B-32", pretrained="openai")`` (any open_clip name/tag or a weights path)
    or ``load_teacher("packaged")`` (offline: EfficientNet-Lite0 + MiniLM, see teachers.packaged)."""
    raise NotImplementedError("teachers are being implemented (issue 3)")
