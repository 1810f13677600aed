"""What the evaluation notebooks (04-09, 11) share: the evaluated model, the evaluation sets, cached features.

    ctx = load_context("mini")                       # model, checkpoint hash, teacher; fails early
    sets = evaluation_sets(ctx, ["gm_families"])     # {name: EvalSet}
    x = features(ctx, sets["gm_families"], "wav2clip")   # (n, D), cached on disk

Evaluation sets, by name (a profile lists the ones it evaluates; nothing depends on the profile's name):

* embedded sets: ``gm_families`` (16 General MIDI families, train on the FluidR3
  renders, test on TimGM6mb: a soundfont the encoder never heard), ``gm_imagenet`` (the same clips
  labelled with the 28 ImageNet classes that served as distillation targets) and ``tuxpaint`` (real
  stamp sounds with photos and captions; its ``test`` concepts were held out of pre-training).
* the paper's sets: ``esc50``, ``urbansound8k``, ``vggsound``, ``tau2020``, ``fsd50k``, ``clotho`` from
  :func:`w2clib.data.load_manifest` (prepared on a machine with internet access).

Several sets draw on one *pool* of audio files (both GM sets on the GM renders), and features are
extracted per pool, so a clip is embedded once per model whatever the notebook asks for.
The supervised baseline trains from scratch; its per-(train rows, test rows, seed) outcomes are
cached on disk too, so Figure 2's full-data point and Figure 3 reuse notebook 04's fits.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._io import atomic_write_json
from ..config import Profile, load_profile
from ..data import capabilities as dataset_capabilities
from ..data.base import Capabilities
from .results import result_row
from .config import EvaluateConfig, evaluate_config
from .data_fraction import FitScore
from .embeddings import Embedder, extract_embeddings, manifest_fingerprint, model_embedder, segmented_embedder
from .probes import ProbeResult, score, torch_threads
from .protocols import (
    PROTOCOLS,
    TEST_SPLITS,
    Split,
    class_order,
    encode_labels,
    limit_clips,
    make_splits,
)

__all__ = [
    "usable_rows",
    "EMBEDDED_SETS",
    "PAPER_SETS",
    "EvalSet",
    "EvalContext",
    "load_context",
    "evaluation_sets",
    "features",
    "model_features",
    "supervised_result",
    "supervised_fit_score_cached",
]

EMBEDDED_SETS = ("gm_families", "gm_imagenet", "tuxpaint")
PAPER_SETS = ("esc50", "urbansound8k", "vggsound", "tau2020", "fsd50k", "clotho")
FEATURE_BASELINES = ("logmel_stats", "mfcc_stats")  # computed from audio, no weights


@dataclass
class EvalSet:
    """One evaluation set: a manifest (``clip_id, audio_path, label, split`` [+ ``fold``, ...]).

    ``pool`` names the group of audio files whose features it shares with other sets.
    """

    name: str
    manifest: pd.DataFrame
    pool: str
    description: str = ""
    photos: pd.DataFrame | None = None  # class photos (``image_path, label``) for audio -> photo retrieval
    capabilities: Capabilities | None = None  # what the clips carry; None: as dataset ``name`` declares it

    def __post_init__(self) -> None:
        if self.capabilities is None:
            self.capabilities = dataset_capabilities(self.name)

    @property
    def multilabel(self) -> bool:
        return self.capabilities.multilabel

    @property
    def classes(self) -> list[str]:
        """Class names in the dataset's own order (its class-index column, else sorted)."""
        return class_order(self.manifest, multilabel=self.multilabel)

    def labels(self) -> np.ndarray:
        """(n,) int64 class index per row, or (n, C) 0/1 for multi-label sets."""
        return encode_labels(self.manifest, self.classes, multilabel=self.multilabel)[0]

    def splits(self) -> list[Split]:
        """The dataset's official protocol (:func:`w2clib.evaluate.protocols.make_splits`)."""
        return make_splits(self.manifest, PROTOCOLS.get(self.name, "train_test"))

    def test_side(self) -> EvalSet:
        """Only the test rows (``split`` in test/eval/...), e.g. zero-shot on the unseen soundfont."""
        if "split" not in self.manifest.columns:
            return self
        keep = self.manifest["split"].astype(str).str.lower().isin(TEST_SPLITS)
        if not keep.any():
            raise ValueError(f"{self.name}: no test rows (split values {sorted(self.manifest['split'].unique())})")
        return dataclasses.replace(self, manifest=self.manifest[keep].reset_index(drop=True))

    def summary(self) -> dict[str, Any]:
        """Clips, classes and clips per split, for the notebooks' tables."""
        m = self.manifest
        out = {"set": self.name, "clips": len(m), "classes": len(self.classes), "pool": self.pool}
        if "split" in m.columns:
            out.update({f"split={k}": int(v) for k, v in m["split"].value_counts().sort_index().items()})
        if "fold" in m.columns:
            out["folds"] = int(m["fold"].nunique())
        out["description"] = self.description
        return out


@dataclass
class EvalContext:
    """The evaluated model and everything the notebooks need around it."""

    profile: Profile
    config: EvaluateConfig
    model: Any  # w2clib.model.Wav2CLIP
    checkpoint: str  # where the weights came from (a folder, a file or a registry name)
    checkpoint_sha256: str
    teacher_description: dict[str, Any]
    _teacher: Any = field(default=None, repr=False)
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False)

    unavailable: dict[str, str] = field(default_factory=dict)  # evaluation set -> why it is skipped

    @property
    def summary_path(self) -> Path:
        return self.profile.results_dir / "summary.csv"

    @property
    def cache_dir(self) -> Path:
        return self.config.cache_path(self.profile)

    def teacher(self) -> Any:
        """The teacher the model lives in (loaded once): recorded in the checkpoint, else the profile's."""
        if self._teacher is None:
            from ..teachers import TeacherConfig, teacher_from_description

            if self.teacher_description.get("kind") in ("packaged", "open_clip"):
                self._teacher = teacher_from_description(self.teacher_description)
            else:
                from ..config import section_config

                cfg = section_config(TeacherConfig, self.profile.section("teacher"),
                                     where=f"profile {self.profile.path} teacher")
                self._teacher = cfg.load()
        return self._teacher

    def row(self, **kwargs: Any) -> dict[str, Any]:
        """:func:`w2clib.evaluate.results.result_row` with this run's profile and checkpoint filled in."""
        return result_row(profile=self.profile.name, checkpoint_sha256=self.checkpoint_sha256,
                          compare_with_paper=self.profile.compare_with_paper, **kwargs)


def _resolve_checkpoint(profile: Profile, name: str) -> str:
    if name == "pretrain":
        folder = profile.run_dir / "pretrain"
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(
                f"no pre-trained encoder in {folder} (profile {profile.name!r}): run notebook 03 first "
                f"(python -m w2clib.pipeline --profile {profile.name} --only 03), or "
                f"`w2clib pretrain --profile {profile.name} --out {folder}`, or set evaluate.checkpoint "
                "to a checkpoint name or path"
            )
        return str(folder)
    return name


def load_context(profile: str | Profile, *, device: str | None = None) -> EvalContext:
    """Load the profile's evaluated encoder and check the data it needs, failing early with a message.

    ``evaluate.checkpoint``: ``"pretrain"`` (the encoder notebook 03 trained, ``<run_dir>/pretrain``),
    a registry name (``"wav2clip"``: the official release, downloaded and verified) or a path.
    ``device``: where the encoder runs (default: CUDA when available, else the CPU).

    Raises:
        FileNotFoundError: no checkpoint, or a paper dataset that is not prepared (all are listed).
        DownloadError: the official checkpoint cannot be downloaded here (offline; w2clib.downloads).
    """
    from ..api import load_model

    P = load_profile(profile) if not isinstance(profile, Profile) else profile
    cfg = evaluate_config(P)
    # data first: it is the slower thing to fix, so say it before any download
    unavailable = _check_dataset_sets(cfg, required=bool(P.section("data").get("required", True)))
    checkpoint = _resolve_checkpoint(P, cfg.checkpoint)
    model = load_model(checkpoint, device=device)
    sha = getattr(model, "checkpoint_sha256", None) or ""
    return EvalContext(P, cfg, model, checkpoint, sha, dict(model.config.teacher or {}), unavailable=unavailable)


def _needed_sets(cfg: EvaluateConfig) -> list[str]:
    names = [*cfg.datasets, *cfg.zero_shot_datasets, *cfg.retrieval_datasets,
             cfg.fraction_dataset, cfg.confusion_dataset]
    return list(dict.fromkeys(names))


def _check_dataset_sets(cfg: EvaluateConfig, *, required: bool) -> dict[str, str]:
    """The prepared-dataset sets the config names that are not prepared: an error listing all of them
    when ``data.required`` is true, else ``{name: reason}`` (those sets are skipped, loudly)."""
    import sys

    from ..data import load_manifest

    missing, needed = {}, _needed_sets(cfg)
    for name in needed:
        if name in PAPER_SETS:
            try:
                load_manifest(name)
            except FileNotFoundError as err:
                missing[name] = str(err)
    if missing and (required or len(missing) == len(needed)):
        raise FileNotFoundError(
            ("the profile evaluates on datasets that are not prepared here" if required else
             "none of the datasets the profile evaluates on is prepared here") + ":\n"
            + "\n".join(f"  {name}: {why}" for name, why in missing.items())
            + "\nPrepare them on a machine with internet access (`w2clib prepare esc50 urbansound8k ...`, "
            "see docs/datasets.md), set data.required: false to evaluate on what is prepared, or run the "
            "embedded default: ./reproduce.sh"
        )
    for name, why in missing.items():
        print(f"WARNING: evaluation set {name!r} is skipped (data.required is false): {why}", file=sys.stderr)
    return missing


# ------------------------------------------------------------------------------------------------
# Evaluation sets


def _embedded_pools(ctx: EvalContext) -> dict[str, pd.DataFrame]:
    if "pools" in ctx._memo:
        return ctx._memo["pools"]
    from ..config import section_config
    from ..data.embedded.profile import DataConfig, load_dataset

    data = section_config(DataConfig, ctx.profile.section("data"), where=f"profile {ctx.profile.path} data")
    cap = ctx.config.max_clips
    # GM: FluidR3 renders are the training side, TimGM6mb the test side; `label` is the GM family.
    gm = pd.concat([load_dataset(data, "gm_fluidr3"), load_dataset(data, "gm_timgm6mb")], ignore_index=True)
    tux = load_dataset(data, "tuxpaint")
    pools = {"gm": limit_clips(gm, cap).reset_index(drop=True), "tuxpaint": limit_clips(tux, cap).reset_index(drop=True)}
    ctx._memo["pools"] = pools
    return pools


def _both_sides(manifest: pd.DataFrame) -> pd.DataFrame:
    """Keep classes present on the training and the test side (a probe cannot learn a missing class)."""
    per_side = manifest.groupby("split")["label"].agg(set)
    shared = set.intersection(*per_side.tolist()) if len(per_side) else set()
    return manifest[manifest["label"].isin(shared)].reset_index(drop=True)


def _embedded_set(ctx: EvalContext, name: str) -> EvalSet:
    pools = _embedded_pools(ctx)
    if name == "gm_families":
        return EvalSet(name, _both_sides(pools["gm"]), "gm",
                       "16 GM families; train FluidR3 renders, test TimGM6mb renders")
    if name == "gm_imagenet":
        gm = pools["gm"]
        part = gm[gm["imagenet_class"].astype(str) != ""].copy()
        part["label"] = part["imagenet_class"]
        part["class_index"] = part["imagenet_index"]  # class order: ImageNet's, not the GM family's
        # Tux Paint photos of the same ImageNet classes (instruments): an unseen-soundfont clip should
        # find a photo of its instrument among them (the photos are real pictures, not prototypes)
        tux = pools["tuxpaint"]
        photos = tux[tux["imagenet_class"].isin(set(part["label"]))][["image_path", "imagenet_class"]]
        photos = photos.rename(columns={"imagenet_class": "label"}).drop_duplicates("image_path")
        return EvalSet(name, _both_sides(part), "gm",
                       "GM programs with an ImageNet class (the distillation targets); train FluidR3, test TimGM6mb",
                       photos=photos.reset_index(drop=True) if len(photos) else None)
    if name == "tuxpaint":
        return EvalSet(name, pools["tuxpaint"], "tuxpaint",
                       "Tux Paint stamps: sound, photo, caption; test concepts held out of pre-training")
    raise ValueError(f"unknown embedded evaluation set {name!r}; known: {EMBEDDED_SETS}")


def usable_rows(name: str, manifest: pd.DataFrame) -> pd.DataFrame:
    """The rows whose audio is on disk and not reported corrupt or too short (e.g. empty) by the
    dataset's validation (``validate()``, run by notebook 01).

    VGGSound's csv lists every clip although ~20 % of the videos are gone, and any download can hold a
    damaged file: they are left out of evaluation, counted and announced, never a crash mid-table.
    """
    import sys

    from ..data import get_dataset, resolve_data_home
    from ..data.base import VALIDATION_FILE

    report = get_dataset(name).root(resolve_data_home()) / VALIDATION_FILE
    found = json.loads(report.read_text()) if report.is_file() else {}
    corrupt = {*found.get("corrupt", []), *found.get("too_short", [])}
    paths = manifest["audio_path"].astype(str)
    usable = np.array([Path(p).is_file() and p not in corrupt for p in paths])
    if not usable.all():
        print(f"{name}: {int((~usable).sum())} of {len(manifest)} clips are missing, corrupt or too short "
              "and are left out of evaluation (see validate())", file=sys.stderr)
    return manifest[usable].reset_index(drop=True)


def _paper_set(name: str) -> EvalSet:
    from ..data import load_manifest

    manifest = usable_rows(name, load_manifest(name))
    if name == "clotho":  # retrieval is scored on the evaluation split
        manifest = manifest[manifest["split"].astype(str) == "evaluation"].reset_index(drop=True)
    return EvalSet(name, manifest, name, f"{name} as prepared by w2clib.data")


def evaluation_sets(ctx: EvalContext, names: Sequence[str]) -> dict[str, EvalSet]:
    """The named evaluation sets of the context's profile (see the module docstring)."""
    out = {}
    for name in dict.fromkeys(names):
        if name in ctx.unavailable:
            continue  # announced by load_context; the notebooks report it as skipped
        if name in EMBEDDED_SETS:
            out[name] = _embedded_set(ctx, name)
        elif name in PAPER_SETS:
            out[name] = _paper_set(name)
        else:
            raise ValueError(f"unknown evaluation set {name!r}; known: {(*EMBEDDED_SETS, *PAPER_SETS)}")
    return out


# ------------------------------------------------------------------------------------------------
# Features


def model_features(ctx: EvalContext, model: str) -> Embedder:
    """The :class:`Embedder` of ``model``: ``"wav2clip"`` (the evaluated encoder), ``"random_init"``
    (its architecture, seeded random weights) or a baseline of :mod:`w2clib.evaluate.baselines`.

    Raises:
        BaselineUnavailable: a pretrained baseline whose package or weights are missing here.
    """
    key = ("embedder", model)
    if key not in ctx._memo:
        settings = {"precision": ctx.config.embed_precision, "batch_size": ctx.config.embed_batch_size}
        if model == "wav2clip":
            ctx._memo[key] = model_embedder(ctx.model, name="wav2clip", **settings)
        elif model == "random_init":
            from .baselines import get_baseline

            ctx._memo[key] = get_baseline("random_init", like=ctx.model, **settings)
        elif model == "supervised":
            raise ValueError("'supervised' is trained per split: use supervised_result / supervised_fit_score_cached")
        elif model in ctx.config.other_checkpoints:
            ctx._memo[key] = model_embedder(_other_encoder(ctx, model), name=model, **settings)
        else:
            from .baselines import get_baseline

            ctx._memo[key] = get_baseline(model)
    return ctx._memo[key]


def _other_encoder(ctx: EvalContext, model: str) -> Any:
    """The encoder of ``evaluate.other_checkpoints[model]``; one that cannot be had here (not trained
    yet, offline) is skipped like a baseline without its weights."""
    from ..api import load_model
    from .baselines import BaselineUnavailable

    try:
        checkpoint = _resolve_checkpoint(ctx.profile, ctx.config.other_checkpoints[model])
        encoder = load_model(checkpoint, device=str(next(ctx.model.parameters()).device))
    except (FileNotFoundError, RuntimeError, OSError) as err:
        raise BaselineUnavailable(f"checkpoint {model!r} ({ctx.config.other_checkpoints[model]}): {err}") from err
    if dict(encoder.config.teacher or {}) != ctx.teacher_description:
        print(f"WARNING: {model!r} was distilled from another teacher ({encoder.config.teacher}) than the "
              f"evaluated encoder ({ctx.teacher_description}): its zero-shot and retrieval numbers use the "
              "evaluated encoder's teacher", file=sys.stderr)
    return encoder


def _pool_manifest(ctx: EvalContext, evalset: EvalSet) -> pd.DataFrame:
    if evalset.name in EMBEDDED_SETS:
        return _embedded_pools(ctx)[evalset.pool]
    return evalset.manifest


def features(ctx: EvalContext, evalset: EvalSet, model: str, *, progress: bool = True,
             segments: int = 1) -> np.ndarray:
    """(n_clips, D) float32 features of ``model`` for ``evalset``'s rows, in manifest order
    (``segments`` > 1: of that many consecutive parts of each clip, concatenated: (n_clips, segments * D)).

    Extracted once per (model weights, pool of audio files, settings) into ``evaluate.cache_dir``
    under the run folder (:func:`w2clib.evaluate.embeddings.extract_embeddings`: resumable).
    """
    key = ("features", model, evalset.pool) + ((segments,) if segments != 1 else ())
    if key not in ctx._memo:
        pool = _pool_manifest(ctx, evalset)
        embedder = segmented_embedder(model_features(ctx, model), segments)
        with torch_threads(ctx.config.num_threads):
            ctx._memo[key] = extract_embeddings(pool, embedder, ctx.cache_dir,
                                                chunk_size=ctx.config.embed_chunk, progress=progress)
    return ctx._memo[key].aligned(evalset.manifest)


# ------------------------------------------------------------------------------------------------
# The supervised baseline, cached per (train rows, test rows, seed)


def _waves(ctx: EvalContext, evalset: EvalSet) -> np.ndarray:
    from .supervised import load_clips

    sup = ctx.config.supervised_config()
    key = ("waves", evalset.name, len(evalset.manifest), sup.clip_seconds, sup.crop)
    if key not in ctx._memo:
        ctx._memo[key] = load_clips(evalset.manifest["audio_path"].astype(str).tolist(), sup.clip_seconds,
                                    crop=sup.crop, progress=False)
    return ctx._memo[key]


def _fit_key(evalset: EvalSet, train: np.ndarray, test: np.ndarray, seed: int, config: Any) -> str:
    ids = evalset.manifest["clip_id"].astype(str).to_numpy()
    payload = {
        "set": evalset.name,
        "files": manifest_fingerprint(evalset.manifest),
        "labels": hashlib.sha256(np.ascontiguousarray(evalset.labels()).tobytes()).hexdigest(),
        "train": hashlib.sha256("\n".join(ids[train]).encode()).hexdigest(),
        "test": hashlib.sha256("\n".join(ids[test]).encode()).hexdigest(),
        "seed": int(seed),
        "config": dataclasses.asdict(config),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _supervised_fit(ctx: EvalContext, evalset: EvalSet, train: np.ndarray, test: np.ndarray,
                    seed: int) -> dict[str, Any]:
    """Train from scratch on ``train`` rows, predict ``test`` rows; cached as JSON by content."""
    from .supervised import predict_logits, train_supervised

    config = ctx.config.supervised_config()
    train, test = np.asarray(train, dtype=np.int64), np.asarray(test, dtype=np.int64)
    path = ctx.profile.run_dir / "cache" / "supervised" / f"{_fit_key(evalset, train, test, seed, config)[:32]}.json"
    if path.is_file():
        return json.loads(path.read_text())
    waves, y = _waves(ctx, evalset), evalset.labels()
    n_classes = None if y.ndim == 2 else len(evalset.classes)
    began = time.time()
    model, history = train_supervised(waves[train], y[train], config, seed=seed, n_classes=n_classes)
    logits = predict_logits(model, waves[test])
    outcome = {"score": score(y[test], logits), "y_pred": logits.argmax(axis=1).tolist(),
               "final_loss": history[-1], "seconds": round(time.time() - began, 1), "n_train": len(train)}
    atomic_write_json(path, outcome)
    return outcome


def supervised_result(ctx: EvalContext, evalset: EvalSet, seeds: Sequence[int]) -> ProbeResult:
    """The supervised baseline under ``evalset``'s protocol, like :func:`w2clib.evaluate.run_probe`."""
    y = evalset.labels()
    rows, preds = [], []
    for seed in seeds:
        for split in evalset.splits():
            out = _supervised_fit(ctx, evalset, split.train, split.test, seed)
            rows.append({"seed": seed, "split": split.name, "score": out["score"], "val_score": None,
                         "hparams": {"final_loss": out["final_loss"], "seconds": out["seconds"]}})
            if y.ndim == 1:
                preds.append(pd.DataFrame({"seed": seed, "split": split.name, "row": split.test,
                                           "y_true": y[split.test], "y_pred": out["y_pred"]}))
    return ProbeResult("supervised", pd.DataFrame(rows),
                       pd.concat(preds, ignore_index=True) if preds else pd.DataFrame())


def supervised_fit_score_cached(ctx: EvalContext, evalset: EvalSet) -> FitScore:
    """A data-fraction :data:`FitScore` training the supervised baseline, sharing notebook 04's cache."""

    def fit_score(train: np.ndarray, test: np.ndarray, seed: int) -> float:
        return float(_supervised_fit(ctx, evalset, train, test, seed)["score"])

    return fit_score
