"""Lay out a mirror of every download of the paper path, with stand-ins in the real formats.

    <dir>/esc50/ESC-50-<commit>.zip                 the GitHub archive of the pinned commit
    <dir>/urbansound8k/UrbanSound8K.tar.gz          rates 22.05-96 kHz, 16/24 bit, mono and stereo
    <dir>/clotho/clotho_audio_<split>.7z, clotho_{captions,metadata}_<split>.csv  (metadata: ISO-8859-1)
    <dir>/tau2020/TAU-…-development.{audio.1-16,doc,meta}.zip
    <dir>/fsd50k/FSD50K.dev_audio.z01-z05 + .zip, FSD50K.eval_audio.z01 + .zip, FSD50K.{ground_truth,metadata,doc}.zip
    <dir>/vggsound/vggsound.csv, <dir>/vggsound/videos/<youtube_id>.mp4
    <dir>/musdb18_7s/MUSDB18-7-STEMS.zip            .stem.mp4 files (five AAC streams), one damaged
    <dir>/checkpoints/Wav2CLIP.pt                   random weights, official key layout
    <dir>/checkpoints/vqgan_imagenet_f16_16384.ckpt a small random VQGAN in the taming-transformers layout
    <dir>/clip/ViT-B-32.safetensors                 open_clip ViT-B-32, random weights (optional)
    <dir>/checksums.json                            the stand-ins' md5s where the public release publishes one
    <dir>/rehearsal.json                            what each dataset's prepare() must report

Serve ``<dir>`` (:mod:`w2clib.rehearsal.server`) and set ``W2C_MIRROR`` to its URL and
``W2C_MIRROR_CHECKSUMS`` to ``<dir>/checksums.json`` (:mod:`w2clib.mirrors`): the downloaders users
run then fetch the stand-ins.  Files that the public release has without a published checksum
(the ESC-50 zip, ``vggsound.csv``, ``Wav2CLIP.pt``) get none here either, so they go through
trust on first use.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from .._io import atomic_write_json
from .archives import split_zip, tar_gz_folder, zip_folder
from .audio import Expected, md5_of
from .layouts import (
    TAU_FOLDER,
    build_clotho,
    build_esc50,
    build_fsd50k,
    build_tau2020,
    build_urbansound8k,
)
from .musdb import build_musdb18
from .vggsound import build_vggsound
from .weights import write_openclip_weights, write_vqgan_release, write_wav2clip_release

__all__ = ["build_mirror", "CHECKSUMS_NAME", "SUMMARY_NAME", "CLIP_WEIGHTS", "CHECKPOINT_FILE", "PAPER_DATASETS"]

CHECKSUMS_NAME = "checksums.json"
SUMMARY_NAME = "rehearsal.json"
CLIP_WEIGHTS = "clip/ViT-B-32.safetensors"
CHECKPOINT_FILE = "checkpoints/Wav2CLIP.pt"
VQGAN_FILE = "checkpoints/vqgan_imagenet_f16_16384.ckpt"  # w2clib.generate.weights.VQGAN_FILENAME
PAPER_DATASETS = ("esc50", "urbansound8k", "clotho", "tau2020", "fsd50k", "vggsound", "musdb18_7s")
_PUBLISHED = ("urbansound8k", "clotho", "tau2020", "fsd50k")  # datasets whose release publishes md5s


def _esc50(out: Path, staging: Path) -> Expected:
    from ..data.esc50 import COMMIT

    expected = build_esc50(staging / f"ESC-50-{COMMIT}")
    zip_folder(staging / f"ESC-50-{COMMIT}", out / f"ESC-50-{COMMIT}.zip")
    return dataclasses.replace(expected, root=staging)


def _urbansound8k(out: Path, staging: Path) -> Expected:
    expected = build_urbansound8k(staging / "us8k")
    tar_gz_folder(staging / "us8k" / "UrbanSound8K", out / "UrbanSound8K.tar.gz")
    return expected


def _clotho(out: Path, staging: Path) -> Expected:
    root = staging / "clotho"
    root.mkdir(parents=True)
    expected = build_clotho(root, archives=out)
    shutil.rmtree(out / "_staging")
    for csv_file in root.glob("clotho_*.csv"):
        shutil.copy2(csv_file, out / csv_file.name)
    return expected


def _tau2020(out: Path, staging: Path) -> Expected:
    from ..data.tau2020 import TAU2020

    expected = build_tau2020(staging)
    base = staging / TAU_FOLDER
    audio_zips = sorted((r.filename for r in TAU2020.remotes if ".audio." in r.filename),
                        key=lambda name: int(name.split(".audio.")[1].split(".")[0]))
    wavs = sorted((base / "audio").glob("*.wav"))
    members: dict[str, list[tuple[Path, str]]] = {name: [] for name in audio_zips}
    for i, wav in enumerate(wavs):  # spread the clips over the first zips, as the release spreads 23 040
        members[audio_zips[i % len(audio_zips)]].append((wav, f"audio/{wav.name}"))
    members[f"{TAU_FOLDER}.meta.zip"] = [(p, p.relative_to(base).as_posix()) for p in
                                         [base / "meta.csv", *sorted((base / "evaluation_setup").glob("*.csv"))]]
    readme = staging / "README.md"
    readme.write_text("TAU Urban Acoustic Scenes 2020 Mobile, development dataset (rehearsal stand-in)\n")
    members[f"{TAU_FOLDER}.doc.zip"] = [(readme, "README.md")]
    for name, files in members.items():
        with zipfile.ZipFile(out / name, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for path, arcname in files:
                zf.write(path, f"{TAU_FOLDER}/{arcname}")
    return expected


def _fsd50k(out: Path, staging: Path) -> Expected:
    from ..data.fsd50k import SPLIT_GROUPS

    root = staging / "fsd50k"
    expected = build_fsd50k(root)
    for group, parts in SPLIT_GROUPS.items():
        written = split_zip(root / group, group, out, group, n_parts=len(parts))
        if [p.name for p in written] != parts:
            raise RuntimeError(f"split_zip wrote {[p.name for p in written]}, the release has {parts}")
    (root / "FSD50K.metadata").mkdir()
    (root / "FSD50K.metadata" / "collection").mkdir()
    (root / "FSD50K.metadata" / "collection" / "collection_dev.csv").write_text("fname,labels,mids\n")
    (root / "FSD50K.doc").mkdir()
    (root / "FSD50K.doc" / "README.md").write_text("FSD50K (rehearsal stand-in)\n")
    for name in ("FSD50K.ground_truth", "FSD50K.metadata", "FSD50K.doc"):
        zip_folder(root / name, out / f"{name}.zip")
    return expected


_BUILDERS = {"esc50": _esc50, "urbansound8k": _urbansound8k, "clotho": _clotho, "tau2020": _tau2020,
             "fsd50k": _fsd50k, "musdb18_7s": build_musdb18}


def _relative(paths: list[str], staging_root: Path) -> list[str]:
    """Paths of broken files relative to the dataset folder (``<data home>/<dataset>``) after extraction."""
    out = []
    for p in paths:
        try:
            out.append(Path(p).relative_to(staging_root).as_posix())
        except ValueError:
            out.append(p)
    return sorted(out)


def build_mirror(folder: str | os.PathLike[str], *, clip: bool = True, datasets: tuple[str, ...] = PAPER_DATASETS,
                 seed: int = 0) -> dict[str, Expected]:
    """Write the stand-in mirror into ``folder`` (created; existing stand-ins are overwritten).

    Args:
        folder: the mirror root (serve it, or use it as a ``file://`` mirror).
        clip: also write the random open_clip ViT-B-32 weights (~300 MB, a few seconds).
        datasets: which of :data:`PAPER_DATASETS` to build.
        seed: seed of the random checkpoint / CLIP weights.

    Returns:
        dataset -> :class:`~w2clib.rehearsal.audio.Expected`: clip ids and the broken files (paths
        relative to ``<data home>/<dataset>``; for VGGSound clip ids), also summarised in
        ``folder/rehearsal.json``.
    """
    unknown = sorted(set(datasets) - set(PAPER_DATASETS))
    if unknown:
        raise ValueError(f"datasets: unknown {unknown}; choose from {list(PAPER_DATASETS)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, Expected] = {}
    checksums: dict[str, dict[str, dict[str, str]]] = {}
    with tempfile.TemporaryDirectory(prefix="w2c-rehearsal-") as tmp:
        for name in datasets:
            out = folder / name
            if out.exists():
                shutil.rmtree(out)
            out.mkdir(parents=True)
            staging = Path(tmp) / name
            staging.mkdir()
            if name == "vggsound":
                results[name] = build_vggsound(out)
                continue
            expected = _BUILDERS[name](out, staging)
            staging_root = expected.root
            results[name] = dataclasses.replace(expected, root=out, missing=_relative(expected.missing, staging_root),
                                                corrupt=_relative(expected.corrupt, staging_root),
                                                too_short=_relative(expected.too_short, staging_root))
            if name in _PUBLISHED:
                checksums[name] = {p.name: {"md5": md5_of(p)} for p in sorted(out.iterdir()) if p.is_file()}
    write_wav2clip_release(folder / CHECKPOINT_FILE, seed=seed)
    write_vqgan_release(folder / VQGAN_FILE, seed=seed)
    if clip:
        write_openclip_weights(folder / CLIP_WEIGHTS, seed=seed)
    atomic_write_json(folder / CHECKSUMS_NAME, checksums)
    summary = {name: {"n_clips": len(e.clip_ids), "missing": e.missing, "corrupt": e.corrupt,
                      "too_short": e.too_short} for name, e in results.items()}
    atomic_write_json(folder / SUMMARY_NAME, {"datasets": summary, "checkpoint": CHECKPOINT_FILE,
                                              "clip_weights": CLIP_WEIGHTS if clip else None,
                                              "note": "rehearsal stand-ins: numbers computed on them mean nothing"})
    return results


