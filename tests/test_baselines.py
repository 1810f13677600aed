"""Baselines: hand-crafted features, random weights, the supervised trainer, optional extras offline."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from w2clib.evaluate import baselines
from w2clib.evaluate.baselines import BaselineUnavailable, get_baseline, logmel_stats, mfcc_stats
from w2clib.evaluate.embeddings import extract_embeddings, model_fingerprint
from w2clib.evaluate.probes import ProbeConfig, run_probe
from w2clib.evaluate.protocols import Split
from w2clib.evaluate.supervised import SupervisedConfig, run_supervised, train_supervised
from w2clib.model import ModelConfig, build_model

SR = 16000


def tones(n_per_class: int, seconds: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two classes: a low (200-400 Hz) or a high (2-4 kHz) tone, random phase, gain and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    waves, labels = [], []
    for label, (lo, hi) in enumerate([(200, 400), (2000, 4000)]):
        for _ in range(n_per_class):
            f = rng.uniform(lo, hi)
            w = rng.uniform(0.2, 0.8) * np.sin(
                2 * np.pi * f * t + rng.uniform(0, 6.3)
            ) + rng.normal(0, 0.02, t.shape)
            waves.append(w)
            labels.append(label)
    return np.asarray(waves, dtype=np.float32), np.asarray(labels)


def test_feature_statistics_have_the_documented_sizes_and_separate_pitch():
    waves, y = tones(10)
    lm, mf = logmel_stats(waves), mfcc_stats(waves)
    assert lm.shape == (20, 128) and mf.shape == (20, 80) and lm.dtype == np.float32
    # log-mel means of low tones peak in low bands, high tones in high bands
    peak_band = lm[:, :64].argmax(axis=1)
    assert peak_band[y == 0].max() < peak_band[y == 1].min()
    assert logmel_stats(np.zeros(100)).shape == (
        1,
        128,
    )  # shorter than one STFT window: padded, not an error


def test_feature_baselines_embed_files(tmp_path):
    waves, _ = tones(2)
    paths = []
    for i, w in enumerate(waves):
        paths.append(str(tmp_path / f"{i}.wav"))
        sf.write(paths[-1], w, 44100 if i % 2 else SR)  # one resampled, one native
    manifest = pd.DataFrame({"clip_id": [str(i) for i in range(len(paths))], "audio_path": paths})
    for name, dim in (("logmel_stats", 128), ("mfcc_stats", 80)):
        emb = extract_embeddings(manifest, get_baseline(name), tmp_path / "cache", progress=False)
        assert emb.x.shape == (4, dim) and np.isfinite(emb.x).all()


def test_random_init_copies_the_evaluated_architecture_with_seeded_weights():
    trained = build_model(ModelConfig(width=8, embed_dim=32), seed=123)
    a = get_baseline("random_init", like=trained, seed=0)
    b = get_baseline("random_init", like=trained, seed=0)
    c = get_baseline("random_init", like=trained, seed=1)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert a.fingerprint != model_fingerprint(trained)
    assert a.name == "random_init"


def test_supervised_trainer_learns_and_is_deterministic():
    waves, y = tones(12, seed=1)
    test_waves, test_y = tones(8, seed=2)
    config = SupervisedConfig(
        width=8, clip_seconds=0.5, epochs=6, batch_size=8, lr=3e-3, num_threads=1
    )
    model_a, history = train_supervised(waves, y, config, seed=0)
    model_b, _ = train_supervised(waves, y, config, seed=0)
    for (ka, va), (kb, vb) in zip(model_a.state_dict().items(), model_b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka
    assert history[-1] < history[0]
    logits = model_a(torch.from_numpy(test_waves)).detach().numpy()
    assert (logits.argmax(1) == test_y).mean() >= 0.9


def test_run_supervised_scores_each_split_like_a_probe():
    waves, y = tones(10, seed=3)
    split = Split("test", np.arange(0, 20, 2), np.arange(1, 20, 2))
    config = SupervisedConfig(
        width=8, clip_seconds=0.5, epochs=4, batch_size=5, lr=3e-3, num_threads=1
    )
    result = run_supervised(waves, y, [split], config, seeds=[0])
    assert result.kind == "supervised" and len(result.scores) == 1 and 0.0 <= result.mean <= 1.0
    assert len(result.predictions) == 10


def test_logmel_probe_beats_chance_on_pitch_classes():
    waves, y = tones(20, seed=4)
    x = logmel_stats(waves)
    split = Split("test", np.arange(0, 40, 2), np.arange(1, 40, 2))
    assert run_probe(x, y, [split], "linear", ProbeConfig(linear_l2=[1e-2])).mean >= 0.95


def test_unknown_and_unavailable_baselines_raise_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="known: logmel_stats"):
        get_baseline("vggish9000")
    spec = baselines.BASELINES["openl3"]
    monkeypatch.setitem(
        baselines.BASELINES, "openl3", dataclasses.replace(spec, modules=("no_such_module_w2c",))
    )
    with pytest.raises(BaselineUnavailable, match=r"pip install 'w2clib\[baselines\]'"):
        get_baseline("openl3")
    assert "no_such_module_w2c" in baselines.available_baselines()["openl3"]
    assert baselines.available_baselines()["logmel_stats"] is None
    with pytest.raises(ValueError, match="run_supervised"):
        get_baseline("supervised")


def test_weights_that_cannot_be_downloaded_become_baseline_unavailable():
    def offline():
        raise OSError("Temporary failure in name resolution")

    with pytest.raises(BaselineUnavailable, match="run once on a machine with internet access"):
        baselines._load_or_explain("panns", offline)
