# %% [markdown]
# # 07 · How much labelled data? (Figure 2)
#
# The paper's Figure 2 trains classifiers on 1 % ... 100 % of VGGSound's labelled training clips and
# plots test accuracy: a pre-trained embedding should need far fewer labels than a network
# trained from scratch (`supervised`), and Wav2CLIP is compared with OpenL3 and YAMNet there.
#
# Protocol (our choices): for each seed, every class's training clips are shuffled once and the
# subset at fraction f keeps the first `max(1, round(f * n_class))` of them, so subsets are
# **class-stratified and nested** (the 5 % subset contains the 2 % one) and the curve measures more
# data, not different data. The test clips never change. Frozen-feature models get a probe
# (`evaluate.fraction_probe`; hyper-parameters chosen on a validation share of the subset itself,
# the first grid point when a subset is too small for one); `supervised` is the backbone trained from
# scratch on each subset. Points are mean ± std over seeds (the band), x on a log scale.
#
# Offline profiles draw the curve on the GM families (train FluidR3, test TimGM6mb). To keep the
# `mini` run within its budget the supervised line has fewer fractions and one seed, and its
# full-data point is the very fit notebook 04 made (cached).

# %% tags=["parameters"]
profile = "smoke"

# %%
import time

import matplotlib.pyplot as plt
import pandas as pd

from w2clib.config import load_profile
from w2clib.evaluate.steps import data_fraction_table
from w2clib.evaluate.suite import evaluation_sets, load_context
from w2clib.evaluate.plots import figure_style, plot_data_fraction, save_figure
from w2clib.evaluate.results import write_summary

P = load_profile(profile)
ctx = load_context(P)
cfg = ctx.config
P.results_dir.mkdir(parents=True, exist_ok=True)
evalset = evaluation_sets(ctx, [cfg.fraction_dataset])[cfg.fraction_dataset]
pd.DataFrame([evalset.summary()])

# %% [markdown]
# ## The curves

# %%
began = time.time()
out = data_fraction_table(ctx, evalset, cfg.fraction_models)
print(f"{len(out.table)} fits in {time.time() - began:.0f} s; skipped: {out.skipped or 'nothing'}")
out.table.to_csv(P.results_dir / "07_data_fraction.csv", index=False)
write_summary(out.rows, ctx.summary_path)
curve = pd.read_csv(P.results_dir / "07_data_fraction.csv")
view = curve.assign(score=100 * curve["score"]).groupby(["model", "fraction"])
pd.concat([view["n_train"].first(), view["score"].mean().round(2).rename("mean"),
           view["score"].std(ddof=0).round(2).rename("std"), view["seed"].nunique().rename("seeds")], axis=1).unstack("model")

# %% [markdown]
# ## Figure 2

# %%
metric = "mAP" if evalset.multilabel else "accuracy"
with figure_style():
    fig = plot_data_fraction(P.results_dir / "07_data_fraction.csv", metric=metric, chance=100 / len(evalset.classes),
                             title=f"{evalset.name}: accuracy vs labelled training data")
    save_figure(fig, "07_data_fraction", P.figures_dir)
    plt.show()

# %% [markdown]
# ## Checks
# Every model that could run has a point at every fraction and seed it was given, scores lie in
# [0, 1], and every subset holds at least one clip per class. With more labels a probe does not get
# worse: each frozen-feature model's full-data score is at least its score at the smallest
# fraction minus a small tolerance (`mini`: measured monotone up to noise, docs/results.md).

# %%
sup_fractions = cfg.fraction_supervised_fractions or cfg.fractions
for model in set(curve["model"]):
    expected = sup_fractions if model == "supervised" else cfg.fractions
    assert sorted(curve.loc[curve["model"] == model, "fraction"].unique()) == sorted(expected), model
assert curve["score"].between(0, 1).all()
assert (curve["n_train"] >= len(evalset.classes)).all()
assert set(curve["model"]) == set(cfg.fraction_models) - set(out.skipped)
means = curve.groupby(["model", "fraction"])["score"].mean()
checks = P.checks("data_fraction")  # the profile's thresholds (measured; none under smoke)
if checks:
    for model in set(curve["model"]) - {"supervised"}:
        low, full = means[model].iloc[0], means[model].iloc[-1]
        assert full >= low - checks["full_vs_least_slack"], (model, low, full)
        assert full > checks["full_over_chance_factor"] / len(evalset.classes), (model, full)
print("checks passed")
