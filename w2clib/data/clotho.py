"""Clotho v2.1: audio captioning and text-audio retrieval, 15-30 s clips with five captions each.

Source: Zenodo record 4783391 (audio: Freesound licences; captions: Tampere University licence).
Files: ``clotho_audio_{development,validation,evaluation}.7z`` (each extracts into a folder of the
split's name), ``clotho_captions_<split>.csv`` (``file_name,caption_1..caption_5``, UTF-8) and
``clotho_metadata_<split>.csv`` (``file_name,keywords,sound_id,sound_link,start_end_samples,
manufacturer,license``; ISO-8859-1).  Sizes: development 3839, validation 1045, evaluation 1045.

Manifest: ``clip_id`` (file stem), ``label`` = ``""`` (Clotho has no classes), ``split`` =
``development`` / ``validation`` / ``evaluation``, ``caption`` (caption_1), ``captions`` (all five),
``keywords`` (list), ``sound_id``, ``license``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import ArchiveDataset, Capabilities
from .download import RemoteFile

__all__ = ["ClothoDataset", "CLOTHO", "SPLITS", "read_captions", "read_metadata"]

SPLITS = ("development", "validation", "evaluation")
CAPTION_COLUMNS = [f"caption_{i}" for i in range(1, 6)]
_URL = "https://zenodo.org/records/4783391/files/{}?download=1"

# md5 checksums of the files of Zenodo record 4783391 (Clotho v2.1), as listed by two independent
# loaders that agree: Labbeti/aac-datasets (datasets/functional/clotho.py, _CLOTHO_LINKS["v2.1"])
# and soundata (datasets/clotho.py, REMOTES).
_MD5 = {
    "clotho_audio_development.7z": "c8b05bc7acdb13895bb3c6a29608667e",
    "clotho_audio_validation.7z": "7dba730be08bada48bd15dc4e668df59",
    "clotho_audio_evaluation.7z": "4569624ccadf96223f19cb59fe4f849f",
    "clotho_captions_development.csv": "d4090b39ce9f2491908eebf4d5b09bae",
    "clotho_captions_validation.csv": "5879e023032b22a2c930aaa0528bead4",
    "clotho_captions_evaluation.csv": "1b16b9e57cf7bdb7f13a13802aeb57e2",
    "clotho_metadata_development.csv": "170d20935ecfdf161ce1bb154118cda5",
    "clotho_metadata_validation.csv": "2e010427c56b1ce6008b0f03f41048ce",
    "clotho_metadata_evaluation.csv": "13946f054d4e1bf48079813aac61bf77",
}


def _remote(filename: str) -> RemoteFile:
    return RemoteFile(url=_URL.format(filename), filename=filename, md5=_MD5[filename],
                      kind="archive" if filename.endswith(".7z") else "file")


def read_captions(path: Path) -> pd.DataFrame:
    """``clotho_captions_<split>.csv`` as a DataFrame (UTF-8, ISO-8859-1 as a fallback)."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="ISO-8859-1")
    missing = [c for c in ["file_name", *CAPTION_COLUMNS] if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not a Clotho captions file (missing columns {missing})")
    return df


def read_metadata(path: Path) -> pd.DataFrame:
    """``clotho_metadata_<split>.csv`` (ISO-8859-1, as Clotho v2 ships it)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="ISO-8859-1")
    if "file_name" not in df.columns:
        raise ValueError(f"{path}: not a Clotho metadata file (no file_name column)")
    return df


class ClothoDataset(ArchiveDataset):
    name = "clotho"
    capabilities = Capabilities(captions=True)
    license = "audio: Freesound CC licences; captions: Tampere University licence (non-commercial)"
    description = "Clotho v2.1 audio captioning: 5929 clips of 15-30 s, five captions each"
    min_duration_s = 15.0
    version = "v2.1-zenodo-4783391"
    remotes = tuple(_remote(f) for f in _MD5)

    def is_extracted(self, root: Path) -> bool:
        return all(
            (root / f"clotho_captions_{s}.csv").is_file() and (root / f"clotho_metadata_{s}.csv").is_file()
            and (root / s).is_dir()
            for s in SPLITS
        )

    def build_manifest(self, root: Path) -> pd.DataFrame:
        frames = []
        for split in SPLITS:
            captions = read_captions(root / f"clotho_captions_{split}.csv")
            meta = read_metadata(root / f"clotho_metadata_{split}.csv")
            merged = captions.merge(meta, on="file_name", how="left", suffixes=("", "_meta")).fillna("")
            caption_lists = merged[CAPTION_COLUMNS].to_numpy().tolist()
            frames.append(pd.DataFrame({
                "clip_id": [Path(f).stem for f in merged["file_name"]],
                "audio_path": [str(root / split / f) for f in merged["file_name"]],
                "label": "",
                "split": split,
                "caption": [c[0] for c in caption_lists],
                "captions": caption_lists,
                "keywords": [[k for k in str(v).split(";") if k] for v in merged.get("keywords", [""] * len(merged))],
                "sound_id": merged.get("sound_id", ""),
                "license": merged.get("license", ""),
            }))
        return pd.concat(frames, ignore_index=True)


CLOTHO = ClothoDataset()
