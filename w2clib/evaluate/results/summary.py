"""``results/summary.csv``: every number we report, next to the paper's value (schema, rows, merge).

One row per (paper table/figure cell x dataset x metric x model x profile), columns :data:`COLUMNS`.
Conventions:

* Ratio metrics (accuracy, mAP, R@k, mAP@10, MRR) are stored in **percent**, as the paper prints
  them; :func:`result_row` takes values in [0, 1] and converts them (:data:`PERCENT_METRICS`).
* ``paper`` comes from :data:`~w2clib.evaluate.results.paper.PAPER_VALUES` -- the only place paper numbers live, each with its
  source -- for the ``wav2clip`` model of a profile with ``compare_with_paper: true``; unknown values
  stay empty.
* ``tolerance`` is declared before the run (:data:`~w2clib.evaluate.results.paper.TOLERANCES`, per task, in metric units).
* ``status``: ``not_comparable`` for a row without a paper value (a profile that does not compare
  with the paper, e.g. the embedded runs measure other data; an unknown paper value), or a missing
  result; else ``match`` when ``|ours - paper|`` is within
  ``min(tolerance, max(0.5, ours_std))`` (the paper value lies within our own spread), else
  ``within_tolerance`` when it is within ``tolerance``, else ``mismatch``.
* ``skipped``: a model or evaluation set the profile asked for that could not run here (a pretrained
  baseline without its package or weights, a dataset that is not prepared): no numbers, the reason
  in ``note``.  A gap in a table is never silent.
* Rows from several notebooks merge by :data:`KEY` (a rerun replaces its own rows), atomically and
  under a file lock.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..._io import atomic_path
from .paper import PAPER_REFS, TOLERANCES, decide_status, paper_value

__all__ = [
    "COLUMNS",
    "KEY",
    "TASKS",
    "STATUSES",
    "PERCENT_METRICS",
    "current_commit",
    "result_row",
    "skipped_row",
    "read_summary",
    "write_summary",
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
    "note",
]
KEY = ["paper_ref", "task", "dataset", "protocol", "metric", "model", "profile"]
TASKS = ("classification", "tagging", "zero-shot", "retrieval", "captioning", "data-fraction")
STATUSES = ("match", "within_tolerance", "mismatch", "not_comparable", "skipped")
PERCENT_METRICS = frozenset(
    {"accuracy", "top5_accuracy", "mAP", "R@1", "R@5", "R@10", "mAP@10", "MRR"}
)


@functools.lru_cache(maxsize=8)
def current_commit(root: str | os.PathLike[str] | None = None) -> str:
    """``git rev-parse HEAD`` of the project (``+dirty`` when tracked files changed); ``""`` outside git."""
    from ...config import project_root

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
    compare_with_paper: bool = False,
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
        compare_with_paper: the profile's ``compare_with_paper`` field: only then does a row get the
            paper's value (and so a status other than ``not_comparable``).
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
        if (compare and compare_with_paper)
        else None
    )
    paper = pv.value if pv is not None else None
    tolerance = tolerance if tolerance is not None else TOLERANCES.get(task)
    if paper_ref is None:
        paper_ref = PAPER_REFS[task] if compare_with_paper else "embedded"
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
        "status": decide_status(paper, ours_mean, ours_std, tolerance),
        "profile": profile,
        "checkpoint_sha256": checkpoint_sha256 or "",
        "commit": current_commit() if commit is None else commit,
        "note": "",
    }


def skipped_row(
    *,
    task: str,
    model: str,
    reason: str,
    profile: str,
    dataset: str = "*",
    protocol: str = "",
    compare_with_paper: bool = False,
    checkpoint_sha256: str = "",
    commit: str | None = None,
) -> dict[str, Any]:
    """A row saying that ``model`` (on ``dataset``; ``"*"``: every set of the task) did not run, and why.

    Its status is ``skipped``, its numbers are empty and ``note`` holds ``reason`` (one line).
    """
    if task not in TASKS:
        raise ValueError(f"task {task!r} is not one of {TASKS}")
    if not reason.strip():
        raise ValueError(f"skipped_row({task}/{dataset}/{model}) needs the reason it did not run")
    return {
        "paper_ref": PAPER_REFS[task] if compare_with_paper else "embedded",
        "task": task,
        "dataset": dataset,
        "protocol": protocol,
        "metric": "-",
        "model": model,
        "paper": None,
        "ours_mean": None,
        "ours_std": None,
        "n_seeds": 0,
        "chance": None,
        "tolerance": None,
        "status": "skipped",
        "profile": profile,
        "checkpoint_sha256": checkpoint_sha256 or "",
        "commit": current_commit() if commit is None else commit,
        "note": " ".join(reason.split()),
    }


def _validate(frame: pd.DataFrame) -> None:
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"summary rows lack columns {missing}; build them with w2clib.evaluate.results.result_row"
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
    frame = pd.read_csv(path, dtype={"checkpoint_sha256": str, "commit": str, "paper_ref": str, "note": str,
                                     "protocol": str})
    if "note" not in frame.columns:  # written before skipped rows existed
        frame["note"] = ""
    for column in ("checkpoint_sha256", "commit", "note", "protocol"):  # "" reads back as NaN
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
