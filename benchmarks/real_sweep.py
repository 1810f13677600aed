"""Sweep of the embedded pre-training run, scored on real recordings held out by source.

    python benchmarks/real_sweep.py run NAME '{"mix_prob": 0.5}' ['{"real_per_batch": 8}'] [--seed 0]
    python benchmarks/real_sweep.py run NAME --from-run runs/mini/pretrain   # score a finished run as it is
    python benchmarks/real_sweep.py table      # -> real_sweep_mini_summary.csv (docs/embedded_data.md)

``run`` trains the mini profile's ``pretrain:`` section with the given overrides (second JSON:
overrides of ``data_options``) into ``runs/real_sweep/NAME-sSEED`` and appends two tables to
``benchmarks/results/real_sweep_mini.csv``:

* the held-out real-recording sources (:mod:`w2clib.evaluate.real_heldout`; every source of
  ``real_sounds`` the run did not train on): the trained encoder, random weights (seeds 0, 1, 2)
  and the leave-one-source-out log-mel map, with chance;
* the embedded held-out table notebook 03 reports (TimGM6mb clips -> class prototypes, held-out
  Tux Paint sounds -> photos), trained encoder only, under ``source = "embedded"``.

Unlike ``pretrain_sweep.py`` (whose base is the settings that sweep started from) the base here is
the mini profile as committed, so a row says what one change does to the shipped recipe.  Needs the
mini data and teacher caches (``./reproduce.sh`` or notebooks 01-02).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "real_sweep_mini.csv"
SUMMARY = RESULTS.with_name("real_sweep_mini_summary.csv")
HEADLINE = [("all", "zeroshot"), ("all", "label"), ("mean", "image"), ("mean", "zeroshot"),
            ("mean", "label")]


def run(name: str, overrides: dict, data_overrides: dict, seed: int, from_run: Path | None = None) -> pd.DataFrame:
    """Train (or, with ``from_run``, take the finished run folder there as it is) and score."""
    import w2clib
    from w2clib.config import load_profile
    from w2clib.evaluate.embedded_heldout import EvalOptions, heldout_evaluator, random_like
    from w2clib.evaluate.real_heldout import heldout_sources, real_heldout_evaluator
    from w2clib.data import load_manifest, prepare
    from w2clib.training import load_pretrain_config
    from w2clib.training.embedded import load_profile_teacher
    from w2clib.training.run import run_pretrain

    mini = load_profile("mini")
    if from_run is not None:  # an existing run (e.g. an earlier recipe's): its own saved config
        from w2clib.training.config import PretrainConfig

        out = Path(from_run)
        config = PretrainConfig.from_dict(json.loads((out / "config.json").read_text())["training"]["pretrain"])
        train_s = json.loads((out / "done.json").read_text()).get("seconds_this_call", float("nan"))
        seed = config.seed
    else:
        base = load_pretrain_config(mini)
        config = base.replace(**overrides, seed=seed, progress=False,
                              data_options={**base.data_options, **data_overrides})
        out = ROOT / "runs" / "real_sweep" / f"{name}-s{seed}"
        began = time.time()
        run_pretrain(mini, out, config=config, evaluate=False)
        train_s = time.time() - began
    model = w2clib.load_model(out, device="cpu")

    prepare("real_sounds")
    manifest = load_manifest("real_sounds")
    teacher = load_profile_teacher(mini)
    sources = heldout_sources(manifest, config.data_options.get("real_sources", []))
    real = real_heldout_evaluator(teacher, manifest, sources=sources, clip_seconds=config.clip_seconds)
    table = real.table({"trained": model, **{f"random_seed{s}": random_like(model, s) for s in (0, 1, 2)}})
    embedded = heldout_evaluator(mini, EvalOptions(), clip_seconds=config.clip_seconds)
    emb = embedded.table({"trained": model}, run=name).drop(columns=["run"], errors="ignore")
    emb = emb.assign(source="embedded")
    table = pd.concat([table, emb], ignore_index=True)
    table.insert(0, "seed", seed)
    table.insert(0, "run", name)
    table["overrides"] = json.dumps({**overrides, **data_overrides}, sort_keys=True) if from_run is None else \
        f"run folder {out.name} ({name})"
    table["train_s"] = round(train_s, 1)
    old = pd.read_csv(RESULTS) if RESULTS.is_file() else pd.DataFrame()
    if not old.empty:
        old = old[~((old["run"] == name) & (old["seed"] == seed))]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    pd.concat([old, table], ignore_index=True).to_csv(RESULTS, index=False)
    return table


def summary(results: pd.DataFrame, metric: str = "MRR") -> pd.DataFrame:
    """Per run: mean +- std over its seeds of the headline MRRs (held-out sources, pooled and macro
    mean), random weights' mean over all runs' seeds, chance, and the embedded TimGM R@1."""
    from w2clib.evaluate.real_heldout import summarise

    rows = []
    for (run, seed), part in results.groupby(["run", "seed"], sort=False):
        real = summarise(part[part["source"] != "embedded"], metric).set_index(["source", "task"])
        row = {"run": run, "seed": seed, "overrides": part["overrides"].iloc[0], "train_s": part["train_s"].iloc[0]}
        for source, task in HEADLINE:
            if (source, task) in real.index:
                for col in ("trained", "random", "chance"):
                    row[f"{source}_{task}_{col}"] = real.loc[(source, task), col]
        emb = part[(part["source"] == "embedded") & (part["metric"] == "R@1")]
        for task in ("timgm_prototype", "tux_photo"):
            hit = emb[emb["task"] == task]["value"]
            row[f"{task}_R@1"] = float(hit.iloc[0]) if len(hit) else float("nan")
        rows.append(row)
    per_seed = pd.DataFrame(rows)
    value_cols = [c for c in per_seed.columns if c not in ("run", "seed", "overrides")]
    grouped = per_seed.groupby(["run", "overrides"], sort=False)[value_cols]
    out = grouped.mean().round(3)
    std = grouped.std(ddof=1).round(3).add_suffix("_std")
    out = out.join(std[[c for c in std.columns if c.endswith("trained_std") or c.endswith("R@1_std")]])
    out.insert(0, "seeds", per_seed.groupby(["run", "overrides"], sort=False)["seed"].count())
    return out.reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("run", help="train one setting and score it")
    one.add_argument("name")
    one.add_argument("overrides", nargs="?", default="{}", help="JSON: pretrain fields")
    one.add_argument("data_overrides", nargs="?", default="{}", help="JSON: pretrain.data_options fields")
    one.add_argument("--seed", type=int, default=2021)
    one.add_argument("--from-run", type=Path, default=None,
                     help="score this finished run folder instead of training (its saved config and seed)")
    sub.add_parser("table", help="write and print the summary")
    args = parser.parse_args()
    if args.command == "run":
        table = run(args.name, json.loads(args.overrides), json.loads(args.data_overrides), args.seed, args.from_run)
        print(summary(table.assign(run=args.name)).T.to_string())
    else:
        table = summary(pd.read_csv(RESULTS))
        table.to_csv(SUMMARY, index=False)
        print(table.T.to_string())


if __name__ == "__main__":
    main()
