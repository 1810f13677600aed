"""How much the embedded default's held-out numbers move with the training seed.

One training run gives one number per held-out metric; another machine (other CPU kernels: AVX-512 vs
AVX2 sum in another order) or another seed gives another.  The README therefore reports the
held-out table of notebook 03 as mean ± std over several *training* seeds, and notebook 03 checks a
fresh run against that spread rather than against one lucky run.

:func:`seed_spread` trains the profile's ``pretrain:`` recipe once per seed (the profile's own seed
reuses ``<run_dir>/pretrain``, the others train into ``<run_dir>/spread/seed-<s>``; every run resumes
and is reused like notebook 03's), evaluates each final encoder and its random initialisation on the
``heldout:`` tasks, and writes ``<results_dir>/pretrain_spread.csv`` (one row per seed x model x
metric) and its summary ``pretrain_spread_summary.csv``.  When the profile has a ``real_heldout:`` section
each run is also scored on real recordings held out by source (:mod:`w2clib.evaluate.real_runs`):
``real_heldout_spread.csv`` and ``real_heldout_spread_summary.csv``.  :func:`spread_table` summarises it (mean, std, min, max per metric) and
:func:`spread_threshold` turns a check such as ``{below_mean_std: 3}`` into a number.

    python -m w2clib.training.spread --profile mini --seeds 2021 0 1
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .._io import atomic_path
from ..config import Profile, load_profile, section_config
from .config import load_pretrain_config
from .run import checkpoint_dir, is_finished, run_pretrain

__all__ = ["SPREAD_FILE", "SUMMARY_FILE", "seed_spread", "spread_table", "spread_threshold", "read_spread"]

SPREAD_FILE = "pretrain_spread.csv"  # in the profile's results folder
SUMMARY_FILE = "pretrain_spread_summary.csv"  # spread_table of it (the README's table)
_COLUMNS = ["seed", "model", "task", "metric", "value", "chance", "n_queries", "n_items", "step"]


def _seed_dir(profile: Profile, seed: int, main_seed: int) -> Path:
    return checkpoint_dir(profile) if seed == main_seed else profile.run_dir / "spread" / f"seed-{seed}"


def seed_spread(profile: str | os.PathLike[str] | Profile, seeds: Sequence[int]) -> pd.DataFrame:
    """Train (or reuse) one run per seed and return the held-out table of every run (also written to
    ``<results_dir>/pretrain_spread.csv``, atomically, after each seed so an interrupted call keeps
    what it measured).

    Raises:
        ValueError: fewer than 2 distinct seeds, or a profile without a ``heldout:`` section.
    """
    import w2clib
    from ..evaluate.embedded_heldout import EvalOptions, heldout_evaluator, random_like
    from ..evaluate.real_runs import RealHeldOutOptions, run_table

    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    seeds = list(dict.fromkeys(int(s) for s in seeds))
    if len(seeds) < 2:
        raise ValueError(f"seeds: a spread needs at least 2 distinct seeds, got {seeds}")
    options = prof.section("heldout")
    if not options:
        raise ValueError(f"profile {prof.path} has no heldout: section: nothing to measure the spread on")
    base = load_pretrain_config(prof)
    opts = section_config(EvalOptions, options, where=f"{prof.path}:heldout")
    final = None  # built on first need: a rerun over cached seeds only reads their tables
    tables, real_tables = [], []
    real_opts = RealHeldOutOptions.from_profile(prof)
    for seed in seeds:
        out = _seed_dir(prof, seed, base.seed)
        cached = out / "heldout_final.csv"
        config = base if seed == base.seed else dataclasses.replace(base, seed=seed, nproc_per_node=None)
        if not (cached.is_file() and is_finished(out, config)):  # a table of another recipe's run is stale
            # the main seed is notebook 03's own run (same call, same folder); the others train without
            # the per-epoch hook: only the final encoder counts here
            run_pretrain(prof, out, evaluate=seed == base.seed, config=None if seed == base.seed else config)
            if final is None:
                final = heldout_evaluator(prof, opts, clip_seconds=base.clip_seconds, final=True)
            model = w2clib.load_model(out, device="cpu")
            step = int(pd.read_csv(out / "metrics.csv")["step"].max())
            table = final.table({"trained": model, "random weights": random_like(model, seed)}, seed=seed, step=step)
            with atomic_path(cached) as tmp:
                table.to_csv(tmp, index=False)
        tables.append(pd.read_csv(cached))
        frame = pd.concat(tables, ignore_index=True)[_COLUMNS]
        prof.results_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(prof.results_dir / SPREAD_FILE) as tmp:
            frame.to_csv(tmp, index=False)
        if real_opts is not None:  # the same runs on real recordings held out by source
            real_tables.append(run_table(prof, out, real_opts, clip_seconds=base.clip_seconds, seed=seed))
    if real_tables:
        _write_real_spread(prof, pd.concat(real_tables, ignore_index=True))
    table = spread_table(frame).round(4)
    table.insert(0, "seeds", " ".join(str(s) for s in sorted(set(frame["seed"]))))
    with atomic_path(prof.results_dir / SUMMARY_FILE) as tmp:
        table.to_csv(tmp, index=False)
    return frame


def _write_real_spread(prof: Profile, frame: pd.DataFrame) -> None:
    """``real_heldout_spread.csv`` (every seed's table) and its summary (:func:`spread_summary`)."""
    from ..evaluate.real_runs import SPREAD_FILE as REAL_FILE, SPREAD_SUMMARY_FILE, spread_summary

    with atomic_path(prof.results_dir / REAL_FILE) as tmp:
        frame.to_csv(tmp, index=False)
    with atomic_path(prof.results_dir / SPREAD_SUMMARY_FILE) as tmp:
        spread_summary(frame).round(4).to_csv(tmp, index=False)


def read_spread(path: str | os.PathLike[str]) -> pd.DataFrame:
    """``pretrain_spread.csv`` (a file or the results folder holding it), with a message when absent."""
    path = Path(path)
    path = path / SPREAD_FILE if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"no seed spread at {path}: measure it with "
                                "`python -m w2clib.training.spread --profile PROFILE --seeds 2021 0 1`")
    frame = pd.read_csv(path)
    missing = set(_COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"{path} lacks columns {sorted(missing)}; rewrite it with w2clib.training.spread")
    return frame


def spread_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (model, ``task_metric`` key): ``mean, std`` (population std over seeds), ``min, max, n``."""
    keyed = frame.assign(key=frame["task"] + "_" + frame["metric"])
    return keyed.groupby(["model", "key"], sort=False).agg(
        mean=("value", "mean"), std=("value", lambda v: v.std(ddof=0)), min=("value", "min"),
        max=("value", "max"), n=("value", "count"), chance=("chance", "first")).reset_index()


def spread_threshold(stats: pd.DataFrame, key: str, below_mean_std: float, model: str = "trained") -> float:
    """``mean - below_mean_std * std`` of ``key`` (e.g. ``timgm_prototype_R@1``) for ``model``."""
    row = stats[(stats["model"] == model) & (stats["key"] == key)]
    if row.empty:
        raise KeyError(f"the seed spread has no {model!r} row for {key!r}; it has {sorted(set(stats['key']))}")
    return float(row["mean"].iloc[0] - below_mean_std * row["std"].iloc[0])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m w2clib.training.spread", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="mini", help="profile name or YAML path (default: mini)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[2021, 0, 1], help="training seeds (default: 2021 0 1)")
    args = parser.parse_args(argv)
    prof = load_profile(args.profile)
    frame = seed_spread(prof, args.seeds)
    print(spread_table(frame).round(4).to_string(index=False))
    print(f"written: {prof.results_dir / SPREAD_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
