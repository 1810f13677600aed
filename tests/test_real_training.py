"""Training on real recordings of some packages and scoring on the others (held out by source).

Generated packages laid out like the Debian ones (no apt, no network) and a hash-based stand-in
teacher; the spread and separation rule on hand-made tables.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.test_real_sources import HashTeacher, _fake_packages, _wav
from w2clib.data.embedded.realsounds import HELDOUT_SOURCES, SOURCES, TRAIN_SOURCES, RealSoundsDataset
from w2clib.evaluate.real_heldout import heldout_sources, trained_real_sources
from w2clib.evaluate.real_runs import RealHeldOutOptions, separation, spread_summary
from w2clib.training import embedded as emb


def _fake_lmms(tmp_path) -> str:
    root = tmp_path / "lmms-common"
    samples = root / "usr/share/lmms/samples"
    for k, name in enumerate(["drums/kick01", "drums/kick02", "drums/snare01", "instruments/cello01",
                              "misc/applause01", "basses/bass01"]):
        _wav(samples / f"{name}.wav", 120 + 90 * k, rate=22050)
    return str(root)


@pytest.fixture
def home_with_lmms(tmp_path):
    roots = {**_fake_packages(tmp_path), "lmms-common": _fake_lmms(tmp_path)}
    home = tmp_path / "home"
    RealSoundsDataset().prepare(home, log=lambda _: None, sources=["sound-icons", "lincity-ng", "lmms"],
                                root_dirs=roots)
    return home


def test_sources_say_their_role_and_lmms_is_the_training_source():
    assert TRAIN_SOURCES == ("lmms",)
    assert set(HELDOUT_SOURCES) | set(TRAIN_SOURCES) == set(SOURCES) and "scratch" in HELDOUT_SOURCES
    assert SOURCES["scratch"].image_dir and all(e.image for e in SOURCES["scratch"].table.values())


def test_training_rows_are_split_train_and_evaluation_never_scores_a_heard_source(home_with_lmms, tmp_path):
    manifest = RealSoundsDataset().load_manifest(home_with_lmms)
    lmms = manifest[manifest["source"] == "lmms"]
    assert (lmms["split"] == "train").all() and (manifest.loc[manifest["source"] != "lmms", "split"] == "test").all()
    assert sorted(lmms["label"]) == ["applause", "bass drum", "bass drum", "cello", "snare drum"]  # bass01: unlabelled
    assert heldout_sources(manifest) == ["lincity-ng", "sound-icons"]
    assert heldout_sources(manifest, ["sound-icons"]) == ["lincity-ng"]
    # a checkpoint folder records what it trained on
    run = tmp_path / "run"
    run.mkdir()
    assert trained_real_sources(run) == []
    (run / "config.json").write_text(json.dumps({"training": {"pretrain": {"data_options": {
        "real_per_batch": 2, "real_sources": ["lmms"]}}}}))
    assert trained_real_sources(run) == ["lmms"]


def test_real_source_targets_are_class_prototypes_or_label_text_prototypes(home_with_lmms, monkeypatch):
    from w2clib.data.embedded import profile as data_profile
    from w2clib.evaluate.zeroshot import PHOTO_TEMPLATES

    teacher = HashTeacher()
    manifest = RealSoundsDataset().load_manifest(home_with_lmms)
    monkeypatch.setattr(emb, "load_profile_teacher", lambda profile: teacher)
    monkeypatch.setattr(data_profile, "prepare_datasets", lambda cfg, *a, **k: {
        "real_sounds": data_profile.PreparedDataset("real_sounds", None, manifest, None, 0.0)})
    short = manifest.assign(duration_s=np.where(manifest["clip_id"] == "lmms/drums/kick02", 0.05, manifest["duration_s"]))
    monkeypatch.setattr(data_profile, "prepare_datasets", lambda cfg, *a, **k: {
        "real_sounds": data_profile.PreparedDataset("real_sounds", None, short, None, 0.0)})
    clipped = emb.real_source("smoke", ("lmms",), min_seconds=0.1)
    assert len(clipped) == 4 and clipped.skipped == [("lmms/drums/kick02", "too_short")]
    monkeypatch.setattr(data_profile, "prepare_datasets", lambda cfg, *a, **k: {
        "real_sounds": data_profile.PreparedDataset("real_sounds", None, manifest, None, 0.0)})
    source = emb.real_source("smoke", ("lmms",))
    assert len(source) == 5 and sorted(set(source.groups)) == ["applause", "bass drum", "cello", "snare drum"]
    by_id = dict(zip(source.clip_ids, range(len(source))))
    np.testing.assert_allclose(source.target(by_id["lmms/drums/kick01"]), teacher.class_prototypes([541])[0])
    np.testing.assert_allclose(source.target(by_id["lmms/instruments/cello01"]), teacher.class_prototypes([486])[0])
    applause = teacher.embed_texts([t.format(label="applause") for t in PHOTO_TEMPLATES]).mean(axis=0)
    np.testing.assert_allclose(source.target(by_id["lmms/misc/applause01"]), applause / np.linalg.norm(applause),
                               atol=1e-6)


def test_real_training_options_are_checked_with_what_to_do():
    with pytest.raises(ValueError, match="needs real_sources"):
        emb.EmbeddedOptions(real_per_batch=4)
    with pytest.raises(ValueError, match="needs real_sources"):
        emb.EmbeddedOptions(real_sources=("lmms",))
    with pytest.raises(ValueError, match="held out for evaluation"):
        emb.EmbeddedOptions(real_per_batch=4, real_sources=("lincity-ng",))
    with pytest.raises(ValueError, match="not real_sounds sources"):
        emb.EmbeddedOptions(real_per_batch=4, real_sources=("nope",))
    opts = emb.EmbeddedOptions.from_options({"gm_per_batch": 12, "tux_per_batch": 12, "real_per_batch": 8,
                                             "real_sources": ["lmms"]})
    assert opts.per_batch == 32 and opts.real_sources == ("lmms",)


def test_a_batch_gets_a_third_part_of_distinct_real_labels(monkeypatch):
    from tests.test_pretrain_embedded import SMOKE, _config, _fake_sources
    from w2clib.training.loader import BatchPlan, build_data
    from w2clib.training.sources import ArraySource

    sources = _fake_sources()
    monkeypatch.setattr(emb, "embedded_sources", lambda profile, views=None: {"gm": sources["gm"], "tux": sources["tux"]})
    rng = np.random.default_rng(1)
    labels = [f"label{k % 5}" for k in range(15)]
    real = ArraySource([rng.normal(0, 0.1, 6000).astype(np.float32) for _ in labels],
                       np.eye(8, dtype=np.float32)[[k % 5 for k in range(15)]], [f"r{k:02d}" for k in range(15)],
                       name="real_sounds", groups=labels)
    monkeypatch.setattr(emb, "real_source", lambda profile, names, min_seconds=0.0: real)
    config = _config(batch_size=10, data_options={"gm_per_batch": 4, "tux_per_batch": 3, "real_per_batch": 3,
                                                  "real_sources": ["lmms"]})
    data = build_data(config, SMOKE)
    assert [p.source.name for p in data.train] == ["gm_fluidr3", "tuxpaint", "real_sounds"]
    assert len(data.train[2].source) == 13 and len(data.valid[2].source) == 2  # n_valid=2 kept aside
    plan = BatchPlan(data.train, config.seed)
    groups = np.asarray(data.train[2].source.groups)
    for step in range(plan.steps_per_epoch):
        keys = [k for k in plan.keys(0, step) if k[0] == 2]
        assert len(keys) == 3 and len({groups[k[1]] for k in keys}) == 3
    with pytest.raises(ValueError, match="real_per_batch"):
        build_data(_config(batch_size=7, data_options={"gm_per_batch": 4, "tux_per_batch": 3, "real_per_batch": 3,
                                                       "real_sources": ["lmms"]}), SMOKE)


def test_separation_rule():
    # clear separation: trained far above random weights, which sit at chance
    ok = separation([0.30, 0.32, 0.31], [0.20, 0.21, 0.19], chance=0.20)
    assert ok["passes"] and ok["margin"] == pytest.approx(0.11) and ok["needed"] == pytest.approx(0.0)
    # overlapping spreads fail
    assert not separation([0.30, 0.20, 0.25], [0.22, 0.24, 0.20], chance=0.20)["passes"]
    # a margin made of random weights falling below chance: trained must also clear chance ...
    assert not separation([0.10, 0.11, 0.10], [0.04, 0.04, 0.05], chance=0.11)["passes"]
    # ... and beat random weights by 1.5 x their distance from chance
    tight = separation([0.125, 0.126, 0.124], [0.100, 0.101, 0.099], chance=0.11)
    assert tight["needed"] == pytest.approx(0.015) and tight["passes"]
    assert not separation([0.125, 0.126, 0.124], [0.100, 0.101, 0.099], chance=0.11, factor=3.0)["passes"]


def test_spread_summary_pools_training_seeds_and_keeps_random_weights_per_seed():
    rows = []
    for seed, trained in ((2021, 0.40), (0, 0.42), (1, 0.38)):
        for source, chance in (("a", 0.2), ("b", 0.3)):
            for model, value in (("trained", trained), ("random_seed0", 0.19), ("random_seed1", 0.21),
                                 ("random_seed2", 0.20), ("logmel_stats", 0.25)):
                rows.append({"seed": seed, "model": model, "source": source, "task": "label", "metric": "MRR",
                             "value": value + (0.1 if source == "b" else 0.0), "chance": chance})
    table = spread_summary(pd.DataFrame(rows)).set_index(["source", "task"])
    assert table.loc[("a", "label"), "trained"] == pytest.approx(0.40)
    assert table.loc[("a", "label"), "trained_std"] == pytest.approx(0.02)
    assert table.loc[("a", "label"), "random"] == pytest.approx(0.20)
    assert table.loc[("a", "label"), "random_std"] == pytest.approx(0.01)
    assert table.loc[("mean", "label"), "trained"] == pytest.approx(0.45)  # macro mean of a and b
    assert table.loc[("mean", "label"), "chance"] == pytest.approx(0.25)
    assert bool(table.loc[("a", "label"), "passes"]) and table.loc[("a", "label"), "seeds"] == "0 1 2021"


def test_real_heldout_section_needs_a_spread_of_random_seeds():
    with pytest.raises(ValueError, match="at least 2 distinct seeds"):
        RealHeldOutOptions(random_seeds=(0,))
    assert RealHeldOutOptions(random_seeds=[3, 4]).random_seeds == (3, 4)


def test_a_runs_real_table_is_cached_until_its_checkpoint_or_options_change(tmp_path, monkeypatch):
    import types

    import w2clib
    import w2clib.teachers
    from w2clib.evaluate import embedded_heldout, real_runs

    manifest = pd.DataFrame({"source": ["a", "b", "lmms"], "split": ["test", "test", "train"]})
    model = types.SimpleNamespace(checkpoint_sha256="aaa", config=types.SimpleNamespace(teacher={"name": "t"}))
    calls = []

    class FakeEvaluator:
        def table(self, models):
            calls.append(sorted(models))
            return pd.DataFrame([{"model": m, "source": "a", "task": "label", "metric": "MRR", "value": 0.5,
                                  "chance": 0.2, "templates": ""} for m in models])

    def fake_evaluator(teacher, manifest, *, sources, templates, clip_seconds):
        assert sources == ["a", "b"] and templates == "clip_ensemble"
        return FakeEvaluator()

    monkeypatch.setattr(w2clib, "load_model", lambda run_dir, device="cpu": model)
    monkeypatch.setattr(w2clib.teachers, "teacher_from_description", lambda description: "teacher")
    monkeypatch.setattr(embedded_heldout, "random_like", lambda m, seed: m)
    monkeypatch.setattr(real_runs, "_manifest", lambda profile: manifest)
    monkeypatch.setattr(real_runs, "real_heldout_evaluator", fake_evaluator)
    options = RealHeldOutOptions()
    first = real_runs.run_table("smoke", tmp_path, options, clip_seconds=2.0, seed=5)
    assert calls == [["random_seed0", "random_seed1", "random_seed2", "trained"]] and (first["seed"] == 5).all()
    again = real_runs.run_table("smoke", tmp_path, options, clip_seconds=2.0, seed=5)
    assert len(calls) == 1 and again["value"].tolist() == first["value"].tolist()  # read from the run folder
    real_runs.run_table("smoke", tmp_path, RealHeldOutOptions(random_seeds=(0, 1)), clip_seconds=2.0)
    assert len(calls) == 2  # other baselines: computed again
    model.checkpoint_sha256 = "bbb"  # the run folder now holds other weights
    real_runs.run_table("smoke", tmp_path, RealHeldOutOptions(random_seeds=(0, 1)), clip_seconds=2.0)
    assert len(calls) == 3
