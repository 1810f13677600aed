#!/usr/bin/env python3
"""Embedding speed and memory: w2clib vs the reference wav2clip 0.1.0, same weights, one run.

    .venv/bin/python benchmarks/bench_embed.py                 # writes benchmarks/results/embed.json
    .venv/bin/python benchmarks/bench_embed.py --repeats 5 --quick
    .venv/bin/python benchmarks/bench_embed.py --cases 4x10 --emulated --skip-memory \
        --out benchmarks/results/embed_fallback.json          # the bf16 fallback on a CPU without bf16

Throughput (clips/s) for 1x10 s, 16x10 s and 64x5 s batches, measured for
  * reference   -- wav2clip.embed_audio on ResNetExtractor(checkpoint, frozen, transform) as users run it
                   (autograd on, batch-wide normalisation);
  * exact       -- w2clib.embed_audio(norm="batch", precision="fp32"): outputs within 1e-5 of the reference;
  * fast        -- w2clib.embed_audio(norm="clip", precision="bf16") (cosine to exact reported); on a CPU
                   without native bf16 (no avx512_bf16 / amx_bf16) this is the library's fp32 fallback,
                   and it is timed against
  * clip_fp32   -- w2clib.embed_audio(norm="clip", precision="fp32"), to show the fallback costs nothing;
  * bf16_emulated (--emulated, only there) -- the same call with the fallback switched off: what bf16
                   autocast costs on that CPU.
The CPU's model and flags (w2clib.cpu_features) are recorded with the numbers.
Timings interleave the three implementations round-robin and report the median, so slow phases of a
shared machine hit all of them alike.  Peak memory (max RSS) is measured in a fresh process per case:
64x10 s in one call, and embed_files on a 1-hour file in frame mode (1 s windows).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SR = 16000


def make_model(seed: int = 0):
    from tests.conftest import randomize_batchnorm
    from w2clib.model import ModelConfig, build_model

    model = build_model(ModelConfig(), seed=seed)
    randomize_batchnorm(model)
    return model.to(memory_format=torch.channels_last).eval()


def reference_model(state):
    from wav2clip.model.encoder import ResNetExtractor

    return ResNetExtractor(checkpoint=state, scenario="frozen", transform=True)


def make_audio(n: int, seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 0.1, (n, int(seconds * SR)))).astype(np.float32)


def runners(model, ref, emulated: bool = False):
    import wav2clip

    import w2clib
    from w2clib import cpu_features
    from w2clib.cpu_features import native_bf16

    run = {
        "reference": lambda a: wav2clip.embed_audio(a, ref),
        "exact": lambda a: w2clib.embed_audio(a, model, norm="batch", batch_size=64),
        "fast": lambda a: w2clib.embed_audio(a, model, norm="clip", precision="bf16", batch_size=64),
    }
    if not native_bf16("cpu"):
        run["clip_fp32"] = lambda a: w2clib.embed_audio(a, model, norm="clip", precision="fp32", batch_size=64)
        if emulated:
            def forced(a):
                cpu_features.native_bf16, keep = (lambda device="cpu": True), cpu_features.native_bf16
                try:
                    return w2clib.embed_audio(a, model, norm="clip", precision="bf16", batch_size=64)
                finally:
                    cpu_features.native_bf16 = keep

            run["bf16_emulated"] = forced
    return run


def machine() -> dict:
    """Where the numbers come from: the CPU's model and its vector/bf16 flags, torch and threads."""
    from w2clib.cpu_features import cpu_flags, cpu_name, native_bf16

    return {"platform": platform.platform(), "processor": platform.processor(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "cpu": cpu_name(),
            "cpu_flags": cpu_flags(), "bf16_native": native_bf16("cpu"),
            "load_average_1min": os.getloadavg()[0]}  # other jobs on the machine: scale, not ratios


def throughput(cases, repeats: int, emulated: bool = False) -> dict:
    from w2clib.cpu_features import PrecisionFallbackWarning, resolve_precision

    warnings.simplefilter("ignore", PrecisionFallbackWarning)  # the fallback is recorded in the results
    model = make_model()
    ref = reference_model({k: v.clone() for k, v in model.state_dict().items()})
    run = runners(model, ref, emulated)
    results = {}
    for n, seconds in cases:
        audio = make_audio(n, seconds)
        outputs = {name: fn(audio) for name, fn in run.items()}  # warm-up + accuracy
        times = {name: [] for name in run}
        for r in range(repeats):
            for name in list(run) if r % 2 == 0 else list(run)[::-1]:  # alternate the order: no position bias
                fn = run[name]
                start = time.perf_counter()
                fn(audio)
                times[name].append(time.perf_counter() - start)
        exact, fast = outputs["exact"], outputs["fast"]
        cos = (exact * fast).sum(1) / (np.linalg.norm(exact, axis=1) * np.linalg.norm(fast, axis=1))
        key = f"{n}x{seconds:g}s"
        results[key] = {
            name: {"median_s": statistics.median(t), "clips_per_s": n / statistics.median(t), "runs_s": t}
            for name, t in times.items()
        }
        ref_rate = results[key]["reference"]["clips_per_s"]
        for name in ("exact", "fast"):
            results[key][name]["speedup_vs_reference"] = results[key][name]["clips_per_s"] / ref_rate
        results[key]["fast"]["precision_used"] = resolve_precision("bf16", "cpu")
        if "clip_fp32" in results[key]:  # the fallback against plain fp32, same normalisation, interleaved
            for name in ("fast", "bf16_emulated"):
                if name in results[key]:
                    results[key][name]["vs_clip_fp32"] = (
                        results[key][name]["clips_per_s"] / results[key]["clip_fp32"]["clips_per_s"]
                    )
        results[key]["exact"]["max_abs_diff_vs_reference"] = float(np.abs(exact - outputs["reference"]).max())
        results[key]["fast"]["min_cosine_vs_exact"] = float(cos.min())
        print(f"{key}: " + ", ".join(f"{k} {v['clips_per_s']:.2f} clips/s" for k, v in results[key].items()), flush=True)
    return results


# ----------------------------------------------------------------------------------- memory cases
def _peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM).  Not ru_maxrss: on Linux that keeps the high-water
    mark of the parent the child was forked from, which would charge the benchmark's own memory here."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _memory_case(case: str, arg: str) -> None:
    """Runs in a child process; prints peak RSS (MiB) before and after the measured call."""
    model = make_model()
    if case == "reference-64x10":
        import wav2clip

        ref = reference_model({k: v.clone() for k, v in model.state_dict().items()})
        audio = make_audio(64, 10.0)
        base = _peak_rss_mib()
        wav2clip.embed_audio(audio, ref)
    elif case == "w2clib-64x10":
        import w2clib

        audio = make_audio(64, 10.0)
        base = _peak_rss_mib()
        w2clib.embed_audio(audio, model, norm="batch")
    elif case == "w2clib-files-1h":
        import w2clib

        base = _peak_rss_mib()
        hop_ms = float(arg.split(":")[1])
        w2clib.embed_files(arg.split(":")[0], model, frame_length=SR, hop_length=int(SR * hop_ms / 1000),
                           precision="bf16", batch_size=64)
    else:
        raise SystemExit(f"unknown case {case}")
    peak = _peak_rss_mib()
    print(json.dumps({"baseline_rss_mib": base, "peak_rss_mib": peak, "call_increment_mib": peak - base}))


def memory(hour_hop_ms: float) -> dict:
    import soundfile as sf

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        hour = Path(tmp) / "hour.wav"
        rng = np.random.default_rng(0)
        with sf.SoundFile(hour, "w", samplerate=44100, channels=2, subtype="PCM_16") as f:
            for _ in range(60):  # one minute at a time: the generator itself stays small
                f.write((rng.normal(0, 0.1, (44100 * 60, 2))).astype(np.float32))
        cases = [("reference-64x10", ""), ("w2clib-64x10", ""), ("w2clib-files-1h", f"{hour}:{hour_hop_ms}")]
        for case, arg in cases:
            start = time.perf_counter()
            child = subprocess.run([sys.executable, __file__, "--memory-case", case, arg],
                                   capture_output=True, text=True, check=True)
            results[case] = json.loads(child.stdout.strip().splitlines()[-1])
            results[case]["wall_s"] = time.perf_counter() - start
            print(case, results[case], flush=True)
    results["w2clib-files-1h"]["file"] = f"60 min, 44.1 kHz stereo PCM_16, 1 s windows every {hour_hop_ms:g} ms, bf16"
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small cases only (smoke test of the script)")
    parser.add_argument("--cases", default="1x10,16x10,64x5", help="batches as CLIPSxSECONDS, comma-separated")
    parser.add_argument("--emulated", action="store_true",
                        help="without native bf16: also time bf16 autocast with the fp32 fallback switched off")
    parser.add_argument("--skip-memory", action="store_true",
                        help="re-measure throughput only, keeping the memory section already in --out")
    parser.add_argument("--memory-only", action="store_true",
                        help="re-measure memory only, keeping the throughput already in --out")
    parser.add_argument("--hour-hop-ms", type=float, default=500.0, help="hop for the 1-hour file case")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/embed.json"))
    parser.add_argument("--memory-case", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_case:
        _memory_case(*args.memory_case)
        return 0
    if args.memory_only:
        from w2clib._io import atomic_write_json

        report = json.loads(Path(args.out).read_text())
        report["memory"] = memory(args.hour_hop_ms)
        report["memory_date"] = time.strftime("%Y-%m-%d %H:%M")
        report["memory_machine"] = machine()
        atomic_write_json(args.out, report)
        print("wrote", args.out)
        return 0
    cases = [(1, 2.0), (4, 2.0)] if args.quick else [
        (int(n), float(sec.rstrip("s"))) for n, sec in (c.split("x") for c in args.cases.split(","))
    ]
    report = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "throughput": throughput(cases, args.repeats, args.emulated),
    }
    if not args.skip_memory and not args.quick:
        report["memory"] = memory(args.hour_hop_ms)
    elif args.skip_memory and Path(args.out).is_file():  # keep the earlier memory measurement and its date
        earlier = json.loads(Path(args.out).read_text())
        if "memory" in earlier:
            report.update(memory=earlier["memory"], memory_date=earlier.get("memory_date", earlier["date"]),
                          memory_machine=earlier.get("memory_machine", earlier["machine"]))
    if not args.quick:
        from w2clib._io import atomic_write_json

        atomic_write_json(args.out, report)
        print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
