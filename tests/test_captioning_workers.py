"""Notebook 09's work in worker processes: captioners, metrics and probes come out the same as in
one process; a trained captioner is loaded, not trained again; where captioners run is a setting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pycocoevalcap")

from w2clib.evaluate.captioning import metrics as M  # noqa: E402
from w2clib.evaluate.captioning.attributes import attribute_probes  # noqa: E402
from w2clib.evaluate.captioning.config import CaptioningConfig  # noqa: E402
from w2clib.evaluate.captioning.decoder import DecoderConfig, load_captioner  # noqa: E402
from w2clib.evaluate.captioning.jobs import CaptionerJob, resolve_device, run_captioner_job  # noqa: E402
from w2clib.evaluate.probes import torch_threads  # noqa: E402
from w2clib.processes import WorkerPool  # noqa: E402

WORDS = ["dog barks", "cat meows", "bird sings", "car passes"]


@pytest.fixture(scope="module")
def pool():
    with WorkerPool(2, 1) as workers:
        yield workers


def _toy(n: int, seed: int) -> tuple[np.ndarray, list[list[str]], np.ndarray]:
    rng = np.random.default_rng(seed)
    cls = np.arange(n) % 4
    x = rng.normal(size=(n, 12)).astype(np.float32)
    x[np.arange(n), cls] += 4.0
    return x, [[f"a {WORDS[c]}", f"the {WORDS[c]} loudly"] for c in cls], cls


def _jobs(folder, n_jobs: int = 3) -> list[CaptionerJob]:
    x, refs, _ = _toy(96, 0)
    test, _, _ = _toy(16, 1)
    cfg = DecoderConfig(prefix_length=2, d_model=16, n_layers=1, n_heads=2, dim_feedforward=32, epochs=6,
                        batch_size=16, lr=3e-3, beam_size=2)
    return [CaptionerJob(folder / f"seed{s}", x[:80], refs[:80], cfg, seed=s, decode={"test": test},
                         x_valid=x[80:], refs_valid=refs[80:], embedder={"name": "toy"}) for s in range(n_jobs)]


def test_captioners_trained_in_workers_equal_those_trained_here_and_are_loaded_next_time(tmp_path, pool):
    with torch_threads(1):  # the workers run one thread each: compare like with like
        here = [run_captioner_job(job) for job in _jobs(tmp_path / "here")]
    there = pool.map(run_captioner_job, _jobs(tmp_path / "there"))
    assert here == there and all(len(out["test"]) == 16 for out in here)
    for s in range(3):
        assert load_captioner(tmp_path / "here" / f"seed{s}").sha256 == \
            load_captioner(tmp_path / "there" / f"seed{s}").sha256
    stamp = (tmp_path / "there" / "seed0" / "captioner.safetensors").stat().st_mtime_ns
    assert pool.map(run_captioner_job, _jobs(tmp_path / "there")) == there  # cached: loaded and decoded
    assert (tmp_path / "there" / "seed0" / "captioner.safetensors").stat().st_mtime_ns == stamp


def test_metrics_computed_in_workers_equal_those_computed_here(pool):
    refs = {f"c{i}": [f"a {WORDS[i % 4]}", f"the {WORDS[i % 4]} loudly"] for i in range(12)}
    runs = {"right": {c: r[1] for c, r in refs.items()},
            "wrong": {c: refs[f"c{(int(c[1:]) + 1) % 12}"][1] for c in refs},
            "empty": {c: "" for c in refs}}
    metrics = [m for m in M.METRICS if m != "METEOR" or M.java_runtime()]
    alone, parallel = M.score_runs(runs, refs, metrics), M.score_runs(runs, refs, metrics, pool=pool)
    for name in runs:
        assert parallel[name].corpus == alone[name].corpus and parallel[name].skipped == alone[name].skipped
        assert list(parallel[name].corpus) == list(alone[name].corpus)  # the same columns, in the same order
        for metric, values in alone[name].per_clip.items():
            np.testing.assert_array_equal(parallel[name].per_clip[metric], values)
    assert parallel["right"].corpus["BLEU_4"] == pytest.approx(1.0)
    assert parallel["wrong"].corpus["BLEU_4"] < 0.5


def test_attribute_probes_fitted_in_workers_equal_those_fitted_here(pool):
    rng = np.random.default_rng(0)
    registers = np.resize(["low", "middle", "high"], 90)
    clips = pd.DataFrame({"clip_id": [f"c{i}" for i in range(90)], "split": ["train"] * 60 + ["test"] * 30,
                          "instrument": "violin", "register": registers, "dynamics": np.resize(["soft", "loud"], 90),
                          "pattern": "single"})
    onehot = pd.get_dummies(clips["register"]).to_numpy(float)
    features = {"knows": np.hstack([3 * onehot, rng.normal(size=(90, 4))]), "noise": rng.normal(size=(90, 6))}
    with torch_threads(1):
        alone = attribute_probes(features, clips)
    parallel = attribute_probes(features, clips, pool=pool)
    pd.testing.assert_frame_equal(alone, parallel)
    assert alone.set_index(["system", "attribute"]).loc[("probe:knows", "register"), "accuracy"] == 1.0


def test_where_captioners_run_is_a_setting_checked_by_name():
    assert resolve_device("cpu") == "cpu"
    import torch

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(RuntimeError, match="gpu0"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="captioning.device is 'cuda'.*no CUDA device"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="captioning.workers"):
        CaptioningConfig(workers=0)
