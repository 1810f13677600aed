"""Held-out evaluation of the embedded pre-training run: sounds the encoder never trained on.

Three retrieval tasks, each over held-out data, each with its exact chance level
(:func:`w2clib.evaluate.retrieval.chance_levels`):

* ``timgm_prototype`` -- a TimGM6mb clip (an unseen soundfont: training used FluidR3) ranks the
  teacher's class prototypes of the ImageNet-mapped GM classes (28); its own class is the hit.
  R@1, R@5, MRR.
* ``timgm_zeroshot`` -- the same clips rank the classes' *names* through the teacher's text tower
  (prompt set ``templates``, default CLIP-style ``"a photo of a {label}."`` ...; names are the
  manifests' ``imagenet_class``): zero-shot classification, R@1 = top-1 accuracy.
* ``tux_photo`` -- a held-out Tux Paint sound (a concept never seen in training) ranks the photos of
  all held-out items (teacher image embeddings of the photos themselves); its own photo is the hit.

A clip longer than the training crop is embedded as the mean of consecutive crop-length windows
(the last one aligned to the end); a shorter one is zero-padded at the end, as in training.

    ev = heldout_evaluator(load_profile("mini"), EvalOptions())
    ev.evaluate(model)              # {"timgm_prototype_R@1": ..., ...}
    ev.table({"trained": model, "random": random_like(model, seed)})   # rows with chance levels
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..model import Wav2CLIP, build_model
from ..metrics import chance_levels, l2_normalize, retrieval_metrics
from .zeroshot import TEMPLATE_SETS, text_classifier

__all__ = ["METRICS", "EvalOptions", "HeldOutEvaluator", "TASKS", "heldout_evaluator", "random_like", "windows_of"]

TASKS = ("timgm_prototype", "timgm_zeroshot", "tux_photo")
KS = (1, 5)
METRICS = ("R@1", "R@5", "MRR")


@dataclass(frozen=True)
class EvalOptions:
    """``pretrain.data_options.heldout``: how the held-out evaluation samples and prompts."""

    max_per_class: int | None = None  # TimGM clips per ImageNet class after each epoch (hash-sampled); None = all
    final_max_per_class: int | None = None  # the same for the final table (notebook 03); None = all
    templates: str = "clip_ensemble"  # zero-shot prompt set (w2clib.evaluate.zeroshot.TEMPLATE_SETS)
    batch_size: int = 64  # windows per forward pass (memory only; results do not depend on it)

    def __post_init__(self) -> None:
        for name in ("max_per_class", "final_max_per_class"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"heldout.{name} must be >= 1 or null, got {getattr(self, name)}")
        if self.templates not in TEMPLATE_SETS:
            raise ValueError(f"heldout.templates must be one of {sorted(TEMPLATE_SETS)}, got {self.templates!r}")
        if self.batch_size < 1:
            raise ValueError(f"heldout.batch_size must be >= 1, got {self.batch_size}")


def windows_of(waves: Sequence[np.ndarray], n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut clips into ``n_samples`` windows: (n_windows, n_samples) float32 and the owner clip of each.

    A clip up to ``n_samples`` long gives one window, zero-padded at the end; a longer one gives
    ``ceil(len / n_samples)`` consecutive windows, the last aligned to the clip's end.
    """
    pieces, owner = [], []
    for k, wave in enumerate(waves):
        wave = np.asarray(wave, dtype=np.float32).reshape(-1)
        if len(wave) <= n_samples:
            pieces.append(np.pad(wave, (0, n_samples - len(wave))))
            owner.append(k)
            continue
        starts = list(range(0, len(wave) - n_samples, n_samples)) + [len(wave) - n_samples]
        pieces.extend(wave[s : s + n_samples] for s in starts)
        owner.extend([k] * len(starts))
    return np.stack(pieces), np.asarray(owner, dtype=np.int64)


def random_like(model: Wav2CLIP, seed: int) -> Wav2CLIP:
    """The same architecture with seeded random weights (eval mode).

    With the training seed this is exactly the run's starting point (:func:`w2clib.model.build_model`).
    """
    return build_model(dataclasses.replace(model.config), seed=seed)


class HeldOutEvaluator:
    """Embeds the held-out sounds with a model and scores the three retrieval tasks.

    Args:
        gm_waves: TimGM clips, float32 at 16 kHz; gm_class: (n,) row of each clip's class in
            ``prototypes`` / ``text_classes``.
        prototypes: (C, D) teacher class prototypes; text_classes: (C, D) text-tower class embeddings.
        tux_waves: held-out Tux Paint sounds; tux_photo: (m,) row of each sound's photo in ``photos``.
        photos: (P, D) teacher embeddings of the held-out photos.
        clip_samples: window length (the training crop), samples at 16 kHz.
    """

    def __init__(self, gm_waves: Sequence[np.ndarray], gm_class: np.ndarray, prototypes: np.ndarray,
                 text_classes: np.ndarray, tux_waves: Sequence[np.ndarray], tux_photo: np.ndarray,
                 photos: np.ndarray, *, clip_samples: int, batch_size: int = 64,
                 class_names: Sequence[str] = (), templates: str = "") -> None:
        self.gm_windows, self.gm_owner = windows_of(gm_waves, clip_samples)
        self.tux_windows, self.tux_owner = windows_of(tux_waves, clip_samples)
        self.gm_class, self.tux_photo = np.asarray(gm_class), np.asarray(tux_photo)
        self.prototypes, self.text_classes, self.photos = (
            l2_normalize(v, axis=1, dtype=np.float64) for v in (prototypes, text_classes, photos))
        self.batch_size, self.class_names, self.templates = batch_size, list(class_names), templates
        self.relevant = {
            "timgm_prototype": self.gm_class[:, None] == np.arange(len(self.prototypes))[None, :],
            "timgm_zeroshot": self.gm_class[:, None] == np.arange(len(self.text_classes))[None, :],
            "tux_photo": self.tux_photo[:, None] == np.arange(len(self.photos))[None, :],
        }

    @property
    def sizes(self) -> dict[str, tuple[int, int]]:
        """(queries, items) of each task."""
        return {task: rel.shape for task, rel in self.relevant.items()}  # type: ignore[misc]

    def _embed(self, model: Wav2CLIP, windows: np.ndarray, owner: np.ndarray) -> np.ndarray:
        from ..inference import encode_waveforms

        emb = encode_waveforms(model, torch.from_numpy(windows), batch_size=self.batch_size).numpy()
        out = np.zeros((int(owner.max()) + 1, emb.shape[1]), dtype=np.float64)
        np.add.at(out, owner, emb)
        return out / np.bincount(owner)[:, None]

    def evaluate(self, model: Wav2CLIP) -> dict[str, float]:
        """``{"<task>_<metric>": value}`` for every task and metric (R@1, R@5, MRR), in [0, 1].

        Runs without gradients in eval mode and restores the model's mode afterwards.
        """
        gm = l2_normalize(self._embed(model, self.gm_windows, self.gm_owner), axis=1, dtype=np.float64)
        tux = l2_normalize(self._embed(model, self.tux_windows, self.tux_owner), axis=1, dtype=np.float64)
        sims = {"timgm_prototype": gm @ self.prototypes.T, "timgm_zeroshot": gm @ self.text_classes.T,
                "tux_photo": tux @ self.photos.T}
        out: dict[str, float] = {}
        for task in TASKS:
            metrics = retrieval_metrics(sims[task], self.relevant[task], KS)
            out.update({f"{task}_{m}": metrics[m] for m in METRICS})
        return out

    def chance(self) -> dict[str, float]:
        """Exact expected value of every metric under a random ranking, same keys as :meth:`evaluate`."""
        out: dict[str, float] = {}
        for task in TASKS:
            levels = chance_levels(self.relevant[task], KS)
            out.update({f"{task}_{m}": levels[m] for m in METRICS})
        return out

    def epoch_metrics(self, model: Wav2CLIP) -> dict[str, float]:
        """The trainer's ``evaluate`` hook: :meth:`evaluate` with keys prefixed ``heldout_``."""
        return {f"heldout_{k}": v for k, v in self.evaluate(model).items()}

    def table(self, models: dict[str, Wav2CLIP], **columns: Any) -> pd.DataFrame:
        """One row per (model, task, metric) with the value, the chance level and the task's size.

        ``columns`` are added to every row (e.g. ``profile="mini"``, ``seed=2021``).
        """
        chance = self.chance()
        rows = []
        for name, model in models.items():
            values = self.evaluate(model)
            for key, value in values.items():
                task, metric = key.rsplit("_", 1)
                n_queries, n_items = self.sizes[task]
                rows.append({**columns, "model": name, "task": task, "metric": metric, "value": value,
                             "chance": chance[key], "n_queries": n_queries, "n_items": n_items,
                             "templates": self.templates if task == "timgm_zeroshot" else ""})
        return pd.DataFrame(rows)


def _hash_sample(frame: pd.DataFrame, per_class: int | None) -> pd.DataFrame:
    """Up to ``per_class`` rows per ImageNet class, the ones with the smallest SHA-256 of their id
    (deterministic, and spread over programs and pitches, unlike the first ids)."""
    if per_class is None:
        return frame
    key = frame["clip_id"].map(lambda c: hashlib.sha256(str(c).encode()).hexdigest())
    ordered = frame.assign(_key=key).sort_values("_key", kind="stable")
    return ordered.groupby("imagenet_index", sort=True).head(per_class).drop(columns="_key").sort_values("clip_id")


def heldout_evaluator(profile: Any, options: EvalOptions | None = None, *, clip_seconds: float = 2.0,
                      final: bool = False) -> HeldOutEvaluator:
    """The held-out sets of ``profile`` (prepared if needed) with the profile's teacher.

    TimGM6mb test clips that have an ImageNet class (``max_per_class`` of each, or
    ``final_max_per_class`` with ``final``) and every Tux Paint ``test`` item that has a photo.
    Loading takes a few seconds (decoding, one teacher pass over the held-out photos, the prompts).
    """
    from ..data.embedded.tuxpaint import load_stamp_image
    from ..training.embedded import _manifests, load_clips, load_profile_teacher

    opts = options or EvalOptions()
    teacher = load_profile_teacher(profile)
    manifests = _manifests(profile)
    gm = manifests["gm_timgm6mb"]
    per_class = opts.final_max_per_class if final else opts.max_per_class
    gm = _hash_sample(gm[(gm["split"] == "test") & (gm["imagenet_index"] >= 0)], per_class)
    classes = sorted(gm["imagenet_index"].unique().tolist())
    names = [gm.loc[gm["imagenet_index"] == c, "imagenet_class"].iloc[0] for c in classes]
    row_of = {c: k for k, c in enumerate(classes)}
    tux = manifests["tuxpaint"]
    tux = tux[(tux["split"] == "test") & (tux["image_path"].astype(str) != "")].sort_values("clip_id")
    photo_paths = sorted(tux["image_path"].unique().tolist())
    photo_row = {p: k for k, p in enumerate(photo_paths)}
    return HeldOutEvaluator(
        load_clips(gm["audio_path"].tolist()), np.array([row_of[c] for c in gm["imagenet_index"]]),
        teacher.class_prototypes(classes), text_classifier(teacher, names, opts.templates),
        load_clips(tux["audio_path"].tolist()), np.array([photo_row[p] for p in tux["image_path"]]),
        teacher.embed_images([load_stamp_image(p) for p in photo_paths]),
        clip_samples=round(clip_seconds * 16000), batch_size=opts.batch_size, class_names=names,
        templates=opts.templates,
    )
