"""The ``data`` stage of a profile: which datasets to prepare, with which options, and their sizes.

A profile's ``data:`` section becomes a :class:`DataConfig`; :func:`prepare_datasets` prepares every
dataset it names (downloading, locating or rendering, all idempotent) and returns their manifests,
and later stages call :func:`load_dataset` with the same config to get the very same option set
(several profiles share one data home, each with its own sizes).

    from w2clib.config import load_profile, section_config
    cfg = section_config(DataConfig, load_profile("mini").section("data"))
    prepared = prepare_datasets(cfg)           # {name: PreparedDataset}
    gm_train = load_dataset(cfg, "gm_fluidr3")  # DataFrame
"""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import get_dataset, resolve_data_home
from ..base import ValidationReport

__all__ = [
    "EMBEDDED",
    "LABEL_SETS",
    "DataConfig",
    "PreparedDataset",
    "label_set",
    "load_dataset",
    "pick_examples",
    "prepare_datasets",
    "size_table",
]

EMBEDDED = ("tuxpaint", "gm_fluidr3", "gm_timgm6mb")
LABEL_SETS = ("concept", "family", "imagenet")


@dataclass(frozen=True)
class DataConfig:
    """The ``data`` section of a profile."""

    datasets: tuple[str, ...] = EMBEDDED  # datasets the data notebook prepares, in order
    tuxpaint: dict[str, Any] = field(default_factory=dict)  # TuxPaintOptions (tuxpaint.py)
    gm: dict[str, Any] = field(default_factory=dict)  # RenderOptions shared by both soundfonts
    options: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-dataset extra options
    required: bool = True  # a dataset that fails to prepare is an error (False: report and go on)
    n_examples: int = 3  # examples the data notebook shows per dataset

    def __post_init__(self) -> None:
        object.__setattr__(self, "datasets", tuple(self.datasets))
        from .. import DATASETS

        unknown = [name for name in self.datasets if name not in DATASETS]
        if unknown:
            raise ValueError(f"data.datasets: unknown dataset(s) {unknown}; known: {sorted(DATASETS)}")

    def options_for(self, name: str) -> dict[str, Any]:
        """The keyword options ``prepare(name, ...)`` gets under this config."""
        base: dict[str, Any] = {}
        if name == "tuxpaint":
            base = dict(self.tuxpaint)
        elif name in ("gm_fluidr3", "gm_timgm6mb"):  # the scene sets take SceneOptions, from `options`
            base = dict(self.gm)
        options = {**base, **self.options.get(name, {})}
        if isinstance(options.get("shard"), list):  # YAML has no tuples: shard: [i, n]
            options["shard"] = tuple(options["shard"])
        return options


@dataclass
class PreparedDataset:
    """One prepared dataset: its manifest, folder, validation and timing (or the error it raised)."""

    name: str
    folder: Path | None
    manifest: pd.DataFrame | None
    validation: ValidationReport | None
    seconds: float
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and self.validation is not None and self.validation.ok


def load_dataset(cfg: DataConfig, name: str, data_home: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The manifest of ``name`` as ``cfg`` prepares it (raises ``FileNotFoundError`` if it has not run)."""
    dataset = get_dataset(name)
    home = resolve_data_home(data_home)
    if name in EMBEDDED:  # their manifests are keyed by options: several profiles share a data home
        return dataset.load_manifest(home, **cfg.options_for(name))  # type: ignore[call-arg]
    return dataset.load_manifest(home)


def prepare_datasets(
    cfg: DataConfig, data_home: str | os.PathLike[str] | None = None, *, validate: bool = True
) -> dict[str, PreparedDataset]:
    """Prepare (idempotently) and validate every dataset of ``cfg``, timing each.

    With ``cfg.required`` an exception propagates; otherwise it is recorded in ``error`` (the paper's
    datasets need the internet and hours, and a report of what is missing is useful in itself).
    """
    home = resolve_data_home(data_home)
    results = {}
    for name in cfg.datasets:
        began = time.time()
        try:
            folder = get_dataset(name).prepare(home, **cfg.options_for(name))
            manifest = load_dataset(cfg, name, home)
            report = get_dataset(name).validate(home) if validate else None
        except Exception as err:
            if cfg.required:
                raise
            results[name] = PreparedDataset(name, None, None, None, time.time() - began,
                                            error="".join(traceback.format_exception_only(err)).strip())
            continue
        results[name] = PreparedDataset(name, Path(folder), manifest, report, time.time() - began)
    return results


def label_set(manifest: pd.DataFrame, kind: str) -> pd.DataFrame:
    """A copy of ``manifest`` whose ``label`` is the chosen label set, rows without one dropped.

    ``kind``: ``"imagenet"`` (``imagenet_class``; only rows that have one), ``"family"`` (GM
    family) or ``"concept"`` (Tux Paint concept) -- the last two are the manifests' own ``label``.
    """
    if kind not in LABEL_SETS:
        raise ValueError(f"label set must be one of {LABEL_SETS}, got {kind!r}")
    out = manifest.copy()
    if kind == "imagenet":
        if "imagenet_class" not in out:
            raise ValueError("this manifest has no imagenet_class column (only the embedded sets do)")
        out = out[out["imagenet_class"].astype(str) != ""].copy()
        out["label"] = out["imagenet_class"]
    elif kind == "family" and "family" in out:
        out["label"] = out["family"]
    return out.reset_index(drop=True)


def pick_examples(manifests: dict[str, pd.DataFrame], n: int, seed: int = 0) -> pd.DataFrame:
    """Up to ``n`` random rows per dataset (fixed ``seed``) whose audio file exists and reads, with a
    ``dataset`` column; datasets not downloaded yet (a VGGSound manifest lists every clip) give only
    the rows that are on disk, and files that ``validate()`` reports as corrupt are passed over."""
    from ..base import check_audio_file

    picks = []
    for name, manifest in manifests.items():
        candidates = manifest.sample(frac=1.0, random_state=seed)
        usable = []
        for i, path in zip(candidates.index, candidates["audio_path"]):
            if len(usable) == n:
                break
            if isinstance(path, str) and check_audio_file(path) is None:
                usable.append(i)
        picks.append(candidates.loc[usable].assign(dataset=name))
    return pd.concat(picks, ignore_index=True) if picks else pd.DataFrame(columns=["dataset", "clip_id", "audio_path"])


def size_table(manifests: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Items and classes per dataset, split and label set (one row each), for reports."""
    rows = []
    for name, manifest in manifests.items():
        kinds = ["imagenet"] if "imagenet_class" in manifest else []
        own = "family" if "family" in manifest else ("concept" if name == "tuxpaint" else "label")
        for kind in [own, *kinds]:
            frame = manifest if kind in (own,) else label_set(manifest, kind)
            for split, part in frame.groupby("split"):
                rows.append({"dataset": name, "label_set": kind, "split": split, "items": len(part),
                             "classes": part["label"].nunique()})
    return pd.DataFrame(rows, columns=["dataset", "label_set", "split", "items", "classes"])
