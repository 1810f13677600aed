"""The training-input stage: a profile's pre-training pairs written as shard sets, from any manifest.

``pretrain.data: shards`` with ``data_options.dataset`` names a prepared dataset (VGGSound on the paper
path).  This stage reads its manifest (:func:`w2clib.data.load_manifest`), takes the teacher targets
from the cache notebook 02 fills (:func:`w2clib.teachers.targets.features_for`, same manifest rows, same
teacher settings, so nothing is computed twice) and writes two shard sets (:mod:`w2clib.training.shards`)::

    <run_dir>/training/shards/<dataset>-<split>/         the training clips (``data_options.split``)
    <run_dir>/training/shards/<dataset>-<valid_split>/   the validation clips (``valid_split``)

Validation is carved exactly once, by the dataset: VGGSound's manifest marks the last 500 sorted train
ids ``valid`` (the paper's rule, :func:`w2clib.data.vggsound.assign_validation`), and the trainer uses
that set as it is (``pretrain.n_valid: null``).

Each set records the key of its inputs (manifest rows, teacher-target folder, length limits) in
``input.json``; a set whose inputs changed is rebuilt, a complete one with the same key is reused, and
writing resumes shard by shard.  A set that would hold no clip is an error that says why.

    w2clib shards --profile paper          # the same stage from a shell (see w2clib.commands)
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from .._io import atomic_write_json
from ..config import Profile, section_config

__all__ = ["ShardInputOptions", "input_dirs", "teacher_targets", "write_training_input"]

INPUT_RECORD = "input.json"


def _options(profile: Profile) -> dict[str, Any]:
    section = profile.section("pretrain")
    if section.get("data") != "shards":
        raise ValueError(f"profile {profile.path}: the training-input stage writes shard sets for "
                         f"pretrain.data: shards, not {section.get('data')!r}")
    options = dict(section.get("data_options") or {})
    if "dataset" not in options:
        raise ValueError(f"profile {profile.path}: pretrain.data_options.dataset must name the prepared dataset "
                         "whose clips are written as shards (e.g. vggsound), or give dir: an existing shard set")
    return options


class ShardInputOptions:
    """``pretrain.data_options`` of ``data: shards`` built from a dataset (see the module docstring)."""

    KEYS = {"dataset", "split", "valid_split", "group_column", "shard_size", "workers", "verify", "name"}

    def __init__(self, options: dict[str, Any]) -> None:
        unknown = sorted(set(options) - self.KEYS)
        if unknown:
            raise ValueError(f"pretrain.data_options: unknown keys {unknown} for data 'shards' from a dataset; "
                             f"known: {sorted(self.KEYS)}")
        self.dataset = str(options["dataset"])
        self.split = str(options.get("split", "train"))
        self.valid_split = options.get("valid_split", "valid")
        self.group_column = options.get("group_column")
        self.shard_size = int(options.get("shard_size", 1024))
        self.workers = int(options.get("workers", 1))


def input_dirs(profile: Profile) -> tuple[Path, Path | None]:
    """(train set folder, validation set folder or None) of the profile's training input."""
    opts = ShardInputOptions(_options(profile))
    base = profile.run_dir / "training" / "shards"
    valid = base / f"{opts.dataset}-{opts.valid_split}" if opts.valid_split else None
    return base / f"{opts.dataset}-{opts.split}", valid


def teacher_targets(profile: Profile, dataset: str, teacher: Any = None, *, progress: bool = True) -> Any:
    """The teacher targets of ``dataset`` exactly as notebook 02 computes and caches them.

    The manifest rows are the prepared manifest in clip-id order (the first ``teacher.max_clips``), the
    settings those of the profile's ``teacher:`` section, so a cached computation is found, not redone.
    Returns a :class:`w2clib.teachers.targets.TeacherFeatures`.
    """
    from ..data.embedded.profile import DataConfig, load_dataset
    from ..teachers.targets import features_for
    from ..teachers import TeacherConfig

    data_cfg = section_config(DataConfig, profile.section("data"), where=f"{profile.path}:data")
    teacher_cfg = section_config(TeacherConfig, profile.section("teacher"), where=f"{profile.path}:teacher")
    manifest = load_dataset(data_cfg, dataset).sort_values("clip_id", kind="stable")
    if teacher_cfg.max_clips is not None:
        manifest = manifest.head(teacher_cfg.max_clips)
    return features_for(manifest, teacher if teacher is not None else teacher_cfg.load(), teacher_cfg,
                        progress=progress)


def _key(rows: pd.DataFrame, features_folder: Path, config: Any, group_column: str | None) -> str:
    from ..teachers.targets import manifest_fingerprint

    fields = {"manifest": manifest_fingerprint(rows), "targets": features_folder.name,
              "min_seconds": config.min_clip_seconds, "max_seconds": config.clip_seconds,
              "group_column": group_column}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _write_set(rows: pd.DataFrame, feats: Any, out: Path, config: Any, opts: ShardInputOptions,
               what: str, progress: bool) -> Path:
    from .shards import INDEX, read_index, write_shards

    if rows.empty:
        raise ValueError(f"the training input {what} is empty: the {opts.dataset} manifest has no rows of that "
                         "split (is the dataset prepared? `w2clib prepare " + opts.dataset + "`)")
    key = _key(rows, feats.folder, config, opts.group_column)
    record = out / INPUT_RECORD
    if out.exists() and (not record.is_file() or json.loads(record.read_text()).get("key") != key):
        print(f"w2clib training input: {out} was built from other inputs; rebuilding it", file=sys.stderr)
        shutil.rmtree(out)
    if not (out / INDEX).is_file():
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(record, {"key": key, "dataset": opts.dataset, "rows": len(rows),
                                   "teacher_targets": str(feats.folder)})
        ids, targets = feats.targets(rows["clip_id"].astype(str).tolist())
        write_shards(rows, targets, ids, out, shard_size=opts.shard_size, min_seconds=config.min_clip_seconds,
                     max_seconds=config.clip_seconds, group_column=opts.group_column, workers=opts.workers,
                     teacher=feats.spec.get("teacher"), progress=progress)
    index = read_index(out)
    if index["n_clips"] == 0:
        reasons = Counter(r for _, r in index.get("skipped_no_target", []))
        for name in index["shards"]:
            reasons.update(r for _, r in json.loads((out / name / "clips.json").read_text()).get("skipped", []))
        raise ValueError(f"the training input {what} ({out}) holds 0 clips of {len(rows)} manifest rows; skipped: "
                         f"{dict(reasons) or 'none recorded'}. Are the clips downloaded and extracted "
                         "(`w2clib prepare vggsound --videos --extract`) and the teacher targets computed "
                         "(notebook 02)?")
    return out


def write_training_input(profile: Profile, *, teacher: Any = None, progress: bool = True) -> dict[str, Path]:
    """Write (or reuse) the profile's training and validation shard sets; returns ``{"train", "valid"}``."""
    from ..data.embedded.profile import DataConfig, load_dataset
    from .config import load_pretrain_config

    opts = ShardInputOptions(_options(profile))
    config = load_pretrain_config(profile)
    data_cfg = section_config(DataConfig, profile.section("data"), where=f"{profile.path}:data")
    manifest = load_dataset(data_cfg, opts.dataset)
    feats = teacher_targets(profile, opts.dataset, teacher, progress=progress)
    train_dir, valid_dir = input_dirs(profile)
    split = manifest["split"].astype(str)
    out = {"train": _write_set(manifest[split == opts.split], feats, train_dir, config, opts,
                               f"{opts.dataset}/{opts.split}", progress)}
    if valid_dir is not None:
        out["valid"] = _write_set(manifest[split == str(opts.valid_split)], feats, valid_dir, config, opts,
                                  f"{opts.dataset}/{opts.valid_split}", progress)
    return out
