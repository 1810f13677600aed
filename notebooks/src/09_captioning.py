# %% [markdown]
# # 09 · Audio captioning
#
# The paper also evaluates Wav2CLIP on **audio captioning** (Clotho, scored with BLEU-1..4, METEOR,
# ROUGE-L, CIDEr-D, SPICE and SPIDEr). Its captioning model, training and baseline were not
# recovered, so this notebook makes and states its own choices (docs/captioning.md):
#
# * **captioner**: a ClipCap-style *prefix decoder* -- the frozen clip embedding is mapped to a few
#   prefix vectors of a small causal Transformer trained from scratch on a word vocabulary of the
#   training captions; beam search at test time;
# * the same captioner on **random-weight** embeddings (same architecture) and on **log-mel
#   statistics**, so the table says what Wav2CLIP adds;
# * two decoder-free baselines: **caption retrieval** (the training caption whose teacher text
#   embedding is nearest the Wav2CLIP audio embedding -- possible because Wav2CLIP lives in the
#   teacher's space) and the **best constant caption** (one training caption for every clip);
# * metrics from `pycocoevalcap` (CIDEr-D is its `Cider`; METEOR runs on Java). SPICE needs
#   Stanford CoreNLP, downloaded on first use: offline it is skipped with the reason, and SPIDEr with it.
#
# Offline (`smoke`, `mini`) the caption set is built from the embedded data: **General MIDI renders**
# whose references are *templated, not human-written* (instrument, register low/middle/high,
# dynamics soft/loud; every clip is a single note) -- train on the FluidR3 soundfont, test on
# TimGM6mb -- and **Tux Paint** stamp sounds with their one human caption (held-out concepts test).
# The `paper` profile runs Clotho v2.1: development -> validation (model selection) -> evaluation.

# %% tags=["parameters"]
profile = "smoke"

# %%
import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from w2clib.config import load_profile
from w2clib.evaluate.captioning import captioning_config, captioning_table
from w2clib.evaluate.suite import load_context
from w2clib.evaluate.plots import figure_style, plot_results_bars, save_figure
from w2clib.evaluate.results import read_summary, write_summary

P = load_profile(profile)
ctx = load_context(P)
cfg = captioning_config(P)
P.results_dir.mkdir(parents=True, exist_ok=True)
cfg

# %% [markdown]
# ## Captioners and baselines
# Features are the cached ones of notebooks 04-08; trained captioners are cached by content (input
# features, training captions, decoder settings, seed), so a rerun only scores.

# %%
began = time.time()
out = captioning_table(ctx, cfg)
print(f"captioning ran in {time.time() - began:.0f} s; skipped: {out.skipped or 'nothing'}")
display(out.caption_set.summary())
print("dropped while building the caption set:", out.caption_set.dropped)
out.table.to_csv(P.results_dir / "captioning.csv", index=False)
out.examples.to_csv(P.results_dir / "captioning_examples.csv", index=False)
write_summary(out.rows, ctx.summary_path)
print("Wav2CLIP captioner saved for `w2clib caption`:", out.captioner_dir)

# %% [markdown]
# ## Scores on the test split
# Mean over seeds (`captioning.seeds`); `gm` and `tuxpaint` are the two halves of the embedded test
# split (unseen soundfont; held-out Tux Paint concepts).

# %%
cap = pd.read_csv(P.results_dir / "captioning.csv")
scored = cap[cap["split"] == "test"].dropna(subset=["value"])
wide = scored.pivot_table(index=["subset", "system"], columns="metric", values="value", aggfunc="mean",
                          sort=False)
wide.loc["all"].round(3).reset_index().to_csv(P.results_dir / "captioning_test.csv", index=False)  # the README table
wide.round(3)

# %% [markdown]
# ## Example captions
# Test clips with their references (separated by `|`) and each system's caption (first seed).

# %%
with pd.option_context("display.max_colwidth", None):
    display(pd.read_csv(P.results_dir / "captioning_examples.csv"))

# %% [markdown]
# ## Figure
# CIDEr-D and BLEU-4 of every system on the test split, from the captioning rows of `summary.csv`.

# %%
rows = read_summary(ctx.summary_path)
rows = rows[(rows["profile"] == P.name) & (rows["task"] == "captioning") & rows["metric"].isin(["CIDEr-D", "BLEU_4"])]
with figure_style():
    fig = plot_results_bars(rows, title="Audio captioning (test split)")
    save_figure(fig, "09_captioning", P.figures_dir)
    plt.show()

# %% [markdown]
# ## Checks
# Every system has every computed metric on the test split, in range; skipped metrics say why.
# Under `mini` the Wav2CLIP captioner must beat the constant caption on CIDEr-D and BLEU-4 by margins
# well below the measured gaps (0.67 and 0.22, docs/captioning.md). Its lead over the same captioner on
# random-weight embeddings and log-mel statistics is *reported, not asserted*: in the measured run the
# three were within 0.07 CIDEr-D of each other (the templated references describe register and
# dynamics, which low-level features carry as well), so no safe margin exists yet.

# %%
systems = {f"prefix:{m}" for m in cfg.models} | set(cfg.baselines)
assert set(scored["system"]) == systems, set(scored["system"])
assert scored[scored["metric"] != "CIDEr-D"]["value"].between(0, 1).all()
assert (scored[scored["metric"] == "CIDEr-D"]["value"] >= 0).all()
assert (cap[cap["value"].isna()]["note"].fillna("") != "").all(), "a metric is missing without a reason"
mean = scored[scored["subset"] == "all"].groupby(["system", "metric"])["value"].mean()
checks = P.checks("captioning")  # the profile's thresholds (measured; none under smoke)
for metric, margin in checks.get("over_constant", {}).items():
    ours, constant = mean[("prefix:wav2clip", metric)], mean[("constant", metric)]
    assert ours > constant + margin, (metric, ours, constant)
for other in ("prefix:random_init", "prefix:logmel_stats"):
    if ("prefix:wav2clip", "CIDEr-D") in mean and (other, "CIDEr-D") in mean:
        print(f"wav2clip - {other}:", {m: round(mean[("prefix:wav2clip", m)] - mean[(other, m)], 3)
                                       for m in ("CIDEr-D", "BLEU_4")})
print("checks passed")
