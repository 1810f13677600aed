"""Score one model's embeddings of one evaluation set: results plus summary rows.

Each function runs a task on embeddings already extracted (:mod:`w2clib.evaluate.embeddings`) with
the profile's :class:`w2clib.evaluate.config.EvaluateConfig`, and returns the detailed results (to
save as CSV/JSON) plus rows for ``results/summary.csv`` (:func:`w2clib.evaluate.results.write_summary`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..metrics import chance_levels, l2_normalize, retrieval_metrics
from ..data import capabilities
from .results import result_row
from ..teachers.base import Teacher
from .config import EvaluateConfig
from .probes import ProbeResult, run_probe
from .protocols import PROTOCOLS, class_order, encode_labels, make_splits
from .retrieval import paired_retrieval
from .zeroshot import ZeroShotResult, zero_shot_evaluate

__all__ = [
    "protocol_label",
    "classification",
    "zero_shot",
    "audio_to_image",
    "text_audio",
    "retrieval_rows",
    "class_photo_retrieval",
    "chance_accuracy",
]

PROBE_NAMES = {"mlp": "MLP probe", "linear": "linear probe"}


def protocol_label(manifest: pd.DataFrame, dataset: str) -> str:
    """How a dataset is split, for the ``protocol`` column: ``"5-fold CV"`` or ``"train/test"``."""
    if PROTOCOLS.get(dataset, "train_test") == "folds":
        return f"{manifest['fold'].nunique()}-fold CV"
    return "train/test"


def chance_accuracy(y: np.ndarray) -> float:
    """Chance level of a uniform random guess: 1 / n_classes (single-label), mean prevalence (mAP)."""
    if y.ndim == 2:
        prevalence = y.mean(axis=0)
        return float(prevalence[prevalence > 0].mean())
    return 1.0 / (int(y.max()) + 1)


def classification(
    x: np.ndarray,
    manifest: pd.DataFrame,
    dataset: str,
    cfg: EvaluateConfig,
    *,
    model: str,
    profile: str,
    compare_with_paper: bool = False,
    checkpoint_sha256: str = "",
    classes: Sequence[str] | None = None,
) -> tuple[dict[str, ProbeResult], list[dict[str, Any]]]:
    """Every probe kind of ``cfg.probes`` under the dataset's protocol, over ``cfg.seeds``.

    Args:
        x: (n, D) embeddings row-aligned with ``manifest``.
        dataset: a key of :data:`w2clib.evaluate.protocols.PROTOCOLS` (selects protocol and metric).

    Returns:
        ``({kind: ProbeResult}, summary rows)``.  Only the MLP probe (the paper's kind) is compared
        with the paper's value.
    """
    multilabel = capabilities(dataset).multilabel
    y, _ = encode_labels(
        manifest,
        classes if classes is not None else class_order(manifest, multilabel=multilabel),
        multilabel=multilabel,
    )
    splits = make_splits(manifest, PROTOCOLS.get(dataset, "train_test"))
    task, metric = ("tagging", "mAP") if multilabel else ("classification", "accuracy")
    results, rows = {}, []
    for kind in cfg.probes:
        result = run_probe(x, y, splits, kind, cfg.probe_config(), cfg.seeds)  # type: ignore[arg-type]
        results[kind] = result
        rows.append(
            result_row(
                task=task,
                dataset=dataset,
                protocol=f"{protocol_label(manifest, dataset)}, {PROBE_NAMES.get(kind, kind)}",
                metric=metric,
                model=model,
                values=result.scores["score"].tolist(),
                n_seeds=result.n_seeds,
                chance=chance_accuracy(y),
                profile=profile,
                compare_with_paper=compare_with_paper,
                checkpoint_sha256=checkpoint_sha256,
                compare=(kind == "mlp"),
            )
        )
    return results, rows


def zero_shot(
    x: np.ndarray,
    manifest: pd.DataFrame,
    dataset: str,
    teacher: Teacher,
    cfg: EvaluateConfig,
    *,
    model: str,
    profile: str,
    compare_with_paper: bool = False,
    checkpoint_sha256: str = "",
    classes: Sequence[str] | None = None,
    scope: str = "all clips",
) -> tuple[dict[str, ZeroShotResult], list[dict[str, Any]]]:
    """Zero-shot over all clips of ``manifest`` for every template set of ``cfg.templates``.

    Deterministic (no training), so ``n_seeds`` is 1 and ``ours_std`` is 0.  ``scope`` names the
    clips scored in the ``protocol`` column (the paper: ``"all clips"``).
    """
    multilabel = capabilities(dataset).multilabel
    y, names = encode_labels(
        manifest,
        classes if classes is not None else class_order(manifest, multilabel=multilabel),
        multilabel=multilabel,
    )
    results, rows = {}, []
    for templates in cfg.templates:
        result = zero_shot_evaluate(x, y, names, teacher, templates, dataset)
        results[templates] = result
        rows.append(
            result_row(
                task="zero-shot",
                dataset=dataset,
                protocol=f"{scope}, prompts={templates}",
                metric=result.metric,
                model=model,
                values=result.value,
                n_seeds=1,
                chance=result.chance,
                profile=profile,
                compare_with_paper=compare_with_paper,
                checkpoint_sha256=checkpoint_sha256,
            )
        )
    return results, rows


def retrieval_rows(
    outcome: dict[str, dict[str, float]],
    *,
    dataset: str,
    direction: str,
    model: str,
    profile: str,
    compare_with_paper: bool = False,
    checkpoint_sha256: str = "",
    metrics: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Summary rows of one retrieval direction (``{"metrics": ..., "chance": ...}`` from retrieval.py)."""
    names = metrics or list(outcome["metrics"])
    return [
        result_row(
            task="retrieval",
            dataset=dataset,
            protocol=direction,
            metric=name,
            model=model,
            values=outcome["metrics"][name],
            n_seeds=1,
            chance=outcome["chance"].get(name),
            profile=profile,
            compare_with_paper=compare_with_paper,
            checkpoint_sha256=checkpoint_sha256,
        )
        for name in names
    ]


def audio_to_image(
    x: np.ndarray, manifest: pd.DataFrame, teacher: Teacher, ks: Sequence[int] = (1, 5, 10)
) -> dict[str, dict[str, float]]:
    """Audio -> image retrieval over the distinct images of ``manifest["image_path"]``.

    Each clip's query retrieves among all distinct images; its own image is the relevant one
    (clips sharing an image -- a stamp's sound effect and its spoken caption -- share the target).

    Args:
        x: (n_clips, D) audio embeddings in the teacher's space, row-aligned with ``manifest``.

    Returns:
        ``{"metrics": ..., "chance": ..., "size": {"queries": ..., "items": ...}}`` (metrics and chance
        as :func:`w2clib.evaluate.retrieval.paired_retrieval`).
    """
    from PIL import Image

    if "image_path" not in manifest.columns:
        raise ValueError("audio->image retrieval needs an 'image_path' column in the manifest")
    paths = manifest["image_path"].astype(str).tolist()
    unique = list(dict.fromkeys(paths))
    images = []
    for path in unique:
        with Image.open(path) as image:
            images.append(image.copy())
    out = paired_retrieval(x, teacher.embed_images(images), paths, unique, ks)
    out["size"] = {"queries": len(paths), "items": len(unique)}
    return out


def text_audio(
    x: np.ndarray, manifest: pd.DataFrame, teacher: Teacher, ks: Sequence[int] = (1, 5, 10)
) -> dict[str, dict[str, dict[str, float]]]:
    """Text <-> audio retrieval with every caption of each clip (``captions`` list, else ``caption``).

    Identical captions (compared case- and whitespace-insensitively) are one text item: the text
    "A cow." of two different cow clips cannot tell them apart, so both clips are relevant to it, and
    an audio query is a hit when any of its own captions is retrieved.  With distinct captions (Clotho)
    this is the usual protocol of :func:`w2clib.evaluate.retrieval.caption_retrieval`.

    Returns:
        ``{"text_to_audio": ..., "audio_to_text": ...}``, each ``{"metrics": ..., "chance": ...,
        "size": {"queries": ..., "items": ...}}``.
    """
    column = "captions" if "captions" in manifest.columns else "caption"
    if column not in manifest.columns:
        raise ValueError("text<->audio retrieval needs a 'captions' (list) or 'caption' column")
    texts: dict[str, str] = {}  # normalised -> first spelling seen
    owners: dict[str, set[int]] = {}
    for i, value in enumerate(manifest[column]):
        items = [value] if isinstance(value, str) else list(value)
        for caption in items:
            if isinstance(caption, str) and caption.strip():
                norm = " ".join(caption.lower().split())
                texts.setdefault(norm, caption)
                owners.setdefault(norm, set()).add(i)
    covered = set().union(*owners.values()) if owners else set()
    missing = sorted(set(range(len(manifest))) - covered)
    if missing:
        raise ValueError(f"clips {missing[:5]} have no caption; drop them from the manifest first")
    keys = list(texts)
    relevant = np.zeros((len(keys), len(manifest)), dtype=bool)  # (text, clip)
    for row, key in enumerate(keys):
        relevant[row, sorted(owners[key])] = True
    a = l2_normalize(x, axis=1, dtype=np.float64)
    t = l2_normalize(teacher.embed_texts([texts[k] for k in keys]), axis=1, dtype=np.float64)
    sim = t @ a.T
    return {
        "text_to_audio": {
            "metrics": retrieval_metrics(sim, relevant, ks),
            "chance": chance_levels(relevant, ks),
            "size": {"queries": len(keys), "items": len(manifest)},
        },
        "audio_to_text": {
            "metrics": retrieval_metrics(sim.T, relevant.T, ks),
            "chance": chance_levels(relevant.T, ks),
            "size": {"queries": len(manifest), "items": len(keys)},
        },
    }


def class_photo_retrieval(
    x: np.ndarray, manifest: pd.DataFrame, photos: pd.DataFrame, teacher: Any, ks: Sequence[int] = (1, 5, 10)
) -> dict[str, dict[str, float]]:
    """Audio -> photo retrieval by class: each clip ranks ``photos`` (``image_path, label``); the photos
    of its own class are relevant.  Clips of classes without a photo are left out.

    Args:
        x: (n_clips, D) audio embeddings in the teacher's space, row-aligned with ``manifest``.
    """
    from ..data.embedded.tuxpaint import load_stamp_image

    keep = manifest["label"].isin(set(photos["label"])).to_numpy()
    if not keep.any():
        raise ValueError("no clip belongs to a class that has a photo")
    images = [load_stamp_image(p) for p in photos["image_path"]]
    out = paired_retrieval(x[keep], teacher.embed_images(images), manifest["label"][keep].tolist(),
                           photos["label"].tolist(), ks)
    out["size"] = {"queries": int(keep.sum()), "items": len(images)}
    return out
