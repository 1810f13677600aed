"""Hyper-parameter sweep of the embedded pre-training run (how profiles/mini.yaml's pretrain: was chosen).

    python benchmarks/pretrain_sweep.py run NAME '{"lr": 0.002, "noise_snr_db": null}' ['{"gm_per_batch": 24}']
    python benchmarks/pretrain_sweep.py table          # -> pretrain_sweep_mini_summary.csv (docs/pretrain_embedded.md)

``run`` trains the mini profile's embedded run with the given overrides of the base below (the
settings the sweep started from) into ``runs/sweep/NAME`` and appends its final held-out table
(trained vs random weights, 16 TimGM clips per class + every held-out Tux Paint sound) to
``benchmarks/results/pretrain_sweep_mini.csv``. Needs the mini data and teacher caches (notebooks 01
and 02, or ``./reproduce.sh``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "pretrain_sweep_mini.csv"
SUMMARY = RESULTS.with_name("pretrain_sweep_mini_summary.csv")

BASE = dict(data="embedded", data_options={"gm_per_batch": 16, "tux_per_batch": 16,
                                           "heldout": {"max_per_class": 16}},
            n_valid=8, clip_seconds=2.0, min_clip_seconds=0.1, width=32, batch_size=32, optimizer="adamw",
            lr=1e-3, weight_decay=0.01, schedule="cosine", warmup_steps=50, max_steps=800,
            early_stopping_patience=None, gain_db=6.0, noise_snr_db=[10.0, 40.0], num_workers=0,
            checkpoint_every_steps=200, final_weights="last", progress=False, seed=2021)


def run(name: str, overrides: dict, data_overrides: dict) -> pd.DataFrame:
    import w2clib
    from w2clib.evaluate.embedded_heldout import EvalOptions, heldout_evaluator, random_like
    from w2clib.training import PretrainConfig
    from w2clib.config import load_profile
    from w2clib.training.run import run_pretrain

    settings = {**BASE, **overrides, "data_options": {**BASE["data_options"], **data_overrides}}
    config = PretrainConfig(**settings)
    out = ROOT / "runs" / "sweep" / name
    began = time.time()
    mini = load_profile("mini")
    run_pretrain(mini, out, config=config)
    train_s = time.time() - began
    evaluator = heldout_evaluator(mini, EvalOptions(), clip_seconds=config.clip_seconds)
    model = w2clib.load_model(out, device="cpu")
    table = evaluator.table({"trained": model, "random": random_like(model, config.seed)}, run=name)
    table["overrides"] = json.dumps({**overrides, **data_overrides}, sort_keys=True)
    table["train_s"] = round(train_s, 1)
    old = pd.read_csv(RESULTS) if RESULTS.is_file() else pd.DataFrame()
    if not old.empty:
        old = old[old["run"] != name]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    pd.concat([old, table], ignore_index=True).to_csv(RESULTS, index=False)
    return table


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """One row per run: the overrides and the trained encoder's held-out metrics."""
    trained = results[results["model"] == "trained"].copy()
    trained["column"] = trained["task"] + " " + trained["metric"]
    wide = trained.pivot_table(index="run", columns="column", values="value", sort=False)
    keep = ["timgm_prototype R@1", "timgm_zeroshot R@1", "tux_photo R@1", "tux_photo MRR"]
    wide = wide[keep].round(3)
    wide.insert(0, "overrides of the base", trained.groupby("run", sort=False)["overrides"].first())
    return wide.reset_index()


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "table":
        table = summary(pd.read_csv(RESULTS))
        table.to_csv(SUMMARY, index=False)
        print(table.to_string(index=False))
    elif len(sys.argv) >= 3 and sys.argv[1] == "run":
        extra = [json.loads(a) for a in sys.argv[3:5]] + [{}, {}]
        print(run(sys.argv[2], extra[0], extra[1]).to_string())
    else:
        sys.exit(__doc__)
