# %% [markdown]
# # 00 · The Wav2CLIP audio encoder
#
# Wav2CLIP embeds a 16 kHz waveform into CLIP's image-embedding space with a ResNet-18 that reads a
# log power spectrogram (`n_fft=512`, `hop=353`: 257 bins × 454 frames per 10 s), followed by a
# two-layer projection head. This notebook loads the encoder, shows what its front end sees, and
# measures the defect users reported in the original code: the spectrogram is standardised with the
# mean and standard deviation of the **whole batch**, so a clip's embedding changes with the other
# clips in the batch. `w2clib` keeps that mode (`norm="batch"`, bit-compatible with `wav2clip` 0.1.0)
# and uses per-clip statistics by default (`norm="clip"`).

# %% tags=["parameters"]
profile = "smoke"

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

import w2clib
from w2clib.analysis import EncoderDemoConfig, batch_dependence, demo_sounds
from w2clib.config import load_profile, section_config
from w2clib.model import ModelConfig, build_model
from w2clib.evaluate.plots import figure_style, save_figure

P = load_profile(profile)
cfg = section_config(EncoderDemoConfig, P.section("encoder"), where=f"{P.path}:encoder")
P.results_dir.mkdir(parents=True, exist_ok=True)
cfg

# %% [markdown]
# ## Load the encoder
# `checkpoint: wav2clip` loads the official release (downloaded once and verified by SHA-256). The
# offline profiles use the same architecture with seeded random weights: what this notebook shows
# is a property of the front end, not of the learned weights.

# %%
if cfg.checkpoint:
    model = w2clib.load_model(cfg.checkpoint)
else:
    model = build_model(ModelConfig(width=cfg.width), seed=0)
n_params = sum(p.numel() for p in model.parameters())
print(f"width {model.config.width}, embedding {model.embed_dim}-d, {n_params / 1e6:.2f} M parameters")

# %% [markdown]
# ## Embed some sounds
# Four synthetic sounds stand in for real recordings here (later notebooks use real ones). Clip mode
# gives one 512-d vector per clip; frame mode one vector per 1 s window every 250 ms.

# %%
sounds = demo_sounds(cfg.demo_seconds)
audio = np.stack(list(sounds.values()))
clip_emb = w2clib.embed_audio(audio, model)
frame_emb = w2clib.embed_audio(audio, model, frame_length=16000, hop_length=4000)
print("clip mode:", clip_emb.shape, " frame mode:", frame_emb.shape)
normed = clip_emb / np.linalg.norm(clip_emb, axis=1, keepdims=True)
pd.DataFrame(normed @ normed.T, index=list(sounds), columns=list(sounds)).round(3)

# %% [markdown]
# ## What the front end sees
# Standardised log power spectrograms (per-clip statistics), exactly the tensor the ResNet receives.

# %%
with figure_style():
    fig, axes = plt.subplots(2, len(sounds), figsize=(3.2 * len(sounds), 4.6), height_ratios=[1, 2])
    for col, (name, wave) in enumerate(sounds.items()):
        spec = model.audio_encoder.spectrogram_input(torch.from_numpy(wave)[None])[0, 0].numpy()
        axes[0, col].plot(np.arange(wave.size) / 16000, wave, lw=0.4)
        axes[0, col].set(title=name, xlabel="time (s)", ylim=(-0.6, 0.6))
        axes[1, col].imshow(spec, origin="lower", aspect="auto", cmap="magma",
                            extent=(0, wave.size / 16000, 0, 8000))
        axes[1, col].set(xlabel="time (s)", ylabel="frequency (Hz)" if col == 0 else None)
        axes[1, col].grid(False)
    fig.tight_layout()
    save_figure(fig, "00_frontend_spectrograms", P.figures_dir)

# %% [markdown]
# ## Batch dependence: original vs per-clip normalisation
# One clip (the harmonic tone) is embedded alone and inside batches of 15 different batch-mates.
# With batch statistics its embedding moves; with per-clip statistics it does not move at all
# (up to float rounding).

# %%
target = sounds["harmonic tone"]
dependence = batch_dependence(model, target, n_batches=cfg.n_batches, batch_size=cfg.batch_size)
dependence.to_csv(P.results_dir / "encoder_batch_dependence.csv", index=False)
summary = dependence.groupby("norm").agg(max_abs_change=("max_abs_change", "max"),
                                         min_cosine=("cosine_to_alone", "min"))
summary.to_csv(P.results_dir / "encoder_batch_dependence_summary.csv")
summary

# %%
import seaborn as sns

table = pd.read_csv(P.results_dir / "encoder_batch_dependence.csv")
with figure_style():
    fig, ax = plt.subplots(figsize=(5, 3))
    sns.stripplot(table.assign(change=table["max_abs_change"].clip(lower=1e-9)), x="norm", y="change", hue="norm",
                  order=["batch", "clip"], log_scale=True, jitter=0.1, legend=False, ax=ax)
    ax.set(xticks=[0, 1], xticklabels=['norm="batch" (original)', 'norm="clip" (default)'], xlabel=None,
           ylabel="max |Δ embedding| vs alone", title="A clip's embedding when its batch-mates change")
    fig.tight_layout()
    save_figure(fig, "00_batch_dependence", P.figures_dir)

# %% [markdown]
# ## Checks

# %%
assert clip_emb.shape == (len(sounds), model.embed_dim) and np.isfinite(clip_emb).all()
assert frame_emb.shape == (len(sounds), model.embed_dim, 1 + int(cfg.demo_seconds * 16000) // 4000)
assert summary.loc["clip", "max_abs_change"] <= 1e-5, "per-clip normalisation must not depend on the batch"
assert summary.loc["batch", "max_abs_change"] > 1e-3, "batch normalisation is expected to move the embedding"
print("checks passed")
