"""Confusion matrices by hand, and every evaluation figure rendered from its CSV/JSON as PDF + PNG."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import QuadMesh
from matplotlib.container import BarContainer

from w2clib.evaluate import plots
from w2clib.evaluate.confusion import (
    confusion_difference,
    confusion_matrix,
    read_confusions,
    write_confusions,
)
from w2clib.evaluate.results import read_summary, result_row, write_summary


def test_confusion_matrix_rows_are_per_class_recall():
    m = confusion_matrix(np.array([0, 0, 0, 1, 1, 2]), np.array([0, 0, 1, 1, 2, 2]), 4)
    np.testing.assert_allclose(m[0], [2 / 3, 1 / 3, 0, 0])
    np.testing.assert_allclose(m[1], [0, 0.5, 0.5, 0])
    np.testing.assert_allclose(m[2], [0, 0, 1, 0])
    np.testing.assert_allclose(m[3], [0, 0, 0, 0])  # no test item of class 3
    counts = confusion_matrix(np.array([0, 0]), np.array([1, 1]), 2, normalize=False)
    np.testing.assert_array_equal(counts, [[0, 2], [0, 0]])
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        confusion_matrix(np.array([0]), np.array([2]), 2)


def test_confusions_round_trip_through_json(tmp_path):
    a, b = np.eye(3), np.full((3, 3), 1 / 3)
    path = write_confusions(
        tmp_path / "c.json", ["dog", "cat", "cow"], {"yamnet": a, "wav2clip": b}, dataset="esc50"
    )
    classes, matrices, meta = read_confusions(path)
    assert classes == ["dog", "cat", "cow"] and meta == {"dataset": "esc50"}
    np.testing.assert_allclose(
        confusion_difference(matrices["wav2clip"], matrices["yamnet"]), b - a
    )


def _written(paths):
    return all(p.exists() and p.stat().st_size > 1000 for p in paths) and {
        p.suffix for p in paths
    } == {".pdf", ".png"}


def test_data_fraction_figure_from_csv(tmp_path):
    rows = [
        {
            "model": m,
            "dataset": "gm",
            "fraction": f,
            "seed": s,
            "n_train": int(f * 1000),
            "score": base + 0.3 * np.log10(f * 100) / 2 + 0.01 * s,
        }
        for m, base in (("wav2clip", 0.5), ("supervised", 0.2))
        for f in (0.01, 0.1, 1.0)
        for s in (0, 1)
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "fraction.csv", index=False)
    with plots.figure_style():
        fig = plots.plot_data_fraction(tmp_path / "fraction.csv")
        ax = fig.axes[0]
        assert ax.get_xscale() == "log"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1%", "10%", "100%"]
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["wav2clip", "supervised"]
        assert _written(plots.save_figure(fig, "fig2", tmp_path / "figures"))
        # one line per model through the mean over seeds (in percent), a mean ± std band around it
        wav2clip = ax.get_lines()[0]
        means = [100 * (0.5 + 0.3 * np.log10(f * 100) / 2 + 0.005) for f in (0.01, 0.1, 1.0)]
        np.testing.assert_allclose(wav2clip.get_ydata(), means)
        band = ax.collections[0].get_paths()[0].vertices[:, 1]
        np.testing.assert_allclose([band.min(), band.max()], [means[0] - 0.5, means[-1] + 0.5])
        fig = plots.plot_data_fraction(tmp_path / "fraction.csv", chance=6.25)
        assert fig.axes[0].get_legend().get_texts()[-1].get_text() == "chance"


def test_confusion_figure_has_three_panels(tmp_path):
    rng = np.random.default_rng(0)
    path = write_confusions(
        tmp_path / "c.json",
        [f"c{i}" for i in range(5)],
        {"logmel_stats": rng.dirichlet(np.ones(5), 5), "wav2clip": np.eye(5)},
    )
    with plots.figure_style():
        fig = plots.plot_confusions(path, baseline="logmel_stats")
        titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
        assert titles == ["logmel_stats", "wav2clip", "wav2clip − logmel_stats"]
        panels = [ax for ax in fig.axes if ax.get_title()]  # (the colorbars are axes too)
        meshes = [c for ax in panels for c in ax.collections if isinstance(c, QuadMesh)]
        assert len(meshes) == 3  # one heatmap per panel, rows = true classes
        _, matrices, _ = read_confusions(path)
        expected = matrices["wav2clip"] - matrices["logmel_stats"]
        np.testing.assert_allclose(np.asarray(meshes[2].get_array()).reshape(5, 5), expected)
        assert _written(plots.save_figure(fig, "fig3", tmp_path / "figures"))
    with pytest.raises(ValueError, match="no confusion matrix"):
        plots.plot_confusions(path, baseline="yamnet")


def test_results_bar_chart_from_summary_csv(tmp_path):
    summary = tmp_path / "summary.csv"
    rows = [
        result_row(
            task="classification",
            dataset="esc50",
            protocol="5-fold",
            metric="accuracy",
            model=m,
            values=v,
            chance=0.02,
            profile="paper",
            commit="x",
        )
        for m, v in (("wav2clip", [0.84, 0.86]), ("random_init", [0.5]))
    ]
    rows.append(
        result_row(
            task="zero-shot",
            dataset="esc50",
            protocol="all clips",
            metric="accuracy",
            model="wav2clip",
            values=0.40,
            chance=0.02,
            profile="paper",
            commit="x",
        )
    )
    write_summary(rows, summary)
    with plots.figure_style():
        fig = plots.plot_results_bars(summary, profile="paper")
        ax = fig.axes[0]
        bars = [bar for c in ax.containers if isinstance(c, BarContainer) for bar in c]
        assert sorted(round(bar.get_height(), 6) for bar in bars) == [40.0, 50.0, 85.0]  # means, %
        std = read_summary(summary).query("model == 'wav2clip' and task == 'classification'")["ours_std"]
        ends = [np.unique(y[np.isfinite(y)]) for y in (np.asarray(line.get_ydata(), float) for line in ax.get_lines())]
        assert any(np.allclose(e, [85 - std.iloc[0], 85 + std.iloc[0]]) for e in ends if len(e) == 2)  # ± std
        assert _written(plots.save_figure(fig, "results", tmp_path / "figures"))
    with pytest.raises(ValueError, match="no rows"):
        plots.plot_results_bars(summary, profile="mini")


def test_confusion_from_probe_predictions_pools_folds_of_one_seed():
    from w2clib.evaluate.confusion import confusion_from_predictions

    preds = pd.DataFrame(
        {
            "seed": [0, 0, 0, 1],
            "split": ["fold1", "fold2", "fold2", "fold1"],
            "row": [0, 1, 2, 0],
            "y_true": [0, 1, 1, 0],
            "y_pred": [0, 1, 0, 1],
        }
    )
    np.testing.assert_allclose(confusion_from_predictions(preds, 2), [[1, 0], [0.5, 0.5]])
    np.testing.assert_allclose(confusion_from_predictions(preds, 2, seed=1), [[0, 1], [0, 0]])
    with pytest.raises(ValueError, match="seeds present"):
        confusion_from_predictions(preds, 2, seed=7)


def test_final_heldout_bars_show_the_tables_values_and_chance():
    from w2clib.evaluate.embedded_heldout import METRICS, TASKS

    rows = [{"task": t, "metric": m, "model": model, "value": v, "chance": 0.05, "n_queries": 9, "n_items": 28}
            for t in TASKS for k, m in enumerate(METRICS)
            for model, v in (("trained", 0.3 + 0.1 * k), ("random weights", 0.02 * (k + 1)))]
    fig = plots.plot_heldout_final(pd.DataFrame(rows))
    heights = sorted(round(p.get_height(), 6) for c in fig.axes[0].containers for p in c)
    assert heights == sorted([0.3, 0.4, 0.5, 0.02, 0.04, 0.06])
    assert fig.axes[0].get_title().startswith(plots.HELDOUT_TITLES[TASKS[0]]) and "9 queries" in fig.axes[0].get_title()


def test_data_examples_figure_has_a_photo_wave_and_spectrogram_row_per_example():
    examples = pd.DataFrame({"dataset": ["gm_fluidr3", "gm_timgm6mb"], "clip_id": ["a", "b"], "label": ["piano", "organ"],
                             "imagenet_class": ["grand piano", ""]})
    waves = [np.sin(np.linspace(0, 2000, 16000)).astype(np.float32) * 0.5] * 2
    fig = plots.plot_data_examples(examples, waves)
    assert len(fig.axes) == 6 and fig.axes[0].get_title() == "gm_fluidr3: piano"
    assert "grand piano" in fig.axes[0].texts[0].get_text()
    with pytest.raises(ValueError, match="one wave per row"):
        plots.plot_data_examples(examples, waves[:1])
