"""Datasets: the paper's (downloaded and verified) and the embedded offline ones (generated).

``prepare(name)`` downloads or locates or renders a dataset, verifies it and writes its manifest;
``load_manifest(name)`` returns it as a ``pandas.DataFrame`` (columns in :mod:`w2clib.data.base`).
The data home is ``$W2C_DATA_HOME`` or ``~/.cache/w2clib/data``.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pandas as pd

from .._io import user_cache_dir
from .base import Capabilities, Dataset, ValidationReport

__all__ = ["DATASETS", "capabilities", "resolve_data_home", "get_dataset", "prepare", "load_manifest", "validate"]

# name -> "module:attribute" of a Dataset instance (imported lazily: some need optional packages)
DATASETS: dict[str, str] = {
    "esc50": "w2clib.data.esc50:ESC50",
    "urbansound8k": "w2clib.data.urbansound8k:URBANSOUND8K",
    "vggsound": "w2clib.data.vggsound:VGGSOUND",
    "clotho": "w2clib.data.clotho:CLOTHO",
    "tau2020": "w2clib.data.tau2020:TAU2020",
    "fsd50k": "w2clib.data.fsd50k:FSD50K",
    "musdb18_7s": "w2clib.data.musdb18:MUSDB18_7S",
    "musdb18": "w2clib.data.musdb18:MUSDB18",
    "tuxpaint": "w2clib.data.embedded.tuxpaint:TUXPAINT",
    "real_sounds": "w2clib.data.embedded.realsounds:REAL_SOUNDS",
    "gm_fluidr3": "w2clib.data.embedded.soundfonts:GM_FLUIDR3",
    "gm_timgm6mb": "w2clib.data.embedded.soundfonts:GM_TIMGM6MB",
    "gm_scenes_fluidr3": "w2clib.data.embedded.scenes:GM_SCENES_FLUIDR3",
    "gm_scenes_timgm6mb": "w2clib.data.embedded.scenes:GM_SCENES_TIMGM6MB",
}


def resolve_data_home(path: str | os.PathLike[str] | None = None) -> Path:
    """The data home: ``path`` if given, else ``$W2C_DATA_HOME``, else ``<cache>/data``."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get("W2C_DATA_HOME")
    return Path(env).expanduser() if env else user_cache_dir() / "data"


def get_dataset(name: str) -> Dataset:
    """The :class:`Dataset` registered as ``name`` (imported on first use)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}")
    module_name, attribute = DATASETS[name].split(":")
    return getattr(importlib.import_module(module_name), attribute)


def capabilities(name: str) -> Capabilities:
    """What the clips of dataset ``name`` carry (:class:`~w2clib.data.base.Capabilities`); nothing
    beyond audio and a label for names that are not registered datasets (e.g. the GM label sets)."""
    return get_dataset(name).capabilities if name in DATASETS else Capabilities()


def prepare(name: str, data_home: str | os.PathLike[str] | None = None, **options: object) -> Path:
    """Download / locate / render ``name``, verify it and write its manifest (idempotent).

    Paper datasets accept ``download=False`` (use only files on disk; the error says where to place
    the archives), ``force=True`` (redo everything) and dataset-specific options (VGGSound:
    ``videos``, ``extract``, ``fps``, ``shard``, ``limit``; see :mod:`w2clib.data.vggsound`).
    ``$W2C_DATA_MIRROR`` replaces the public download URLs with ``<mirror>/<name>/<file>``.
    """
    home = resolve_data_home(data_home)
    return get_dataset(name).prepare(home, **options)


def load_manifest(name: str, data_home: str | os.PathLike[str] | None = None, **options: object) -> pd.DataFrame:
    """The manifest of a prepared dataset (see :mod:`w2clib.data.base` for the columns).

    ``options`` select a variant where a dataset has several (e.g. the render settings of the
    soundfont sets, which smoke and mini prepare side by side in one data home); they must match
    the options given to :func:`prepare`.
    """
    return get_dataset(name).load_manifest(resolve_data_home(data_home), **options)


def validate(name: str, data_home: str | os.PathLike[str] | None = None, **options: bool) -> ValidationReport:
    """List missing, corrupt and too-short files of a prepared dataset.

    Options (paper datasets): ``check_hashes=True`` compares every file with the manifest's SHA-256,
    ``decode=True`` decodes every file completely (both slow).
    """
    return get_dataset(name).validate(resolve_data_home(data_home), **options)
