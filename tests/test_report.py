"""The evaluation notebooks' library (w2clib.evaluate.suite / steps) and the results report.

Real inputs: tone clips written as wav files in a train/test layout, a narrow encoder, the real
baselines and probes; a keyword teacher whose text space is known exactly stands in for the
teacher where the numbers must be predictable.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from w2clib.config import load_profile
from w2clib.data.base import Capabilities
from w2clib.evaluate import suite
from w2clib.evaluate.config import EvaluateConfig, evaluate_config
from w2clib.evaluate.steps import (
    classification_table,
    confusion_matrices,
    data_fraction_table,
    retrieval_table,
    usable_models,
    zero_shot_table,
)
from w2clib.evaluate.suite import EvalContext, EvalSet, features, load_context, supervised_result
from w2clib.evaluate.scoring import text_audio, zero_shot
from w2clib.model import ModelConfig, build_model
from w2clib.evaluate.results import (
    COLUMNS,
    PAPER_VALUES,
    read_summary,
    render_markdown,
    render_report,
    result_row,
    write_summary,
)

from .test_evaluate_zeroshot import CLASSES, KeywordTeacher
from .test_results import markdown_rows

TONES = [150, 600, 2400, 6000]  # one class per tone, two octaves apart: easy for any sane feature


@pytest.fixture(scope="module")
def tone_set(tmp_path_factory) -> EvalSet:
    """4 tone classes x (6 train + 4 test) clips of 0.5 s at 16 kHz, labelled with CLASSES."""
    root = tmp_path_factory.mktemp("tones")
    rng = np.random.default_rng(0)
    t = np.arange(8000) / 16000
    rows = []
    for k, base in enumerate(TONES):
        for i in range(10):
            wave = 0.4 * np.sin(2 * np.pi * base * rng.uniform(0.95, 1.05) * t) + rng.normal(0, 0.01, t.shape)
            path = root / f"{CLASSES[k]}_{i}.wav"
            sf.write(path, wave.astype(np.float32), 16000)
            rows.append({"clip_id": path.stem, "audio_path": str(path), "label": CLASSES[k],
                         "split": "train" if i < 6 else "test", "caption": f"the sound of {CLASSES[k].replace('_', ' ')}"})
    return EvalSet("gm_families", pd.DataFrame(rows), "tones", "tone fixture", capabilities=Capabilities(captions=True))


def make_context(tmp_path, *, embed_dim: int = 512, name: str = "test", compare_with_paper: bool = False,
                 **evaluate) -> EvalContext:
    """A context on a narrow random encoder, writing under tmp_path (no checkpoint file needed)."""
    config = {"seeds": [0], "probe": {"mlp_hidden": [16], "mlp_weight_decay": [1e-3], "mlp_max_epochs": 30,
                                      "linear_l2": [1e-2]},
              "supervised": {"width": 4, "clip_seconds": 0.5, "epochs": 1, "batch_size": 8, "augment": False,
                             "num_threads": 1},
              "datasets": ["gm_families"], "max_clips": None, **evaluate}
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump({"name": name, "compare_with_paper": compare_with_paper, "outputs": {"run_dir": str(tmp_path / "run"),
                                                                "results_dir": str(tmp_path / "results"),
                                                                "figures_dir": str(tmp_path / "figures")},
                                    "evaluate": config}))
    profile = load_profile(path)
    model = build_model(ModelConfig(width=4, embed_dim=embed_dim), seed=3).eval()
    ctx = EvalContext(profile, evaluate_config(profile), model, "in-memory", "", {})
    return ctx


def use_pool(ctx: EvalContext, evalset: EvalSet) -> None:
    """The fixture set is its own pool (the embedded pools come from the data home)."""
    ctx._memo["pools"] = {evalset.pool: evalset.manifest}


# ------------------------------------------------------------------------------------------ context


def test_the_paper_profile_fails_early_naming_every_missing_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("W2C_DATA_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        load_context("paper")
    message = str(err.value)
    for name in ("esc50", "urbansound8k", "vggsound", "tau2020", "fsd50k", "clotho"):
        assert f"  {name}:" in message
    assert "w2clib prepare" in message and "data.required: false" in message


def test_with_data_not_required_missing_sets_are_skipped_and_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("W2C_DATA_HOME", str(tmp_path / "data"))
    cfg = EvaluateConfig(datasets=["esc50", "gm_families"], zero_shot_datasets=[], retrieval_datasets=[],
                         fraction_dataset="gm_families", confusion_dataset="gm_families")
    unavailable = suite._check_dataset_sets(cfg, required=False)
    assert list(unavailable) == ["esc50"]
    assert "evaluation set 'esc50' is skipped" in capsys.readouterr().err
    only_missing = EvaluateConfig(datasets=["esc50"], zero_shot_datasets=[], retrieval_datasets=[],
                                  fraction_dataset="esc50", confusion_dataset="esc50")
    with pytest.raises(FileNotFoundError, match="none of the datasets"):
        suite._check_dataset_sets(only_missing, required=False)


def test_a_missing_pretrained_encoder_says_to_run_notebook_03(tmp_path):
    path = tmp_path / "p.yaml"
    embedded_sets = {"datasets": ["gm_families"], "zero_shot_datasets": [], "retrieval_datasets": [],
                     "fraction_dataset": "gm_families", "confusion_dataset": "gm_families"}
    path.write_text(yaml.safe_dump({"name": "p", "outputs": {"run_dir": str(tmp_path / "run")},
                                    "evaluate": embedded_sets}))
    with pytest.raises(FileNotFoundError, match="run notebook 03 first"):
        load_context(load_profile(path))


def test_evaluate_config_rejects_an_unknown_fraction_probe():
    with pytest.raises(ValueError, match="fraction_probe"):
        EvaluateConfig(fraction_probe="svm")
    with pytest.raises(ValueError, match="zero_shot_split"):
        EvaluateConfig(zero_shot_split="train")


def test_every_profile_names_only_known_sets():
    for name in ("smoke", "mini", "paper"):
        cfg = evaluate_config(load_profile(name))
        assert set(suite._needed_sets(cfg)) <= {*suite.PAPER_SETS, *suite.EMBEDDED_SETS}, name


def test_test_side_keeps_only_test_rows_and_classes_follow(tone_set):
    side = tone_set.test_side()
    assert set(side.manifest["split"]) == {"test"} and len(side.manifest) == 16
    assert side.classes == sorted(CLASSES)
    both = suite._both_sides(pd.DataFrame({"label": ["a", "a", "b"], "split": ["train", "test", "train"]}))
    assert list(both["label"]) == ["a", "a"]  # "b" has no test clip: a probe could never be scored on it


# --------------------------------------------------------------------------------------- features


def test_features_are_cached_on_disk_and_aligned_to_any_row_order(tmp_path, tone_set):
    ctx = make_context(tmp_path)
    use_pool(ctx, tone_set)
    x = features(ctx, tone_set, "logmel_stats", progress=False)
    assert x.shape == (40, 128) and np.isfinite(x).all()
    assert len(list((tmp_path / "run" / "cache" / "embeddings" / "logmel_stats").glob("*/embeddings.npz"))) == 1
    reordered = dataclasses.replace(tone_set, manifest=tone_set.manifest.iloc[::-1].reset_index(drop=True))
    assert np.array_equal(features(ctx, reordered, "logmel_stats", progress=False), x[::-1])


def test_pretrained_baselines_that_cannot_run_are_skipped_with_the_reason(tmp_path):
    ctx = make_context(tmp_path)
    ok, skipped = usable_models(ctx, ["wav2clip", "logmel_stats", "supervised", "openl3"])
    assert ok[:3] == ["wav2clip", "logmel_stats", "supervised"]
    if "openl3" in skipped:  # offline machines: torchopenl3 or its weights are missing
        assert "'openl3'" in skipped["openl3"] and len(skipped["openl3"]) > 40  # says what to do


# ------------------------------------------------------------------------------------------- steps


def test_classification_table_scores_every_model_and_writes_valid_rows(tmp_path, tone_set):
    ctx = make_context(tmp_path)
    use_pool(ctx, tone_set)
    out = classification_table(ctx, {"gm_families": tone_set}, ["logmel_stats", "random_init", "supervised"],
                               progress=False)
    got = out.table.groupby(["model", "probe"])["score"].mean()
    assert set(got.index) == {("logmel_stats", "mlp"), ("logmel_stats", "linear"), ("random_init", "mlp"),
                              ("random_init", "linear"), ("supervised", "supervised")}
    assert got["logmel_stats", "linear"] == 1.0  # tones two octaves apart: log-mel statistics separate them
    assert len(out.rows) == 5 and all(r["status"] == "not_comparable" for r in out.rows)
    assert {r["protocol"] for r in out.rows} >= {"train/test, MLP probe", "train/test, trained from scratch"}
    assert set(out.predictions["model"]) == {"logmel_stats", "random_init", "supervised"}
    merged = write_summary(out.rows, ctx.summary_path)
    assert list(merged.columns) == COLUMNS and merged["chance"].eq(25.0).all()


def test_paper_profile_rows_carry_the_paper_value_tolerance_and_status(tmp_path, tone_set):
    ctx = make_context(tmp_path, name="any-name", compare_with_paper=True)
    folds = tone_set.manifest.assign(fold=[1 + i % 5 for i in range(len(tone_set.manifest))], split="test")
    esc = EvalSet("esc50", folds, "esc50")  # the paper path: the set is its own pool
    out = classification_table(ctx, {"esc50": esc}, ["wav2clip", "logmel_stats"], progress=False)
    rows = {(r["model"], r["protocol"]): r for r in out.rows}
    mlp = rows["wav2clip", "5-fold CV, MLP probe"]
    assert (mlp["paper"], mlp["tolerance"], mlp["paper_ref"]) == (85.95, 3.0, "Table: classification")
    diff = abs(mlp["ours_mean"] - 85.95)
    assert mlp["status"] == ("match" if diff <= max(0.5, min(3.0, mlp["ours_std"])) else
                             "within_tolerance" if diff <= 3.0 else "mismatch")
    assert rows["wav2clip", "5-fold CV, linear probe"]["status"] == "not_comparable"
    assert rows["logmel_stats", "5-fold CV, MLP probe"]["paper"] is None
    assert out.table["split"].nunique() == 5  # one test fold each


def test_supervised_fits_are_cached_and_reused_by_the_data_fraction_curve(tmp_path, tone_set, monkeypatch):
    ctx = make_context(tmp_path, fractions=[0.5, 1.0], fraction_seeds=[0], fraction_probe="linear",
                       fraction_supervised_fractions=[1.0])
    use_pool(ctx, tone_set)
    first = supervised_result(ctx, tone_set, [0])
    assert len(list((tmp_path / "run" / "cache" / "supervised").glob("*.json"))) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("the cached fit should have been reused")

    monkeypatch.setattr("w2clib.evaluate.supervised.train_supervised", no_training)
    again = supervised_result(ctx, tone_set, [0])
    assert again.mean == first.mean and again.predictions.equals(first.predictions)
    curve = data_fraction_table(ctx, tone_set, ["supervised", "logmel_stats"], progress=False)
    full = curve.table.query("model == 'supervised' and fraction == 1.0")["score"].item()
    assert full == first.mean  # Figure 2's full-data point is notebook 04's fit
    assert sorted(curve.table.query("model == 'logmel_stats'")["n_train"]) == [12, 24]  # 3 and 6 per class
    assert [r["task"] for r in curve.rows] == ["data-fraction"] * 3


def test_zero_shot_and_retrieval_tables_in_a_known_text_space(tmp_path, tone_set, monkeypatch):
    ctx = make_context(tmp_path, embed_dim=8, zero_shot_split="test", templates=["sound"])
    use_pool(ctx, tone_set)
    ctx._teacher = KeywordTeacher()
    # the "encoder" puts each clip on its class's text direction: zero-shot and text->audio are exact
    onehot = {row.clip_id: np.eye(8)[CLASSES.index(row.label)] for row in tone_set.manifest.itertuples()}
    fake = suite.Embedder("wav2clip", "onehot", lambda paths: np.stack(
        [onehot[p.rsplit("/", 1)[-1][:-4]] for p in paths]).astype(np.float32))
    ctx._memo[("embedder", "wav2clip")] = fake
    zs = zero_shot_table(ctx, {"gm_families": tone_set}, models=("wav2clip", "random_init"), progress=False)
    value = zs.table.set_index("model")["value"]
    assert value["wav2clip"] == 1.0 and zs.table["n_clips"].eq(16).all()
    assert zs.rows[0]["protocol"] == "test clips, prompts=sound" and zs.rows[0]["chance"] == 25.0
    ret = retrieval_table(ctx, {"gm_families": tone_set}, models=("wav2clip",), progress=False)
    t2a = ret.table.query("direction == 'text->audio'").set_index("metric")["value"]
    # 4 distinct captions, each owned by the 4 test clips of its class: all of them are relevant
    assert t2a["R@1"] == 1.0 and t2a["mAP@10"] == 1.0
    assert set(ret.table["direction"]) == {"text->audio", "audio->text"}  # no pictures in this set
    without = EvalSet("gm_families", tone_set.manifest, "tones", "tone fixture")  # captions not declared
    assert retrieval_table(ctx, {"gm_families": without}, models=("wav2clip",), progress=False).table.empty


def test_confusion_matrices_are_row_normalised_in_class_order(tmp_path, tone_set):
    ctx = make_context(tmp_path)
    use_pool(ctx, tone_set)
    ctx._memo[("embedder", "wav2clip")] = suite.model_features(ctx, "mfcc_stats")
    matrices, meta = confusion_matrices(ctx, tone_set, "logmel_stats", progress=False)
    for name in ("logmel_stats", "wav2clip"):
        m = matrices[name]
        assert m.shape == (4, 4) and np.allclose(m.sum(axis=1), 1.0)
        assert np.isclose(np.trace(m) / 4, meta[f"accuracy_{name}"])  # balanced test classes


def test_text_audio_treats_identical_captions_as_one_text():
    manifest = pd.DataFrame({"caption": ["A dog.", "a  dog.", "Crackling fire."]})
    x = np.zeros((3, 8))
    x[0, 0], x[1, 0], x[2, 1] = 1.0, 1.0, 1.0

    class Teacher(KeywordTeacher):
        def embed_texts(self, texts, *, batch_size=64):
            return np.stack([np.eye(8)[0 if "dog" in t.lower() else 1] for t in texts]).astype(np.float32)

    out = text_audio(x, manifest, Teacher())
    assert out["text_to_audio"]["metrics"]["R@1"] == 1.0  # both dog clips are right for "a dog."
    assert out["text_to_audio"]["chance"]["R@1"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert out["audio_to_text"]["metrics"]["R@1"] == 1.0


# ------------------------------------------------------------------------------------------ report


def summary_rows(profile: str, compare_with_paper: bool = False) -> list[dict]:
    common = {"profile": profile, "commit": "0123456789abcdef", "checkpoint_sha256": "f" * 64,
              "compare_with_paper": compare_with_paper}
    return [
        result_row(task="classification", dataset="esc50", protocol="5-fold CV, MLP probe", metric="accuracy",
                   model="wav2clip", values=[0.84, 0.85], chance=0.02, **common),
        result_row(task="zero-shot", dataset="esc50", protocol="all clips, prompts=sound", metric="accuracy",
                   model="wav2clip", values=0.30, chance=0.02, **common),
        result_row(task="data-fraction", dataset="esc50", protocol="10% of labelled train, linear probe",
                   metric="accuracy", model="wav2clip", values=[0.5, 0.6], chance=0.02, **common),
    ]


def test_the_report_has_one_table_per_task_and_every_row(tmp_path):
    path = tmp_path / "summary.csv"
    write_summary(summary_rows("mini") + summary_rows("paper", compare_with_paper=True), path)
    text = render_report(path, profile="mini")
    assert text.count("#### ") == 3 and "not_comparable" in text and "`ffffffffffffffff…`" in text
    rows = markdown_rows(text)
    assert [r[0] for r in rows].count("esc50") == 3  # only the mini rows, one line each
    assert ["esc50", "10% of labelled train", "accuracy", "2.00", "55.00 ± 5.00", "", "not_comparable"] in rows
    assert "wav2clip: linear probe." in text
    paper = render_report(path, profile="paper", compare_with_paper=True)
    rows = markdown_rows(paper)
    assert ["esc50", "5-fold CV, MLP probe", "accuracy", "2.00", "84.50 ± 0.50", "85.95", "within_tolerance"] in rows
    assert ["esc50", "all clips, prompts=sound", "accuracy", "2.00", "30.00", "41.40", "mismatch"] in rows  # 5-point tol.
    assert "MAEB" in paper and [r[0] for r in rows].count("zero-shot") == 4  # ESC-50, US8K, VGGSound, FSD50K (MS-CLAP)
    assert ["zero-shot", "fsd50k", "mAP", "3.02", "5", "ReCLAP / AF-CLAP re-runs: 3"] in rows
    with pytest.raises(ValueError, match="no rows of profile"):
        render_report(path, profile="smoke")


def test_every_known_paper_cell_is_carried_by_a_paper_profile_row():
    for (task, dataset, metric), pv in PAPER_VALUES.items():
        row = result_row(task=task, dataset=dataset, protocol="p", metric=metric, model="wav2clip",
                         values=pv.value / 100, profile="paper", commit="", compare_with_paper=True)
        assert row["paper"] == pv.value and row["status"] == "match" and row["tolerance"] > 0
        embedded = result_row(task=task, dataset=dataset, protocol="p", metric=metric, model="wav2clip",
                              values=pv.value / 100, profile="mini", commit="")
        assert embedded["paper"] is None and embedded["status"] == "not_comparable"


def test_zero_shot_on_a_multilabel_set_gives_the_fsd50k_map_row_with_ms_claps_value():
    # FSD50K-like: several labels per clip; the audio points at its first label's text direction
    labels = [["dog", "crackling_fire"], ["street_music"], ["chirping_birds", "dog"], ["crackling_fire"]]
    manifest = pd.DataFrame({"clip_id": list("abcd"), "label": [",".join(v) for v in labels],
                             "labels": labels, "split": "eval"})
    x = np.stack([np.eye(8)[CLASSES.index(v[0])] for v in labels])
    cfg = dataclasses.replace(EvaluateConfig(), templates=["sound"])
    _, rows = zero_shot(x, manifest, "fsd50k", KeywordTeacher(), cfg, model="wav2clip", profile="paper",
                        compare_with_paper=True)
    (row,) = rows
    assert (row["task"], row["dataset"], row["metric"]) == ("zero-shot", "fsd50k", "mAP")
    assert row["paper"] == 3.02 and row["status"] == "mismatch" and 3.02 < row["ours_mean"] <= 100


def test_render_markdown_still_renders_the_whole_summary(tmp_path):
    path = tmp_path / "summary.csv"
    write_summary(summary_rows("mini"), path)
    assert render_markdown(read_summary(path)).count("\n") == 2 + 3


# ------------------------------------------------------------------------------------- skipped rows


def test_a_baseline_that_cannot_run_gets_a_skipped_row_with_the_reason_and_the_report_lists_it(tmp_path, tone_set,
                                                                                           monkeypatch):
    from w2clib.evaluate import baselines

    real = baselines.get_baseline

    def unavailable(name, **options):
        if name != "openl3":
            return real(name, **options)
        raise baselines.BaselineUnavailable(f"baseline {name!r}: its weights are not here; pip install it")

    monkeypatch.setattr(baselines, "get_baseline", unavailable)
    ctx = make_context(tmp_path, datasets=["gm_families", "esc50"])
    ctx.unavailable["esc50"] = "not prepared: run `w2clib prepare esc50`"
    use_pool(ctx, tone_set)
    out = classification_table(ctx, {"gm_families": tone_set}, ["random_init", "openl3"], progress=False)
    skipped = [r for r in out.rows if r["status"] == "skipped"]
    assert {(r["model"], r["dataset"]) for r in skipped} == {("openl3", "*"), ("*", "esc50")}
    assert all(r["note"] and pd.isna(r["ours_mean"]) and r["metric"] == "-" for r in skipped)
    merged = write_summary(out.rows, ctx.summary_path)
    assert set(merged["status"]) == {"not_comparable", "skipped"}
    back = read_summary(ctx.summary_path)  # the reason survives the CSV round trip
    assert "its weights are not here" in back.loc[back["model"] == "openl3", "note"].iloc[0]
    report = render_report(ctx.summary_path, profile="test")
    assert "- skipped: `openl3` -- baseline 'openl3': its weights are not here; pip install it" in report
    assert "- skipped: `*` on esc50 -- not prepared" in report
    assert ["gm_families", "train/test, MLP probe"] in [r[:2] for r in markdown_rows(report)]  # measured rows keep their table


def test_another_checkpoint_is_evaluated_beside_the_encoder_or_skipped_when_it_is_missing(tmp_path, tone_set):
    from w2clib.checkpoints import save_checkpoint

    mine = build_model(ModelConfig(width=4, embed_dim=512), seed=5).eval()
    save_checkpoint(mine, tmp_path / "mine")
    ctx = make_context(tmp_path, other_checkpoints={"mine": str(tmp_path / "mine"), "gone": str(tmp_path / "no"),
                                                    "inherited": None})
    assert sorted(ctx.config.encoders) == ["gone", "mine", "wav2clip"]  # a null entry removes an inherited one
    use_pool(ctx, tone_set)
    out = classification_table(ctx, {"gm_families": tone_set}, ctx.config.encoders, progress=False)
    assert set(out.table["model"]) == {"wav2clip", "mine"}
    assert "gone" in out.skipped and "no" in out.skipped["gone"]
    ours, theirs = (features(ctx, tone_set, m, progress=False) for m in ("wav2clip", "mine"))
    assert ours.shape == theirs.shape and not np.allclose(ours, theirs)  # another encoder, not a copy
    with pytest.raises(ValueError, match="already name a model"):
        make_context(tmp_path, other_checkpoints={"random_init": "pretrain"})
