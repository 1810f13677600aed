"""The notebook-facing calls: profile config, protocol labels, summary rows end to end on wav files."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from w2clib.evaluate.baselines import get_baseline
from w2clib.config import load_profile
from w2clib.evaluate.config import EvaluateConfig, evaluate_config
from w2clib.evaluate.embeddings import extract_embeddings, model_embedder
from w2clib.evaluate.protocols import limit_clips
from w2clib.evaluate.retrieval import paired_retrieval
from w2clib.evaluate.scoring import (
    audio_to_image,
    classification,
    retrieval_rows,
    text_audio,
    zero_shot,
)
from w2clib.evaluate.results import COLUMNS, write_summary

from .test_evaluate_zeroshot import CLASSES, KeywordTeacher


@pytest.mark.parametrize("name", ["smoke", "mini", "paper"])
def test_every_profile_has_a_valid_evaluate_section(name):
    cfg = evaluate_config(load_profile(name))
    assert cfg.probes and cfg.seeds and cfg.templates == ["sound", "clip_ensemble"]
    cfg.probe_config()
    cfg.supervised_config()


def test_unknown_evaluate_keys_fail_loudly(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("evaluate:\n  probe:\n    mlp_hiden: [8]\n")
    with pytest.raises(ValueError, match="mlp_hiden"):
        evaluate_config(load_profile(path))


def test_limit_clips_keeps_every_class_and_split():
    manifest = pd.DataFrame({"label": ["a"] * 90 + ["b"] * 10, "split": ["train", "test"] * 50})
    small = limit_clips(manifest, 20, seed=0)
    assert 18 <= len(small) <= 22
    assert set(map(tuple, small[["label", "split"]].to_numpy())) == {
        ("a", "train"),
        ("a", "test"),
        ("b", "train"),
        ("b", "test"),
    }
    assert small.index.is_monotonic_increasing
    assert limit_clips(manifest, None) is manifest


@pytest.fixture(scope="module")
def esc_like(tmp_path_factory) -> pd.DataFrame:
    """An ESC-50-layout fixture: audio/{fold}-{src}-A-{target}.wav, 4 tone classes x 5 folds x 2 clips."""
    root = tmp_path_factory.mktemp("esc50")
    rng = np.random.default_rng(0)
    t = np.arange(8000) / 16000
    rows = []
    for target, base in enumerate([150, 600, 2400, 6000]):
        for fold in range(1, 6):
            for take in range(2):
                wave = 0.4 * np.sin(2 * np.pi * base * rng.uniform(0.9, 1.1) * t) + rng.normal(
                    0, 0.01, t.shape
                )
                name = f"{fold}-{100 * target + 10 * fold + take}-A-{target}.wav"
                (root / "audio").mkdir(exist_ok=True)
                sf.write(root / "audio" / name, wave.astype(np.float32), 16000)
                rows.append(
                    {
                        "clip_id": name[:-4],
                        "audio_path": str(root / "audio" / name),
                        "label": CLASSES[target],
                        "target": target,
                        "fold": fold,
                        "split": "test",
                    }
                )
    return pd.DataFrame(rows)


def test_classification_and_zero_shot_rows_end_to_end(esc_like, small_model, tmp_path):
    cfg = dataclasses.replace(evaluate_config(load_profile("smoke")), seeds=[0])
    emb = extract_embeddings(
        esc_like, model_embedder(small_model), tmp_path / "cache", progress=False
    )
    feats = extract_embeddings(
        esc_like, get_baseline("logmel_stats"), tmp_path / "cache", progress=False
    )
    results, rows = classification(
        feats.x, esc_like, "esc50", cfg, model="logmel_stats", profile="smoke"
    )
    assert set(results) == {"mlp", "linear"}
    assert (
        results["linear"].mean >= 0.9
    )  # tone classes an octave+ apart: log-mel statistics separate them
    assert [r["protocol"] for r in rows] == ["5-fold CV, MLP probe", "5-fold CV, linear probe"]
    assert all(r["status"] == "not_comparable" and r["chance"] == 25.0 for r in rows)

    teacher = KeywordTeacher()
    audio_in_teacher_space = np.eye(8)[
        esc_like["target"].to_numpy()
    ]  # stands in for a distilled encoder
    zs, zs_rows = zero_shot(
        audio_in_teacher_space, esc_like, "esc50", teacher, cfg, model="wav2clip", profile="paper",
        compare_with_paper=True
    )
    assert zs["sound"].value == 1.0
    assert zs_rows[0]["paper"] == 41.4 and zs_rows[0]["status"] == "mismatch"  # 100 vs 41.4

    ret = paired_retrieval(emb.x, emb.x)
    r_rows = retrieval_rows(
        ret,
        dataset="esc50",
        direction="audio->audio",
        model="wav2clip",
        profile="smoke",
        metrics=["R@1", "MRR"],
    )
    merged = write_summary(rows + zs_rows + r_rows, tmp_path / "summary.csv")
    assert list(merged.columns) == COLUMNS and len(merged) == 6
    assert set(merged["task"]) == {"classification", "zero-shot", "retrieval"}


def test_only_the_mlp_probe_is_held_against_the_paper():
    rng = np.random.default_rng(0)
    manifest = pd.DataFrame(
        {"label": np.repeat(["a", "b"], 50), "fold": np.tile(np.arange(1, 6), 20)}
    )
    x = rng.normal(size=(100, 4)).astype(np.float32)
    cfg = EvaluateConfig(
        seeds=[0],
        probe={
            "mlp_hidden": [8],
            "mlp_weight_decay": [1e-3],
            "mlp_max_epochs": 3,
            "linear_l2": [1.0],
        },
    )
    _, rows = classification(x, manifest, "esc50", cfg, model="wav2clip", profile="paper", compare_with_paper=True)
    by_probe = {r["protocol"]: r for r in rows}
    assert by_probe["5-fold CV, MLP probe"]["paper"] == 85.95
    assert by_probe["5-fold CV, linear probe"]["paper"] is None


class ColourTeacher(KeywordTeacher):
    """Images -> their unit mean RGB colour (in the first 3 dims of the 8-d space)."""

    def embed_images(self, images, *, batch_size=32):
        out = np.zeros((len(images), self.dim), dtype=np.float32)
        for i, image in enumerate(images):
            out[i, :3] = np.asarray(image.convert("RGB"), dtype=np.float32).mean(axis=(0, 1))
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_audio_to_image_retrieves_among_distinct_images(tmp_path):
    from PIL import Image

    colours = {"red": (250, 10, 10), "green": (10, 250, 10), "blue": (10, 10, 250)}
    for name, rgb in colours.items():
        Image.new("RGB", (8, 8), rgb).save(tmp_path / f"{name}.png")
    # a sound effect and a spoken caption share the red stamp; the blue clip points at green
    manifest = pd.DataFrame(
        {"image_path": [str(tmp_path / f"{c}.png") for c in ("red", "red", "green", "blue")]}
    )
    x = np.zeros((4, 8))
    x[[0, 1], 0], x[2, 1], x[3, 1] = 1.0, 1.0, 1.0
    out = audio_to_image(x, manifest, ColourTeacher())
    assert out["metrics"]["R@1"] == pytest.approx(3 / 4)
    assert out["chance"]["R@1"] == pytest.approx(1 / 3)  # three distinct images


def test_text_audio_uses_every_caption_of_a_clip():
    manifest = pd.DataFrame(
        {"captions": [["a dog barks", "crackling fire nearby"], ["street music plays"]]}
    )
    x = np.zeros((2, 8))
    x[0, 0], x[1, 2], x[1, 1] = 1.0, 1.0, 0.5  # clip 0 sounds like "dog", clip 1 like music (+ a bit of fire)
    out = text_audio(x, manifest, KeywordTeacher())
    assert out["audio_to_text"]["metrics"]["R@1"] == 1.0
    assert out["text_to_audio"]["metrics"]["R@1"] == pytest.approx(2 / 3)  # the fire caption misses
    with pytest.raises(ValueError, match="no caption"):
        text_audio(x, pd.DataFrame({"caption": ["a dog", ""]}), KeywordTeacher())
