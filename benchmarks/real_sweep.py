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
        "scored from finished run folders (--from-run)"
    table["run_dir"] = str(out.relative_to(ROOT)) if out.is_relative_to(ROOT) else str(out)
    table["train_s"] = round(train_s, 1)
    old = pd.read_csv(RESULTS) if RESULTS.is_file() else pd.DataFrame()
    if not old.empty:
        old = old[~((old["run"] == name) & (old["seed"] == seed))]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    pd.concat([old, table], ignore_index=True).to_csv(RESULTS, index=False)
    return table


COLUMNS = {  # summary column -> (source, task) of the held-out real sources (MRR), or the embedded table
    "pooled zero-shot MRR": ("all", "zeroshot"),
    "mean zero-shot MRR": ("mean", "zeroshot"),
    "mean audio->image MRR": ("mean", "image"),
    "Scratch audio->image MRR": ("scratch", "image"),
    "mean audio->label MRR": ("mean", "label"),
}
EMBEDDED = {"TimGM prototype R@1": "timgm_prototype", "Tux photo R@1": "tux_photo"}


def _cell(values: pd.Series) -> str:
    values = values.dropna()
    if len(values) > 1:
        return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}"
    return f"{values.iloc[0]:.3f}" if len(values) else ""


def summary(results: pd.DataFrame, metric: str = "MRR") -> pd.DataFrame:
    """Per run: mean ± sample std over its seeds of the headline numbers (held-out real sources and
    the embedded held-out table), then random weights (seeds 0, 1, 2) and chance."""
    from w2clib.evaluate.real_heldout import summarise

    per_seed, baseline = [], {}
    for (run, seed), part in results.groupby(["run", "seed"], sort=False):
        real = summarise(part[part["source"] != "embedded"], metric).set_index(["source", "task"])
        row = {"run": run, "seed": seed, "changes": part["overrides"].iloc[0]}
        for column, key in COLUMNS.items():
            row[column] = real.loc[key, "trained"] if key in real.index else float("nan")
            if key in real.index:
                baseline.setdefault(column, (real.loc[key, "random"], real.loc[key, "random_std"], real.loc[key, "chance"]))
        emb = part[(part["source"] == "embedded") & (part["metric"] == "R@1") & (part["model"] == "trained")]
        for column, task in EMBEDDED.items():
            hit = emb.loc[emb["task"] == task, "value"]
            row[column] = float(hit.iloc[0]) if len(hit) else float("nan")
        per_seed.append(row)
    frame = pd.DataFrame(per_seed)
    rows = []
    for (run, changes), part in frame.groupby(["run", "changes"], sort=False):
        rows.append({"run": run, "seeds": " ".join(str(s) for s in sorted(part["seed"])), "changes": changes,
                     **{c: _cell(part[c]) for c in [*COLUMNS, *EMBEDDED]}})
    rows.append({"run": "random weights", "seeds": "0 1 2", "changes": "the same architecture, untrained",
                 **{c: f"{baseline[c][0]:.3f} ± {baseline[c][1]:.3f}" for c in COLUMNS if c in baseline}})
    rows.append({"run": "chance", "seeds": "", "changes": "exact expectation of a random ranking",
                 **{c: f"{baseline[c][2]:.3f}" for c in COLUMNS if c in baseline}})
    return pd.DataFrame(rows).fillna("")


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
        print(summary(table).T.to_string())
    else:
        table = summary(pd.read_csv(RESULTS))
        table.to_csv(SUMMARY, index=False)
        print(table.to_markdown(index=False))


if __name__ == "__main__":
    main()
