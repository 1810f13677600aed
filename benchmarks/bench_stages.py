#!/usr/bin/env python3
"""Per-item cost of each paper-path stage, and what it adds up to at VGGSound's size.

Measures on one device, with random weights (the cost does not depend on the values):

* **teacher** -- CLIP ViT-B/32 (open_clip architecture) image embeddings: images/s at ``--teacher-batch``
  and the peak memory of that forward pass;
* **pretrain** -- one training step of the paper's recipe (ResNet-18 width 64, ``clip_x`` loss, Adam,
  10 s clips) at ``--batch`` clips, exactly as :func:`w2clib.training.pretrain` builds it: clips/s and
  the peak memory of a step (CUDA: ``torch.cuda.max_memory_allocated``; CPU: the growth of the
  process's peak resident set while stepping, i.e. activations + gradients + optimiser state);
* **embed** -- inference of the trained encoder on 10 s clips (evaluation notebooks): clips/s.

It then multiplies by the paper path's counts (``--clips`` VGGSound training clips, ``--fps`` frames
per second of video, ``--epochs``) and prints and writes labelled *estimates*: per-item costs are
measured, totals are extrapolations (no data loading, no download, one device).

    python benchmarks/bench_stages.py                      # CPU (minutes)
    python benchmarks/bench_stages.py --device cuda --batch 128 --precision bf16

Writes ``benchmarks/results/stages_<device>.json`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_train import machine  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from w2clib._io import atomic_write_json  # noqa: E402
from w2clib.training import PretrainConfig  # noqa: E402
from w2clib.training.engine import setup_runtime  # noqa: E402
from w2clib.training.loop import build_training  # noqa: E402

GIB = 1024**3


def _peak_rss() -> int:
    """The process's peak resident set so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakMemory:
    """Peak memory of the block: CUDA's allocator peak, else the growth of the peak resident set."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.bytes = device, 0

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self._before = _peak_rss()
        return self

    def __exit__(self, *_: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.bytes = torch.cuda.max_memory_allocated()
        else:
            self.bytes = max(0, _peak_rss() - self._before)


def _timed(device: torch.device, fn, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        began = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - began)
    return sorted(times)[len(times) // 2]


def teacher_cost(device: torch.device, batch: int, repeats: int) -> dict[str, float]:
    import open_clip

    model = open_clip.create_model("ViT-B-32", pretrained=None).to(device).eval()
    images = torch.randn(batch, 3, 224, 224, device=device)
    with torch.inference_mode(), PeakMemory(device) as peak:  # built before: only the forward passes count
        seconds = _timed(device, lambda: model.encode_image(images), repeats)
    return {"batch": batch, "s_per_batch": seconds, "images_per_s": batch / seconds, "peak_memory_gib": peak.bytes / GIB}


def pretrain_cost(device: torch.device, batch: int, seconds: float, precision: str, repeats: int) -> dict[str, float]:
    config = PretrainConfig(data="synthetic", width=64, batch_size=batch, device=str(device), precision=precision)
    training = build_training(config, 512, setup_runtime(config))
    audio = torch.randn(batch, int(seconds * 16000), device=device) * 0.1
    targets = torch.nn.functional.normalize(torch.randn(batch, 512, device=device), dim=-1)
    with PeakMemory(device) as peak:
        step_s = _timed(device, lambda: training.step(audio, targets), repeats)
    return {"batch": batch, "clip_seconds": seconds, "precision": precision, "s_per_step": step_s,
            "clips_per_s": batch / step_s, "peak_memory_gib": peak.bytes / GIB}


def embed_cost(device: torch.device, batch: int, seconds: float, repeats: int) -> dict[str, float]:
    from w2clib.model import ModelConfig, build_model

    model = build_model(ModelConfig(width=64, embed_dim=512), seed=0).to(device).eval()
    audio = torch.randn(batch, int(seconds * 16000), device=device) * 0.1
    with torch.inference_mode():
        step_s = _timed(device, lambda: model(audio), repeats)
    return {"batch": batch, "clip_seconds": seconds, "clips_per_s": batch / step_s}


def estimates(measured: dict[str, dict[str, float]], clips: int, fps: float, epochs: int,
              clip_seconds: float) -> dict[str, float]:
    """Hours of each stage at the paper's size on one device of the measured kind (extrapolated)."""
    frames = clips * clip_seconds * fps
    return {
        "teacher_frames": frames,
        "teacher_hours": frames / measured["teacher"]["images_per_s"] / 3600,
        "pretrain_hours_per_epoch": clips / measured["pretrain"]["clips_per_s"] / 3600,
        "pretrain_hours": epochs * clips / measured["pretrain"]["clips_per_s"] / 3600,
        "embed_hours_per_100k_clips": 100_000 / measured["embed"]["clips_per_s"] / 3600,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=16, help="training clips per step (the paper: 128 per GPU)")
    parser.add_argument("--teacher-batch", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length (VGGSound: 10 s)")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per stage (median reported)")
    parser.add_argument("--clips", type=int, default=200_000, help="VGGSound training clips (estimates)")
    parser.add_argument("--fps", type=float, default=1.0, help="video frames per second embedded (the paper: 30)")
    parser.add_argument("--epochs", type=int, default=100, help="pre-training epochs (estimates; the paper: <= 100)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", default=None)
    parser.add_argument("--stage", default=None, help=argparse.SUPPRESS)  # internal: one stage, JSON on stdout
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.stage is not None:
        run = {"teacher": lambda: teacher_cost(device, args.teacher_batch, args.repeats),
               "pretrain": lambda: pretrain_cost(device, args.batch, args.seconds, args.precision, args.repeats),
               "embed": lambda: embed_cost(device, args.batch, args.seconds, args.repeats)}[args.stage]
        print(json.dumps(run()))
        return 0
    load_before = os.getloadavg()
    # each stage in its own process: a peak resident set is per process, and an earlier stage's peak
    # would hide a later one's
    own = list(argv if argv is not None else sys.argv[1:])
    measured = {}
    for stage in ("teacher", "pretrain", "embed"):
        done = subprocess.run([sys.executable, __file__, *own, "--stage", stage], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise SystemExit(f"bench_stages: stage {stage} failed:\n{done.stderr[-3000:]}")
        measured[stage] = json.loads(done.stdout.strip().splitlines()[-1])
    result = {"benchmark": "stages", "device": args.device, "command": " ".join(["bench_stages.py", *(argv or sys.argv[1:])]),
              "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": machine(), "measured": measured,
              "estimates": {"assumptions": {"clips": args.clips, "fps": args.fps, "epochs": args.epochs,
                                            "clip_seconds": args.seconds},
                            **estimates(measured, args.clips, args.fps, args.epochs, args.seconds)},
              "load_average_before": load_before, "load_average_after": os.getloadavg()}
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"stages_{device.type}.json"
    atomic_write_json(out, result)
    for stage, values in measured.items():
        print(stage, {k: round(v, 3) if isinstance(v, float) else v for k, v in values.items()})
    print("estimates", {k: round(v, 1) for k, v in result["estimates"].items() if isinstance(v, float)})
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
