"""Command line: ``w2clib <command> ...``.

    w2clib embed FILE_OR_DIR... --out OUT.npz [--checkpoint CKPT] [--frames --window-ms 1000 --hop-ms 50]
    w2clib checkpoints                      # list named checkpoints and the cache folder
    w2clib generate SOUND.wav --out IMG.png [--checkpoint CKPT] [--profile mini] [--steps 300] [--size 224] [--video OUT.mp4]

Every error (missing files, unreadable audio, unknown or damaged checkpoints, a full disk ...) ends
with a one-line message and exit status 2, not a traceback; ``w2clib --debug <command>`` shows the
traceback instead.  ``--out`` never overwrites a file without ``--force`` and never creates missing
folders without ``--parents``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main", "build_parser", "COMMANDS"]

# Subcommands added by other stages register here: name -> (configure parser, run).
COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def command(name: str, configure: Callable[[argparse.ArgumentParser], None]):
    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = (configure, run)
        return run

    return register


# ------------------------------------------------------------------------------------------ embed
def _configure_embed(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", help="audio files (wav/flac/ogg/mp3) or folders to search")
    p.add_argument("--out", required=True, help="output .npz file")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--parents", action="store_true", help="create the folder of --out if it is missing")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint name, .pt file or w2clib folder (default: the official release)")
    p.add_argument("--random-weights", action="store_true", help="random weights (testing; no download)")
    p.add_argument("--frames", action="store_true", help="one embedding per window instead of per file")
    p.add_argument("--window-ms", type=float, default=1000.0, help="frame mode: window length (ms)")
    p.add_argument("--hop-ms", type=float, default=50.0, help="frame mode: hop between window centres (ms)")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")


@command("embed", _configure_embed)
def run_embed(args: argparse.Namespace) -> int:
    from ._io import atomic_path
    from .api import embed_files, file_list, load_model
    from .audio import SAMPLE_RATE
    from .inference import frame_centers

    out = check_output(Path(args.out), force=args.force, parents=args.parents, suffix=".npz")
    paths = file_list(args.inputs)
    if not paths:
        raise ValueError(f"no audio files found in {args.inputs}")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"input file(s) not found: {missing[:5]}; check the paths")
    if args.random_weights and args.checkpoint:
        raise ValueError("pass --checkpoint or --random-weights, not both")
    model = load_model(args.checkpoint, pretrained=not args.random_weights, device=args.device)
    arrays: dict[str, np.ndarray] = {"paths": np.array([str(p) for p in paths])}
    if args.frames:
        window = int(round(args.window_ms * SAMPLE_RATE / 1000))
        hop = int(round(args.hop_ms * SAMPLE_RATE / 1000))
        if window <= 0 or hop <= 0:
            raise ValueError("--window-ms and --hop-ms must be positive")
        per_file = embed_files(paths, model, frame_length=window, hop_length=hop, precision=args.precision,
                               batch_size=args.batch_size, progress=True)
        for i, emb in enumerate(per_file):
            arrays[f"embeddings_{i}"] = emb.T  # (n_frames, D): time first, like the HEAR API
            arrays[f"timestamps_ms_{i}"] = frame_centers(emb.shape[1], window, hop) * 1000.0
    else:
        arrays["embeddings"] = embed_files(paths, model, precision=args.precision, batch_size=args.batch_size,
                                           progress=True)
    if args.parents:
        out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    mode = f"frames ({args.window_ms:g} ms windows every {args.hop_ms:g} ms)" if args.frames else "clips"
    print(f"wrote {out}: {len(paths)} file(s), {mode}, dim {model.embed_dim}")
    return 0


def check_output(out: Path, *, force: bool, parents: bool, suffix: str) -> Path:
    """Refuse an --out that would overwrite a file (without --force) or need new folders (without --parents)."""
    if out.suffix != suffix:
        raise ValueError(f"--out must name a {suffix} file, got {str(out)!r}")
    if out.is_dir():
        raise ValueError(f"--out {str(out)!r} is a folder; name a {suffix} file inside it")
    if out.exists() and not force:
        raise FileExistsError(f"--out {str(out)!r} exists; pass --force to overwrite it or choose another name")
    if not out.parent.is_dir() and not parents:
        raise FileNotFoundError(
            f"the folder of --out {str(out.parent)!r} does not exist; create it or pass --parents"
        )
    return out


# ------------------------------------------------------------------------------------ checkpoints
@command("checkpoints", lambda p: None)
def run_checkpoints(args: argparse.Namespace) -> int:
    from .checkpoints import REGISTRY, checkpoint_dir

    print(f"cache folder: {checkpoint_dir()} (set W2C_CHECKPOINT_DIR to change)")
    for name, entry in REGISTRY.items():
        cached = (checkpoint_dir() / entry.filename).exists()
        print(f"  {name:12s} {'[cached] ' if cached else ''}{entry.description}\n  {'':12s} {entry.url}")
    return 0


# --------------------------------------------------------------------------------------- generate
def _configure_generate(p: argparse.ArgumentParser) -> None:
    p.add_argument("sound", help="an audio file (wav/flac/ogg/mp3)")
    p.add_argument("--out", required=True, help="output .png picture (of the whole sound)")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint name, .pt file or w2clib folder (default: the official release)")
    p.add_argument("--profile", default=None,
                   help="take the drawing settings (size, steps, cutouts and their options, lr, seed) from this "
                        "profile's generation: section, e.g. mini; the flags below override single ones")
    p.add_argument("--steps", type=int, default=None, help="optimisation steps (default 300; the authors: 500)")
    p.add_argument("--size", type=int, default=None, help="picture side in px, a multiple of 16 for vqgan (default 224)")
    p.add_argument("--cutouts", type=int, default=None, help="augmented views per step (default 16; the authors: 32)")
    p.add_argument("--cut-size", type=int, default=None,
                   help="side of the views the perceptor sees (default its input size; smaller is faster)")
    p.add_argument("--seed", type=int, default=None, help="seeds the picture (default 0)")
    p.add_argument("--generator", choices=["auto", "fourier", "vqgan"], default="auto",
                   help="auto: vqgan with a CLIP teacher (the paper's), fourier with the packaged one")
    p.add_argument("--vqgan-weights", default=None, help="a local VQGAN f16-16384 file (default: download once)")
    p.add_argument("--video", default=None, help="also write an mp4: one frame per 1 s window every 0.1 s")
    p.add_argument("--force", action="store_true", help="overwrite --out / --video if they exist")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")


def _drawing_settings(args: argparse.Namespace) -> dict[str, Any]:
    """``generate`` keywords: a profile's ``generation:`` settings when ``--profile`` is given, else the
    defaults; single flags override either."""
    from .generate.cutouts import CutoutConfig

    settings: dict[str, Any] = {"steps": 300, "size": 224, "cutouts": CutoutConfig(n=16), "seed": 0}
    if args.profile is not None:
        from .config import load_profile
        from .generate import generation_config

        cfg = generation_config(load_profile(args.profile))
        settings = {"steps": cfg.steps, "size": cfg.size, "cutouts": cfg.cutout_config(), "seed": cfg.seed,
                    "cut_size": cfg.cut_size, "lr": cfg.lr}
    for flag in ("steps", "size", "seed", "cut_size"):
        if getattr(args, flag) is not None:
            settings[flag] = getattr(args, flag)
    if args.cutouts is not None:
        settings["cutouts"] = dataclasses.replace(settings["cutouts"], n=args.cutouts)
    if settings["steps"] < 1 or settings["cutouts"].n < 1:
        raise ValueError("--steps and --cutouts must be >= 1")
    return settings


@command("generate", _configure_generate)
def run_generate(args: argparse.Namespace) -> int:
    """Draw a picture (and optionally a video) of a sound through the encoder's teacher (docs/generation.md)."""
    from .api import embed_audio, load_model
    from .audio import load_audio
    from .generate import generate, generate_video, load_vqgan
    from .teachers import load_teacher, teacher_from_description

    out = check_output(Path(args.out), force=args.force, parents=False, suffix=".png")
    video = check_output(Path(args.video), force=args.force, parents=False, suffix=".mp4") if args.video else None
    if not Path(args.sound).is_file():
        raise FileNotFoundError(f"sound file not found: {args.sound!r}")
    drawing = _drawing_settings(args)
    wave = load_audio(args.sound)
    model = load_model(args.checkpoint, device=args.device)
    recorded = dict(model.config.teacher or {})
    teacher = (teacher_from_description(recorded, device=str(next(model.parameters()).device)) if recorded
               else load_teacher("ViT-B-32", pretrained="openai", device=args.device))
    kind = args.generator if args.generator != "auto" else ("fourier" if recorded.get("kind") == "packaged" else "vqgan")
    generator = load_vqgan(args.vqgan_weights, device=teacher.device) if kind == "vqgan" else "fourier"
    settings = {**drawing, "generator": generator}
    result = generate(embed_audio(wave, model)[0], teacher, **settings)
    result.image.save(out)
    print(f"wrote {out} ({drawing['size']} px, {drawing['steps']} steps, {kind} image, perceptor {teacher.name}, "
          f"{result.seconds:.0f} s)")
    if video is not None:
        clip = generate_video(wave, model, teacher, video, **settings)
        print(f"wrote {video}: {len(clip.frames)} frames at {clip.fps:g} fps with the sound; frames in "
              f"{clip.frames[0].parent}")
    return 0


# ------------------------------------------------------------------------------------------- main
def _load_plugins() -> None:
    """Import modules that register further subcommands (optional parts may be absent)."""
    import importlib

    for module in ("w2clib.commands",):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise


def build_parser() -> argparse.ArgumentParser:
    _load_plugins()
    parser = argparse.ArgumentParser(prog="w2clib", description="Wav2CLIP companion: embeddings, training, evaluation")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"w2clib {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (configure, run) in COMMANDS.items():
        p = sub.add_parser(name, help=(run.__doc__ or "").strip().split("\n")[0] or None)
        configure(p)
        p.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # every error: one line and exit 2; --debug for the traceback
        if args.debug:
            raise
        message = " ".join(str(err).split()) or "(no message)"
        print(f"w2clib {args.command}: error: {type(err).__name__}: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # python -m w2clib.cli (torchrun -m w2clib.cli pretrain ...)
    from w2clib.cli import main as imported_main  # the module copy that plugin commands register into

    sys.exit(imported_main())
