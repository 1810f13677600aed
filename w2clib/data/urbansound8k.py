"""UrbanSound8K: 8732 urban sound excerpts (<= 4 s), 10 classes, ten predefined folds.

Source: Zenodo record 1203745, ``UrbanSound8K.tar.gz`` (~6 GB, CC BY-NC).  Extracted layout:
``UrbanSound8K/audio/fold1..fold10/*.wav`` and ``UrbanSound8K/metadata/UrbanSound8K.csv`` with
columns ``slice_file_name,fsID,start,end,salience,fold,classID,class``.  Sample rate, bit depth and
channel count vary per file (the loaders resample and downmix).

Manifest: ``clip_id`` (file stem, e.g. ``100032-3-0-0``), ``label`` (``class``), ``split`` =
``fold1`` … ``fold10``, ``fold``, ``target`` (``classID``), ``fsid``, ``start_s``, ``end_s``,
``salience``.  Evaluate with 10-fold cross-validation over ``fold`` (never re-split: excerpts of one
recording share a fold).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import ArchiveDataset
from .download import RemoteFile

__all__ = ["UrbanSound8KDataset", "URBANSOUND8K", "read_urbansound8k_csv"]

COLUMNS = ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"]


def read_urbansound8k_csv(path: Path) -> pd.DataFrame:
    """Read ``metadata/UrbanSound8K.csv``; raises ValueError on another layout."""
    df = pd.read_csv(path, dtype={"slice_file_name": str, "class": str})
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not the UrbanSound8K metadata file (missing columns {missing})")
    return df


class UrbanSound8KDataset(ArchiveDataset):
    name = "urbansound8k"
    license = "CC BY-NC 3.0"
    description = "UrbanSound8K, 8732 urban sound excerpts (<= 4 s), 10 classes, 10 folds"
    min_duration_s = 0.0  # excerpts are 0.05-4 s by design; only empty files count as too short
    version = "zenodo-1203745"
    remotes = (
        RemoteFile(
            url="https://zenodo.org/records/1203745/files/UrbanSound8K.tar.gz?download=1",
            filename="UrbanSound8K.tar.gz",
            # md5 as published on the Zenodo record (also in soundata's and PaddleSpeech's loaders)
            md5="9aa69802bbf37fb986f71ec1483a196e",
        ),
    )

    def is_extracted(self, root: Path) -> bool:
        return (root / "UrbanSound8K" / "metadata" / "UrbanSound8K.csv").is_file()

    def build_manifest(self, root: Path) -> pd.DataFrame:
        folder = root / "UrbanSound8K"
        meta = read_urbansound8k_csv(folder / "metadata" / "UrbanSound8K.csv")
        folds = meta["fold"].astype(int)
        return pd.DataFrame({
            "clip_id": [Path(f).stem for f in meta["slice_file_name"]],
            "audio_path": [str(folder / "audio" / f"fold{k}" / f) for k, f in zip(folds, meta["slice_file_name"])],
            "label": meta["class"],
            "split": [f"fold{k}" for k in folds],
            "fold": folds,
            "target": meta["classID"].astype(int),
            "fsid": meta["fsID"].astype(str),
            "start_s": meta["start"].astype(float),
            "end_s": meta["end"].astype(float),
            "salience": meta["salience"].astype(int),
        })


URBANSOUND8K = UrbanSound8KDataset()
