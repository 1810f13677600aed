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
