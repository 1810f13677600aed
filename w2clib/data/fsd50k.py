"""FSD50K: 51 197 Freesound clips (0.3-30 s), 200 AudioSet classes, multi-label; tagging mAP.

Source: Zenodo record 4060432 (CC BY as a whole; per-clip CC licences).  The audio ships as split
zips -- ``FSD50K.dev_audio.z01 … .z05`` + ``FSD50K.dev_audio.zip`` and ``FSD50K.eval_audio.z01`` +
``FSD50K.eval_audio.zip`` -- that only make sense concatenated; they are read as one archive each
(:func:`w2clib.data.extract.open_split_zip`).  Extracted layout: ``FSD50K.dev_audio/<fname>.wav``,
``FSD50K.eval_audio/<fname>.wav`` and ``FSD50K.ground_truth/{dev,eval,vocabulary}.csv``;
``dev.csv`` has ``fname,labels,mids,split`` (split ``train``/``val``), ``eval.csv`` ``fname,labels,mids``,
``vocabulary.csv`` (no header) ``index,label,mid``.

Manifest: ``clip_id`` (fname), ``label`` (labels joined by ``","`` as in the csv), ``labels``
(list), ``mids``, ``split`` = ``train`` (dev/train, 36 796) / ``valid`` (dev/val, 4 170) / ``eval``
(10 231).  :func:`vocabulary` gives the 200 class names in the official order.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from .._io import atomic_write_json
from .base import ArchiveDataset, Capabilities
from .download import RemoteFile
from .extract import extract_zipfile, open_split_zip

__all__ = ["FSD50KDataset", "FSD50K", "vocabulary", "SPLIT_GROUPS"]

_URL = "https://zenodo.org/records/4060432/files/{}?download=1"

# md5 checksums of the files of Zenodo record 4060432 as listed by the soundata loader
# (soundata/datasets/fsd50k.py, REMOTES).
_PARTS = {
    "FSD50K.dev_audio": {
        "FSD50K.dev_audio.z01": "faa7cf4cc076fc34a44a479a5ed862a3",
        "FSD50K.dev_audio.z02": "8f9b66153e68571164fb1315d00bc7bc",
        "FSD50K.dev_audio.z03": "1196ef47d267a993d30fa98af54b7159",
        "FSD50K.dev_audio.z04": "d088ac4e11ba53daf9f7574c11cccac9",
        "FSD50K.dev_audio.z05": "81356521aa159accd3c35de22da28c7f",
        "FSD50K.dev_audio.zip": "c480d119b8f7a7e32fdb58f3ea4d6c5a",
    },
    "FSD50K.eval_audio": {
        "FSD50K.eval_audio.z01": "3090670eaeecc013ca1ff84fe4442aeb",
        "FSD50K.eval_audio.zip": "6fa47636c3a3ad5c7dfeba99f2637982",
    },
}
_ARCHIVES = {
    "FSD50K.ground_truth.zip": "ca27382c195e37d2269c4c866dd73485",
    "FSD50K.metadata.zip": "b9ea0c829a411c1d42adb9da539ed237",
    "FSD50K.doc.zip": "3516162b82dc2945d3e7feba0904e800",
}
#: split archive -> its parts in disk order (.z01 … .zNN, then .zip)
SPLIT_GROUPS = {group: list(parts) for group, parts in _PARTS.items()}
_SPLITS = {"train": "train", "val": "valid"}


def vocabulary(data_home: str | os.PathLike[str] | None = None) -> list[str]:
    """The 200 FSD50K class labels in ``vocabulary.csv`` order (dataset must be prepared)."""
    from . import resolve_data_home

    path = FSD50K.root(resolve_data_home(data_home)) / "FSD50K.ground_truth" / "vocabulary.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; run w2clib.data.prepare('fsd50k') first")
    return pd.read_csv(path, header=None, names=["index", "label", "mid"], dtype=str)["label"].tolist()


class FSD50KDataset(ArchiveDataset):
    name = "fsd50k"
    capabilities = Capabilities(multilabel=True)
    license = "CC BY 4.0 (dataset); per-clip CC0 / CC BY / CC BY-NC / CC Sampling+"
    description = "FSD50K sound event tagging: 51 197 clips, 200 classes, dev 40 966 / eval 10 231"
    min_duration_s = 0.3
    version = "v1.0-zenodo-4060432"
    remotes = tuple(
        [RemoteFile(url=_URL.format(f), filename=f, md5=m, kind="part") for g in _PARTS.values() for f, m in g.items()]
        + [RemoteFile(url=_URL.format(f), filename=f, md5=m) for f, m in _ARCHIVES.items()]
    )

    def split_groups(self) -> dict[str, list[str]]:
        """Split archive name -> its part file names in disk order (.z01 … .zNN, then .zip)."""
        groups: dict[str, list[str]] = {}
        for remote in self.remotes:
            if remote.kind == "part":
                groups.setdefault(remote.filename.rsplit(".", 1)[0], []).append(remote.filename)
        order = lambda name: (1, 0) if name.endswith(".zip") else (0, int(name.rsplit(".z", 1)[1]))  # noqa: E731
        return {group: sorted(names, key=order) for group, names in groups.items()}

    def is_extracted(self, root: Path) -> bool:
        gt = root / "FSD50K.ground_truth"
        return all((gt / f).is_file() for f in ("dev.csv", "eval.csv", "vocabulary.csv")) and all(
            (root / g).is_dir() for g in SPLIT_GROUPS
        )

    def extract(self, root: Path, paths: dict[str, Path]) -> None:
        super().extract(root, paths)  # the plain zips (ground truth, metadata, doc)
        for group, names in self.split_groups().items():
            stamp = root / f".extracted.{group}.json"
            size = sum(paths[n].stat().st_size for n in names)
            if stamp.exists() and json.loads(stamp.read_text()).get("size") == size:
                continue
            with open_split_zip([paths[n] for n in names]) as zf:
                count = extract_zipfile(zf, root, label=paths[names[-1]])
            atomic_write_json(stamp, {"archive": group, "size": size, "files": count})

    def build_manifest(self, root: Path) -> pd.DataFrame:
        gt = root / "FSD50K.ground_truth"
        frames = []
        for csv_name, folder in (("dev.csv", "FSD50K.dev_audio"), ("eval.csv", "FSD50K.eval_audio")):
            meta = pd.read_csv(gt / csv_name, dtype=str, keep_default_na=False)
            missing = [c for c in ("fname", "labels", "mids") if c not in meta.columns]
            if missing:
                raise ValueError(f"{gt / csv_name}: not an FSD50K ground-truth file (missing {missing})")
            if csv_name == "dev.csv":
                unknown = sorted(set(meta["split"]) - set(_SPLITS))
                if unknown:
                    raise ValueError(f"{gt / csv_name}: unknown split values {unknown}; expected train/val")
                splits = [_SPLITS[s] for s in meta["split"]]
            else:
                splits = ["eval"] * len(meta)
            frames.append(pd.DataFrame({
                "clip_id": meta["fname"],
                "audio_path": [str(root / folder / f"{f}.wav") for f in meta["fname"]],
                "label": meta["labels"],
                "labels": [v.split(",") if v else [] for v in meta["labels"]],
                "mids": meta["mids"],
                "split": splits,
            }))
        return pd.concat(frames, ignore_index=True)


FSD50K = FSD50KDataset()
