"""Notebook 10's judge over several pre-trained encoders: the spread its check is held to.

    python benchmarks/generation_encoders.py run runs/mini/pretrain runs/mini/spread/seed-0 runs/mini/spread/seed-1 \
        --recipe mix_real8
    python benchmarks/generation_encoders.py table    # -> generation_encoders_mini_summary.csv

A fresh clone trains its own encoder, so the margin notebook 10 asserts (trained encoder over random
weights on the judge's top-5 agreement) must hold for other training seeds of the same recipe, not
only for the committed run.  ``run`` draws the ``audio`` pictures of the mini profile's
``generation:`` section (same classes, clips, settings and drawing seed) for each encoder folder,
judges them with the notebook's functions and appends per-picture rows to
``benchmarks/results/generation_encoders_mini.csv``.  The conditions that do not depend on the
encoder (random weights, text, unrelated, and the mixtures) are judged for the profile's own run
(``<run_dir>/pretrain``) only, whose pictures are notebook 10's (same cache: run the notebook first
and they are reused).  Pictures are cached by content, so an interrupted run resumes.  ``--profile`` names another
profile (or a YAML file extending one, e.g. to pin ``pretrain.num_threads``).  ``--recipe`` names the
pre-training recipe the folders were trained with (rows and the summary are per recipe).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
ROWS = RESULTS / "generation_encoders_mini.csv"
SUMMARY = RESULTS / "generation_encoders_mini_summary.csv"


def _write(frame: pd.DataFrame, path: Path) -> None:
    from w2clib._io import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def run(profile: str, folders: list[str], recipe: str) -> None:
    from w2clib.config import load_profile
    from w2clib.evaluate.suite import load_context
    from w2clib.generate import generation_config, load_judge
    from w2clib.generate.experiment import draw_all, judge_table, plan_targets, teacher_ranks

    for folder in folders:
        P = load_profile(profile, [f"evaluate.checkpoint={folder}"])
        ctx = load_context(P)
        cfg = generation_config(P)
        plan, targets = plan_targets(ctx, cfg)
        own = Path(folder).resolve() == (P.run_dir / "pretrain").resolve()
        if not own:  # the controls do not depend on the encoder: the profile's own run has them
            keep = (plan["condition"] == "audio").to_numpy()
            plan, targets = plan[keep].reset_index(drop=True), targets[keep]
        teacher = ctx.teacher()
        began = time.time()
        drawn = draw_all(plan, targets, teacher, cfg, (P.run_dir if own else Path(folder)) / cfg.out_dir)
        scores = judge_table(drawn, load_judge(cfg.judges[0]), cfg)
        scores = scores.merge(teacher_ranks(plan, targets, teacher, cfg), on=["job", "class"], how="left")
        scores.insert(0, "encoder", folder)
        scores.insert(0, "recipe", recipe)
        scores["checkpoint_sha256"] = ctx.checkpoint_sha256
        old = pd.read_csv(ROWS) if ROWS.is_file() else pd.DataFrame()
        if not old.empty:
            old = old[~((old["encoder"] == folder) & (old["recipe"] == recipe) & old["job"].isin(scores["job"]))]
        _write(pd.concat([old, scores], ignore_index=True), ROWS)
        print(f"{folder}: {len(drawn)} pictures in {time.time() - began:.0f} s")
    table()


def table() -> None:
    from w2clib.generate.experiment import judge_summary

    rows = pd.read_csv(ROWS)
    per_encoder = pd.concat([judge_summary(group).assign(recipe=recipe, encoder=encoder)
                             for (recipe, encoder), group in rows.groupby(["recipe", "encoder"])])
    per_encoder = per_encoder.set_index(["recipe", "condition", "encoder"]).sort_index()[
        ["pictures", "top5", "top1", "median_rank", "teacher_top5"]]
    out = per_encoder.groupby(["recipe", "condition"]).agg(
        encoders=("top5", "size"), pictures=("pictures", "sum"), top5_mean=("top5", "mean"),
        top5_std=("top5", "std"), top5_min=("top5", "min"), top1_mean=("top1", "mean"),
        median_rank=("median_rank", "median"), teacher_top5_mean=("teacher_top5", "mean"))
    out = out.reset_index().round(3)
    _write(out, SUMMARY)
    print(per_encoder.round(3).to_string())
    print(out.to_string(index=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="draw and judge the audio pictures of each encoder folder")
    r.add_argument("folders", nargs="+", help="pre-training run folders (the profile's own: with the controls)")
    r.add_argument("--profile", default="mini")
    r.add_argument("--recipe", required=True, help="the recipe the folders were trained with (e.g. mix_real8)")
    sub.add_parser("table", help="summarise the rows already measured")
    args = parser.parse_args()
    run(args.profile, args.folders, args.recipe) if args.command == "run" else table()


if __name__ == "__main__":
    main()
