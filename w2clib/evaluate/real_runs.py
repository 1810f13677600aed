"""A profile's training runs scored on real recordings held out by source, and the spread over seeds.

:mod:`.real_heldout` scores one encoder; this module applies it the way notebook 03 and
``python -m w2clib.training.spread`` need it:

* :class:`RealHeldOutOptions` -- the profile's ``real_heldout:`` section (absent: no such table);
* :func:`run_table` -- the table of one run folder (trained encoder, random weights of
  ``random_seeds``, the leave-one-source-out log-mel map, chance), on every held-out source the run
  did not train on; cached in the run folder and recomputed when the checkpoint changes;
* :func:`spread_summary` -- per (source, task): the trained encoder's mean and std over training
  seeds, random weights' mean and std over their seeds, log-mel statistics, chance;
* :func:`separation` -- the acceptance rule: the trained encoder's mean - std lies above random
  weights' mean + std and above chance, and its margin over random weights is at least ``factor``
  times random weights' distance from chance (so a margin that is only random weights falling below
  chance does not count).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .._io import atomic_path
from ..config import Profile, load_profile, section_config
from .real_heldout import by_model, heldout_sources, real_heldout_evaluator, trained_real_sources

__all__ = [
    "CACHE_NAME",
    "SPREAD_FILE",
    "SPREAD_SUMMARY_FILE",
    "TABLE_FILE",
    "RealHeldOutOptions",
    "run_table",
    "separation",
    "spread_summary",
]

CACHE_NAME = "heldout_real.csv"  # in a run folder
TABLE_FILE = "real_heldout.csv"  # in the results folder: the profile's own run
SPREAD_FILE = "real_heldout_spread.csv"  # in the results folder: one table per training seed
SPREAD_SUMMARY_FILE = "real_heldout_spread_summary.csv"


@dataclass(frozen=True)
class RealHeldOutOptions:
    """The ``real_heldout:`` section of a profile (notebook 03's table on real recordings)."""

    templates: str = "clip_ensemble"  # zero-shot prompt set (w2clib.evaluate.zeroshot.TEMPLATE_SETS)
    random_seeds: tuple[int, ...] = (0, 1, 2)  # random-weight baselines
    sources: tuple[str, ...] | None = None  # None: every held-out source the run did not train on

    def __post_init__(self) -> None:
        object.__setattr__(self, "random_seeds", tuple(int(s) for s in self.random_seeds))
        if self.sources is not None:
            object.__setattr__(self, "sources", tuple(self.sources))
        if len(set(self.random_seeds)) < 2:
            raise ValueError(f"real_heldout.random_seeds: give at least 2 distinct seeds (a spread), got "
                             f"{list(self.random_seeds)}")

    @classmethod
    def from_profile(cls, profile: Profile) -> RealHeldOutOptions | None:
        section = profile.section("real_heldout")
        return section_config(cls, section, where=f"{profile.path}:real_heldout") if section else None


def _manifest(profile: Profile) -> pd.DataFrame:
    from ..data.embedded.profile import DataConfig, prepare_datasets

    data_cfg = section_config(DataConfig, profile.section("data"), where=f"{profile.path}:data")
    prepared = prepare_datasets(dataclasses.replace(data_cfg, datasets=("real_sounds",)), validate=False)
    return prepared["real_sounds"].manifest


def run_table(profile: str | os.PathLike[str] | Profile, run_dir: str | os.PathLike[str],
              options: RealHeldOutOptions, *, clip_seconds: float, **columns: Any) -> pd.DataFrame:
    """The long table (:meth:`RealHeldOutEvaluator.table`) of the encoder in ``run_dir``, with a
    ``checkpoint`` column (its SHA-256) and ``columns``; read from ``run_dir``'s cache when it was
    written for the same checkpoint, sources and options."""
    import w2clib
    from ..teachers import teacher_from_description
    from .embedded_heldout import random_like

    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    run_dir = Path(run_dir)
    model = w2clib.load_model(run_dir, device="cpu")
    manifest = _manifest(prof)
    sources = list(options.sources) if options.sources is not None else \
        heldout_sources(manifest, trained_real_sources(run_dir))
    # what the cached table was computed from: one column each, compared as text
    stamp = {"checkpoint": model.checkpoint_sha256, "sources": " ".join(sources), "templates_set": options.templates,
             "random_seeds": " ".join(str(s) for s in options.random_seeds), "clip_seconds": str(float(clip_seconds))}
    cached = run_dir / CACHE_NAME
    if cached.is_file():
        table = pd.read_csv(cached, keep_default_na=False, dtype={k: str for k in stamp})
        if len(table) and all(k in table and table[k].iloc[0] == v for k, v in stamp.items()):
            return table.assign(**columns) if columns else table
    teacher = teacher_from_description(model.config.teacher)
    evaluator = real_heldout_evaluator(teacher, manifest, sources=sources, templates=options.templates,
                                       clip_seconds=clip_seconds)
    models = {"trained": model, **{f"random_seed{s}": random_like(model, s) for s in options.random_seeds}}
    table = evaluator.table(models).assign(**stamp)
    with atomic_path(cached) as tmp:
        table.to_csv(tmp, index=False)
    return table.assign(**columns) if columns else table


def _per_model(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per (seed, source, task) of :func:`.real_heldout.by_model`, the seed as a column."""
    return pd.concat([by_model(one, metric).assign(seed=seed) for seed, one in frame.groupby("seed", sort=True)]
                     ).reset_index()


def spread_summary(frame: pd.DataFrame, metric: str = "MRR", factor: float = 1.5) -> pd.DataFrame:
    """Per (source, task), incl. the pooled set ``all`` and the macro ``mean`` over sources: the
    trained encoder's mean and std over training seeds (``seed`` column of ``frame``), random
    weights' mean and std over their seeds, log-mel statistics (mean over training seeds: it does
    not depend on them), chance, and whether :func:`separation` holds at ``factor``."""
    wide = _per_model(frame, metric)
    random_cols = [c for c in wide.columns if str(c).startswith("random_seed")]
    rows = []
    for (source, task), part in wide.groupby(["source", "task"], sort=True):
        first = part.iloc[0]  # random weights and log-mel do not depend on the training seed
        result = separation(part["trained"].tolist(), [float(first[c]) for c in random_cols],
                            float(first["chance"]), factor)
        rows.append({"source": source, "task": task, "metric": metric, **result,
                     "logmel_stats": float(part["logmel_stats"].mean()) if "logmel_stats" in part else float("nan"),
                     "seeds": " ".join(str(s) for s in sorted(part["seed"]))})
    return pd.DataFrame(rows)


def separation(trained: Sequence[float], random: Sequence[float], chance: float, factor: float = 1.5) -> dict[str, Any]:
    """The acceptance rule on one metric: trained mean - std > random mean + std, trained mean - std >
    chance, and (trained mean - random mean) >= ``factor`` * |random mean - chance|.  Stds are sample
    stds (ddof 1; 0 for a single value)."""
    t, r = pd.Series(list(trained), dtype=float), pd.Series(list(random), dtype=float)
    t_std = float(t.std(ddof=1)) if len(t) > 1 else 0.0
    r_std = float(r.std(ddof=1)) if len(r) > 1 else 0.0
    t_mean, r_mean = float(t.mean()), float(r.mean())
    margin, needed = t_mean - r_mean, factor * abs(r_mean - chance)
    passes = t_mean - t_std > r_mean + r_std and t_mean - t_std > chance and margin >= needed
    return {"trained": t_mean, "trained_std": t_std, "n_trained": len(t), "random": r_mean, "random_std": r_std,
            "chance": float(chance), "margin": margin, "needed": needed, "passes": bool(passes)}
