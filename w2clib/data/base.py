"""The dataset interface and the manifest every dataset produces.

A manifest is a ``pandas.DataFrame`` with one row per clip.  Required columns:

==============  ==============================================================================
clip_id         unique id within the dataset (str)
audio_path      absolute path of the audio file (str)
label           class name (str); for multi-label sets the labels joined by ``","``; ``""`` where
                the dataset has no labels (Clotho)
split           ``train`` / ``valid`` / ``test`` / ``eval`` ... as the dataset defines it (str);
                cross-validation sets use ``fold1`` ... ``foldK``
==============  ==============================================================================

Optional columns, present where the dataset has them: ``fold`` (int), ``target`` (int class index),
``labels`` (list of str, multi-label), ``image_path`` (a still image standing in for video frames),
``video_path``, ``frames_dir``, ``caption`` (first caption, str) and ``captions`` (list of str),
``keywords`` (list of str), ``sha256`` (of the audio file, hex), ``duration_s`` (float),
``source`` (where the item comes from), ``target_kind`` (``"frames"`` or ``"class_prototype"``:
what the teacher target of a clip stands for).

On disk a manifest is ``<dataset folder>/manifest.csv`` (UTF-8) plus ``manifest.dtypes.json``
(column types, so ids like ``"00731"`` stay strings): list columns are stored as JSON and paths
inside the dataset folder relative to it, so a data home can be moved.
:func:`read_manifest` turns them back into lists and absolute paths.

Each dataset module defines a :class:`Dataset` subclass and registers an instance in
``w2clib.data.DATASETS``.  :class:`ArchiveDataset` is the template of the paper's datasets:
download or locate the public archives, verify, extract, index.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from .._io import atomic_path, atomic_write_json, sha256_file
from .download import RemoteFile, fetch
from .extract import extract_archive

__all__ = [
    "Capabilities",
    "Dataset",
    "ArchiveDataset",
    "ValidationReport",
    "REQUIRED_COLUMNS",
    "LIST_COLUMNS",
    "PATH_COLUMNS",
    "MANIFEST_FILE",
    "write_manifest",
    "read_manifest",
    "check_audio_file",
]

REQUIRED_COLUMNS = ("clip_id", "audio_path", "label", "split")
LIST_COLUMNS = ("labels", "captions", "keywords")
PATH_COLUMNS = ("audio_path", "video_path", "frames_dir", "image_path")
MANIFEST_FILE = "manifest.csv"
PREPARED_FILE = "prepared.json"
VALIDATION_FILE = "validation.json"


def _column_kind(name: str, series: pd.Series) -> str:
    if name in LIST_COLUMNS:
        return "list"
    if name in PATH_COLUMNS:
        return "path"
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_integer_dtype(series):
        return "int"
    if pd.api.types.is_float_dtype(series):
        return "float"
    return "str"


def write_manifest(df: pd.DataFrame, path: str | os.PathLike[str], *,
                   root: str | os.PathLike[str] | None = None) -> str:
    """Write a manifest atomically as CSV (+ ``<name>.dtypes.json`` with column types); returns its SHA-256.

    Args:
        df: one row per clip with at least :data:`REQUIRED_COLUMNS`; ``clip_id`` unique.
        path: the CSV file.
        root: paths under this folder are stored relative to it (default: the CSV's folder).

    Raises:
        ValueError: a required column is missing or clip ids repeat.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"manifest for {path} lacks required columns {missing}; have {list(df.columns)}")
    dupes = df["clip_id"][df["clip_id"].duplicated()].tolist()
    if dupes:
        raise ValueError(f"manifest for {path}: clip ids must be unique, repeated: {dupes[:5]}")
    path = Path(path)
    base = Path(root) if root is not None else path.parent
    out = df.copy()
    for col in LIST_COLUMNS:
        if col in out.columns:
            out[col] = [json.dumps(list(v), ensure_ascii=False) for v in out[col]]
    for col in PATH_COLUMNS:
        if col in out.columns:
            out[col] = [_relative(v, base) for v in out[col]]
    # column types travel beside the csv, so ids such as "00731" or Freesound ids stay strings
    atomic_write_json(_dtypes_path(path), {col: _column_kind(col, df[col]) for col in df.columns})
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    return sha256_file(path)


def _dtypes_path(path: Path) -> Path:
    return path.with_name(path.stem + ".dtypes.json")


def _relative(value: object, base: Path) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
        return ""
    p = Path(str(value))
    try:
        return p.relative_to(base).as_posix()
    except ValueError:
        return str(p)


def read_manifest(path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Read a manifest written by :func:`write_manifest` (types restored, lists decoded, paths absolute)."""
    path = Path(path)
    base = Path(root) if root is not None else path.parent
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    kinds = json.loads(_dtypes_path(path).read_text()) if _dtypes_path(path).exists() else {}
    for col in df.columns:
        kind = kinds.get(col, "list" if col in LIST_COLUMNS else "path" if col in PATH_COLUMNS else "str")
        if kind == "list":
            df[col] = [json.loads(v) if v else [] for v in df[col]]
        elif kind == "path":
            df[col] = [str(base / v) if v else "" for v in df[col]]
        elif kind == "bool":
            df[col] = df[col].str.lower().map({"true": True, "false": False})
        elif kind == "int":
            df[col] = df[col].astype("int64")
        elif kind == "float":
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


@dataclass
class ValidationReport:
    """What ``validate()`` found: files listed in the manifest that are missing or unusable."""

    dataset: str
    n_items: int
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    too_short: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.corrupt)

    def summary(self) -> str:
        return (
            f"{self.dataset}: {self.n_items} items, {len(self.missing)} missing, "
            f"{len(self.corrupt)} corrupt, {len(self.too_short)} too short"
        )

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"ok": self.ok}


@dataclass(frozen=True)
class Capabilities:
    """What a dataset's clips carry besides audio and a label, as the dataset states it."""

    multilabel: bool = False  # several labels per clip (``labels`` column): tagging, scored by mAP
    images: bool = False  # a picture per clip (``image_path``): audio -> image retrieval
    frames: bool = False  # video frames per clip once extracted (``frames_dir``): audio -> frames retrieval
    captions: bool = False  # text captions per clip (``caption``/``captions``): text <-> audio retrieval


class Dataset(ABC):
    """One dataset: where it comes from, how to get it, how to index it."""

    name: str = ""
    license: str = ""
    description: str = ""
    capabilities: Capabilities = Capabilities()  # what its clips carry (evaluations choose tasks by it)
    #: clips shorter than this (seconds) are reported as too short by :meth:`validate`
    min_duration_s: float = 0.0

    def root(self, data_home: Path) -> Path:
        """The dataset's folder inside the data home."""
        return Path(data_home) / self.name

    def manifest_path(self, data_home: Path) -> Path:
        return self.root(data_home) / MANIFEST_FILE

    @abstractmethod
    def prepare(self, data_home: Path, **options: object) -> Path:
        """Download / locate / render the data, verify it, write the manifest; idempotent.

        Returns the dataset folder.  Raises a clear error (with manual instructions) offline.
        """

    def load_manifest(self, data_home: Path, **options: object) -> pd.DataFrame:
        """The manifest of a prepared dataset (raises if ``prepare`` has not run)."""
        if options:
            raise ValueError(f"{self.name} has a single manifest; unexpected options {sorted(options)}")
        path = self.manifest_path(data_home)
        if not path.exists():
            raise FileNotFoundError(
                f"{self.name} is not prepared in {self.root(data_home)} (no {MANIFEST_FILE}); run "
                f"w2clib.data.prepare({self.name!r}, data_home={str(data_home)!r}) first"
            )
        return read_manifest(path, root=self.root(data_home))

    def validate(self, data_home: Path, *, check_hashes: bool = False, decode: bool = False) -> ValidationReport:
        """Check every audio file of the manifest: present, decodable, long enough.

        Args:
            check_hashes: also compare each file with the manifest's ``sha256`` (slow: reads all).
            decode: decode every file completely instead of reading its header only (slow).
        """
        manifest = self.load_manifest(data_home)
        report = ValidationReport(self.name, len(manifest))
        hashes = manifest["sha256"].tolist() if check_hashes and "sha256" in manifest else [""] * len(manifest)
        for path, digest in zip(manifest["audio_path"], hashes):
            problem = check_audio_file(path, self.min_duration_s, sha256=digest or None, decode=decode)
            if problem:
                getattr(report, problem).append(str(path))
        return report


def check_audio_file(path: str | os.PathLike[str], min_duration_s: float = 0.0, *, sha256: str | None = None,
                     decode: bool = False) -> str | None:
    """``"missing"``, ``"corrupt"``, ``"too_short"`` or ``None`` (fine) for one audio file."""
    import soundfile as sf

    from w2clib.audio import audio_info

    if not path or not Path(path).is_file():
        return "missing"
    try:
        info = audio_info(path)
        if decode:
            sf.read(str(path), dtype="float32")
    except Exception:  # soundfile raises several types for damaged files
        return "corrupt"
    if sha256 and sha256_file(path) != sha256:
        return "corrupt"
    # 1 ms of slack: a 5.000 s clip stored as 220 499 samples is not "too short"
    if info.n_samples == 0 or info.duration_s + 1e-3 < min_duration_s:
        return "too_short"
    return None


class ArchiveDataset(Dataset):
    """A dataset published as archives/files at fixed URLs: fetch, verify, extract, index.

    Subclasses set :attr:`remotes`, :attr:`version` and implement :meth:`is_extracted` and
    :meth:`build_manifest`.  Archives go to ``<root>/downloads/`` (place them there by hand on a
    machine without internet), plain files (``kind="file"``) to ``<root>/``.
    """

    remotes: tuple[RemoteFile, ...] = ()
    #: identifies the source release; a change re-runs prepare
    version: str = ""

    def with_remotes(self, remotes: Sequence[RemoteFile]) -> ArchiveDataset:
        """A copy of this dataset that fetches ``remotes`` instead (mirrors, tests)."""
        other = copy.copy(self)
        other.remotes = tuple(remotes)
        return other

    def downloads_dir(self, root: Path) -> Path:
        return root / "downloads"

    @abstractmethod
    def is_extracted(self, root: Path) -> bool:
        """Whether the extracted files are already in place (then nothing is downloaded)."""

    @abstractmethod
    def build_manifest(self, root: Path) -> pd.DataFrame:
        """Index the extracted files: one row per clip (see the module docstring for columns)."""

    def fetch_all(self, root: Path, *, download: bool = True, progress: bool = True) -> dict[str, Path]:
        """Locate or download every remote file and verify it; returns ``{filename: path}``."""
        paths = {}
        for remote in self.remotes:
            folder = root if remote.kind == "file" else self.downloads_dir(root)
            paths[remote.filename] = fetch(
                remote, folder, dataset=self.name, download=download, registry_dir=root, progress=progress
            )
        return paths

    def extract(self, root: Path, paths: dict[str, Path]) -> None:
        """Extract the fetched archives into ``root`` (override for split archives)."""
        for remote in self.remotes:
            if remote.kind == "archive":
                extract_archive(paths[remote.filename], root)

    def _stamp_valid(self, root: Path) -> bool:
        stamp, manifest = root / PREPARED_FILE, root / MANIFEST_FILE
        if not (stamp.exists() and manifest.exists()):
            return False
        try:
            info = json.loads(stamp.read_text())
        except json.JSONDecodeError:
            return False
        return info.get("version") == self.version and info.get("manifest_sha256") == sha256_file(manifest)

    def prepare(self, data_home: Path, *, download: bool = True, force: bool = False, hashes: bool = True,
                keep_archives: bool = True, progress: bool = True, **options: object) -> Path:
        """Locate or download, verify, extract and index the dataset; idempotent.

        Args:
            data_home: the data home (the dataset lives in ``data_home/<name>``).
            download: allow network access; ``False`` only uses files already on disk.
            force: redo everything (re-verify archives, re-extract, re-index).
            hashes: record the SHA-256 of every audio file in the manifest.
            keep_archives: keep the downloaded archives after extraction.

        Returns:
            the dataset folder.

        Raises:
            DownloadError: an archive is missing and cannot be downloaded (the message says where to
                place it).  ChecksumError: an archive does not match its checksum.
        """
        if options:
            raise TypeError(f"{self.name}.prepare() got unknown options {sorted(options)}")
        root = self.root(data_home)
        if not force and self._stamp_valid(root):
            return root
        started = time.time()
        root.mkdir(parents=True, exist_ok=True)
        if force or not self.is_extracted(root):
            paths = self.fetch_all(root, download=download, progress=progress)
            self.extract(root, paths)
            if not keep_archives:
                for remote in self.remotes:
                    if remote.kind != "file":
                        paths[remote.filename].unlink(missing_ok=True)
            if not self.is_extracted(root):
                raise FileNotFoundError(
                    f"{self.name}: extracted the archives into {root} but the expected files are not there; "
                    "the archives may be a different release. Delete the folder and run prepare() again."
                )
        df = self.build_manifest(root)
        if hashes:
            df["sha256"] = [sha256_file(p) if Path(p).is_file() else "" for p in df["audio_path"]]
        digest = write_manifest(df, root / MANIFEST_FILE, root=root)
        report = self.validate(Path(data_home))
        atomic_write_json(root / VALIDATION_FILE, report.to_dict())
        if not report.ok or report.too_short:
            print(f"w2clib: {report.summary()} (details in {root / VALIDATION_FILE})", file=sys.stderr)
        atomic_write_json(root / PREPARED_FILE, {
            "dataset": self.name, "version": self.version, "n_items": len(df), "manifest_sha256": digest,
            "seconds": round(time.time() - started, 2),
        })
        return root
