"""Notebook 03's stage for every profile: training input, then pre-training into ``<run_dir>/pretrain``.

:func:`run_pretrain` is the same call for the embedded default and the paper path; only the profile's
content differs:

1. training input -- for ``pretrain.data: shards`` with ``data_options.dataset`` the shard sets are
   written (or reused) from that dataset's manifest and the teacher-target cache
   (:mod:`w2clib.training.inputs`); ``data: embedded`` keeps its few thousand short clips in memory;
2. pre-training -- :func:`w2clib.training.pretrain` in this process, or under ``torchrun`` with
   ``pretrain.nproc_per_node`` processes (DistributedDataParallel; CPU processes use gloo);
3. per-epoch held-out evaluation -- when the profile has a ``heldout:`` section (the embedded sets'
   retrieval tasks, :mod:`w2clib.evaluate.embedded_heldout`), its metrics become ``epochs.csv`` columns.

A finished run (``done.json`` with the same config key) is reused; an interrupted one resumes from its
last checkpoint; a folder holding a run of another config is moved aside (``pretrain.previous-N``),
never deleted or silently resumed.

    from w2clib.training.run import checkpoint_dir, run_pretrain
    run_pretrain(load_profile("mini"))
    model = w2clib.load_model(checkpoint_dir(load_profile("mini")))
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .._io import atomic_write_json
from ..config import Profile, load_profile
from .config import PretrainConfig, changed_fields, load_pretrain_config

__all__ = ["DONE_NAME", "checkpoint_dir", "heldout_hook", "is_finished", "run_pretrain", "train_in_process"]

DONE_NAME = "done.json"  # written into the run folder when a run has finished its step budget


def _as_profile(profile: str | os.PathLike[str] | Profile) -> Profile:
    return profile if isinstance(profile, Profile) else load_profile(profile)


def checkpoint_dir(profile: str | Profile) -> Path:
    """Where a profile's pre-training run lives: ``<run_dir>/pretrain``.

    The evaluation notebooks load the encoder from here (``evaluate.checkpoint: pretrain``); its
    ``config.teacher`` rebuilds the teacher (:func:`w2clib.teachers.teacher_from_description`).
    """
    return _as_profile(profile).run_dir / "pretrain"


# Fields added after runs were published: left out of the key while at their defaults, so that a
# finished run of an earlier version keeps its key (and is reused, not retrained).
_LATER_FIELDS = ("mix_prob", "mix_range", "speed_range", "reverb_prob", "reverb_rt60", "time_masks",
                 "time_mask_seconds", "freq_masks", "freq_mask_fraction")


def _done_key(config: PretrainConfig) -> str:
    settings, defaults = config.to_dict(), PretrainConfig().to_dict()
    for name in _LATER_FIELDS:
        if settings[name] == defaults[name]:
            del settings[name]
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def is_finished(out: str | Path, config: PretrainConfig) -> bool:
    """Whether ``out`` holds a finished run of exactly ``config`` (its ``done.json`` key and weights)."""
    out = Path(out)
    done = out / DONE_NAME
    return done.is_file() and json.loads(done.read_text()).get("config_key") == _done_key(config) \
        and (out / "checkpoint.safetensors").is_file()


def _move_aside_other_run(out: Path, config: PretrainConfig) -> None:
    """Rename a run folder that holds a run of another config to ``<out>.previous-<n>``.

    The conventional folder must end up holding *this* profile's run, so an earlier run with other
    settings is kept beside it -- never deleted, never silently resumed -- and the move is printed.
    """
    config_file = out / "config.json"
    if not out.exists() or not any(out.iterdir()):
        return
    saved = None
    if config_file.is_file():
        saved = json.loads(config_file.read_text()).get("training", {}).get("pretrain")
    if saved is not None and not changed_fields(saved, config):
        return  # the same run, interrupted: the trainer resumes it
    n = 1
    while out.with_name(f"{out.name}.previous-{n}").exists():
        n += 1
    target = out.with_name(f"{out.name}.previous-{n}")
    out.rename(target)
    print(f"w2clib.pretrain: {out} held a run of another config; moved it to {target}", file=sys.stderr)


def heldout_hook(profile: Profile, config: PretrainConfig) -> Any:
    """The per-epoch evaluation the profile's ``heldout:`` section asks for, or None without one."""
    options = profile.section("heldout")
    if not options:
        return None
    from ..config import section_config
    from ..evaluate.embedded_heldout import EvalOptions, heldout_evaluator

    opts = section_config(EvalOptions, options, where=f"{profile.path}:heldout")
    return heldout_evaluator(profile, opts, clip_seconds=config.clip_seconds).epoch_metrics


def train_in_process(profile: Profile, out: Path, config: PretrainConfig | None = None,
                     evaluate: bool = True, resume: bool = True) -> Path:
    """Pre-train in this process (one DDP rank under ``torchrun``); ``resume=False`` refuses a used folder."""
    from .loop import pretrain

    cfg = config or load_pretrain_config(profile)
    hook = heldout_hook(profile, cfg) if evaluate else None
    return pretrain(cfg, out, resume=resume, evaluate=hook, profile=profile)


def _launch_torchrun(profile: Profile, out: Path, nproc: int) -> None:
    """``torchrun --nproc_per_node N -m w2clib.cli pretrain --profile <file> --out <out> --resume``."""
    resolved = profile.path if not profile.overrides else profile.write_resolved(out.parent / "pretrain_profile.yaml")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "w2clib.cli", "pretrain", "--profile", str(resolved), "--out", str(out), "--resume"]
    print("w2clib.pretrain: " + " ".join(command), file=sys.stderr, flush=True)
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"torchrun exited with {result.returncode}; the run folder {out} keeps its last "
                           "checkpoint (rerun to resume)")


def run_pretrain(
    profile: str | os.PathLike[str] | Profile,
    out_dir: str | Path | None = None,
    *,
    evaluate: bool = True,
    config: PretrainConfig | None = None,
) -> Path:
    """Write the training input, then train (or resume, or reuse) the profile's run; returns its folder.

    Args:
        profile: any profile; its ``pretrain:`` section says what to train on and how.
        out_dir: run folder; default :func:`checkpoint_dir` (``<run_dir>/pretrain``).
        evaluate: log the ``heldout:`` section's metrics after every epoch (when it has one).
        config: use this config instead of the profile's section (experiments; in-process only).
    """
    prof = _as_profile(profile)
    cfg = config or load_pretrain_config(prof)
    out = Path(out_dir) if out_dir is not None else checkpoint_dir(prof)
    if cfg.data == "shards" and "dataset" in cfg.data_options:
        from .inputs import write_training_input

        write_training_input(prof)
    done, key = out / DONE_NAME, _done_key(cfg)
    if is_finished(out, cfg):
        return out
    _move_aside_other_run(out, cfg)
    began = time.time()
    if cfg.nproc_per_node is not None:
        if config is not None:
            raise ValueError("run_pretrain(config=...) trains in this process; pretrain.nproc_per_node launches "
                             "torchrun with the profile's own section")
        _launch_torchrun(prof, out, cfg.nproc_per_node)
    else:
        train_in_process(prof, out, cfg, evaluate)
    atomic_write_json(done, {"config_key": key, "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
                             "seconds_this_call": round(time.time() - began, 1)})
    return out
