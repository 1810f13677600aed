"""The seed spread of the embedded held-out numbers and the thresholds notebook 03 derives from it."""

from __future__ import annotations

import pandas as pd
import pytest

from w2clib.training.spread import SPREAD_FILE, read_spread, seed_spread, spread_table, spread_threshold


def _frame() -> pd.DataFrame:
    rows = []
    for seed, (r1, rnd) in {2021: (0.40, 0.02), 0: (0.30, 0.03), 1: (0.35, 0.01)}.items():
        for model, value in (("trained", r1), ("random weights", rnd)):
            rows.append({"seed": seed, "model": model, "task": "timgm_prototype", "metric": "R@1", "value": value,
                         "chance": 0.036, "n_queries": 100, "n_items": 28, "step": 800})
    return pd.DataFrame(rows)


def test_the_table_gives_mean_and_population_std_per_model_and_metric():
    stats = spread_table(_frame()).set_index(["model", "key"])
    row = stats.loc[("trained", "timgm_prototype_R@1")]
    assert row["mean"] == pytest.approx(0.35) and row["n"] == 3
    assert row["std"] == pytest.approx(pd.Series([0.40, 0.30, 0.35]).std(ddof=0))
    assert (row["min"], row["max"], row["chance"]) == (0.30, 0.40, 0.036)


def test_the_threshold_is_the_mean_minus_k_std_and_unknown_keys_are_named():
    stats = spread_table(_frame())
    std = pd.Series([0.40, 0.30, 0.35]).std(ddof=0)
    assert spread_threshold(stats, "timgm_prototype_R@1", 2) == pytest.approx(0.35 - 2 * std)
    assert spread_threshold(stats, "timgm_prototype_R@1", 0, model="random weights") == pytest.approx(0.02)
    with pytest.raises(KeyError, match="tux_photo_MRR"):
        spread_threshold(stats, "tux_photo_MRR", 3)


def test_reading_says_how_to_measure_a_missing_spread_and_rejects_a_foreign_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="w2clib.training.spread --profile"):
        read_spread(tmp_path)
    (tmp_path / SPREAD_FILE).write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="lacks columns"):
        read_spread(tmp_path)
    _frame().to_csv(tmp_path / SPREAD_FILE, index=False)
    assert len(read_spread(tmp_path)) == 6


def test_a_spread_needs_two_seeds_and_a_heldout_section():
    with pytest.raises(ValueError, match="at least 2 distinct seeds"):
        seed_spread("smoke", [2021, 2021])
    with pytest.raises(ValueError, match="no heldout: section"):
        seed_spread("rehearsal", [0, 1])


def test_a_seeds_cached_table_counts_only_for_a_finished_run_of_the_current_recipe(tmp_path, monkeypatch):
    """A recipe change must retrain every seed: a folder whose table and done.json belong to another
    config is trained again (run_pretrain moves it aside), a finished run of this config is reused."""
    import json

    from w2clib.config import load_profile
    from w2clib.evaluate import embedded_heldout
    from w2clib.training import spread as spread_module
    from w2clib.training.config import load_pretrain_config
    from w2clib.training.run import DONE_NAME, _done_key

    prof = load_profile("smoke", [f"outputs.run_dir={tmp_path / 'run'}", f"outputs.results_dir={tmp_path / 'res'}",
                                  "heldout.max_per_class=1"])
    base = load_pretrain_config(prof)
    trained = []

    def fake_run(profile, out, evaluate=True, config=None):
        trained.append(out.name)
        out.mkdir(parents=True, exist_ok=True)
        (out / DONE_NAME).write_text(json.dumps({"config_key": _done_key(config or base)}))
        (out / "checkpoint.safetensors").write_bytes(b"x")
        pd.DataFrame({"step": [base.max_steps]}).to_csv(out / "metrics.csv", index=False)
        return out

    class FakeEvaluator:
        def table(self, models, **columns):
            return pd.DataFrame([{"model": m, "task": "timgm_prototype", "metric": "R@1", "value": 0.5, "chance": 0.1,
                                  "n_queries": 4, "n_items": 2, **columns} for m in models])

    monkeypatch.setattr(spread_module, "run_pretrain", fake_run)
    monkeypatch.setattr(embedded_heldout, "heldout_evaluator", lambda *a, **k: FakeEvaluator())
    monkeypatch.setattr(embedded_heldout, "random_like", lambda model, seed: model)
    monkeypatch.setattr("w2clib.load_model", lambda out, device="cpu": object())
    stale = tmp_path / "run" / "spread" / "seed-7"
    stale.mkdir(parents=True)
    (stale / "heldout_final.csv").write_text("old table of another recipe\n")
    (stale / DONE_NAME).write_text(json.dumps({"config_key": "another-recipe"}))
    (stale / "checkpoint.safetensors").write_bytes(b"x")
    seed_spread(prof, [base.seed, 7])
    assert trained == ["pretrain", "seed-7"]  # the stale table did not stand in for seed 7
    trained.clear()
    seed_spread(prof, [base.seed, 7])
    assert trained == []  # both finished under this recipe: reused
