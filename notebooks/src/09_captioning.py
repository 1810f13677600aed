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
# dynamics soft/loud, pattern: a single note, or -- `captioning.scenes` -- a rising phrase, a chord or
# two instruments together) -- train on the FluidR3 soundfont, test on TimGM6mb -- and **Tux Paint**
# stamp sounds with their one human caption (held-out concepts test).
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
from w2clib.evaluate.captioning.dataset import ATTRIBUTES
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
out.attributes.to_csv(P.results_dir / "captioning_attributes.csv", index=False)
write_summary(out.rows, ctx.summary_path)
print("Wav2CLIP captioner saved for `w2clib caption`:", out.captioner_dir)

# %% [markdown]
# ## Scores on the test split
# Mean ± standard deviation over the captioner seeds (`captioning.seeds`; the decoder-free baselines have
# none); `gm` (single notes), `gm_scenes` (phrases, chords, duets) and `tuxpaint` are the parts of the
# embedded test split (unseen soundfont; held-out Tux Paint concepts).

# %%
cap = pd.read_csv(P.results_dir / "captioning.csv")
scored = cap[cap["split"] == "test"].dropna(subset=["value"])
spread = scored.groupby(["subset", "system", "metric"], sort=False)["value"].agg(["mean", "std", "size"])
cells = spread.apply(lambda r: f"{r['mean']:.3f}" + (f" ± {r['std']:.3f}" if r["size"] > 1 else ""), axis=1)
wide = cells.unstack("metric")[[m for m in cfg.metrics if m in set(scored["metric"])]]
wide.loc["all"].reset_index().to_csv(P.results_dir / "captioning_test.csv", index=False)  # the README table
wide

# %% [markdown]
# ## What the captions get right
# On the GM renders the references say four things, so each can be checked on its own: the share of test
# captions that name the rendered instrument, the right register, the right dynamics and the right pattern
# (whole words; leaving one out counts as wrong), mean over seeds; `probe:<model>` rows ask whether the attribute is in the
# features at all (a linear probe trained on the training clips, scored on the test clips); the last row is
# what always saying the most frequent value scores. Empty on Clotho, whose captions are free text.

# %%
attributes = pd.read_csv(P.results_dir / "captioning_attributes.csv")
if len(attributes):
    test = attributes[attributes["split"] == "test"]
    named = test.pivot_table(index="system", columns="attribute", values="accuracy", aggfunc="mean", sort=False)
    named.loc["always the most frequent value"] = test.groupby("attribute")["majority"].first()
    named = named[list(ATTRIBUTES)]
    named.round(3).reset_index().to_csv(P.results_dir / "captioning_attributes_test.csv", index=False)  # README
    display(named.round(3))

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
# The profile's thresholds (`checks.captioning`, from measured runs; none under smoke):
# * `over_constant`: the Wav2CLIP captioner's mean over seeds beats the best constant caption by the margin;
# * `mean_over_models`: on each listed metric, its mean over the captioner seeds beats the mean of the same
#   captioner on each baseline's features by the margin (the margin is set from runs of other encoder seeds);
# * `over_models`: stricter -- its mean minus one standard deviation over the captioner seeds stays above the
#   mean plus one standard deviation of each baseline's captioner, by the margin.

# %%
systems = {f"prefix:{m}" for m in cfg.models} | set(cfg.baselines)
assert set(scored["system"]) == systems, set(scored["system"])
assert scored[scored["metric"] != "CIDEr-D"]["value"].between(0, 1).all()
assert (scored[scored["metric"] == "CIDEr-D"]["value"] >= 0).all()
assert (cap[cap["value"].isna()]["note"].fillna("") != "").all(), "a metric is missing without a reason"
per_seed = scored[scored["subset"] == "all"].groupby(["system", "metric"])["value"]
mean, std = per_seed.mean(), per_seed.std(ddof=0)
for other in (s for s in sorted(systems) if s.startswith("prefix:") and s != "prefix:wav2clip"):
    print(f"wav2clip - {other} (mean over {len(cfg.seeds)} seeds):",
          {m: round(mean[("prefix:wav2clip", m)] - mean[(other, m)], 3) for m in ("CIDEr-D", "BLEU_4")})
checks = P.checks("captioning")
for metric, margin in checks.get("over_constant", {}).items():
    ours, constant = mean[("prefix:wav2clip", metric)], mean[("constant", metric)]
    assert ours > constant + margin, (metric, ours, constant)
for metric, margin in checks.get("mean_over_models", {}).items():
    for other in (f"prefix:{m}" for m in cfg.models if m != "wav2clip"):
        lead = mean[("prefix:wav2clip", metric)] - mean[(other, metric)]
        assert lead > margin, (metric, other, lead, margin)
for metric, margin in checks.get("over_models", {}).items():
    low = mean[("prefix:wav2clip", metric)] - std[("prefix:wav2clip", metric)]
    for other in (f"prefix:{m}" for m in cfg.models if m != "wav2clip"):
        high = mean[(other, metric)] + std[(other, metric)]
        assert low > high + margin, (metric, other, low, high)
print("checks passed")
