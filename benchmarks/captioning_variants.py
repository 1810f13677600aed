"""Notebook 09's captioner under other encoders and other decoder settings: what its check is held to.

    python benchmarks/captioning_variants.py encoders runs/mini/spread/seed-0 runs/mini/spread/seed-1
    python benchmarks/captioning_variants.py decoders one_block '{"n_layers": 1}' --models wav2clip random_init
    python benchmarks/captioning_variants.py table     # -> captioning_variants_mini_summary.csv

A fresh clone trains its own encoder, so the lead notebook 09 asserts (the Wav2CLIP captioner's mean
CIDEr-D over its seeds above each control's) must hold for other training seeds of the same recipe, not
only for the committed run.  ``encoders`` trains the mini profile's Wav2CLIP captioners (same captions,
decoder and seeds) on the features of each encoder folder; ``decoders`` trains the captioners of the
committed encoder with decoder settings changed (JSON overrides of ``captioning.decoder``).  Both score
the test split with the notebook's metrics and append rows to
``benchmarks/results/captioning_variants_mini.csv``.  Captioners live in the notebook's own cache
(``<run_dir>/cache/captioning``, keyed by content), so the profile's unchanged captioners are the
notebook's and an interrupted run resumes.  Needs notebooks 01-03 (data, teacher, encoder) of ``mini``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
ROWS = RESULTS / "captioning_variants_mini.csv"
SUMMARY = RESULTS / "captioning_variants_mini_summary.csv"
METRICS = ["CIDEr-D", "BLEU_4"]


def _write(frame: pd.DataFrame, path: Path) -> None:
    from w2clib._io import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def _score(profile: str, checkpoint: str | None, models: list[str], decoder: dict, variant: str,
           device: str | None = None) -> pd.DataFrame:
    """Train (or load) and score the captioners of ``models`` x the profile's seeds; one row per metric."""
    from w2clib.config import load_profile
    from w2clib.evaluate.captioning import captioning_config
    from w2clib.evaluate.captioning.jobs import resolve_device, run_captioner_job
    from w2clib.evaluate.captioning.metrics import score_runs
    from w2clib.evaluate.captioning.run import _inputs, _job, caption_set_for
    from w2clib.evaluate.probes import torch_threads
    from w2clib.evaluate.suite import load_context
    from w2clib.processes import WorkerPool

    overrides = [f"evaluate.checkpoint={checkpoint}"] if checkpoint else []
    P = load_profile(profile, overrides + ([f"captioning.device={device}"] if device else []))
    ctx = load_context(P)
    cfg = captioning_config(P)
    cfg = dataclasses.replace(cfg, decoder={**cfg.decoder, **decoder})
    cset, sets = caption_set_for(ctx, cfg)
    clips = cset.clips
    test = clips[clips["split"] == "test"]
    references = dict(zip(clips["clip_id"], clips["references"]))
    began = time.time()
    device = resolve_device(cfg.device)  # the notebook's rule: CUDA when available, workers only on a CPU
    workers = cfg.workers if device == "cpu" else 1
    with torch_threads(cfg.num_threads), WorkerPool(workers, cfg.num_threads) as pool:
        runs, jobs = [], []
        for model in models:
            x = _inputs(ctx, cset, sets, model, False, cfg.input_segments)
            for seed in cfg.seeds:
                runs.append((model, seed))
                jobs.append(_job(ctx, cfg, cset, x, model, seed, device, False))
        outs = pool.map(run_captioner_job, jobs)
        named = {f"{m}|{s}": dict(zip(test["clip_id"], out["test"])) for (m, s), out in zip(runs, outs)}
        scores = score_runs(named, references, METRICS, pool=pool)
    encoder = Path(ctx.checkpoint).resolve()
    where = str(encoder.relative_to(ROOT)) if encoder.is_relative_to(ROOT) else str(ctx.checkpoint)  # no home paths
    rows = [{"variant": variant, "encoder": where, "checkpoint_sha256": ctx.checkpoint_sha256,
             "decoder": json.dumps(cfg.decoder, sort_keys=True), "model": m, "seed": s, "metric": metric,
             "value": scores[f"{m}|{s}"].corpus[metric]} for m, s in runs for metric in METRICS]
    print(f"{variant} {ctx.checkpoint}: {len(jobs)} captioners in {time.time() - began:.0f} s")
    return pd.DataFrame(rows)


def _append(frame: pd.DataFrame) -> None:
    old = pd.read_csv(ROWS) if ROWS.is_file() else pd.DataFrame()
    keys = ["variant", "checkpoint_sha256", "decoder", "model", "seed", "metric"]
    both = pd.concat([old, frame], ignore_index=True).drop_duplicates(keys, keep="last")
    _write(both, ROWS)
    table()


def table() -> None:
    rows = pd.read_csv(ROWS)
    per_run = rows.groupby(["variant", "checkpoint_sha256", "model", "metric"], sort=False)["value"]
    out = per_run.agg(mean="mean", std=lambda v: v.std(ddof=0), seeds="size").reset_index()
    out["checkpoint_sha256"] = out["checkpoint_sha256"].str[:12]
    _write(out.round(3), SUMMARY)
    print(out.round(3).to_string(index=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    enc = sub.add_parser("encoders", help="the Wav2CLIP captioners on other encoder folders")
    enc.add_argument("folders", nargs="+")
    dec = sub.add_parser("decoders", help="captioners of the committed encoder with other decoder settings")
    dec.add_argument("name")
    dec.add_argument("overrides", help='JSON overrides of captioning.decoder, e.g. \'{"epochs": 6}\'')
    dec.add_argument("--models", nargs="+", default=["wav2clip", "random_init", "logmel_stats"])
    for p in (enc, dec):
        p.add_argument("--profile", default="mini")
        p.add_argument("--device", default=None, help="cpu, cuda, ... (default: the profile's captioning.device)")
    sub.add_parser("table", help="summarise the rows")
    args = parser.parse_args()
    if args.command == "encoders":
        for folder in args.folders:
            _append(_score(args.profile, folder, ["wav2clip"], {}, "encoder", args.device))
    elif args.command == "decoders":
        _append(_score(args.profile, None, args.models, json.loads(args.overrides), args.name, args.device))
    else:
        table()


if __name__ == "__main__":
    main()
