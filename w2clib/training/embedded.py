"""The embedded pre-training run: Tux Paint sounds and rendered GM instruments, mixed in every batch.

The offline profiles cannot reach VGGSound, so they distil from two small real sources built from
registry packages (:mod:`w2clib.data.embedded`), both in every batch (``pretrain.data: embedded``):

* **GM instrument clips** (FluidR3, ``gm_fluidr3``, train split), ``gm_per_batch`` of them, each of a
  different ImageNet class.  A rendered note has no picture: its target is the teacher's **class
  prototype** of the program's ImageNet class (``target_kind = "class_prototype"``), a stand-in for
  the averaged frame embeddings a video would give.  This part comes first, so an *epoch* is one
  pass's worth of GM clips (mini: ~127 steps) -- the unit of validation and held-out evaluation.
* **Tux Paint pairs** (``tuxpaint``, train concepts), ``tux_per_batch`` of them, of different concept
  groups: a stamp's sound and its photo.  The target is one of ``views`` precomputed augmented
  teacher views of the photo, a different one each step (a "video" of a still image), read from the
  teacher cache (:func:`w2clib.features.features_for`, exactly the clips notebook 02 computes).

Held out, never trained on: Tux Paint ``test`` concepts and every TimGM6mb clip (an unseen
soundfont; :mod:`w2clib.evaluate.embedded_heldout`).  Validation (the trainer's loss on unseen
batches) is cut from the *training* data: the ``n_valid`` FluidR3 clips that are last by clip id
within their class, one class after another, and the ``n_valid`` Tux Paint train items with the
smallest SHA-256 of their clip id (spread over categories, unlike a last-sorted cut).

    from w2clib.training.embedded import checkpoint_dir, run_embedded
    out = run_embedded(load_profile("mini"))     # trains, resumes, or reuses a finished run
    model = w2clib.load_model(checkpoint_dir(load_profile("mini")))

The items and the teacher come from the ``data:`` and ``teacher:`` sections of the *same* profile
whose ``pretrain:`` section asks for ``data: embedded`` (the trainer hands the profile to the builder).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._io import atomic_write_json
from ..config import Profile, load_profile, section_config
from .config import PretrainConfig, load_pretrain_config
from .loader import BatchPart, PairData
from .sources import ArraySource, PairSource

__all__ = [
    "DONE_NAME",
    "EmbeddedOptions",
    "build_embedded",
    "checkpoint_dir",
    "embedded_sources",
    "load_clips",
    "load_profile_teacher",
    "run_embedded",
]

DONE_NAME = "done.json"  # written into the run folder when a run has finished its step budget


@dataclass(frozen=True)
class EmbeddedOptions:
    """``pretrain.data_options`` of ``data: embedded`` (unknown keys are errors)."""

    gm_per_batch: int = 16  # rendered GM clips per batch, each of a different ImageNet class
    tux_per_batch: int = 16  # Tux Paint (sound, photo) pairs per batch, each of a different concept group
    views: int | None = None  # teacher views per photo, one drawn per step; None = the teacher section's
    heldout: dict[str, Any] = field(default_factory=dict)  # EvalOptions of the per-epoch held-out
    #   evaluation (w2clib.evaluate.embedded_heldout); not read by the builder

    def __post_init__(self) -> None:
        for name in ("gm_per_batch", "tux_per_batch"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"pretrain.data_options.{name} must be an integer >= 1, got {getattr(self, name)!r}")
        if self.views is not None and self.views < 1:
            raise ValueError(f"pretrain.data_options.views must be >= 1 or null, got {self.views}")

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> EmbeddedOptions:
        return section_config(cls, dict(options), where="pretrain.data_options (data: embedded)")


def checkpoint_dir(profile: str | Profile) -> Path:
    """Where a profile's embedded pre-training run lives: ``<run_dir>/pretrain``.

    The convention the evaluation notebooks rely on: ``w2clib.load_model(checkpoint_dir(P))`` loads
    the distilled encoder, whose ``config.teacher`` rebuilds the teacher
    (:func:`w2clib.teachers.teacher_from_description`).
    """
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    return prof.run_dir / "pretrain"


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
    from ..features import features_for

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


def _split_tux(source: PairSource, n_valid: int) -> tuple[PairSource, PairSource | None]:
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
    if profile is None:
        raise ValueError("pretrain.data: embedded draws its items and teacher from a profile's data: and "
                         "teacher: sections: call pretrain(profile, ...) or pretrain(config, ..., profile=P)")
    if opts.gm_per_batch + opts.tux_per_batch != config.batch_size:
        raise ValueError(f"pretrain.batch_size={config.batch_size} must equal data_options gm_per_batch + "
                         f"tux_per_batch = {opts.gm_per_batch} + {opts.tux_per_batch}")
    sources = embedded_sources(profile, opts.views)
    gm_train, gm_valid = _split_gm(sources["gm"], config.n_valid)
    tux_train, tux_valid = _split_tux(sources["tux"], config.n_valid)
    train = [BatchPart(gm_train, opts.gm_per_batch, distinct_groups=True),
             BatchPart(tux_train, opts.tux_per_batch, distinct_groups=True)]
    valid = []
    if gm_valid is not None and tux_valid is not None:
        valid = [BatchPart(gm_valid, min(opts.gm_per_batch, len(gm_valid))),
                 BatchPart(tux_valid, min(opts.tux_per_batch, len(tux_valid)))]
    return PairData(train, valid, teacher=sources["gm"].teacher)


def _done_key(config: PretrainConfig) -> str:
    return hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:16]


def _move_aside_other_run(out: Path, config: PretrainConfig) -> None:
    """Rename a run folder that holds a run of another config to ``<out>.previous-<n>``.

    The conventional folder (``<run_dir>/pretrain``) must end up holding *this* profile's run, so
    an earlier run with other settings (an edited profile, a development checkpoint) is kept beside
    it -- never deleted, never silently resumed -- and the move is printed.
    """
    import sys

    from .config import RESUME_SAFE_FIELDS

    config_file = out / "config.json"
    if not out.exists() or not any(out.iterdir()):
        return
    saved = None
    if config_file.is_file():
        saved = json.loads(config_file.read_text()).get("training", {}).get("pretrain")
    current = config.to_dict()
    if saved is not None:
        saved = {**PretrainConfig().to_dict(), **saved}  # fields added since: their defaults
    if saved is not None and all(saved.get(k) == current.get(k) for k in set(saved) | set(current)
                                 if k not in RESUME_SAFE_FIELDS):
        return  # the same run, interrupted: the trainer resumes it
    n = 1
    while out.with_name(f"{out.name}.previous-{n}").exists():
        n += 1
    target = out.with_name(f"{out.name}.previous-{n}")
    out.rename(target)
    print(f"w2clib.pretrain: {out} held a run of another config; moved it to {target}", file=sys.stderr)


def run_embedded(
    profile: str | Profile,
    out_dir: str | Path | None = None,
    *,
    evaluate: bool = True,
    config: PretrainConfig | None = None,
) -> Path:
    """Train (or resume, or reuse) the embedded pre-training run of ``profile``; returns its folder.

    Args:
        profile: a profile whose ``pretrain:`` section uses ``data: embedded``.
        out_dir: run folder; default :func:`checkpoint_dir` (``<run_dir>/pretrain``).
        evaluate: log the held-out retrieval metrics after every epoch (``epochs.csv`` columns; see
            :mod:`w2clib.evaluate.embedded_heldout`), with the options in ``data_options.heldout``.
        config: use this config instead of the profile's section (experiments).

    A finished run (``done.json`` holding the same config key) is reused as it is; an interrupted
    one resumes from its last checkpoint (``train_state.pt``); a run folder of another config is an
    error from the trainer (choose another ``out_dir``).
    """
    from .loop import pretrain

    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    cfg = config or load_pretrain_config(prof)
    if cfg.data != "embedded":
        raise ValueError(f"profile {prof.name}: pretrain.data is {cfg.data!r}, run_embedded needs 'embedded'")
    out = Path(out_dir) if out_dir is not None else checkpoint_dir(prof)
    done = out / DONE_NAME
    key = _done_key(cfg)
    if done.is_file() and json.loads(done.read_text()).get("config_key") == key \
            and (out / "checkpoint.safetensors").is_file():
        return out
    _move_aside_other_run(out, cfg)
    hook = None
    if evaluate:
        from ..evaluate.embedded_heldout import EvalOptions, heldout_evaluator

        opts = EmbeddedOptions.from_options(cfg.data_options)
        eval_opts = section_config(EvalOptions, opts.heldout, where="pretrain.data_options.heldout")
        hook = heldout_evaluator(prof, eval_opts, clip_seconds=cfg.clip_seconds).epoch_metrics
    began = time.time()
    pretrain(cfg, out, resume=True, evaluate=hook, profile=prof)
    atomic_write_json(done, {"config_key": key, "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
                             "seconds_this_call": round(time.time() - began, 1)})
    return out
