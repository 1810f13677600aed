"""TAU Urban Acoustic Scenes 2020 Mobile, development set: 10 s scenes, 10 classes, 9 devices.

Source: Zenodo record 3819968 (academic, non-commercial use only): 16 audio zips, a doc zip and a
meta zip (27.4 GB).  Everything extracts into ``TAU-urban-acoustic-scenes-2020-mobile-development/``:
``audio/<scene>-<city>-<location>-<segment>-<device>.wav``, ``meta.csv`` (tab-separated:
``filename, scene_label, identifier, source_label``) and the official setup
``evaluation_setup/fold1_{train,evaluate,test}.csv`` (tab-separated, ``filename[, scene_label]``).

Manifest: ``clip_id`` (file stem), ``label`` (scene), ``split`` = ``train`` (fold1_train.csv, 13 962
clips) / ``test`` (fold1_evaluate.csv, 2 968 clips) / ``unused`` (in neither), ``device``
(``source_label``: a, b, c, s1-s6), ``city``, ``identifier`` (city-location: clips of one location
never straddle train and test).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .base import ArchiveDataset
from .download import RemoteFile

__all__ = ["TAU2020Dataset", "TAU2020", "FOLDER", "read_setup"]

FOLDER = "TAU-urban-acoustic-scenes-2020-mobile-development"
_URL = "https://zenodo.org/records/3819968/files/{}?download=1"

# md5 checksums of the files of Zenodo record 3819968 as listed by the soundata loader
# (soundata/datasets/tau2020uas_mobile.py, REMOTES["development.*"]).
_MD5 = {
    f"{FOLDER}.audio.1.zip": "b1e85b8a908d3d6a6ab73268f385d5c8",
    f"{FOLDER}.audio.2.zip": "4310a13cc2943d6ce3f70eba7ba4c784",
    f"{FOLDER}.audio.3.zip": "ed38956c4246abb56190c1e9b602b7b8",
    f"{FOLDER}.audio.4.zip": "97ab8560056b6816808dedc044dcc023",
    f"{FOLDER}.audio.5.zip": "b50f5e0bfed33cd8e52cb3e7f815c6cb",
    f"{FOLDER}.audio.6.zip": "fbf856a3a86fff7520549c899dc94372",
    f"{FOLDER}.audio.7.zip": "0dbffe7b6e45564da649378723284062",
    f"{FOLDER}.audio.8.zip": "bb6f77832bf0bd9f786f965beb251b2e",
    f"{FOLDER}.audio.9.zip": "a65596a5372eab10c78e08a0de797c9e",
    f"{FOLDER}.audio.10.zip": "2ad595819ffa1d56d2de4c7ed43205a6",
    f"{FOLDER}.audio.11.zip": "0ad29f7040a4e6a22cfd639b3a6738e5",
    f"{FOLDER}.audio.12.zip": "e5f4400c6b9697295fab4cf507155a2f",
    f"{FOLDER}.audio.13.zip": "8855ab9f9896422746ab4c5d89d8da2f",
    f"{FOLDER}.audio.14.zip": "092ad744452cd3e7de78f988a3d13020",
    f"{FOLDER}.audio.15.zip": "4b5eb85f6592aebf846088d9df76b420",
    f"{FOLDER}.audio.16.zip": "2e0a89723e58a3836be019e6996ae460",
    f"{FOLDER}.doc.zip": "175f40dc3fec144347abad4d2962b7ae",
    f"{FOLDER}.meta.zip": "6eae9db553ce48e4ea246e34e50a3cf5",
}


def read_setup(path: Path) -> pd.DataFrame:
    """A tab-separated TAU file (``meta.csv`` or ``evaluation_setup/fold1_*.csv``)."""
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    if "filename" not in df.columns:
        raise ValueError(f"{path}: not a TAU 2020 setup file (expected a tab-separated 'filename' column)")
    return df


class TAU2020Dataset(ArchiveDataset):
    name = "tau2020"
    license = "TAU Urban Acoustic Scenes 2020 licence: academic, non-commercial use only"
    description = "TAU Urban Acoustic Scenes 2020 Mobile development: 23 040 x 10 s, 10 scenes"
    min_duration_s = 10.0
    version = "zenodo-3819968"
    remotes = tuple(RemoteFile(url=_URL.format(f), filename=f, md5=m) for f, m in _MD5.items())

    def is_extracted(self, root: Path) -> bool:
        folder = root / FOLDER
        return (folder / "meta.csv").is_file() and (folder / "evaluation_setup" / "fold1_train.csv").is_file() \
            and (folder / "audio").is_dir()

    def build_manifest(self, root: Path) -> pd.DataFrame:
        folder = root / FOLDER
        meta = read_setup(folder / "meta.csv")
        train = set(read_setup(folder / "evaluation_setup" / "fold1_train.csv")["filename"])
        test = set(read_setup(folder / "evaluation_setup" / "fold1_evaluate.csv")["filename"])
        identifiers = meta.get("identifier", pd.Series([""] * len(meta)))
        return pd.DataFrame({
            "clip_id": [Path(f).stem for f in meta["filename"]],
            "audio_path": [str(folder / f) for f in meta["filename"]],
            "label": meta["scene_label"],
            "split": ["train" if f in train else "test" if f in test else "unused" for f in meta["filename"]],
            "device": meta.get("source_label", ""),
            "city": [str(i).split("-")[0] for i in identifiers],
            "identifier": identifiers,
        })


TAU2020 = TAU2020Dataset()
