"""Subcommands beyond ``embed``: data, teacher targets, pre-training (registered into w2clib.cli).

    w2clib prepare NAME [NAME ...] [--data-home DIR] [--profile P] [--videos --extract --fps F --shard i/n]
    w2clib teacher-features --profile P --dataset D [--shard i/n] [--out DIR]
    w2clib shards --profile P [--set section.key=value ...]
    w2clib pretrain --profile P --out DIR [--resume] [--set key=value ...]   (--config FILE instead of --profile)
    w2clib caption FILE... --captioner DIR [--checkpoint CKPT] [--out CAPTIONS.csv]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .cli import command


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard expects i/n (e.g. 0/8), got {text!r}") from None
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"--shard {text}: need 0 <= i < n")
    return i, n


def _profile_manifest(profile: str, dataset: str):
    """A dataset's manifest as the profile prepares it (embedded sets have per-profile variants)."""
    from .config import load_profile, section_config
    from .data import load_manifest
    from .data.embedded.profile import EMBEDDED, DataConfig, load_dataset

    P = load_profile(profile)
    if dataset in EMBEDDED:
        return load_dataset(section_config(DataConfig, P.section("data"), where=f"{P.path}:data"), dataset)
    return load_manifest(dataset)


# -------------------------------------------------------------------------------------- prepare
def _configure_prepare(p: argparse.ArgumentParser) -> None:
    from .data import DATASETS

    p.add_argument("names", nargs="+", help=f"dataset names ({', '.join(DATASETS)})")
    p.add_argument("--data-home", default=None, help="default: $W2C_DATA_HOME or ~/.cache/w2clib/data")
    p.add_argument("--profile", default=None, help="take each dataset's options from this profile's data: section")
    vgg = p.add_argument_group("VGGSound (override the profile's data.options.vggsound)")
    vgg.add_argument("--videos", action="store_true", default=None, help="download the videos (yt-dlp)")
    vgg.add_argument("--extract", action="store_true", default=None, help="extract audio and frames")
    vgg.add_argument("--fps", type=float, default=None, help="frames per second to extract (paper: 30)")
    vgg.add_argument("--shard", type=_shard, default=None, help="i/n: this process takes every n-th clip")
    vgg.add_argument("--limit", type=int, default=None, help="at most this many clips (a trial run)")


@command("prepare", _configure_prepare)
def run_prepare(args: argparse.Namespace) -> int:
    """Download / locate / render datasets, verify them and write their manifests."""
    from . import data
    from .data.embedded.profile import DataConfig

    options_for = None
    if args.profile:
        from .config import load_profile, section_config

        P = load_profile(args.profile)
        options_for = section_config(DataConfig, P.section("data"), where=f"{P.path}:data").options_for
    flags = {k: getattr(args, k) for k in ("videos", "extract", "fps", "shard", "limit") if getattr(args, k) is not None}
    if flags and set(args.names) != {"vggsound"}:
        raise ValueError(f"--{'/--'.join(sorted(flags))} apply to vggsound only; prepare it on its own")
    for name in args.names:
        options = {**(options_for(name) if options_for else {}), **flags}
        folder = data.prepare(name, args.data_home, **options)
        report = data.validate(name, args.data_home)
        print(f"{name}: {folder} -- {report.summary()}")
    return 0


# ----------------------------------------------------------------------------- teacher-features
def _configure_features(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", required=True, help="its teacher: section picks the teacher and views")
    p.add_argument("--dataset", required=True, help="dataset whose clips get teacher targets")
    p.add_argument("--shard", type=_shard, default=(0, 1), help="i/n: this process takes every n-th clip")
    p.add_argument("--out", default=None, help="feature folder (default: keyed cache folder)")


@command("teacher-features", _configure_features)
def run_teacher_features(args: argparse.Namespace) -> int:
    """Compute (resumably, shardable) the teacher's mean frame embedding per clip."""
    from .config import load_profile, section_config
    from .teachers.targets import compute_features
    from .teachers import TeacherConfig

    P = load_profile(args.profile)
    cfg = section_config(TeacherConfig, P.section("teacher"), where=f"{P.path}:teacher")
    manifest = _profile_manifest(args.profile, args.dataset)
    teacher = cfg.load()
    folder = compute_features(
        manifest, teacher, args.out, frame_rate=cfg.frame_rate, views=cfg.views, view_seed=cfg.view_seed,
        every_frame=cfg.every_frame, shard=args.shard, batch_size=cfg.batch_size, chunk_size=cfg.chunk_size,
        merge=True,  # the shard that finishes last merges; rerunning any finished shard merges too
    )
    state = "merged" if (folder / "complete.json").exists() else "shard done; other shards pending"
    print(f"teacher features ({state}): {folder}")
    return 0


# ------------------------------------------------------------------------------------- pretrain
def _configure_shards(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", required=True, help="profile with pretrain.data: shards and data_options.dataset")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a key of the profile (YAML value), e.g. --set pretrain.data_options.workers=16")


@command("shards", _configure_shards)
def run_shards(args: argparse.Namespace) -> int:
    """Write the training input (shard sets) of a profile from its dataset's manifest and teacher targets."""
    from .config import load_profile
    from .training.inputs import write_training_input

    written = write_training_input(load_profile(args.profile, args.set))
    for split, folder in written.items():
        print(f"{split}: {folder}")
    return 0


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["max_steps=10", "lr=3e-4"]`` -> ``{"max_steps": 10, "lr": 0.0003}`` (values parsed as YAML)."""
    import yaml

    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects key=value, got {pair!r}")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def _configure_pretrain(p: argparse.ArgumentParser) -> None:
    source = p.add_mutually_exclusive_group()
    source.add_argument("--profile", default=None, help="profile whose pretrain: section drives the run (default: mini)")
    source.add_argument("--config", default=None, help="a JSON/YAML file holding a whole pretrain config instead")
    p.add_argument("--out", required=True, help="run folder: checkpoint.safetensors, config.json, metrics.csv")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field of the pretrain section (YAML value), e.g. --set max_steps=100")


@command("pretrain", _configure_pretrain)
def run_pretrain(args: argparse.Namespace) -> int:
    """Distillation pre-training in this process, or one rank of it under torchrun (resumable).

    ``torchrun --nproc_per_node N -m w2clib.cli pretrain ...`` trains with DistributedDataParallel.
    The notebook stage (training input, reuse of a finished run, torchrun from the profile's
    ``nproc_per_node``) is :func:`w2clib.training.run.run_pretrain`, which calls this for each rank.
    """
    from .training import PretrainConfig, load_pretrain_config, pretrain

    overrides = parse_overrides(args.set)
    if args.config:
        import yaml

        data = yaml.safe_load(Path(args.config).read_text()) or {}
        pretrain(PretrainConfig.from_dict({**data, **overrides}, where=args.config), args.out, resume=args.resume)
    else:
        from .config import load_profile
        from .training.run import train_in_process

        profile = load_profile(args.profile or "mini")
        config = load_pretrain_config(profile, **overrides)
        train_in_process(profile, Path(args.out), config, resume=args.resume)  # + the profile's held-out hook
    print(f"checkpoint: {Path(args.out)} (load with w2clib.load_model({str(args.out)!r}))")
    return 0


# -------------------------------------------------------------------------------------- caption
def _configure_caption(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", help="audio files (wav/flac/ogg/mp3) or folders to search")
    p.add_argument("--captioner", required=True, help="captioner folder (notebook 09 saves <run_dir>/captioner)")
    p.add_argument("--checkpoint", default=None, help="encoder checkpoint (default: the one it was trained on)")
    p.add_argument("--beam-size", type=int, default=None, help="1 = greedy (default: the captioner's)")
    p.add_argument("--out", default=None, help="write a CSV (path, caption) instead of printing")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")


@command("caption", _configure_caption)
def run_caption(args: argparse.Namespace) -> int:
    """Caption audio files with a captioner trained on frozen embeddings (notebook 09)."""
    import pandas as pd

    from ._io import atomic_write_text
    from .api import file_list
    from .evaluate.captioning.infer import caption_files

    paths = file_list(args.inputs)
    if not paths:
        raise ValueError(f"no audio files found in {args.inputs}")
    captions = caption_files(paths, args.captioner, checkpoint=args.checkpoint, beam_size=args.beam_size,
                             device=args.device)
    table = pd.DataFrame({"path": [str(p) for p in paths], "caption": captions})
    if args.out:
        atomic_write_text(args.out, table.to_csv(index=False))
        print(f"wrote {args.out}: {len(table)} caption(s)")
    else:
        for row in table.itertuples(index=False):
            print(f"{row.path}\t{row.caption}")
    return 0
