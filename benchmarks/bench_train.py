#!/usr/bin/env python3
"""Training-step throughput: our trainer's step vs the reference architecture + loss, in one run.

The reference is assembled from ``wav2clip==0.1.0``'s own pieces (its ``pre_training``
``ResNetDistillation`` crashes on ``num_classes=309``): ``ResNet(BasicBlock, [2, 2, 2, 2])`` with its
batch-normalised log spectrogram, two ``MLPLayers([512, 512, 512], dropout=0.1)`` heads, two
``CLIPLoss1D`` and ``torch.optim.Adam(lr=1e-3)``; one step = the cross-projection loss of
``ResNetDistillation.step`` + backward + optimiser step, on (batch, 10 s) audio and (batch, 512)
mean frame embeddings (the reference averages (batch, 300, 512) frames first; the cache holds means).

Ours is :class:`w2clib.training.engine.TrainStep` exactly as ``pretrain`` builds it: channels-last
convolutions, one fused Adam kernel, per-clip front-end statistics, logit-scale clamp
(``ours_compiled`` adds ``torch.compile``: ~20-35 s of compilation, little gain once channels-last is on).  Variants run in
interleaved rounds so machine-load drift hits all alike; the median round counts.  Before timing,
an equivalence check loads the reference weights into our model and compares the loss (eval mode,
batch statistics as the reference) -- the speed-up must not come from computing something else.

    python benchmarks/bench_train.py                                # batch 32, 10 s, CPU
    python benchmarks/bench_train.py --batch 4 --seconds 1 --steps 1 --rounds 1   # quick check
    python benchmarks/bench_train.py --device cuda --batch 128 --precision bf16   # a GPU

Writes ``benchmarks/results/train_step_<device>.json`` (or ``--out``).

``--data`` measures the input pipeline instead: it writes a temporary shard set of ``--clips``
synthetic 10 s clips (:mod:`w2clib.training.shards`), times the loader alone with 0..``--workers`` workers,
then trains ``--train-steps`` steps of the real ``pretrain`` on it and reports the share of step time
spent waiting for data (``data_wait_share`` of metrics.csv) -> ``train_data_<device>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from w2clib._io import atomic_write_json
from w2clib.training import PretrainConfig
from w2clib.training.engine import setup_runtime
from w2clib.training.loop import build_training

Step = Callable[[torch.Tensor, torch.Tensor], None]


def reference_step(device: torch.device, seed: int) -> tuple[Step, torch.nn.ModuleDict]:
    """The reference cross-projection training step, built from wav2clip 0.1.0's modules."""
    from wav2clip.model.encoder import MLPLayers
    from wav2clip.model.resnet import BasicBlock, ResNet
    from wav2clip.pre_training.loss import CLIPLoss1D

    torch.manual_seed(seed)
    parts = torch.nn.ModuleDict({
        "audio_encoder": ResNet(BasicBlock, [2, 2, 2, 2]),
        "image_transform": MLPLayers(units=[512, 512, 512], dropout=0.1),
        "audio_transform": MLPLayers(units=[512, 512, 512], dropout=0.1),
        "loss_fn_a": CLIPLoss1D(),
        "loss_fn_i": CLIPLoss1D(),
    }).to(device).train()
    optimizer = torch.optim.Adam(parts.parameters(), lr=1e-3)

    def loss_of(audio: torch.Tensor, image: torch.Tensor) -> torch.Tensor:  # ResNetDistillation.step
        audio_out = parts["audio_encoder"](audio.float())
        transformed_image = parts["image_transform"](image)
        transformed_audio = parts["audio_transform"](audio_out)
        return (parts["loss_fn_a"](audio_out, transformed_image) + parts["loss_fn_i"](transformed_audio, image)) / 2

    def step(audio: torch.Tensor, image: torch.Tensor) -> None:
        loss = loss_of(audio, image)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        float(loss.detach())  # synchronise, as our step does when it reports the loss

    step.loss_of = loss_of  # type: ignore[attr-defined]
    return step, parts


def our_step(config: PretrainConfig) -> tuple[Step, torch.nn.Module]:
    runtime = setup_runtime(config)
    training = build_training(config, 512, runtime)
    return (lambda audio, image: training.step(audio, image)), training.module


def equivalence(ref_parts: torch.nn.ModuleDict, ref_step: Step, device: torch.device,
                audio: torch.Tensor, image: torch.Tensor) -> dict[str, float]:
    """Our model with the reference's weights and batch statistics gives the reference's loss."""
    config = PretrainConfig(data="synthetic", width=64, batch_size=max(2, audio.shape[0]), norm="batch",
                            device=str(device), precision="fp32", channels_last=False)
    _, module = our_step(config)
    state = {}
    for name in ("audio_encoder", "image_transform", "audio_transform"):
        state.update({f"model.{name}.{k}": v for k, v in ref_parts[name].state_dict().items()})
    for name in ("loss_fn_a", "loss_fn_i"):
        state[f"loss.{name}.logit_scale"] = ref_parts[name].logit_scale.detach()
    module.load_state_dict(state, strict=True)
    module.eval()
    ref_parts.eval()
    with torch.no_grad():
        ref = float(ref_step.loss_of(audio, image))  # type: ignore[attr-defined]
        ours = float(module(audio, image)[0])
    ref_parts.train()
    return {"reference_loss": ref, "our_loss": ours, "abs_diff": abs(ref - ours)}


def data_benchmark(args: argparse.Namespace) -> dict[str, object]:
    """Loader throughput from memory-mapped shards, and the data-wait share of a real short run."""
    import csv
    import tempfile

    import numpy as np
    import pandas as pd
    import soundfile as sf

    from w2clib.training.shards import ShardSource, write_shards
    from w2clib.training import pretrain
    from w2clib.training.loader import BatchPart, BatchPlan, PairDataset, make_loader

    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(args.seed)
        (Path(tmp) / "wav").mkdir()
        rows = []
        for i in range(args.clips):
            path = Path(tmp) / "wav" / f"{i:05d}.wav"
            sf.write(path, (0.1 * rng.standard_normal(int(args.seconds * 16000))).astype(np.float32), 16000,
                     subtype="PCM_16")
            rows.append((f"clip{i:05d}", str(path)))
        manifest = pd.DataFrame(rows, columns=["clip_id", "audio_path"])
        targets = rng.standard_normal((args.clips, 512)).astype(np.float32)
        began = time.perf_counter()
        write_shards(manifest, targets, manifest["clip_id"].tolist(), Path(tmp) / "shards", shard_size=64,
                     workers=max(1, min(4, (os.cpu_count() or 1))), progress=False)
        result["write_shards_clips_per_s"] = args.clips / (time.perf_counter() - began)
        config = PretrainConfig(
            data="shards", data_options={"dir": str(Path(tmp) / "shards")}, n_valid=0, clip_seconds=args.seconds,
            min_clip_seconds=args.seconds / 2,
            batch_size=args.batch, schedule="constant", early_stopping_patience=None, final_weights="last",
            max_steps=args.train_steps, num_workers=args.workers, device=args.device, progress=False,
            precision="auto" if args.precision == "bf16" else "fp32", seed=args.seed,
        )
        source = ShardSource(Path(tmp) / "shards")
        parts = [BatchPart(source, args.batch)]
        plan = BatchPlan(parts, args.seed)
        keys = [k for epoch in range(max(1, 24 // plan.steps_per_epoch)) for k in plan.epoch_keys(epoch)]
        loader_rates = {}
        for workers in range(args.workers + 1):
            loader = make_loader(PairDataset(parts, config, train=True), keys, num_workers=workers,
                                 prefetch_batches=2, seed=0)
            began, clips = time.perf_counter(), 0
            for batch in loader:
                clips += batch.wave.shape[0]
            loader_rates[str(workers)] = clips / (time.perf_counter() - began)
        result["loader_clips_per_s_by_workers"] = loader_rates
        out = pretrain(config, Path(tmp) / "run")
        with open(out / "metrics.csv", newline="") as f:
            steps = list(csv.DictReader(f))[1:]  # the first step includes worker start-up
        result["train"] = {
            "steps": len(steps) + 1, "workers": args.workers,
            "median_clips_per_s": statistics.median(float(r["clips_per_s"]) for r in steps),
            "median_data_wait_share": statistics.median(float(r["data_wait_share"]) for r in steps),
            "mean_data_wait_share": statistics.fmean(float(r["data_wait_share"]) for r in steps),
        }
    return result


def machine() -> dict[str, object]:
    info: dict[str, object] = {"python": platform.python_version(), "torch": torch.__version__,
                               "threads": torch.get_num_threads(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor()
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per variant per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median reported)")
    parser.add_argument("--variants", default="reference,ours", help="reference, ours, ours_compiled")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="ours only")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    parser.add_argument("--data", action="store_true", help="measure the input pipeline instead")
    parser.add_argument("--clips", type=int, default=256, help="--data: clips in the shard set")
    parser.add_argument("--workers", type=int, default=2, help="--data: loader workers")
    parser.add_argument("--train-steps", type=int, default=6, help="--data: steps of the short run")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.data:
        result = {"benchmark": "train_data", "batch": args.batch, "seconds": args.seconds, "device": args.device,
                  "machine": machine(), "load_average_before": os.getloadavg(), **data_benchmark(args),
                  "load_average_after": os.getloadavg(), "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
                  "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])}
        out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"train_data_{device.type}.json"
        atomic_write_json(out, result)
        print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))
        print(f"written {out}")
        return 0
    gen = torch.Generator().manual_seed(args.seed)
    audio = (0.1 * torch.randn(args.batch, int(args.seconds * 16000), generator=gen)).to(device)
    image = torch.randn(args.batch, 512, generator=gen).to(device)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(variants) - {"reference", "ours", "ours_compiled"}
    if unknown:
        raise SystemExit(f"unknown variants {sorted(unknown)}; choose from reference, ours, ours_compiled")

    steps: dict[str, Step] = {}
    setup_s: dict[str, float] = {}
    check = None
    for name in variants:
        began = time.perf_counter()
        if name == "reference":
            steps[name], parts = reference_step(device, args.seed)
            if args.device == "cpu" or args.precision == "fp32":
                check = equivalence(parts, steps[name], device, audio[:4], image[:4])
        else:
            config = PretrainConfig(data="synthetic", width=64, batch_size=args.batch, device=args.device,
                                    precision=args.precision, compile=name == "ours_compiled", seed=args.seed)
            steps[name], _ = our_step(config)
        steps[name](audio, image)  # warm-up (and compilation)
        setup_s[name] = time.perf_counter() - began
        print(f"{name}: ready in {setup_s[name]:.1f} s", flush=True)

    load_before = os.getloadavg()
    rounds: dict[str, list[dict[str, float]]] = {n: [] for n in variants}
    for r in range(args.rounds):
        for name in variants:
            if device.type == "cuda":
                torch.cuda.synchronize()
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(args.steps):
                steps[name](audio, image)
            if device.type == "cuda":
                torch.cuda.synchronize()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            rounds[name].append({"wall_s_per_step": wall / args.steps, "cpu_s_per_step": cpu / args.steps,
                                 "clips_per_s": args.batch * args.steps / wall})
            print(f"round {r}: {name} {rounds[name][-1]['clips_per_s']:.2f} clips/s", flush=True)
    summary = {n: {"median_clips_per_s": statistics.median(x["clips_per_s"] for x in rounds[n]),
                   "median_cpu_s_per_step": statistics.median(x["cpu_s_per_step"] for x in rounds[n]),
                   "setup_s": setup_s[n]} for n in variants}
    if "reference" in summary:
        base = summary["reference"]
        for name in variants:
            summary[name]["speedup_vs_reference"] = summary[name]["median_clips_per_s"] / base["median_clips_per_s"]
            summary[name]["cpu_time_speedup_vs_reference"] = (
                base["median_cpu_s_per_step"] / summary[name]["median_cpu_s_per_step"])
    result = {
        "benchmark": "train_step", "batch": args.batch, "seconds": args.seconds, "device": args.device,
        "precision_ours": args.precision, "steps_per_round": args.steps, "rounds": args.rounds,
        "machine": machine(), "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"), "equivalence": check, "summary": summary, "rounds_raw": rounds,
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
    }
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"train_step_{device.type}.json"
    atomic_write_json(out, result)
    print(json.dumps(summary, indent=1))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
