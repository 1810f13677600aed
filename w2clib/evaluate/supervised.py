"""The supervised baseline: the Wav2CLIP backbone trained from scratch on the labels.

The same ResNet-18 front end and trunk as :class:`w2clib.model.AudioBackbone` (width configurable;
64 = the paper's), followed by one linear classifier, trained with cross-entropy (binary
cross-entropy for multi-label sets), AdamW and a cosine learning-rate schedule on fixed-length clips
held in memory.  Augmentation: random gain and random circular time shift.  Training is
deterministic for a given seed (seeded initialisation, shuffling and augmentation).

In-memory clips suit the embedded sets, ESC-50 and UrbanSound8K (2000 x 5 s is 640 MB of float32);
VGGSound-scale training needs a streaming loader and a GPU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..audio import SAMPLE_RATE, fit_length, load_audio
from ..model import AudioBackbone, ModelConfig
from .data_fraction import FitScore
from .embeddings import Embedder, model_fingerprint
from .probes import ProbeResult, prediction_frame, score, torch_threads
from .protocols import Split

__all__ = [
    "SupervisedConfig",
    "SupervisedNet",
    "load_clips",
    "train_supervised",
    "predict_logits",
    "supervised_fit_score",
    "run_supervised",
    "supervised_embedder",
]


@dataclass
class SupervisedConfig:
    """Trainer settings (profile ``evaluate.supervised``)."""

    width: int = 64  # backbone width (64 = the paper's ResNet-18)
    clip_seconds: float = 5.0  # clips are cropped / zero-padded to this length
    crop: str = "start"  # which part of a longer clip is kept: "start" (keeps onsets) or "center"
    epochs: int = 30  # passes over the training clips
    batch_size: int = 32  # clips per step
    lr: float = 1e-3  # AdamW peak learning rate (cosine decay to 0)
    weight_decay: float = 1e-4  # AdamW weight decay
    augment: bool = True  # random gain (x0.5-1.5) and circular time shift
    num_threads: int = 0  # torch CPU threads during training (0 = torch default)
    device: str = "auto"  # "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:1", ...

    def __post_init__(self) -> None:
        if self.width < 1 or self.epochs < 1 or self.batch_size < 1 or self.clip_seconds <= 0:
            raise ValueError(
                f"SupervisedConfig needs positive width, epochs, batch_size and clip_seconds: {self}"
            )
        if self.crop not in ("start", "center"):
            raise ValueError(
                f"SupervisedConfig.crop must be 'start' or 'center', got {self.crop!r}"
            )


class SupervisedNet(nn.Module):
    """Waveform (batch, samples) at 16 kHz -> class logits; ``features`` gives the pooled trunk output."""

    def __init__(self, width: int, n_classes: int) -> None:
        super().__init__()
        self.backbone = AudioBackbone(
            ModelConfig(width=width, embed_dim=8 * width)
        )  # no projection layer
        self.classifier = nn.Linear(8 * width, n_classes)

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, 8 * width) float32."""
        return self.backbone(wave, norm="clip")

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(wave))


def load_clips(
    paths: Sequence[str], seconds: float, *, crop: str = "start", progress: bool = False
) -> np.ndarray:
    """Read files as (n, seconds * 16000) float32: mono, 16 kHz, cropped (``"start"`` or
    ``"center"``) or zero-padded at the end.

    ``"start"`` is the default because it keeps onsets: a centre crop of a rendered note drops its
    attack, and a from-scratch model trained on such crops stayed at chance on the GM families.
    """
    from tqdm.auto import tqdm

    n = int(round(seconds * SAMPLE_RATE))
    items = tqdm(list(paths), desc="loading", disable=not progress)
    return np.stack([fit_length(load_audio(p), n, mode=crop) for p in items])


def _augment(batch: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    gains = torch.from_numpy(rng.uniform(0.5, 1.5, size=(len(batch), 1)).astype(np.float32))
    shifts = rng.integers(0, batch.shape[1], size=len(batch))
    rolled = torch.stack([torch.roll(row, int(s)) for row, s in zip(batch, shifts)])
    return rolled * gains


def train_supervised(
    waves: np.ndarray,
    y: np.ndarray,
    config: SupervisedConfig | None = None,
    *,
    seed: int = 0,
    n_classes: int | None = None,
    progress: bool = False,
) -> tuple[SupervisedNet, list[float]]:
    """Train a :class:`SupervisedNet` from scratch.

    Args:
        waves: (n, samples) float32 clips at 16 kHz (see :func:`load_clips`).
        y: (n,) int64 classes or (n, C) 0/1 multi-label targets.
        n_classes: output size (default ``y.max() + 1`` or ``y.shape[1]``).

    Returns:
        (model in eval mode, mean training loss of each epoch).
    """
    config = config or SupervisedConfig()
    waves = np.asarray(waves, dtype=np.float32)
    if waves.ndim != 2 or len(waves) != len(y):
        raise ValueError(
            f"waves must be (n, samples) with one row per target; got {waves.shape} and {np.shape(y)}"
        )
    multilabel = np.ndim(y) == 2
    n_out = (
        int(y.shape[1])
        if multilabel
        else int(n_classes if n_classes is not None else int(np.max(y)) + 1)
    )
    target = torch.from_numpy(np.asarray(y, dtype=np.float32 if multilabel else np.int64))
    data = torch.from_numpy(waves)
    loss_fn: nn.Module = nn.BCEWithLogitsLoss() if multilabel else nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    steps_per_epoch = math.ceil(len(waves) / config.batch_size)
    total = steps_per_epoch * config.epochs
    history: list[float] = []
    from tqdm.auto import tqdm

    device = _device(config.device)
    with torch_threads(config.num_threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SupervisedNet(config.width, n_out).to(device)  # initialised on the CPU: same weights anywhere
        opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: 0.5 * (1 + math.cos(math.pi * step / total))
        )
        model.train()
        for _ in tqdm(range(config.epochs), desc="supervised", disable=not progress):
            order = rng.permutation(len(waves))
            losses = []
            for start in range(0, len(order), config.batch_size):
                idx = torch.from_numpy(order[start : start + config.batch_size])
                if len(idx) < 2:
                    continue  # BatchNorm needs two clips per batch in training mode
                batch = _augment(data[idx], rng) if config.augment else data[idx]
                opt.zero_grad()
                loss = loss_fn(model(batch.to(device)), target[idx].to(device))
                loss.backward()
                opt.step()
                sched.step()
                losses.append(loss.item())
            history.append(float(np.mean(losses)) if losses else float("nan"))
    return model.eval(), history


def predict_logits(model: SupervisedNet, waves: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """(n, samples) float32 clips -> (n, n_classes) float32 logits (on the model's device, returned on CPU)."""
    model.eval()
    device = next(model.parameters()).device
    outs = []
    with torch.inference_mode():
        for start in range(0, len(waves), batch_size):
            batch = torch.from_numpy(np.asarray(waves[start : start + batch_size], dtype=np.float32))
            outs.append(model(batch.to(device)).cpu())
    return torch.cat(outs).numpy()


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def supervised_fit_score(
    waves: np.ndarray, y: np.ndarray, config: SupervisedConfig | None = None
) -> FitScore:
    """A :data:`w2clib.evaluate.data_fraction.FitScore` that trains from scratch on each subset."""
    n_classes = None if np.ndim(y) == 2 else int(np.max(y)) + 1

    def fit_score(train: np.ndarray, test: np.ndarray, seed: int) -> float:
        model, _ = train_supervised(waves[train], y[train], config, seed=seed, n_classes=n_classes)
        return score(y[test], predict_logits(model, waves[test]))

    return fit_score


def run_supervised(
    waves: np.ndarray,
    y: np.ndarray,
    splits: Sequence[Split],
    config: SupervisedConfig | None = None,
    seeds: Sequence[int] = (0,),
) -> ProbeResult:
    """Train from scratch on each split's training rows and test once, like :func:`run_probe`.

    No hyper-parameter search: the configuration is fixed in the profile before the run.
    """
    n_classes = None if np.ndim(y) == 2 else int(np.max(y)) + 1
    rows: list[dict[str, Any]] = []
    preds = []
    for seed in seeds:
        for split in splits:
            model, history = train_supervised(
                waves[split.train], y[split.train], config, seed=seed, n_classes=n_classes
            )
            out = predict_logits(model, waves[split.test])
            rows.append(
                {
                    "seed": seed,
                    "split": split.name,
                    "score": score(y[split.test], out),
                    "val_score": None,
                    "hparams": {"final_loss": history[-1]},
                }
            )
            if np.ndim(y) == 1:
                preds.append(prediction_frame(seed, split, y, out))
    return ProbeResult(
        "supervised",
        pd.DataFrame(rows),
        pd.concat(preds, ignore_index=True) if preds else pd.DataFrame(),
    )


def supervised_embedder(model: SupervisedNet, *, name: str = "supervised") -> Embedder:
    """Pooled trunk features (8 * width) of a trained :class:`SupervisedNet`, whole file, per file."""

    def embed(paths: Sequence[str]) -> np.ndarray:
        model.eval()
        device = next(model.parameters()).device
        with torch.inference_mode():
            return np.stack(
                [model.features(torch.from_numpy(load_audio(p))[None].to(device))[0].cpu().numpy()
                 for p in paths]
            )

    return Embedder(
        name, model_fingerprint(model), embed, {"features": "backbone", "input": "whole file"}
    )
