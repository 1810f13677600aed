"""``summary.csv`` as markdown: the README's long table, the report's wide tables per task.

Tables go through ``DataFrame.to_markdown`` (tabulate); this module only decides which rows and
columns a reader sees, in which order, and how numbers are formatted.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from .paper import is_missing, paper_reference
from .summary import TASKS, read_summary

__all__ = ["markdown_table", "render_markdown", "render_report", "reading_order", "render_wide", "TASK_TITLES"]


def _fmt(v: Any, digits: int = 2) -> str:
    return "" if is_missing(v) else f"{float(v):.{digits}f}"


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
                "" if is_missing(m) else f"{_fmt(m, digits)} ± {_fmt(s, digits)}"
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
