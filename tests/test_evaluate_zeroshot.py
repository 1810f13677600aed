"""Zero-shot classification through a fake teacher whose text space is known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from w2clib.evaluate.zeroshot import (
    TEMPLATE_SETS,
    class_prompts,
    clean_label,
    text_classifier,
    zero_shot_evaluate,
)
from w2clib.teachers.base import Teacher

CLASSES = ["dog", "crackling_fire", "street_music", "chirping_birds"]


class KeywordTeacher(Teacher):
    """Text -> the unit vector of the cleaned class name it mentions, plus a per-template offset."""

    name, dim, image_size = "fake", 8, 32

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.directions = {clean_label(c): np.eye(self.dim)[i] for i, c in enumerate(CLASSES)}

    def embed_texts(self, texts, *, batch_size=64):
        self.seen.extend(texts)
        out = []
        for text in texts:
            (hit,) = [v for k, v in self.directions.items() if k in text]
            offset = np.eye(self.dim)[7] * (0.3 if text.startswith("a photo") else 0.0)
            v = hit + offset
            out.append(v / np.linalg.norm(v))
        return np.asarray(out, dtype=np.float32)

    def embed_images(self, images, *, batch_size=32):  # pragma: no cover - not used here
        raise NotImplementedError

    def preprocess(self, image):  # pragma: no cover - not used here
        raise NotImplementedError


@pytest.mark.parametrize(
    "raw, dataset, clean",
    [
        ("dog", "esc50", "dog"),
        ("crackling_fire", "esc50", "crackling fire"),
        ("street_music", "urbansound8k", "street music"),
        ("Bicycle_bell", "fsd50k", "bicycle bell"),
        ("Accelerating_and_revving_and_vroom", "fsd50k", "accelerating and revving and vroom"),
        ("gun_shot", "urbansound8k", "gunshot"),
        ("ChromaticPercussion", None, "chromatic percussion"),
        ("TV", None, "TV"),
    ],
)
def test_label_names_are_cleaned_per_dataset(raw, dataset, clean):
    assert clean_label(raw, dataset) == clean


def test_default_prompt_is_the_laion_clap_sentence():
    assert class_prompts(["crackling_fire"], TEMPLATE_SETS["sound"], "esc50") == [
        ["This is a sound of crackling fire."]
    ]
    with pytest.raises(ValueError, match="placeholder"):
        class_prompts(["dog"], ["a sound"])


def test_prompt_ensemble_is_the_renormalised_mean_of_prompt_embeddings():
    teacher = KeywordTeacher()
    single = text_classifier(teacher, CLASSES, ["This is a sound of {label}."])
    ensemble = text_classifier(teacher, CLASSES, ["a photo of a {label}.", "the sound of {label}."])
    np.testing.assert_allclose(single, np.eye(8)[:4], atol=1e-6)
    expected = np.eye(8)[:4] + (np.eye(8)[:4] + 0.3 * np.eye(8)[7]) / np.sqrt(1.09)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(ensemble, expected, atol=1e-6)
    assert np.allclose(np.linalg.norm(ensemble, axis=1), 1.0)


@pytest.mark.parametrize("templates", ["sound", "clip_ensemble"])
def test_zero_shot_is_perfect_when_audio_points_at_its_class_text(templates):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 10)
    audio = np.eye(8)[y] * 5.0 + rng.normal(
        scale=0.3, size=(40, 8)
    )  # not unit norm, like the encoder
    teacher = KeywordTeacher()
    result = zero_shot_evaluate(audio, y, CLASSES, teacher, templates, dataset="esc50")
    assert result.metric == "accuracy" and result.value == 1.0
    assert result.chance == 0.25
    assert result.predictions.tolist() == y.tolist()
    expected_prompts = [
        p for group in class_prompts(CLASSES, TEMPLATE_SETS[templates], "esc50") for p in group
    ]
    assert teacher.seen == expected_prompts  # the teacher was asked exactly the cleaned prompts


def test_zero_shot_is_at_chance_for_audio_unrelated_to_the_text():
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(4), 250)
    audio = rng.normal(size=(1000, 8))
    result = zero_shot_evaluate(audio, y, CLASSES, KeywordTeacher())
    assert abs(result.value - 0.25) < 0.06


def test_multilabel_zero_shot_reports_map():
    y = np.array([[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 0]], dtype=np.float32)
    audio = np.hstack([y, np.zeros((3, 4))])
    result = zero_shot_evaluate(audio, y, CLASSES, KeywordTeacher())
    assert result.metric == "mAP" and result.value == pytest.approx(1.0)


def test_dimension_mismatch_names_the_fix():
    with pytest.raises(ValueError, match="distilled from this teacher"):
        zero_shot_evaluate(np.ones((2, 5)), np.array([0, 1]), CLASSES, KeywordTeacher())
