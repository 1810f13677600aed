"""Zero-shot classification through a teacher's text tower.

A class is represented by the teacher's text embedding of a prompt built from its cleaned name;
with several templates, the L2-normalised prompt embeddings are averaged and renormalised (CLIP's
prompt ensembling).  An audio clip is assigned the class whose text embedding has the highest cosine
similarity with the clip's (L2-normalised) audio embedding.  This works because the audio encoder
was distilled into the teacher's image space, which the text tower shares.

The paper's prompt wording was not recovered (docs/method.md §6): two template sets are reported,
``"sound"`` (LAION-CLAP's ``"This is a sound of {label}."``) and ``"clip_ensemble"`` (CLIP-style
prompts; the audio embedding lives in CLIP's *image* space, so picture-style prompts are a fair fit).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..metrics import l2_normalize
from ..teachers.base import Teacher
from .probes import mean_average_precision

__all__ = [
    "TEMPLATE_SETS",
    "LABEL_OVERRIDES",
    "clean_label",
    "class_prompts",
    "text_classifier",
    "zero_shot_scores",
    "ZeroShotResult",
    "zero_shot_evaluate",
]

TEMPLATE_SETS: dict[str, list[str]] = {
    # LAION-CLAP's zero-shot prompt; MAEB used it for its Wav2CLIP ESC-50 number (40.75).
    "sound": ["This is a sound of {label}."],
    # CLIP-style prompts (a subset of the kind CLIP uses for ImageNet) plus sound-flavoured variants.
    "clip_ensemble": [
        "a photo of a {label}.",
        "a photo of the {label}.",
        "a picture of a {label}.",
        "an image of {label}.",
        "a photo of something making the sound of {label}.",
        "this is the sound of {label}",
        "the sound of {label}.",
        "a recording of {label}.",
    ],
}

# Names that mechanical cleaning leaves awkward, per dataset.  Choices, documented in docs/evaluation.md.
LABEL_OVERRIDES: dict[str, dict[str, str]] = {
    "esc50": {
        "drinking_sipping": "drinking, sipping",
        "door_wood_knock": "knocking on a wooden door",
        "door_wood_creaks": "creaking wooden door",
        "clock_tick": "clock ticking",
    },
    "urbansound8k": {"gun_shot": "gunshot", "dog_bark": "dog barking"},
    "tau2020": {
        "metro_station": "metro station",
        "street_pedestrian": "pedestrian street",
        "street_traffic": "street traffic",
    },
}


def clean_label(name: str, dataset: str | None = None) -> str:
    """A class name as it should read in a sentence.

    Per-dataset overrides first (:data:`LABEL_OVERRIDES`), then: underscores and hyphen-runs to
    spaces, ``"_and_"`` kept as words, CamelCase split, whitespace collapsed, lower case unless the
    word is an acronym.  E.g. ESC-50 ``"crackling_fire"`` -> ``"crackling fire"``, UrbanSound8K
    ``"street_music"`` -> ``"street music"``, FSD50K ``"Bicycle_bell"`` -> ``"bicycle bell"``.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"class name must be a non-empty string, got {name!r}")
    override = LABEL_OVERRIDES.get(dataset or "", {}).get(name)
    if override is not None:
        return override
    text = name.replace("_", " ")
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)  # CamelCase -> Camel Case
    words = [w if (w.isupper() and len(w) > 1) else w.lower() for w in text.split()]
    return " ".join(words)


def class_prompts(
    class_names: Sequence[str], templates: Sequence[str], dataset: str | None = None
) -> list[list[str]]:
    """For each class, its prompts: ``template.format(label=clean_label(name))`` for every template."""
    if not templates:
        raise ValueError("give at least one prompt template containing '{label}'")
    for template in templates:
        if "{label}" not in template:
            raise ValueError(f"prompt template {template!r} has no '{{label}}' placeholder")
    return [[t.format(label=clean_label(name, dataset)) for t in templates] for name in class_names]


def text_classifier(
    teacher: Teacher,
    class_names: Sequence[str],
    templates: Sequence[str] | str = "sound",
    dataset: str | None = None,
) -> np.ndarray:
    """(n_classes, dim) float32 unit-norm class embeddings (prompt ensemble when several templates).

    ``templates`` is a list of templates or the name of a set in :data:`TEMPLATE_SETS`.
    """
    if isinstance(templates, str):
        if templates not in TEMPLATE_SETS:
            raise ValueError(
                f"unknown template set {templates!r}; known: {sorted(TEMPLATE_SETS)}, or pass a list"
            )
        templates = TEMPLATE_SETS[templates]
    prompts = class_prompts(class_names, templates, dataset)
    flat = [p for group in prompts for p in group]
    emb = l2_normalize(teacher.embed_texts(flat)).reshape(len(class_names), len(templates), -1)
    return l2_normalize(emb.mean(axis=1))


PHOTO_TEMPLATES = ("a photo of a {label}.", "a photo of the {label}.", "a picture of a {label}.",
                   "an image of a {label}.")  # the prompts of a label's *training target* (a picture of it)


def label_targets(teacher: Teacher, labels: Sequence[str], imagenet: dict[str, int]) -> dict[str, np.ndarray]:
    """The target an item with only a ``label`` gets, per label: the teacher's class prototype of
    its ImageNet class where ``imagenet[label] >= 0``, else the teacher's text-tower embedding of the
    label in :data:`PHOTO_TEMPLATES` (a prototype of the *name*, not of anything seen).  Training
    (``pretrain.data_options.real_sources``) and the held-out evaluation use this one definition."""
    labels = sorted(set(labels))
    text = dict(zip(labels, text_classifier(teacher, labels, list(PHOTO_TEMPLATES))))
    with_class = sorted({int(imagenet[lab]) for lab in labels if imagenet[lab] >= 0})
    proto = dict(zip(with_class, teacher.class_prototypes(with_class))) if with_class else {}
    return {lab: np.asarray(proto[int(imagenet[lab])] if imagenet[lab] >= 0 else text[lab], dtype=np.float32)
            for lab in labels}


def zero_shot_scores(audio_emb: np.ndarray, class_emb: np.ndarray) -> np.ndarray:
    """Cosine similarities (n_clips, n_classes) between audio (n, D) and class (C, D) embeddings."""
    audio_emb = np.asarray(audio_emb)
    if audio_emb.ndim != 2 or audio_emb.shape[1] != class_emb.shape[1]:
        raise ValueError(
            f"audio embeddings {audio_emb.shape} and class embeddings {class_emb.shape} must share the last "
            "dimension: evaluate a model distilled from this teacher (its checkpoint records which)"
        )
    return l2_normalize(audio_emb) @ class_emb.T


@dataclass
class ZeroShotResult:
    """Zero-shot scores of one template set."""

    templates: str  # template-set name or "custom"
    metric: str  # "accuracy" (single-label) or "mAP" (multi-label)
    value: float  # in [0, 1]
    chance: float  # 1 / n_classes (accuracy) or mean class prevalence (~ mAP of random scores)
    scores: np.ndarray  # (n_clips, n_classes) cosine similarities
    predictions: np.ndarray  # (n_clips,) argmax class index
    top5: float | None = None  # top-5 accuracy (single-label, >= 5 classes)


def zero_shot_evaluate(
    audio_emb: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str],
    teacher: Teacher,
    templates: Sequence[str] | str = "sound",
    dataset: str | None = None,
) -> ZeroShotResult:
    """Zero-shot top-1 accuracy (``y`` (n,) int64) or mAP (``y`` (n, C) 0/1) of audio embeddings.

    Args:
        audio_emb: (n_clips, D) audio embeddings in the teacher's space (not necessarily unit norm).
        class_names: raw dataset class names, in the order of ``y``'s indices.
        templates: a set name from :data:`TEMPLATE_SETS` or a list of templates.
    """
    class_emb = text_classifier(teacher, class_names, templates, dataset)
    scores = zero_shot_scores(audio_emb, class_emb)
    preds = scores.argmax(axis=1)
    name = templates if isinstance(templates, str) else "custom"
    y = np.asarray(y)
    if y.ndim == 2:
        prevalence = y.mean(axis=0)
        chance = float(
            prevalence[prevalence > 0].mean()
        )  # AP of a random ranking ~ the class prevalence (exactly so as n grows)
        return ZeroShotResult(name, "mAP", mean_average_precision(y, scores), chance, scores, preds)
    top5 = None
    if len(class_names) >= 5:
        top = np.argsort(-scores, axis=1, kind="stable")[:, :5]
        top5 = float((top == y[:, None]).any(axis=1).mean())
    return ZeroShotResult(
        name, "accuracy", float((preds == y).mean()), 1.0 / len(class_names), scores, preds, top5
    )
