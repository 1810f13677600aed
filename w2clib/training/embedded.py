"""The embedded pre-training run: Tux Paint sounds, rendered GM instruments and real recordings per batch.

The offline profiles cannot reach VGGSound, so they distil from small real sources built from
registry packages (:mod:`w2clib.data.embedded`), all in every batch (``pretrain.data: embedded``):

* **GM instrument clips** (FluidR3, ``gm_fluidr3``, train split), ``gm_per_batch`` of them, each of a
  different ImageNet class.  A rendered note has no picture: its target is the teacher's **class
  prototype** of the program's ImageNet class (``target_kind = "class_prototype"``), a stand-in for
  the averaged frame embeddings a video would give.  This part comes first, so an *epoch* is one
  pass's worth of GM clips (mini: ~127 steps) -- the unit of validation and held-out evaluation.
* **Tux Paint pairs** (``tuxpaint``, train concepts), ``tux_per_batch`` of them, of different concept
  groups: a stamp's sound and its photo.  The target is one of ``views`` precomputed augmented
  teacher views of the photo, a different one each step (a "video" of a still image), read from the
  teacher cache (:func:`w2clib.teachers.targets.features_for`, exactly the clips notebook 02 computes).
* **Real recordings** of other packages (``real_sounds`` sources named in ``real_sources``, only
  those whose role is ``train``), ``real_per_batch`` of them (0: none), of different labels: the
  teacher's class prototype or the label's text prototype (:func:`real_source`).

Held out, never trained on: Tux Paint ``test`` concepts, every TimGM6mb clip (an unseen
soundfont; :mod:`w2clib.evaluate.embedded_heldout`) and every held-out ``real_sounds`` source
(:mod:`w2clib.evaluate.real_heldout`).  Validation (the trainer's loss on unseen
batches) is cut from the *training* data: the ``n_valid`` FluidR3 clips that are last by clip id
within their class, one class after another, and the ``n_valid`` Tux Paint train items with the
smallest SHA-256 of their clip id (spread over categories, unlike a last-sorted cut).

    from w2clib.training.run import checkpoint_dir, run_pretrain
    out = run_pretrain(load_profile("mini"))     # trains, resumes, or reuses a finished run (any data)
    model = w2clib.load_model(checkpoint_dir(load_profile("mini")))

The items and the teacher come from the ``data:`` and ``teacher:`` sections of the *same* profile
whose ``pretrain:`` section asks for ``data: embedded`` (the trainer hands the profile to the builder).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from ..config import Profile, load_profile, section_config
from .config import PretrainConfig
from .loader import BatchPart, PairData
from .sources import ArraySource, PairSource

__all__ = [
    "EmbeddedOptions",
    "build_embedded",
    "embedded_sources",
    "load_clips",
    "load_profile_teacher",
    "real_source",
]


@dataclass(frozen=True)
class EmbeddedOptions:
    """``pretrain.data_options`` of ``data: embedded`` (unknown keys are errors)."""

    gm_per_batch: int = 16  # rendered GM clips per batch, each of a different ImageNet class
    tux_per_batch: int = 16  # Tux Paint (sound, photo) pairs per batch, each of a different concept group
    views: int | None = None  # teacher views per photo, one drawn per step; None = the teacher section's
    real_per_batch: int = 0  # real recordings of real_sources per batch, each of a different label; 0 = none
    real_sources: tuple[str, ...] = ()  # real_sounds sources to train on (names with split "train")

    def __post_init__(self) -> None:
        from ..data.embedded.realsounds import SOURCES, TRAIN_SOURCES

        object.__setattr__(self, "real_sources", tuple(self.real_sources))
        for name in ("gm_per_batch", "tux_per_batch"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"pretrain.data_options.{name} must be an integer >= 1, got {getattr(self, name)!r}")
        if self.views is not None and self.views < 1:
            raise ValueError(f"pretrain.data_options.views must be >= 1 or null, got {self.views}")
        if isinstance(self.real_per_batch, bool) or not isinstance(self.real_per_batch, int) or self.real_per_batch < 0:
            raise ValueError(f"pretrain.data_options.real_per_batch must be an integer >= 0, got {self.real_per_batch!r}")
        if bool(self.real_per_batch) != bool(self.real_sources):
            raise ValueError("pretrain.data_options: real_per_batch > 0 needs real_sources (and real_sources needs "
                             f"real_per_batch > 0); got {self.real_per_batch} and {list(self.real_sources)}")
        held_out = sorted(set(self.real_sources) - set(TRAIN_SOURCES))
        if held_out:
            known = [n for n in held_out if n in SOURCES]
            why = (f"{known} are held out for evaluation (split 'test')" if known else
                   f"{held_out} are not real_sounds sources")
            raise ValueError(f"pretrain.data_options.real_sources: {why}; training sources: {list(TRAIN_SOURCES)}")

    @property
    def per_batch(self) -> int:
        return self.gm_per_batch + self.tux_per_batch + self.real_per_batch

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> EmbeddedOptions:
        return section_config(cls, dict(options), where="pretrain.data_options (data: embedded)")


def _as_profile(profile: str | Profile) -> Profile:
    return profile if isinstance(profile, Profile) else load_profile(profile)


def _profile_sections(profile: str | Profile) -> tuple[Any, Any]:
    """(DataConfig, TeacherConfig) of ``profile``."""
    from ..data.embedded.profile import DataConfig
    from ..teachers import TeacherConfig

    prof = _as_profile(profile)
    return (section_config(DataConfig, prof.section("data"), where=f"{prof.path}:data"),
            section_config(TeacherConfig, prof.section("teacher"), where=f"{prof.path}:teacher"))


@lru_cache(maxsize=2)
def _load_teacher(section_json: str) -> Any:
    from ..teachers import TeacherConfig

    return section_config(TeacherConfig, json.loads(section_json), where="teacher").load()


def load_profile_teacher(profile: str | Profile) -> Any:
    """The teacher of ``profile``'s ``teacher:`` section, loaded once per process per section content."""
    return _load_teacher(json.dumps(_as_profile(profile).section("teacher"), sort_keys=True))


def load_clips(paths: list[str]) -> list[np.ndarray]:
    """Decode audio files into float32 mono waveforms at 16 kHz (``w2clib.audio.load_audio``)."""
    from ..audio import load_audio

    return [load_audio(p) for p in paths]


def _manifests(profile: str | Profile) -> dict[str, pd.DataFrame]:
    """The three embedded manifests of ``profile``, prepared if needed (idempotent; ~1 s when cached)."""
    from ..data.embedded.profile import prepare_datasets

    data_cfg, _ = _profile_sections(profile)
    names = ("tuxpaint", "gm_fluidr3", "gm_timgm6mb")
    prepared = prepare_datasets(dataclasses.replace(data_cfg, datasets=names), validate=False)
    return {name: prepared[name].manifest for name in names}


def _concept_group(row: pd.Series) -> str:
    # The split rule's group: concepts sharing an ImageNet class are one group (bull, cow -> ox).
    return f"imagenet:{row['imagenet_index']}" if int(row["imagenet_index"]) >= 0 else str(row["label"])


def _hash_order(ids: list[str]) -> np.ndarray:
    keys = [hashlib.sha256(i.encode()).hexdigest() for i in ids]
    return np.argsort(np.asarray(keys), kind="stable")


def embedded_sources(profile: str | Profile, views: int | None = None) -> dict[str, PairSource]:
    """The two training sources of ``profile`` with their teacher targets, before any validation cut.

    Returns:
        ``{"gm": ArraySource, "tux": ArraySource}``.  ``gm``: FluidR3 clips that have an ImageNet
        class, target (n, dim) = the teacher's class prototype, group = ImageNet index.  ``tux``: Tux
        Paint train items with a target in the teacher cache, target (n, views, dim) (or (n, dim)
        with ``views=1``), group = concept group.  Both carry ``teacher = teacher.describe()``.
    """
    from ..teachers.targets import features_for

    _, teacher_cfg = _profile_sections(profile)
    teacher = load_profile_teacher(profile)
    manifests = _manifests(profile)
    describe = teacher.describe()

    gm = manifests["gm_fluidr3"]
    gm = gm[(gm["split"] == "train") & (gm["imagenet_index"] >= 0)].sort_values("clip_id", kind="stable")
    classes = sorted(gm["imagenet_index"].unique().tolist())
    prototypes = teacher.class_prototypes(classes)
    row_of = {c: k for k, c in enumerate(classes)}
    gm_targets = prototypes[[row_of[c] for c in gm["imagenet_index"]]]
    gm_source = ArraySource(load_clips(gm["audio_path"].tolist()), gm_targets, gm["clip_id"].tolist(),
                            name="gm_fluidr3", groups=gm["imagenet_index"].tolist(), teacher=describe)

    # Teacher targets of the photos: the very computation notebook 02 caches (same clips, same
    # settings), with every view kept when more than one is drawn per step.
    n_views = teacher_cfg.views if views is None else views
    tux_all = manifests["tuxpaint"].sort_values("clip_id", kind="stable")
    if teacher_cfg.max_clips is not None:
        tux_all = tux_all.head(teacher_cfg.max_clips)
    cfg = dataclasses.replace(teacher_cfg, every_frame=teacher_cfg.every_frame or n_views > 1)
    feats = features_for(tux_all, teacher, cfg, progress=False)
    tux = tux_all[tux_all["split"] == "train"]
    if n_views > 1:
        ids, targets = feats.targets_per_view(n_views, tux["clip_id"].tolist())
    else:
        ids, targets = feats.targets(tux["clip_id"].tolist())
    if not ids:
        raise ValueError(f"profile {_as_profile(profile).path}: no Tux Paint training item has a teacher target; "
                         "check the teacher section (max_clips) and notebook 02")
    tux = tux.set_index("clip_id").loc[ids].reset_index()
    skipped = [(c, "no_target") for c in sorted(set(tux_all.loc[tux_all["split"] == "train", "clip_id"]) - set(ids))]
    tux_source = ArraySource(load_clips(tux["audio_path"].tolist()), targets, ids, name="tuxpaint",
                             groups=[_concept_group(r) for _, r in tux.iterrows()], teacher=describe)
    tux_source.skipped = skipped
    return {"gm": gm_source, "tux": tux_source}


def real_source(profile: str | Profile, sources: tuple[str, ...], min_seconds: float = 0.0) -> ArraySource:
    """The real recordings of ``sources`` (``real_sounds``, options from the profile's
    ``data.options.real_sounds``) with their targets: the teacher's embedding of the item's picture
    where it has one, else :func:`w2clib.evaluate.zeroshot.label_targets` (class prototype or the
    label's text prototype); group = label (two items of one label never meet in a batch).

    Recordings shorter than ``min_seconds`` (the trainer's ``min_clip_seconds``) are left out and
    listed in ``skipped`` as ``too_short``: drawn into a batch they would only be dropped again."""
    from ..data.embedded.profile import prepare_datasets
    from ..data.embedded.realsounds import pick_sources
    from ..data.embedded.tuxpaint import load_stamp_image
    from ..evaluate.zeroshot import label_targets

    data_cfg, _ = _profile_sections(profile)
    teacher = load_profile_teacher(profile)
    prepared = prepare_datasets(dataclasses.replace(data_cfg, datasets=("real_sounds",)), validate=False)
    part = pick_sources(prepared["real_sounds"].manifest, list(sources))
    short = part["duration_s"].astype(float) < min_seconds
    skipped = [(c, "too_short") for c in part.loc[short, "clip_id"]]
    part = part[~short].reset_index(drop=True)
    imagenet = part.groupby("label")["imagenet_index"].max().to_dict()
    by_label = label_targets(teacher, part["label"].tolist(), imagenet)
    targets = np.stack([by_label[lab] for lab in part["label"]])
    paths = part["image_path"].fillna("").astype(str).to_numpy()
    pictures = sorted({p for p in paths if p})
    if pictures:
        embedded = dict(zip(pictures, teacher.embed_images([load_stamp_image(p) for p in pictures])))
        for i in np.flatnonzero(paths != ""):
            targets[i] = embedded[paths[i]]
    source = ArraySource(load_clips(part["audio_path"].tolist()), targets.astype(np.float32),
                         part["clip_id"].tolist(), name="real_sounds", groups=part["label"].tolist(),
                         teacher=teacher.describe())
    source.skipped = skipped
    return source


def _split_gm(source: PairSource, n_valid: int) -> tuple[PairSource, PairSource | None]:
    """Validation = the last clip (by id) of each class, classes in turn, ``n_valid`` in all."""
    if n_valid == 0:
        return source, None
    groups = np.asarray(source.groups, dtype=object)
    ids = np.asarray(source.clip_ids, dtype=object)
    by_class = {g: sorted(np.flatnonzero(groups == g), key=lambda i: ids[i], reverse=True)
                for g in sorted(set(groups), key=str)}
    picked: list[int] = []
    depth = 0
    while len(picked) < n_valid:
        row = [members[depth] for members in by_class.values() if depth < len(members) - 1]  # keep >= 1 to train
        if not row:
            raise ValueError(f"{source.name}: n_valid={n_valid} leaves a class without training clips; lower n_valid")
        picked.extend(row[: n_valid - len(picked)])
        depth += 1
    # round-robin order: consecutive validation clips are of different classes (no false negatives)
    train = np.setdiff1d(np.arange(len(source)), picked)
    valid = source.subset(picked)
    train_view = source.subset(train)
    train_view.skipped = list(source.skipped)
    return train_view, valid


def _split_hashed(source: PairSource, n_valid: int) -> tuple[PairSource, PairSource | None]:
    """Validation = the ``n_valid`` items with the smallest SHA-256 of their clip id."""
    if n_valid == 0:
        return source, None
    if n_valid >= len(source):
        raise ValueError(f"{source.name}: n_valid={n_valid} leaves no training items ({len(source)}); lower n_valid")
    order = _hash_order(source.clip_ids)
    train_view = source.subset(np.sort(order[n_valid:]))
    train_view.skipped = list(source.skipped)
    return train_view, source.subset(np.sort(order[:n_valid]))


def build_embedded(config: PretrainConfig, options: dict[str, Any], profile: Profile | None = None) -> PairData:
    """``pretrain.data: embedded``: GM prototype clips + Tux Paint photo views in every batch.

    ``profile``: whose ``data:`` and ``teacher:`` sections give the items and the teacher (required).

    ``config.n_valid`` clips of *each* source are kept for validation; ``config.batch_size`` must
    equal ``gm_per_batch + tux_per_batch`` (the batch is their concatenation).
    """
    opts = EmbeddedOptions.from_options(options)
    if config.n_valid is None:
        raise ValueError("pretrain.n_valid: data: embedded keeps n_valid clips of each source for validation; "
                         "set a number (mini: 8)")
    if profile is None:
        raise ValueError("pretrain.data: embedded draws its items and teacher from a profile's data: and "
                         "teacher: sections: call pretrain(profile, ...) or pretrain(config, ..., profile=P)")
    if opts.per_batch != config.batch_size:
        raise ValueError(f"pretrain.batch_size={config.batch_size} must equal data_options gm_per_batch + "
                         f"tux_per_batch + real_per_batch = {opts.gm_per_batch} + {opts.tux_per_batch} + "
                         f"{opts.real_per_batch}")
    sources = embedded_sources(profile, opts.views)
    gm_train, gm_valid = _split_gm(sources["gm"], config.n_valid)
    tux_train, tux_valid = _split_hashed(sources["tux"], config.n_valid)
    train = [BatchPart(gm_train, opts.gm_per_batch, distinct_groups=True),
             BatchPart(tux_train, opts.tux_per_batch, distinct_groups=True)]
    valid = []
    if gm_valid is not None and tux_valid is not None:
        valid = [BatchPart(gm_valid, min(opts.gm_per_batch, len(gm_valid))),
                 BatchPart(tux_valid, min(opts.tux_per_batch, len(tux_valid)))]
    if opts.real_per_batch:
        real = real_source(profile, opts.real_sources, config.min_clip_seconds)
        real_train, real_valid = _split_hashed(real, config.n_valid)
        train.append(BatchPart(real_train, opts.real_per_batch, distinct_groups=True))
        if real_valid is not None and valid:
            valid.append(BatchPart(real_valid, min(opts.real_per_batch, len(real_valid))))
    return PairData(train, valid, teacher=sources["gm"].teacher)
