"""Teachers: CLIP through open_clip (the paper's) and the packaged offline teacher, one interface.

    load_teacher("ViT-B-32", pretrained="openai")     # the paper's (inferred: docs/method.md §2)
    load_teacher("ViT-B-16", pretrained="/path/open_clip_model.safetensors")
    load_teacher("packaged")                          # offline: EfficientNet-Lite0 + MiniLM

Every teacher gives ``embed_images``, ``embed_texts`` (L2-normalised float32, (n, dim)),
``class_prototypes``, ``preprocess``, ``dim``, ``name`` and ``describe()``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from .augment import augmented_views, item_seed
from .base import ImageLike, Teacher, imagenet_index, l2_normalize

__all__ = [
    "DEFAULT_TEACHER",
    "ImageLike",
    "Teacher",
    "TeacherConfig",
    "augmented_views",
    "imagenet_index",
    "item_seed",
    "l2_normalize",
    "load_teacher",
    "teacher_from_description",
]

PACKAGED = "packaged"
DEFAULT_TEACHER = "ViT-B-32"  # the one default (load_teacher, TeacherConfig): the paper's CLIP ViT-B/32,
#                               OpenAI weights; every profile names its teacher (mini/smoke: "packaged")


@dataclass
class TeacherConfig:
    """The ``teacher:`` section of a profile: which teacher, and how its targets are computed."""

    name: str = DEFAULT_TEACHER  # an open_clip model name (default: the paper's) or "packaged" (offline)
    pretrained: str | None = "openai"  # open_clip tag or a local weights file; ignored by "packaged"
    weights: str | None = None  # a local open_clip weights file used instead of downloading `pretrained`
    #                             (which then only sets QuickGELU / preprocessing); recorded in checkpoints
    options: dict[str, Any] = field(default_factory=dict)  # extra load_teacher kwargs (PackagedConfig fields,
    #                                                        quick_gelu, device, precision)
    datasets: list[str] = field(default_factory=lambda: ["tuxpaint"])  # whose teacher targets to compute
    views: int = 8  # augmented teacher views per still image (view 0 = the image itself)
    view_seed: int = 0  # seed of the augmentations (views are deterministic per clip id)
    frame_rate: float | None = None  # frames per second of video clips; None = as extracted (1 fps default)
    every_frame: bool = False  # also keep every frame/view embedding (float16), not only the mean
    batch_size: int = 32  # images per teacher forward pass
    chunk_size: int = 256  # clips per resumable chunk file
    max_clips: int | None = None  # first clips (clip-id order) per dataset whose targets are computed; None = all
    eval_dataset: str | None = "tuxpaint"  # (photo, caption) pairs of the retrieval table; None = skip it
    eval_max_pairs: int | None = None  # cap on those pairs (first in stamp order); None = all
    ablation: bool = False  # also tabulate the packaged teacher's variants (docs/teachers.md)

    def __post_init__(self) -> None:
        if self.views < 1:
            raise ValueError(f"teacher.views must be >= 1, got {self.views}")
        if self.frame_rate is not None and self.frame_rate <= 0:
            raise ValueError(f"teacher.frame_rate must be > 0 or null, got {self.frame_rate}")
        if self.eval_dataset not in (None, "tuxpaint"):
            raise ValueError(f"teacher.eval_dataset must be 'tuxpaint' or null, got {self.eval_dataset!r}")
        if self.batch_size < 1 or self.chunk_size < 1:
            raise ValueError("teacher.batch_size and teacher.chunk_size must be >= 1")
        if not isinstance(self.options, dict):
            raise TypeError(f"teacher.options must be a mapping, got {type(self.options).__name__}")

    def load(self) -> Teacher:
        """The teacher this section names."""
        weights = {"weights": self.weights} if self.weights is not None else {}
        return load_teacher(self.name, pretrained=self.pretrained, **weights, **self.options)


def load_teacher(name: str = DEFAULT_TEACHER, pretrained: str | os.PathLike[str] | None = "openai",
                 **kwargs: Any) -> Teacher:
    """A frozen image-text teacher by name.

    Args:
        name: ``"packaged"`` for the offline teacher (:mod:`w2clib.teachers.packaged`), else an
            open_clip model name (``"ViT-B-32"``: the paper's teacher, an inference --
            docs/method.md §2).
        pretrained: for open_clip, a tag (``"openai"``, ``"laion2b_s34b_b79k"``, ...), the path of a
            local weights file, or ``None`` (random weights, for tests).  Ignored by ``"packaged"``.
        **kwargs: ``"packaged"``: :class:`~w2clib.teachers.packaged.PackagedConfig` fields plus
            ``cache_dir`` and ``device``; open_clip: ``weights`` (a local weights file read instead
            of downloading ``pretrained``), ``quick_gelu``, ``device``, ``precision``, ``cache_dir``
            (see :class:`~w2clib.teachers.openclip.OpenCLIPTeacher`).

    Raises:
        ValueError: unknown model name, tag or option.  RuntimeError: weights cannot be downloaded
        (offline): the message says how to supply a local file or use ``"packaged"``.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"teacher name must be a non-empty str, got {name!r}")
    if name == PACKAGED:
        from .packaged import PackagedConfig, PackagedTeacher

        known = {f.name for f in dataclasses.fields(PackagedConfig)}
        unknown = sorted(set(kwargs) - known - {"cache_dir", "device"})
        if unknown:
            raise ValueError(f"unknown options {unknown} for the packaged teacher; known: {sorted(known)} + cache_dir, device")
        config = PackagedConfig(**{k: v for k, v in kwargs.items() if k in known})
        return PackagedTeacher(config, cache_dir=kwargs.get("cache_dir"), device=kwargs.get("device", "cpu"))
    from .openclip import OpenCLIPTeacher

    allowed = {"quick_gelu", "device", "precision", "cache_dir", "weights"}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ValueError(f"unknown options {unknown} for an open_clip teacher; known: {sorted(allowed)}")
    return OpenCLIPTeacher(name, pretrained, **kwargs)


def teacher_from_description(description: dict[str, Any], **kwargs: Any) -> Teacher:
    """Rebuild the teacher a checkpoint recorded (``Teacher.describe()``); ``kwargs`` e.g. ``device``.

    open_clip weights read from a file are read again from the recorded ``weights_file`` and must
    still have the recorded SHA-256; pass ``weights=<path>`` when the file has moved.

    Raises:
        ValueError: the weights came from a file that is neither recorded nor given, or the file
            now holds other weights.
    """
    kind = description.get("kind")
    if kind == "packaged":
        return load_teacher(PACKAGED, **{**description.get("config", {}), **kwargs})
    if kind == "open_clip":
        pretrained = kwargs.pop("pretrained", description.get("pretrained"))
        weights = kwargs.pop("weights", None)
        if weights is None and isinstance(pretrained, str) and os.path.isfile(os.path.expanduser(pretrained)):
            weights, pretrained = pretrained, None  # the older spelling: pretrained=<path>
        recorded = description.get("weights_file")
        if weights is None and recorded:
            if not os.path.isfile(recorded):
                raise ValueError(f"the teacher's weights file {recorded!r} is gone: pass weights='/path/to/it'")
            weights = recorded
        if isinstance(pretrained, str) and pretrained.startswith("file:"):
            if weights is None:
                raise ValueError(
                    f"the teacher was loaded from the file {pretrained[5:]!r}: pass weights='/path/to/that/file'")
            pretrained = None
        pretrained = None if pretrained == "random" else pretrained
        kwargs.setdefault("quick_gelu", description.get("quick_gelu"))
        if weights is not None:
            kwargs["weights"] = weights
        teacher = load_teacher(description["model_name"], pretrained=pretrained, **kwargs)
        want = description.get("weights_sha256")
        if weights is not None and want and getattr(teacher, "weights_sha256", None) != want:
            raise ValueError(f"{weights} holds other weights than the recorded teacher's (SHA-256 "
                             f"{teacher.weights_sha256} vs {want}): pass the file it was trained with")
        return teacher
    raise ValueError(f"cannot rebuild a teacher from {description!r}: 'kind' must be 'packaged' or 'open_clip'")
