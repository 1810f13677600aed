"""``results/summary.csv``: every number we report, next to the paper's value.

One row per (paper table/figure cell x dataset x metric x model x profile), columns :data:`COLUMNS`.
Conventions:

* Ratio metrics (accuracy, mAP, R@k, mAP@10, MRR) are stored in **percent**, as the paper prints
  them; :func:`result_row` takes values in [0, 1] and converts them (:data:`PERCENT_METRICS`).
* ``paper`` comes from :data:`PAPER_VALUES` -- the only place paper numbers live, each with its
  source -- for the ``wav2clip`` model on the ``paper`` profile; unknown values stay empty.
* ``tolerance`` is declared before the run (:data:`TOLERANCES`, per task, in metric units).
* ``status``: ``not_comparable`` for any non-paper profile (the embedded runs measure other data),
  for an unknown paper value, or a missing result; else ``match`` when ``|ours - paper|`` is within
  ``min(tolerance, max(0.5, ours_std))`` (the paper value lies within our own spread), else
  ``within_tolerance`` when it is within ``tolerance``, else ``mismatch``.
* Rows from several notebooks merge by :data:`KEY` (a rerun replaces its own rows), atomically and
  under a file lock.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._io import atomic_path

__all__ = [
    "COLUMNS",
    "KEY",
    "TASKS",
    "STATUSES",
    "PERCENT_METRICS",
    "PaperValue",
    "PAPER_VALUES",
    "THIRD_PARTY",
    "TOLERANCES",
    "PAPER_REFS",
    "MATCH_MIN",
    "paper_value",
    "decide_status",
    "result_row",
    "current_commit",
    "write_summary",
    "read_summary",
    "render_markdown",
]

COLUMNS = [
    "paper_ref",
    "task",
    "dataset",
    "protocol",
    "metric",
    "model",
    "paper",
    "ours_mean",
    "ours_std",
    "n_seeds",
    "chance",
    "tolerance",
    "status",
    "profile",
    "checkpoint_sha256",
    "commit",
]
KEY = ["paper_ref", "task", "dataset", "protocol", "metric", "model", "profile"]
TASKS = ("classification", "tagging", "zero-shot", "retrieval", "captioning", "data-fraction")
STATUSES = ("match", "within_tolerance", "mismatch", "not_comparable")
PERCENT_METRICS = frozenset(
    {"accuracy", "top5_accuracy", "mAP", "R@1", "R@5", "R@10", "mAP@10", "MRR"}
)
PAPER_PROFILES = frozenset({"paper"})  # profiles whose numbers are comparable with the paper's
MATCH_MIN = 0.5  # percentage points: differences this small always count as a match

# Where a row points in the paper.  The numbering of the paper's tables was not recovered
# (SPEC.md §3), so table rows are named by content; the figures' numbers are known.
PAPER_REFS = {
    "classification": "Table: classification",
    "tagging": "Table: classification",
    "zero-shot": "Table: zero-shot",
    "retrieval": "Table: retrieval",
    "captioning": "Table: captioning",
    "data-fraction": "Figure 2",
    "confusion": "Figure 3",
}


@dataclass(frozen=True)
class PaperValue:
    value: float  # in the metric's reported unit (percent for PERCENT_METRICS)
    source: str  # where the number comes from


_QUOTED = "Wav2CLIP paper (ICASSP 2022) as quoted by third parties; SPEC.md §3"
# (task, dataset, metric) -> the paper's Wav2CLIP value.  Cells not listed are unknown.
PAPER_VALUES: dict[tuple[str, str, str], PaperValue] = {
    ("classification", "esc50", "accuracy"): PaperValue(85.95, _QUOTED),
    ("classification", "urbansound8k", "accuracy"): PaperValue(81.01, _QUOTED),
    ("classification", "vggsound", "accuracy"): PaperValue(46.63, _QUOTED),
    ("tagging", "fsd50k", "mAP"): PaperValue(43.08, _QUOTED),
    ("zero-shot", "esc50", "accuracy"): PaperValue(41.4, _QUOTED),
    ("zero-shot", "urbansound8k", "accuracy"): PaperValue(40.44, _QUOTED),
    ("zero-shot", "vggsound", "accuracy"): PaperValue(10.0, _QUOTED),
}
# Independent re-runs of the released checkpoint (not the paper's numbers): context for the report.
THIRD_PARTY: dict[tuple[str, str, str], list[tuple[str, float]]] = {
    ("classification", "esc50", "accuracy"): [
        ("HEAR 2021 MLP probe", 75.9),
        ("MTEB logistic regression", 72.1),
    ],
    ("tagging", "fsd50k", "mAP"): [("HEAR 2021", 36.2)],
    ("zero-shot", "esc50", "accuracy"): [("MAEB, 'This is a sound of ...'", 40.75)],
    ("zero-shot", "urbansound8k", "accuracy"): [("MAEB, 1024-clip subset", 34.18)],
}
# Declared before any run, in metric units (percentage points for PERCENT_METRICS).  Probe and prompt
# choices were not recovered, so differences of a few points are expected.
TOLERANCES = {
    "classification": 3.0,
    "tagging": 3.0,
    "zero-shot": 5.0,
    "retrieval": 5.0,
    "captioning": 5.0,
    "data-fraction": 5.0,
}


def paper_value(task: str, dataset: str, metric: str, model: str = "wav2clip") -> PaperValue | None:
    """The paper's value for a cell, or ``None`` when unknown (or ``model`` is not Wav2CLIP)."""
    return PAPER_VALUES.get((task, dataset, metric)) if model == "wav2clip" else None


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def decide_status(
    paper: float | None,
    ours_mean: float | None,
    ours_std: float | None,
    tolerance: float | None,
    profile: str,
) -> str:
    """The ``status`` of a row (see the module docstring)."""
    if (
        profile not in PAPER_PROFILES
        or _missing(paper)
        or _missing(ours_mean)
        or _missing(tolerance)
    ):
        return "not_comparable"
    diff = abs(float(ours_mean) - float(paper))  # type: ignore[arg-type]
    spread = 0.0 if _missing(ours_std) else float(ours_std)  # type: ignore[arg-type]
    if diff <= min(float(tolerance), max(MATCH_MIN, spread)):  # type: ignore[arg-type]
        return "match"
    return "within_tolerance" if diff <= float(tolerance) else "mismatch"  # type: ignore[arg-type]


@functools.lru_cache(maxsize=8)
def current_commit(root: str | os.PathLike[str] | None = None) -> str:
    """``git rev-parse HEAD`` of the project (``+dirty`` when tracked files changed); ``""`` outside git."""
    from .config import project_root

    cwd = str(root or project_root())
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return sha + ("+dirty" if dirty else "")


def result_row(
    *,
    task: str,
    dataset: str,
    protocol: str,
    metric: str,
    model: str,
    values: Sequence[float] | float,
    profile: str,
    n_seeds: int | None = None,
    chance: float | None = None,
    paper_ref: str | None = None,
    tolerance: float | None = None,
    checkpoint_sha256: str = "",
    commit: str | None = None,
    scale: float | None = None,
    compare: bool = True,
) -> dict[str, Any]:
    """One summary row from raw results.

    Args:
        values: the per-(fold, seed) scores, or one number, in [0, 1] for :data:`PERCENT_METRICS`.
        n_seeds: seeds behind the values (default: ``len(values)``).
        chance: the chance level in the same unit as ``values``.
        paper_ref: default from :data:`PAPER_REFS` (embedded profiles: ``"embedded"``).
        tolerance: default from :data:`TOLERANCES`.
        scale: multiply values and chance by this (default 100 for percent metrics, else 1).
        compare: ``False`` for a row whose protocol differs from the paper's (e.g. a linear probe
            beside the paper's MLP probe): no paper value, status ``not_comparable``.
    """
    if task not in TASKS:
        raise ValueError(f"task {task!r} is not one of {TASKS}")
    scale = scale if scale is not None else (100.0 if metric in PERCENT_METRICS else 1.0)
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64)) * scale
    if arr.size == 0:
        raise ValueError(f"no values given for {task}/{dataset}/{metric}/{model}")
    ours_mean, ours_std = float(arr.mean()), float(arr.std(ddof=0))
    pv = (
        paper_value(task, dataset, metric, model)
        if (compare and profile in PAPER_PROFILES)
        else None
    )
    paper = pv.value if pv is not None else None
    tolerance = tolerance if tolerance is not None else TOLERANCES.get(task)
    if paper_ref is None:
        paper_ref = PAPER_REFS[task] if profile in PAPER_PROFILES else "embedded"
    return {
        "paper_ref": paper_ref,
        "task": task,
        "dataset": dataset,
        "protocol": protocol,
        "metric": metric,
        "model": model,
        "paper": paper,
        "ours_mean": round(ours_mean, 4),
        "ours_std": round(ours_std, 4),
        "n_seeds": int(n_seeds if n_seeds is not None else arr.size),
        "chance": None if chance is None else round(float(chance) * scale, 4),
        "tolerance": tolerance,
        "status": decide_status(paper, ours_mean, ours_std, tolerance, profile),
        "profile": profile,
        "checkpoint_sha256": checkpoint_sha256 or "",
        "commit": current_commit() if commit is None else commit,
    }


def _validate(frame: pd.DataFrame) -> None:
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"summary rows lack columns {missing}; build them with w2clib.results.result_row"
        )
    bad_task = sorted(set(frame["task"]) - set(TASKS))
    bad_status = sorted(set(frame["status"]) - set(STATUSES))
    if bad_task or bad_status:
        raise ValueError(
            f"invalid task {bad_task} or status {bad_status}; allowed {TASKS} and {STATUSES}"
        )
    if frame.duplicated(KEY).any():
        raise ValueError(
            f"duplicate rows for key {KEY}: {frame[frame.duplicated(KEY)][KEY].head(3).to_dict('records')}"
        )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on the folder of ``path`` (POSIX), so concurrent writers merge,
    not clobber; locking the folder leaves no lock file next to the committed CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # non-POSIX: no lock, writes stay atomic
        yield
        return
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def read_summary(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The summary as a DataFrame with :data:`COLUMNS` (empty when the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=COLUMNS)
    frame = pd.read_csv(path, dtype={"checkpoint_sha256": str, "commit": str, "paper_ref": str})
    for column in ("checkpoint_sha256", "commit"):
        frame[column] = frame[column].fillna("")
    return frame[COLUMNS]


def write_summary(
    rows: Iterable[dict[str, Any]] | pd.DataFrame, path: str | os.PathLike[str]
) -> pd.DataFrame:
    """Merge ``rows`` into the CSV at ``path`` by :data:`KEY` (new rows replace old ones); atomic.

    Returns the whole merged table, sorted by task, dataset, metric, model and profile.
    """
    new = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if new.empty:
        raise ValueError("no rows to write")
    _validate(new)
    path = Path(path)
    with _locked(path):
        old = read_summary(path)
        if not old.empty:
            keys_new = set(map(tuple, new[KEY].astype(str).to_numpy()))
            old = old[[tuple(k) not in keys_new for k in old[KEY].astype(str).to_numpy()]]
        merged = (
            pd.concat([old, new[COLUMNS]], ignore_index=True) if not old.empty else new[COLUMNS]
        )
        merged = merged.sort_values(
            ["task", "dataset", "metric", "model", "profile", "paper_ref", "protocol"],
            kind="stable",
        ).reset_index(drop=True)
        _validate(merged)
        with atomic_path(path) as tmp:
            merged.to_csv(tmp, index=False)
    return merged


def _fmt(v: Any, digits: int = 2) -> str:
    return "" if _missing(v) else f"{float(v):.{digits}f}"


def render_markdown(
    summary: pd.DataFrame | str | os.PathLike[str], *, profile: str | None = None, digits: int = 2
) -> str:
    """The summary as a GitHub-markdown table (README): task, dataset, metric, model, paper, ours, status."""
    frame = read_summary(summary) if not isinstance(summary, pd.DataFrame) else summary
    if profile is not None:
        frame = frame[frame["profile"] == profile]
    header = "| task | dataset | protocol | metric | model | paper | ours (mean ± std) | seeds | chance | status |"
    lines = [header, "|" + "---|" * 10]
    for r in frame.itertuples(index=False):
        ours = (
            ""
            if _missing(r.ours_mean)
            else f"{_fmt(r.ours_mean, digits)} ± {_fmt(r.ours_std, digits)}"
        )
        lines.append(
            f"| {r.task} | {r.dataset} | {r.protocol} | {r.metric} | {r.model} | {_fmt(r.paper, digits)} | "
            f"{ours} | {r.n_seeds} | {_fmt(r.chance, digits)} | {r.status} |"
        )
    return "\n".join(lines) + "\n"
