"""How good is a teacher as an image-text model: retrieval between photos and their captions.

The embedded benchmark is the Tux Paint stamps (real photos with English captions, from the Debian
package; :mod:`w2clib.data.embedded.tuxpaint`).  A caption retrieves its photo (text -> image) and
a photo its caption (image -> text).  Identical captions (two stamps both "A cow.") cannot be told
apart from the text, so by default every photo carrying the query's exact caption counts as a hit
(``relevance="caption"``); ``relevance="pair"`` counts only the query's own photo.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .base import ImageLike, Teacher

if TYPE_CHECKING:
    from PIL import Image

    from .packaged import PackagedTeacher

__all__ = [
    "PACKAGED_ABLATION",
    "image_text_retrieval",
    "image_text_rows",
    "load_images",
    "packaged_ablation",
    "tuxpaint_pairs",
]


def load_images(paths: Sequence[str | os.PathLike[str]]) -> list[Image.Image]:
    """Open image files fully into memory (RGBA kept: teachers composite transparency themselves).

    Raises:
        FileNotFoundError: a path that does not exist.
    """
    from PIL import Image

    out = []
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"image file not found: {path}")
        with Image.open(path) as im:
            im.load()
            out.append(im.copy())
    return out


def image_text_retrieval(teacher: Teacher, images: Sequence[ImageLike], captions: Sequence[str], *,
                         relevance: str = "caption", ks: Sequence[int] = (1, 5, 10), batch_size: int = 32
                         ) -> dict[str, Any]:
    """Text -> image and image -> text retrieval of ``n`` (image, caption) pairs by cosine similarity.

    Returns:
        ``{"n": n, "text_to_image": {"metrics": {...}, "chance": {...}}, "image_to_text": {...},
        "image_embeddings": (n, dim), "text_embeddings": (n, dim)}``; metrics are R@k, MRR and
        mAP@10 in [0, 1] (:mod:`w2clib.evaluate.retrieval`), chance their exact random-ranking value.
    """
    from ..metrics import chance_levels, retrieval_metrics

    if len(images) != len(captions):
        raise ValueError(f"{len(images)} images but {len(captions)} captions: pass one caption per image")
    if len(images) < 2:
        raise ValueError("retrieval needs at least 2 (image, caption) pairs")
    if relevance not in ("caption", "pair"):
        raise ValueError(f"relevance must be 'caption' or 'pair', got {relevance!r}")
    img = teacher.embed_images(images, batch_size=batch_size)
    txt = teacher.embed_texts(list(captions))
    if relevance == "caption":
        keys = np.array([c.strip().lower() for c in captions], dtype=object)
        relevant = keys[:, None] == keys[None, :]
    else:
        relevant = np.eye(len(captions), dtype=bool)
    sim = txt.astype(np.float64) @ img.astype(np.float64).T
    out: dict[str, Any] = {"n": len(captions), "relevance": relevance}
    for direction, s, r in (("text_to_image", sim, relevant), ("image_to_text", sim.T, relevant.T)):
        out[direction] = {"metrics": retrieval_metrics(s, r, ks), "chance": chance_levels(r, ks)}
    out["image_embeddings"], out["text_embeddings"] = img, txt
    return out


# The packaged teacher step by step, from the prototype's choices (docs/offline.md) to the default.
# "dim": 999 is the full rank of the centred classifier (the prototype used all 1280 raw dims).
_SHORT = "a photo of a {name}."
PACKAGED_ABLATION: dict[str, dict[str, Any]] = {
    "prototype: ridge map": {"class_prompt": _SHORT, "dim": 999, "ridge_lambda": 3.0,
                             "ridge_weight": 1.0, "image_class_weight": 0.0},
    "prototype: nearest class row": {"class_prompt": _SHORT, "dim": 999, "ridge_weight": 0.0,
                                     "text_temperature": 1e-4, "image_class_weight": 0.0},
    "prototype: softmax over rows": {"class_prompt": _SHORT, "dim": 999, "ridge_weight": 0.0,
                                     "image_class_weight": 0.0},
    "+ WordNet definitions": {"dim": 999, "ridge_weight": 0.0, "image_class_weight": 0.0},
    "+ 512-d projection": {"ridge_weight": 0.0, "image_class_weight": 0.0},
    "+ image class mixture": {"ridge_weight": 0.0},
    "+ 0.3 ridge map (default)": {},
    "default at 256-d": {"dim": 256},
    "default at 999-d": {"dim": 999},
}


def packaged_ablation(teacher: PackagedTeacher, images: Sequence[ImageLike], captions: Sequence[str],
                      variants: dict[str, dict[str, Any]] | None = None, *, relevance: str = "caption",
                      ks: Sequence[int] = (1, 5, 10)) -> pd.DataFrame:
    """Text -> image retrieval of each packaged-teacher variant (config changes from the default).

    The image tower runs once; each variant only refits (or loads) its bridge.  Returns one row
    per variant: ``variant, dim, R@k..., MRR, chance_R@1, n``.
    """
    from ..metrics import chance_levels, retrieval_metrics
    from .packaged import PackagedConfig

    variants = PACKAGED_ABLATION if variants is None else variants
    feats, logits = teacher.image_features(images)
    keys = np.array([c.strip().lower() for c in captions], dtype=object)
    relevant = keys[:, None] == keys[None, :] if relevance == "caption" else np.eye(len(captions), dtype=bool)
    chance = chance_levels(relevant, ks)
    rows = []
    for name, changes in variants.items():
        variant = teacher.with_config(**{**_defaults(PackagedConfig), **changes})
        img = variant.embed_from_features(feats, logits)
        txt = variant.embed_texts(list(captions))
        metrics = retrieval_metrics(txt.astype(np.float64) @ img.astype(np.float64).T, relevant, ks)
        rows.append({"variant": name, "dim": variant.dim, **{k: round(v, 4) for k, v in metrics.items()},
                     "chance_R@1": round(chance["R@1"], 4), "n": len(captions)})
    return pd.DataFrame(rows)


def _defaults(cls: type) -> dict[str, Any]:
    import dataclasses

    return {f.name: f.default for f in dataclasses.fields(cls)}


def image_text_rows(result: dict[str, Any], **labels: Any) -> list[dict[str, Any]]:
    """Flatten :func:`image_text_retrieval` into rows of the teacher table (one per direction and metric;
    the evaluation's summary rows are :func:`w2clib.evaluate.scoring.retrieval_rows`)."""
    rows = []
    for direction in ("text_to_image", "image_to_text"):
        for metric, value in result[direction]["metrics"].items():
            rows.append({**labels, "direction": direction, "metric": metric, "value": round(float(value), 4),
                         "chance": round(float(result[direction]["chance"][metric]), 4), "n": result["n"],
                         "relevance": result["relevance"]})
    return rows


def tuxpaint_pairs(data_home: str | os.PathLike[str] | None = None, *, options: dict[str, Any] | None = None,
                   with_sound: bool = False, split: str | None = None, max_pairs: int | None = None) -> pd.DataFrame:
    """The Tux Paint (photo, caption) pairs: ``stamp, image_path, caption, label, split, ...``.

    Prepares the dataset if needed with ``options`` (:class:`~w2clib.data.embedded.tuxpaint.TuxPaintOptions`
    fields, e.g. a profile's ``DataConfig.options_for("tuxpaint")``).  ``with_sound``: only stamps
    that have a sound (the audio-visual items); ``split``: ``"train"``/``"test"``; ``max_pairs``: the
    first ``max_pairs`` in stamp order (a fixed subset for quick runs).

    Raises:
        whatever preparing the data raises offline without apt (a clear message from the data module).
    """
    from ..data import resolve_data_home
    from ..data.embedded.tuxpaint import TUXPAINT

    home = resolve_data_home(data_home)
    TUXPAINT.prepare(home, **(options or {}))
    stamps = TUXPAINT.load_stamps(home, **(options or {}))
    if with_sound:
        stamps = stamps[stamps["n_sounds"] > 0]
    if split is not None:
        stamps = stamps[stamps["split"] == split]
    stamps = stamps.sort_values("stamp", kind="stable").reset_index(drop=True)
    return stamps.head(max_pairs) if max_pairs is not None else stamps
