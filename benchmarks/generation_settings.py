"""Which drawing settings let an independent judge recognise the pictures (notebook 10's settings).

    python benchmarks/generation_settings.py NAME '{"steps": 200, "cut_size": 128, "cut": {"n": 4, "degrees": 30}}' \
        text,audio,random_weights ['ocarina|flute']

Draws the pictures of the mini profile's ``generation:`` plan (or of the classes given) for the chosen
conditions with the settings of the JSON (``steps``, ``size``, ``cut_size``, ``lr``, ``seed`` and ``cut``:
the :class:`~w2clib.generate.cutouts.CutoutConfig` fields), one torch thread, and appends one row per
picture (judge top-5, rank of the class, seconds, final loss) to
``benchmarks/results/generation_settings_mini.csv``; pictures go to ``runs/generation_settings/NAME/``.
The text condition is the drawing's own test: a class name drawn well is recognised by the judge.
``--profile`` names another profile (or a YAML file extending one).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results" / "generation_settings_mini.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("settings", help="JSON: steps, size, cut_size, lr, seed, cut (CutoutConfig fields)")
    parser.add_argument("conditions", help="comma-separated: audio, random_weights, text")
    parser.add_argument("classes", nargs="?", default=None, help="'|'-separated labels (default: the profile's)")
    parser.add_argument("--profile", default="mini")
    args = parser.parse_args()

    import torch

    from w2clib._io import atomic_path
    from w2clib.config import load_profile
    from w2clib.evaluate.suite import load_context
    from w2clib.generate import agreement, generate, generation_config, load_judge
    from w2clib.generate.cutouts import CutoutConfig
    from w2clib.generate.experiment import _accepted, plan_targets

    variant, conditions = json.loads(args.settings), args.conditions.split(",")
    torch.set_num_threads(1)
    P = load_profile(args.profile)
    ctx = load_context(P)
    cfg = generation_config(P)
    if args.classes:
        cfg.classes, cfg.mixtures = args.classes.split("|"), []
    cfg.unrelated = 0
    plan, targets = plan_targets(ctx, cfg)
    perceptor, judge = ctx.teacher(), load_judge("efficientnet_lite2")
    out = P.run_dir.parent / "generation_settings" / args.name
    out.mkdir(parents=True, exist_ok=True)
    views = CutoutConfig(**variant.get("cut", {}))
    for row, target in zip(plan.itertuples(), targets):
        if row.condition not in conditions:
            continue
        began = time.time()
        result = generate(target, perceptor, steps=variant.get("steps", 100), size=variant.get("size", 128),
                          cutouts=views, seed=variant.get("seed", 0), lr=variant.get("lr", 0.05),
                          cut_size=variant.get("cut_size", 96), progress=False)
        seconds = time.time() - began
        result.image.save(out / f"{row.job}.png")
        score = agreement(judge.probabilities([result.image]), [_accepted(cfg, row.label)])
        record = {"variant": args.name, "settings": json.dumps(variant, sort_keys=True), "job": row.job,
                  "condition": row.condition, "label": row.label, "top5": bool(score["top5"][0]),
                  "rank": int(score["rank"][0]), "seconds": round(seconds, 1),
                  "final_loss": round(result.losses[-1], 3)}
        print(record, flush=True)
        old = pd.read_csv(RESULTS) if RESULTS.is_file() else pd.DataFrame()
        if not old.empty:
            old = old[~((old["variant"] == args.name) & (old["job"] == row.job))]
        with atomic_path(RESULTS) as tmp:
            pd.concat([old, pd.DataFrame([record])], ignore_index=True).to_csv(tmp, index=False)
    rows = pd.read_csv(RESULTS)
    print(rows[rows["variant"] == args.name].groupby("condition")[["top5", "rank", "seconds"]].agg(
        {"top5": "mean", "rank": "median", "seconds": "mean"}).to_string())


if __name__ == "__main__":
    main()
