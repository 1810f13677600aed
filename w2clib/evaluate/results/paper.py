"""The paper's numbers and how a measured value is held against them.

* :data:`PAPER_VALUES` -- the only place paper numbers live, each with its source (the Wav2CLIP
  paper's tables as quoted by third parties; the zero-shot FSD50K mAP quoted in the MS-CLAP paper);
  :data:`THIRD_PARTY` -- independent re-runs of the released checkpoint, shown beside them.
* :data:`TOLERANCES` -- declared before any run, per task, in metric units.
* :func:`decide_status` -- ``match`` when ``|ours - paper|`` is within
  ``min(tolerance, max(MATCH_MIN, ours_std))`` (the paper value lies within our own spread), else
  ``within_tolerance`` when it is within ``tolerance``, else ``mismatch``; ``not_comparable`` without
  a paper value or a result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = [
    "MATCH_MIN",
    "PAPER_REFS",
    "PaperValue",
    "PAPER_VALUES",
    "THIRD_PARTY",
    "TOLERANCES",
    "paper_value",
    "decide_status",
    "paper_reference",
    "is_missing",
]

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


def is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def decide_status(
    paper: float | None,
    ours_mean: float | None,
    ours_std: float | None,
    tolerance: float | None,
) -> str:
    """The ``status`` of a row (see the module docstring): ``not_comparable`` without a paper value."""
    if (
        is_missing(paper)
        or is_missing(ours_mean)
        or is_missing(tolerance)
    ):
        return "not_comparable"
    diff = abs(float(ours_mean) - float(paper))  # type: ignore[arg-type]
    spread = 0.0 if is_missing(ours_std) else float(ours_std)  # type: ignore[arg-type]
    if diff <= min(float(tolerance), max(MATCH_MIN, spread)):  # type: ignore[arg-type]
        return "match"
    return "within_tolerance" if diff <= float(tolerance) else "mismatch"  # type: ignore[arg-type]


def paper_reference() -> pd.DataFrame:
    """The paper's known Wav2CLIP values (:data:`PAPER_VALUES`) beside independent re-runs of the
    released checkpoint (:data:`THIRD_PARTY`): ``task, dataset, metric, paper, tolerance, reruns, source``."""
    rows = []
    for (task, dataset, metric), pv in PAPER_VALUES.items():
        others = "; ".join(f"{name}: {value:g}" for name, value in THIRD_PARTY.get((task, dataset, metric), []))
        rows.append({"task": task, "dataset": dataset, "metric": metric, "paper": pv.value,
                     "tolerance": TOLERANCES.get(task), "reruns": others, "source": pv.source})
    return pd.DataFrame(rows)
