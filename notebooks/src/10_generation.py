# %% [markdown]
# # 10 · Drawing sounds (Figures 4–5)
#
# The paper's qualitative claim is that audio lands in CLIP space precisely enough to *draw* it: a
# picture is optimised until the image tower's embedding of it approaches a sound's Wav2CLIP
# embedding (the authors used VQGAN + CLIP ViT-B/32, 500 Adam steps). Here the same optimisation runs
# through `w2clib.generate` (docs/generation.md):
#
# * **perceptor**: the image tower of the teacher the encoder was distilled from (offline: the
#   packaged EfficientNet-Lite0 teacher; paper path: CLIP ViT-B/32). Each step scores augmented random
#   cutouts of the picture with the spherical distance to the target;
# * **image**: offline, a Fourier-space picture with decorrelated colours (no generator to download);
#   on the paper path the VQGAN ImageNet f16-16384 decoder;
# * **an independent judge**: an ImageNet classifier that is *not* the perceptor (EfficientNet-Lite2)
#   says what each picture shows. Agreement with the sound's class is compared across conditions: the
#   trained encoder, the same sounds through **random weights**, the class name through the **text
#   tower** (Figure 4's top row) and **unrelated** random targets (chance).
#
# Figure 5 sums two held-out sounds at equal loudness and asks the judge about both sources. With
# `generation.music_dataset` (the paper profile: the MUSDB18 previews) it also draws music tracks:
# each stem alone and the track's own mix.

# %% tags=["parameters"]
profile = "smoke"

# %%
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from w2clib.config import load_profile
from w2clib.evaluate.suite import load_context
from w2clib.generate import generation_config, load_judge
from w2clib.generate.experiment import draw_all, judge_summary, judge_table, plan_targets, teacher_ranks
from w2clib.generate.figures import plot_figure4, plot_figure5, plot_figure5_tracks
from w2clib.evaluate.plots import figure_style, save_figure

P = load_profile(profile)
ctx = load_context(P)
cfg = generation_config(P)
out_dir = P.run_dir / cfg.out_dir
P.results_dir.mkdir(parents=True, exist_ok=True)
cfg

# %% [markdown]
# ## What is drawn
# One held-out sound per class (never heard in pre-training), and for each class its three
# conditions; then the unrelated targets and the mixtures.

# %%
plan, targets = plan_targets(ctx, cfg)
perceptor = ctx.teacher()
print("perceptor:", perceptor.name, "| generator:", cfg.generator, "| pictures:", len(plan))
plan

# %% [markdown]
# ## Drawing
# Pictures are cached by content (target and settings) under the run folder; a rerun only judges.
# `seconds` is the optimisation time of each picture when it was drawn.

# %%
began = time.time()
drawn = draw_all(plan, targets, perceptor, cfg, out_dir)
drawn.drop(columns=["image_path"]).to_csv(out_dir / "drawn.csv", index=False)
print(f"drawing took {time.time() - began:.0f} s here; {drawn['seconds'].mean():.1f} s per picture when drawn "
      f"({cfg.steps} steps, {cfg.size} px, {cfg.cutouts} cutouts)")

# %% [markdown]
# ## The judge
# Per (picture, class): is the class (or an accepted synonym) in the judge's top 1 / top 5, its rank,
# its probability. `chance5` is the analytic top-5 chance. `teacher_rank` says where the *target*
# points before anything is drawn: the class's rank among the teacher's 1000 ImageNet class
# prototypes (`teacher_top5` in the summary). A target that ranks its class far down cannot be drawn
# recognisably; a well-ranked target the judge does not recognise is a failure of the drawing.

# %%
judges = [load_judge(name, **cfg.judge_options.get(name, {})) for name in cfg.judges]
scores = pd.concat([judge_table(drawn, judge, cfg) for judge in judges], ignore_index=True)
if cfg.rank_in_teacher:
    scores = scores.merge(teacher_ranks(plan, targets, perceptor, cfg), on=["job", "class"], how="left")
scores.to_csv(P.results_dir / "generation_judge.csv", index=False)
summary = judge_summary(scores)
summary["seconds_per_picture"] = drawn["seconds"].mean()
summary.round(3).to_csv(P.results_dir / "generation_judge_summary.csv", index=False)
display(summary.round(3))
display(scores[scores["condition"].isin(["mixture", "track"])])

# %% [markdown]
# ## Figure 4 · text (top) and held-out sounds (bottom)

# %%
with figure_style():
    fig = plot_figure4(drawn, P.results_dir / "generation_judge.csv",
                       title=f"{perceptor.name} perceptor, {cfg.generator} image; judge: {cfg.judges[0]}")
    save_figure(fig, "fig4_generation", P.figures_dir)
    plt.show()

# %% [markdown]
# ## Figure 5 · mixtures
# Two held-out sounds alone and summed at equal loudness; under each picture the judge's rank and
# probability of each source's class.

# %%
with figure_style():
    fig = plot_figure5(drawn, P.results_dir / "generation_judge.csv", title="Mixtures of two held-out sounds")
    save_figure(fig, "fig5_mixtures", P.figures_dir)
    plt.show()

# %% [markdown]
# ## Figure 5 · music tracks
# Each stem of a track (never heard in pre-training) drawn alone, then the track's own mix; under the
# mix the judge's verdict for every stem. Stems whose profile `accept` lists no ImageNet class are
# drawn, not judged.

# %%
if (drawn["condition"] == "track").any():
    with figure_style():
        fig = plot_figure5_tracks(drawn, P.results_dir / "generation_judge.csv",
                                  title=f"{cfg.music_dataset}: stems alone and the mix")
        save_figure(fig, "fig5_tracks", P.figures_dir)
        plt.show()
else:
    print("no music tracks drawn: the profile sets no generation.music_dataset, or that dataset is not prepared")

# %% [markdown]
# ## Checks
# Every planned picture exists and every judged row has a rank. The profile's `checks.generation`
# may require the trained encoder to beat random weights on the judge's top-5 agreement by a margin,
# and the text pictures to reach a top-5 agreement (both measured, docs/generation.md); under smoke (a few steps, random weights) nothing is asserted
# about quality.

# %%
assert len(drawn) == len(plan) and all(Path(p).is_file() for p in drawn["image_path"])
assert scores["rank"].between(1, 1000).all() and scores["p_class"].between(0, 1).all()
checks = P.checks("generation")
top5 = summary.set_index(["judge", "condition"])["top5"]
first = judges[0].name
if "trained_over_random_top5" in checks:  # the paper's claim: the sound, not the architecture, is drawn
    assert top5[(first, "audio")] > top5[(first, "random_weights")] + checks["trained_over_random_top5"], top5
if "text_top5_min" in checks:  # the drawing itself works: the judge recognises pictures of class names
    assert top5[(first, "text")] >= checks["text_top5_min"], top5
print("checks passed")
