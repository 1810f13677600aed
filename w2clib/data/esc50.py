"""ESC-50: 2000 environmental recordings, 5 s each, 50 classes x 40, five predefined folds.

Source: GitHub ``karolpiczak/ESC-50`` (CC BY-NC 3.0; the ESC-10 subset CC BY).  The ``master``
archive changes whenever the README does, so the download is pinned to a commit archive:
``5983fb0c35e751b452e7c562d9207f27b76ddf0d`` is a revision of the repository (README of the v2.0.0
WAV layout: ``audio/{fold}-{src}-{take}-{target}.wav`` and ``meta/esc50.csv``) found in a public
code index.  GitHub publishes no checksum for generated archives, so its SHA-256 is recorded on
first use (trust on first use, see :mod:`w2clib.data.download`).

Manifest: ``clip_id`` (file stem, e.g. ``1-100032-A-0``), ``label`` (category, e.g. ``dog``),
``split`` = ``fold1`` … ``fold5``, ``fold`` (int), ``target`` (int 0-49), ``esc10`` (bool),
``src_file``, ``take``.  Evaluate with 5-fold cross-validation over ``fold``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import ArchiveDataset
from .download import RemoteFile

__all__ = ["ESC50Dataset", "ESC50", "COMMIT", "read_esc50_csv"]

# A commit of karolpiczak/ESC-50 with the v2.0.0 WAV layout (README revision seen in a public code
# index, Nov 2025).  No published checksum exists for GitHub's generated archives: TOFU.
COMMIT = "5983fb0c35e751b452e7c562d9207f27b76ddf0d"
COLUMNS = ["filename", "fold", "target", "category", "esc10", "src_file", "take"]


def read_esc50_csv(path: Path) -> pd.DataFrame:
    """Read ``meta/esc50.csv`` (columns :data:`COLUMNS`); raises ValueError on another layout."""
    df = pd.read_csv(path, dtype={"filename": str, "category": str, "src_file": str, "take": str})
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not the ESC-50 metadata file (missing columns {missing})")
    return df


class ESC50Dataset(ArchiveDataset):
    name = "esc50"
    license = "CC BY-NC 3.0 (ESC-10 subset: CC BY)"
    description = "ESC-50 environmental sound classification, 2000 x 5 s clips, 50 classes, 5 folds"
    min_duration_s = 5.0
    version = COMMIT
    remotes = (
        RemoteFile(
            url=f"https://github.com/karolpiczak/ESC-50/archive/{COMMIT}.zip",
            filename=f"ESC-50-{COMMIT}.zip",
        ),
    )

    def dataset_dir(self, root: Path) -> Path:
        """The extracted repository: the pinned commit's folder, else a ``master`` copy or clone."""
        for name in (f"ESC-50-{COMMIT}", "ESC-50-master", "ESC-50"):
            if (root / name / "meta" / "esc50.csv").is_file():
                return root / name
        return root / f"ESC-50-{COMMIT}"

    def is_extracted(self, root: Path) -> bool:
        return (self.dataset_dir(root) / "meta" / "esc50.csv").is_file()

    def build_manifest(self, root: Path) -> pd.DataFrame:
        folder = self.dataset_dir(root)
        meta = read_esc50_csv(folder / "meta" / "esc50.csv")
        esc10 = meta["esc10"].astype(str).str.lower() == "true"
        return pd.DataFrame({
            "clip_id": [Path(f).stem for f in meta["filename"]],
            "audio_path": [str(folder / "audio" / f) for f in meta["filename"]],
            "label": meta["category"],
            "split": [f"fold{int(k)}" for k in meta["fold"]],
            "fold": meta["fold"].astype(int),
            "target": meta["target"].astype(int),
            "esc10": esc10,
            "src_file": meta["src_file"],
            "take": meta["take"],
        })


ESC50 = ESC50Dataset()
