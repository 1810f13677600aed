"""``results/summary.csv``: every number we report, next to the paper's value.

One row per (paper table/figure cell x dataset x metric x model x profile), columns :data:`COLUMNS`.
Conventions:

* Ratio metrics (accuracy, mAP, R@k, mAP@10, MRR) are stored in **percent**, as the paper prints
  them; :func:`result_row` takes values in [0, 1] and converts them (:data:`PERCENT_METRICS`).
* ``paper`` comes from :data:`PAPER_VALUES` -- the only place paper numbers live, each with its
  source -- for the ``wav2clip`` model of a profile with ``compare_with_paper: true``; unknown values
  stay empty.
* ``tolerance`` is declared before the run (:data:`TOLERANCES`, per task, in metric units).
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
    "skipped_row",
    "current_commit",
    "write_summary",
    "read_summary",
    "markdown_table",
    "render_markdown",
    "paper_reference",
    "render_report",
    "reading_order",
    "render_wide",
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
MATCH_MIN = 0.5  # percentage points: differences this small always count as a match

# Where a row points in the paper.  The numbering of the paper's tables was not recovered
# (docs/paper_numbers.md), so table rows are named by content; the figures' numbers are known.
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


_QUOTED = "Wav2CLIP paper (ICASSP 2022) as quoted by third parties; docs/paper_numbers.md"
_MS_CLAP = "MS-CLAP paper (Elizalde et al., arXiv 2206.04769), Table 1: 0.0302; docs/paper_numbers.md"
# (task, dataset, metric) -> the paper's Wav2CLIP value.  Cells not listed are unknown.
PAPER_VALUES: dict[tuple[str, str, str], PaperValue] = {
    ("classification", "esc50", "accuracy"): PaperValue(85.95, _QUOTED),
    ("classification", "urbansound8k", "accuracy"): PaperValue(81.01, _QUOTED),
    ("classification", "vggsound", "accuracy"): PaperValue(46.63, _QUOTED),
    ("tagging", "fsd50k", "mAP"): PaperValue(43.08, _QUOTED),
    ("zero-shot", "esc50", "accuracy"): PaperValue(41.4, _QUOTED),
    ("zero-shot", "urbansound8k", "accuracy"): PaperValue(40.44, _QUOTED),
    ("zero-shot", "vggsound", "accuracy"): PaperValue(10.0, _QUOTED),
    ("zero-shot", "fsd50k", "mAP"): PaperValue(3.02, _MS_CLAP),
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
    ("zero-shot", "fsd50k", "mAP"): [("ReCLAP / AF-CLAP re-runs", 3.0)],
}
# Declared before any run, in metric units (percentage points for PERCENT_METRICS).  Probe and prompt
# choices were not recovered, so differences of a few points are expected.
TOLERANCES = {
    "classification": 3.0,
    "tagging": 3.0,
    "zero-shot": 5.0,
    "retrieval": 5.0,
    "captioning": 0.05,  # caption metrics are reported as fractions (CIDEr-D up to 10), as DCASE prints them
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
) -> str:
    """The ``status`` of a row (see the module docstring): ``not_comparable`` without a paper value."""
    if (
        _missing(paper)
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


def _fmt(v: Any, digits: int = 2) -> str:
    return "" if _missing(v) else f"{float(v):.{digits}f}"


def markdown_table(frame: pd.DataFrame) -> str:
    """``frame`` (cells already formatted as text) as a GitHub-markdown table, without the index.

    ``DataFrame.to_markdown`` (tabulate's ``github`` format); cells are taken as they are, so numbers
    keep the digits they were formatted with.
    """
    return frame.astype(str).to_markdown(index=False, tablefmt="github", disable_numparse=True)


def render_markdown(
    summary: pd.DataFrame | str | os.PathLike[str], *, profile: str | None = None, digits: int = 2
) -> str:
    """The summary as a GitHub-markdown table (README): task, dataset, metric, model, paper, ours, status."""
    frame = read_summary(summary) if not isinstance(summary, pd.DataFrame) else summary
    if profile is not None:
        frame = frame[frame["profile"] == profile]
    frame = frame.reset_index(drop=True)
    table = pd.DataFrame(
        {
            "task": frame["task"],
            "dataset": frame["dataset"],
            "protocol": frame["protocol"],
            "metric": frame["metric"],
            "model": frame["model"],
            "paper": [_fmt(v, digits) for v in frame["paper"]],
            "ours (mean ± std)": [
                "" if _missing(m) else f"{_fmt(m, digits)} ± {_fmt(s, digits)}"
                for m, s in zip(frame["ours_mean"], frame["ours_std"])
            ],
            "seeds": frame["n_seeds"],
            "chance": [_fmt(v, digits) for v in frame["chance"]],
            "status": frame["status"],
        }
    )
    return markdown_table(table) + "\n"


TASK_TITLES = {
    "classification": "Classification with frozen embeddings",
    "tagging": "Tagging with frozen embeddings",
    "zero-shot": "Zero-shot classification",
    "retrieval": "Cross-modal retrieval",
    "captioning": "Captioning",
    "data-fraction": "Accuracy vs labelled training data (Figure 2)",
}


def paper_reference() -> pd.DataFrame:
    """The paper's known Wav2CLIP values (:data:`PAPER_VALUES`) beside independent re-runs of the
    released checkpoint (:data:`THIRD_PARTY`): ``task, dataset, metric, paper, tolerance, reruns, source``."""
    rows = []
    for (task, dataset, metric), pv in PAPER_VALUES.items():
        others = "; ".join(f"{name}: {value:g}" for name, value in THIRD_PARTY.get((task, dataset, metric), []))
        rows.append({"task": task, "dataset": dataset, "metric": metric, "paper": pv.value,
                     "tolerance": TOLERANCES.get(task), "reruns": others, "source": pv.source})
    return pd.DataFrame(rows)


_METRIC_ORDER = ["accuracy", "top5_accuracy", "mAP", "R@1", "R@5", "R@10", "MRR", "mAP@10"]


def _natural(text: str) -> str:
    """A sort key in which "2% of ..." comes before "10% of ...": numbers are zero-padded."""
    import re

    return re.sub(r"\d+(?:\.\d+)?", lambda m: f"{float(m.group()):016.6f}", text)


def reading_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows grouped as a reader compares them: task, dataset, protocol (numbers in order), metric,
    then the models with Wav2CLIP first."""
    keys = frame.assign(
        _task=frame["task"].map(lambda t: TASKS.index(t) if t in TASKS else len(TASKS)),
        _protocol=frame["protocol"].astype(str).map(_natural),
        _metric=frame["metric"].map(lambda m: _METRIC_ORDER.index(m) if m in _METRIC_ORDER else len(_METRIC_ORDER)),
        _model=frame["model"].map(lambda m: f"{int(m != 'wav2clip')}{m}"),
    )
    keys = keys.sort_values(["_task", "dataset", "_protocol", "_metric", "_model"], kind="stable")
    return keys.drop(columns=["_task", "_protocol", "_metric", "_model"])


def render_wide(frame: pd.DataFrame, *, digits: int = 2) -> str:
    """Summary rows as a markdown table with one column per model (Wav2CLIP first).

    One line per (dataset, protocol, metric); cells are ``mean ± std`` (the std only when several
    values stand behind the mean).  ``paper`` and ``status`` are those of the Wav2CLIP row, the only
    one ever held against the paper.  Data-fraction lines are keyed by the fraction alone, so a probe
    and the from-scratch model at the same fraction share a line.
    """
    if frame.empty:
        raise ValueError("no rows to render")
    frame = reading_order(frame)
    key = frame["protocol"].astype(str)
    key = key.where(frame["task"] != "data-fraction", key.str.split(", ").str[0])
    frame = frame.assign(_key=key)
    models = list(dict.fromkeys(frame["model"]))
    models.sort(key=lambda m: m != "wav2clip")
    header = ["dataset", "protocol", "metric", "chance", *models, "paper", "status"]
    rows = []
    for (dataset, key_value, metric), part in frame.groupby(["dataset", "_key", "metric"], sort=False):
        cells = {}
        for r in part.itertuples(index=False):
            spread = f" ± {_fmt(r.ours_std, digits)}" if int(r.n_seeds) > 1 or float(r.ours_std or 0) > 0 else ""
            cells[r.model] = f"{_fmt(r.ours_mean, digits)}{spread}"
        ours = part[part["model"] == "wav2clip"]
        paper = _fmt(ours["paper"].iloc[0], digits) if len(ours) else ""
        status = str((ours if len(ours) else part)["status"].iloc[0])
        chance = _fmt(part["chance"].dropna().iloc[0], digits) if part["chance"].notna().any() else ""
        rows.append([dataset, key_value, metric, chance, *[cells.get(m, "") for m in models], paper, status])
    return markdown_table(pd.DataFrame(rows, columns=header)) + "\n"


def _short_commit(commit: str) -> str:
    return commit[:12] + ("+dirty" if commit.endswith("+dirty") else "")


def render_report(
    summary: pd.DataFrame | str | os.PathLike[str], *, profile: str, compare_with_paper: bool = False,
    digits: int = 2, header: str = ""
) -> str:
    """``summary.md``: one markdown table per task (rows of ``profile``, :func:`render_wide`), with the
    checkpoint and commit.

    Without ``compare_with_paper`` every row is marked as not comparable with the paper; with it the
    report adds the paper's values and re-runs for reference.
    """
    frame = read_summary(summary) if not isinstance(summary, pd.DataFrame) else summary
    frame = frame[frame["profile"] == profile]
    if frame.empty:
        raise ValueError(f"no rows of profile {profile!r} in the summary; run the evaluation notebooks first")
    shas = sorted({s for s in frame["checkpoint_sha256"].astype(str) if s})
    commits = sorted({c for c in frame["commit"].astype(str) if c})
    lines = [
        "<!-- generated by notebooks/11_report.ipynb from summary.csv: do not edit by hand -->",
        header or f"Results of profile `{profile}`: {len(frame)} rows.",
        "",
        (
            f"Checkpoint SHA-256: {', '.join(f'`{s[:16]}…`' for s in shas) or 'n/a'}; "
            f"commit: {', '.join(f'`{_short_commit(c)}`' for c in commits) or 'n/a'}."
        ),
    ]
    lines.append("Values in percent: mean ± std over (fold or split, seed) where several values stand behind "
                 "a mean; zero-shot and retrieval are deterministic. `paper` and `status` belong to the "
                 "Wav2CLIP row (the only one held against the paper).")
    if not compare_with_paper:
        lines.append("Every row is `not_comparable` with the paper: this profile does not compare with it (other data).")
    for task in TASKS:
        part = frame[frame["task"] == task]
        if part.empty:
            continue
        lines += ["", f"#### {TASK_TITLES[task]}", ""]
        if task == "data-fraction":  # the line key drops how each model was fitted: say it here
            how = part.assign(how=part["protocol"].astype(str).str.split(", ", n=1).str[1])
            pairs = how.groupby("how", sort=False)["model"].agg(lambda m: ", ".join(dict.fromkeys(m)))
            lines += ["; ".join(f"{models}: {h}" for h, models in pairs.items()) + ".", ""]
        skipped = part[part["status"] == "skipped"]
        if len(skipped) < len(part):
            lines.append(render_wide(part[part["status"] != "skipped"], digits=digits).rstrip())
        lines += [f"- skipped: `{r.model}`" + ("" if r.dataset == "*" else f" on {r.dataset}") + f" -- {r.note}"
                  for r in skipped.itertuples(index=False)]
    if compare_with_paper:
        ref = paper_reference()
        table = ref.assign(paper=ref["paper"].map("{:g}".format), tolerance=ref["tolerance"].map("{:g}".format))
        table = table[["task", "dataset", "metric", "paper", "tolerance", "reruns"]]
        lines += ["", "#### The paper's values and independent re-runs", "",
                  markdown_table(table.rename(columns={"reruns": "re-runs of the released checkpoint"}))]
    return "\n".join(lines) + "\n"
