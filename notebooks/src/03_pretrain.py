# %% [markdown]
# # 03 · Pre-training (distillation)
#
# Wav2CLIP trains an audio encoder to put a clip where the frozen teacher puts the clip's
# pictures: a ResNet on a log spectrogram, two 512 x 512 projection heads, and the paper's
# **cross-projection loss** `clip_x` = ½[L(a, MLP_img(v)) + L(MLP_aud(a), v)], each term a
# CLIP-style contrastive loss with in-batch negatives and its own learnable temperature
# ([docs/method.md §3](../docs/method.md#3-the-losses)). The paper distils CLIP ViT-B/32 on
# 200 k VGGSound videos with 4 GPUs; the offline
# profiles distil the **packaged teacher** (notebook 02) on the embedded data (notebook 01), on two
# CPU cores, by a budget of optimiser *steps* (never wall time).
#
# **Every batch mixes real sources** (`pretrain.data: embedded`; mini: 12 + 12 + 8 items):
#
# | part | items | target | why |
# |---|---|---|---|
# | GM instruments | FluidR3 renders of the 42 GM programs (+ drum kit) that have an ImageNet class, each of a *different* class | the teacher's **class prototype** of that ImageNet class (`target_kind = "class_prototype"`): a rendered note has no picture, so the prototype stands in for averaged video frames | thousands of labelled sounds |
# | Tux Paint | a stamp's sound effect (train concepts), each of a different concept group | one of 8 precomputed augmented teacher views of the stamp's photo, a different view each step: a still image as a "video" | real (sound, photo) pairs, as in the paper |
# | LMMS samples | recorded instruments, drum hits, applause, a crowd (`real_sounds` source `lmms`, `data_options.real_sources`), each of a different label | the class prototype where the label has an ImageNet class, else the teacher's text prototype of the label | other real recordings: what makes the encoder generalise to packages it never heard (below) |
#
# Audio is augmented (all in `w2clib.training.augment`, reproducible per item): random 2 s crops, ±6 dB
# gain, half the items **mixed** with another item at equal loudness (the target mixed with the same
# weights), speed ±10 %, synthetic **reverberation** on 30 %, two time and two frequency **masks**
# (white noise is off in `mini`: it measurably hurt held-out retrieval, docs/pretrain_embedded.md).
# **Held out**, never trained on: every TimGM6mb clip (another soundfont: other recordings of the same
# instruments), the Tux Paint `test` concepts, and every `real_sounds` source but LMMS. The trainer's
# validation loss uses a few *training* clips kept aside. After every epoch the held-out retrieval is
# logged; at the end the trained encoder is compared with the same encoder at its random
# initialisation and with chance, on the held-out sounds and on the real recordings of other packages.

# %% tags=["parameters"]
profile = "smoke"

# %%
import json
import time

import matplotlib.pyplot as plt
from IPython.display import display
import numpy as np
import pandas as pd

import w2clib
from w2clib.config import load_profile, section_config
from w2clib.evaluate.embedded_heldout import EvalOptions, heldout_evaluator, random_like
from w2clib.evaluate.real_heldout import summarise
from w2clib.evaluate.real_runs import SPREAD_FILE as REAL_SPREAD_FILE, SPREAD_SUMMARY_FILE as REAL_SPREAD_SUMMARY_FILE
from w2clib.evaluate.real_runs import TABLE_FILE as REAL_TABLE_FILE, RealHeldOutOptions, run_table, spread_summary
from w2clib.evaluate.plots import figure_style, plot_heldout_epochs, plot_heldout_final, plot_pretrain_curves, save_figure
from w2clib.teachers import teacher_from_description
from w2clib.training import load_pretrain_config
from w2clib.training.run import checkpoint_dir, run_pretrain

P = load_profile(profile)
cfg = load_pretrain_config(P)  # the profile's pretrain: section (w2clib.training.PretrainConfig)
heldout = P.section("heldout")  # the per-epoch held-out evaluation, when the profile asks for one
eval_opts = section_config(EvalOptions, heldout, where=f"{P.path}:heldout") if heldout else None
P.results_dir.mkdir(parents=True, exist_ok=True)
out = checkpoint_dir(P)  # <run_dir>/pretrain: where the evaluation notebooks load the encoder from
{k: getattr(cfg, k) for k in ("data", "width", "batch_size", "clip_seconds", "loss", "optimizer", "lr",
                              "schedule", "warmup_steps", "max_steps", "seed")} | {"data_options": cfg.data_options}

# %% [markdown]
# ## Train (or resume, or reuse)
# `run_pretrain` is the same call for every profile: it writes the training input first (for
# `data: shards` from a dataset: shard sets from its manifest and the teacher-target cache of
# notebook 02; the embedded sets are held in memory), then trains into `<run_dir>/pretrain`, in this
# process or under `torchrun` (`pretrain.nproc_per_node`). Rerunning the notebook reuses a finished run
# (`done.json` holds the config's key), continues an interrupted one from its last checkpoint
# (`train_state.pt`, written every `checkpoint_every_steps` and at each epoch end; the resumed run is
# the same as an uninterrupted one), and moves a run of another config aside
# (`pretrain.previous-N`) instead of overwriting it. In the embedded profiles an epoch is one pass's
# worth of GM clips; after each, the `heldout:` section's retrieval metrics are added to `epochs.csv`.

# %%
began = time.time()
run_pretrain(P)
print(f"run_pretrain: {time.time() - began:.0f} s in this session; run folder {out}")
metrics = pd.read_csv(out / "metrics.csv")
epochs = pd.read_csv(out / "epochs.csv")
metrics.to_csv(P.results_dir / "pretrain_metrics.csv", index=False)
epochs.to_csv(P.results_dir / "pretrain_epochs.csv", index=False)
print(f"{int(metrics['step'].max())} steps, {len(epochs)} epochs, training time "
      f"{epochs['epoch_s'].sum():.0f} s, median step {metrics['step_s'].median():.2f} s at batch {cfg.batch_size}")
epochs[["epoch", "step", "train_loss", "val_loss", "lr", "temp_a", "temp_i"]
       + [c for c in epochs if c.startswith("heldout_") and c.endswith("R@1")]].round(4)

# %% [markdown]
# ## Loss and temperature curves
# Per step (thin) and as a running mean over 25 steps (thick): the total loss and its two terms
# (audio backbone vs the image head's projection of the target, `loss_a`; the audio head's
# projection vs the target, `loss_i`), the validation loss per epoch, and the two learned
# temperatures 1/exp(s) (start 0.07; clamped at 0.01 as in CLIP).

# %%
m = pd.read_csv(P.results_dir / "pretrain_metrics.csv")
e = pd.read_csv(P.results_dir / "pretrain_epochs.csv")
with figure_style():
    save_figure(plot_pretrain_curves(m, e, optimizer=cfg.optimizer, schedule=cfg.schedule), "03_pretrain_curves",
                P.figures_dir)
    plt.show()

# %% [markdown]
# ## Held-out retrieval per epoch
# After every epoch the encoder embeds held-out sounds (TimGM6mb: `max_per_class` clips per ImageNet
# class; every held-out Tux Paint sound) and ranks:
# * **prototype**: the teacher's 28 class prototypes, for an unseen-soundfont clip (R@1 = the right
#   class ranked first);
# * **zero-shot**: the 28 class *names* through the teacher's text tower (prompts
#   `"a photo of a {label}."` …): classification without ever training on names;
# * **Tux photo**: the photos of all held-out Tux Paint items, for a held-out concept's sound.
#
# Dotted lines: chance (exact expectation under a random ranking).

# %%
if eval_opts is None:
    print("this profile has no heldout: section: no per-epoch held-out evaluation")
elif not any(c.startswith("heldout_") for c in e.columns):  # e.g. a run of benchmarks/real_sweep.py reused here
    print("this run was trained without the per-epoch held-out evaluation: no per-epoch curve (the final "
          "table below is computed from its weights)")
else:
    per_epoch = heldout_evaluator(P, eval_opts, clip_seconds=cfg.clip_seconds)
    with figure_style():
        save_figure(plot_heldout_epochs(e, per_epoch.chance(), per_epoch.sizes), "03_pretrain_heldout_epochs",
                    P.figures_dir)
        plt.show()

# %% [markdown]
# ## The exported checkpoint
# `w2clib.load_model(checkpoint_dir(profile))` loads the encoder (official key layout plus the
# image head of the cross-projection loss). It records the teacher it was distilled from, so the
# evaluation notebooks rebuild exactly that teacher (`teacher_from_description`) for zero-shot and
# retrieval: the encoder's 512-d embeddings live in that teacher's space.

# %%
model = w2clib.load_model(out, device="cpu")
meta = json.loads((out / "config.json").read_text())
teacher = teacher_from_description(model.config.teacher)
print(f"{out}: width {model.config.width}, {model.embed_dim}-d, step {meta['training']['step']}, "
      f"sha256 {model.checkpoint_sha256[:16]}...; teacher {teacher.name} ({teacher.dim}-d)")
model.config.teacher

# %% [markdown]
# ## Final held-out evaluation: trained vs random weights vs chance
# The same three tasks, on all held-out TimGM clips (`final_max_per_class`), for the trained encoder
# and for the *same* encoder at its random initialisation (the training seed rebuilds the very
# weights training started from). Random convolutional features are not useless for audio, so
# the fair baseline is this one, not only chance.

# %%
if eval_opts is not None:
    final = heldout_evaluator(P, eval_opts, clip_seconds=cfg.clip_seconds, final=True)
    table = final.table({"trained": model, "random weights": random_like(model, cfg.seed)},
                        profile=P.name, seed=cfg.seed, step=meta["training"]["step"])
    table.to_csv(P.results_dir / "pretrain_heldout.csv", index=False)
    table = pd.read_csv(P.results_dir / "pretrain_heldout.csv")
    summary = table.pivot_table(index=["task", "metric"], columns="model", values="value", sort=False)
    summary["chance"] = table.groupby(["task", "metric"], sort=False)["chance"].first()
    summary["n_queries"] = table.groupby(["task", "metric"], sort=False)["n_queries"].first()
else:  # the paper path evaluates the encoder in notebooks 04-08
    table, summary = None, "no heldout: section in this profile"
summary.round(3) if table is not None else summary

# %%
if table is not None:
    with figure_style():
        save_figure(plot_heldout_final(table), "03_pretrain_heldout", P.figures_dir)
        plt.show()

# %% [markdown]
# ## Real recordings it never heard: held out by source
# The tables above hold out *items* of sources the encoder trained on (another soundfont, other
# Tux Paint concepts). Here the encoder meets recordings of **packages it never heard**
# (`real_sounds`: Debian game and education packages, a recorded drum kit, Scratch's media library;
# inventory in [docs/embedded_data.md](../docs/embedded_data.md#real-recordings-held-out-by-source)); a source the run trained on
# (`pretrain.data_options.real_sources`) is never scored. Per source, a sound ranks
# * **image**: the source's own pictures (lincity-ng's building tiles, Scratch's drawings), through
#   the teacher's image tower;
# * **label**: the source's labels as the trainer would target them (class prototype, else the
#   label's text prototype);
# * **zero-shot**: the labels through the teacher's text tower, CLIP-style prompts;
#
# `all` pools every held-out sound against every label (96 candidates), `mean` is the macro mean
# over sources. Baselines: the same encoder with random weights (3 seeds), log-mel statistics with a
# ridge map fitted on the *other* held-out sources, and chance. MRR below; every metric is in
# `results/real_heldout.csv`.

# %%
real_opts = RealHeldOutOptions.from_profile(P)
if real_opts is None:
    real_summary = "no real_heldout: section in this profile"
else:
    run_table(P, out, real_opts, clip_seconds=cfg.clip_seconds, seed=cfg.seed).to_csv(
        P.results_dir / REAL_TABLE_FILE, index=False)
    real_summary = summarise(pd.read_csv(P.results_dir / REAL_TABLE_FILE))
real_summary.round(3) if real_opts is not None else real_summary

# %% [markdown]
# The same table over three *training* seeds (`python -m w2clib.training.spread`, which writes
# `results/real_heldout_spread*.csv`): mean and std of the trained encoder, random weights' mean
# and std over their seeds, and whether the separation rule holds (trained mean - std above random
# weights' mean + std and above chance, and a margin over random weights of at least 1.5 times their
# distance from chance).

# %%
real_spread_path = P.results_dir / REAL_SPREAD_SUMMARY_FILE
real_spread = pd.read_csv(real_spread_path) if real_opts is not None and real_spread_path.is_file() else None
real_spread.round(3) if real_spread is not None else "no seed spread on real recordings for this profile yet"

# %% [markdown]
# ## Checks
# Under every profile: the losses are finite, the checkpoint loads and records its teacher, and
# the metrics are valid. Under `mini` (a real budget) the held-out sounds must also show that
# distillation worked, against thresholds the profile's `checks.pretrain` derives from measured
# runs: `below_mean_std: k` is the mean minus k standard deviations of the same metric over the
# training seeds of `results/pretrain_spread.csv` (`python -m w2clib.training.spread`), so a fresh
# run on another machine is held to the spread of seeds, not to one run's number.

# %%
checks = P.checks("pretrain")  # the profile's thresholds (none under smoke)
if any("below_mean_std" in limit for limit in checks.get("heldout", {}).values()):
    from w2clib.training.spread import read_spread, spread_table, spread_threshold

    spread = spread_table(read_spread(P.results_dir))
    display(spread.round(4))
assert np.isfinite(m[["loss", "loss_a", "loss_i", "temp_a", "temp_i"]]).all().all()
if cfg.max_steps:
    assert int(m["step"].max()) == cfg.max_steps, "the run must have used its whole step budget"
assert model.config.teacher == teacher.describe() and model.embed_dim == teacher.dim
if table is not None:
    assert table["value"].between(0, 1).all() and (table["chance"] > 0).all()
    values = table.assign(key=table["task"] + "_" + table["metric"]).pivot_table(index="key", columns="model",
                                                                                  values="value")
    chance = table.assign(key=table["task"] + "_" + table["metric"]).groupby("key")["chance"].first()
if checks.get("loss_falls"):
    assert m["loss"].tail(50).mean() < 0.5 * m["loss"].head(20).mean(), "the training loss must fall"
for key, limit in checks.get("heldout", {}).items():  # {at_least, over_random, over_chance_factor}
    trained, random = values.loc[key, "trained"], values.loc[key, "random weights"]
    assert trained >= limit.get("at_least", 0.0), (key, trained, limit)
    if "below_mean_std" in limit:
        floor = spread_threshold(spread, key, limit["below_mean_std"])
        assert trained >= floor, f"{key}: {trained:.3f} is below the seeds' mean - {limit['below_mean_std']} std = {floor:.3f}"
    assert trained >= random + limit.get("over_random", 0.0), (key, trained, random)
    assert trained >= limit.get("over_chance_factor", 0.0) * chance[key], (key, trained, chance[key])
# Real recordings held out by source (checks.pretrain.real_heldout, keys "source/task", MRR):
# separation: f -> the committed seed spread passes the separation rule at factor f;
# below_mean_std: k -> this run's value is at least the seeds' mean - k std.
real_checks = checks.get("real_heldout", {})
if real_checks:
    assert real_opts is not None, "checks.pretrain.real_heldout needs a real_heldout: section"
    assert real_spread is not None, f"checks.pretrain.real_heldout needs the seed spread {real_spread_path}"
    fresh = real_summary.set_index(["source", "task"])
    spread_rows = pd.read_csv(P.results_dir / REAL_SPREAD_FILE)
    for key, limit in real_checks.items():
        source, task = key.split("/")
        if "separation" in limit:
            rule = spread_summary(spread_rows, factor=limit["separation"]).set_index(["source", "task"]).loc[(source, task)]
            assert rule["passes"], f"{key}: the seed spread fails the separation rule at {limit['separation']}: {dict(rule)}"
        if "below_mean_std" in limit:
            row = real_spread.set_index(["source", "task"]).loc[(source, task)]
            floor = row["trained"] - limit["below_mean_std"] * row["trained_std"]
            value = fresh.loc[(source, task), "trained"]
            assert value >= floor, f"{key}: {value:.3f} is below the seeds' mean - {limit['below_mean_std']} std = {floor:.3f}"
print("all checks passed")
