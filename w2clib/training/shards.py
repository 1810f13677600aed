"""Decoded 16 kHz audio and teacher targets in memory-mapped shards, for training at VGGSound scale.

Why memory-mapped arrays rather than WebDataset-style tars: training needs *random access* -- a
seeded global permutation every epoch, random crops that read only the cropped samples, and exact
mid-epoch resumption (:mod:`w2clib.training.loader`).  A ``.npy`` opened with ``mmap_mode="r"`` gives
that with no decoding and no shuffle buffer: the kernel pages in the bytes a crop touches, many loader
workers share the page cache, and the files stream from a local disk or network file system.  Tars
suit sequential object-store streaming instead; that trade-off is not needed for ~200 k clips
(VGGSound at 10 s is ~64 GB as int16).

Layout of a shard set (``DIR``)::

    index.json                 format, sample rate, target size, shard list, clips skipped at writing
    shard-00000/audio.npy      int16 (total_samples,): every clip's samples, back to back (x / 32767)
    shard-00000/offsets.npy    int64 (n_clips + 1,): clip i is audio[offsets[i]:offsets[i+1]]
    shard-00000/targets.npy    float16 (n_clips, dim) or (n_clips, views, dim)
    shard-00000/clips.json     clip ids (and groups) in order, clips skipped in this shard
    shard-00000/shard.json     SHA-256 of each file; written last, marks the shard complete

Writing is resumable and can be split over machines: each shard is written to a temporary folder
and renamed when complete; a rerun skips complete shards; ``part=(i, n)`` writes shards ``i, i+n, ...``;
``index.json`` appears once every shard exists.  Clips that are missing, unreadable, silent, shorter
than ``min_seconds`` or without a teacher target are recorded in the index with the reason, and
:class:`ShardSource` reports them every epoch.

    python -m w2clib.training.shards write --manifest train.csv --targets teacher.npz --out DIR --workers 8
    python -m w2clib.training.shards info DIR [--verify]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._io import atomic_write_json, sha256_file
from ..audio import SAMPLE_RATE, SILENCE_PEAK, load_audio
from .sources import PairSource, align_targets, load_target_table

__all__ = ["PCM_SCALE", "ShardSource", "main", "read_index", "verify_shards", "write_shards"]

FORMAT, VERSION = "w2clib-shards", 1
INDEX, SHARD_META = "index.json", "shard.json"
PCM_SCALE = 32767.0  # float sample = int16 / PCM_SCALE (clipped to [-1, 1] when written)
_FILES = ("audio.npy", "offsets.npy", "targets.npy", "clips.json")


def _shard_name(i: int) -> str:
    return f"shard-{i:05d}"


def _decode(path: str, min_samples: int, max_samples: int | None) -> tuple[np.ndarray | None, str]:
    """Decode one file at 16 kHz; returns (int16 samples, "") or (None, reason)."""
    if not path or not os.path.exists(path):
        return None, "missing"
    try:
        wave = load_audio(path, SAMPLE_RATE)
    except Exception:  # noqa: BLE001 - a corrupt file is recorded, never fatal
        return None, "unreadable"
    if not np.isfinite(wave).all():
        return None, "unreadable"
    if wave.shape[0] < min_samples:
        return None, "too_short"
    if float(np.abs(wave).max(initial=0.0)) < SILENCE_PEAK:
        return None, "silent"
    if max_samples is not None:
        wave = wave[:max_samples]
    return np.round(np.clip(wave, -1.0, 1.0) * PCM_SCALE).astype(np.int16), ""


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)  # one clip per process at a time: no oversubscription


def _write_one(job: dict[str, Any]) -> str:
    """Write shard ``job['index']`` into ``job['out']`` (temporary folder, then rename)."""
    out = Path(job["out"])
    final = out / _shard_name(job["index"])
    if (final / SHARD_META).exists():
        return final.name
    tmp = out / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    pieces, ids, groups, rows, skipped = [], [], [], [], []
    for i, (clip_id, path) in enumerate(zip(job["clip_ids"], job["paths"])):
        samples, reason = _decode(path, job["min_samples"], job["max_samples"])
        if samples is None:
            skipped.append([clip_id, reason])
            continue
        pieces.append(samples)
        ids.append(clip_id)
        rows.append(i)
        if job["groups"] is not None:
            groups.append(job["groups"][i])
    lengths = np.array([p.shape[0] for p in pieces], dtype=np.int64)
    np.save(tmp / "audio.npy", np.concatenate(pieces) if pieces else np.zeros(0, np.int16))
    np.save(tmp / "offsets.npy", np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
    targets = np.asarray(job["targets"])[rows] if rows else np.zeros((0,) + np.shape(job["targets"])[1:])
    np.save(tmp / "targets.npy", targets.astype(np.float16))
    clips = {"clip_ids": ids, "groups": groups if job["groups"] is not None else None, "skipped": skipped}
    (tmp / "clips.json").write_text(json.dumps(clips))
    meta = {"n_clips": len(ids), "n_samples": int(lengths.sum()), "sha256": {f: sha256_file(tmp / f) for f in _FILES}}
    (tmp / SHARD_META).write_text(json.dumps(meta, indent=1))
    if final.exists():  # a half-written leftover without shard.json
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final.name


def write_shards(
    manifest: pd.DataFrame,
    targets: np.ndarray,
    target_ids: Sequence[str],
    out_dir: str | os.PathLike[str],
    *,
    shard_size: int = 1024,
    min_seconds: float = 1.0,
    max_seconds: float | None = None,
    group_column: str | None = None,
    workers: int = 1,
    part: tuple[int, int] = (0, 1),
    teacher: dict[str, Any] | None = None,
    progress: bool = True,
) -> Path | None:
    """Decode the clips of ``manifest`` into shards with their teacher targets.

    Args:
        manifest: rows with ``clip_id`` and ``audio_path`` (any sample rate / channels / format that
            soundfile reads); clips are stored sorted by ``clip_id``.
        targets, target_ids: (n, dim) or (n, views, dim) teacher targets and the clip id of each row.
        out_dir: the shard set folder (created).
        shard_size: clips per shard (1024 x 10 s = 330 MB).
        min_seconds: shorter clips are skipped (``too_short``); ``max_seconds``: longer are truncated.
        group_column: manifest column stored as each clip's group (e.g. the label).
        workers: decoding processes on this machine.
        part: ``(i, n)`` writes only shards ``i, i + n, ...`` (split the work over n machines).
        teacher: description of the teacher, stored in the index and later in checkpoints.

    Returns:
        The path of ``index.json`` once every shard exists, else ``None`` (other parts pending).
    """
    for column in ("clip_id", "audio_path") + ((group_column,) if group_column else ()):
        if column not in manifest.columns:
            raise ValueError(f"manifest lacks column {column!r}; it has {list(manifest.columns)}")
    if shard_size < 1 or workers < 1 or not 0 <= part[0] < part[1]:
        raise ValueError(f"need shard_size >= 1, workers >= 1 and part=(i, n) with 0 <= i < n, got "
                         f"{shard_size}, {workers}, {part}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ordered = manifest.assign(clip_id=manifest["clip_id"].astype(str)).sort_values("clip_id", kind="stable")
    matrix, has_target = align_targets(ordered["clip_id"].tolist(), targets, target_ids)
    no_target = [[c, "no_target"] for c in ordered.loc[~has_target, "clip_id"]]
    ordered, matrix = ordered.loc[has_target], matrix[has_target]
    n_shards = max(1, -(-len(ordered) // shard_size))
    jobs = []
    for i in range(part[0], n_shards, part[1]):
        rows = slice(i * shard_size, (i + 1) * shard_size)
        chunk = ordered.iloc[rows]
        jobs.append({
            "out": str(out), "index": i, "clip_ids": chunk["clip_id"].tolist(),
            "paths": [None if pd.isna(p) else str(p) for p in chunk["audio_path"]],
            "groups": chunk[group_column].tolist() if group_column else None,
            "targets": matrix[rows], "min_samples": int(min_seconds * SAMPLE_RATE),
            "max_samples": None if max_seconds is None else int(max_seconds * SAMPLE_RATE),
        })
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc="writing shards", unit="shard", disable=not progress)
    if workers == 1:
        for job in jobs:
            _write_one(job)
            bar.update(1)
    else:
        # spawn, not fork: a forked child of a process that already ran torch/OpenMP threads can hang
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker) as pool:
            for _ in pool.map(_write_one, jobs):
                bar.update(1)
    bar.close()
    names = [_shard_name(i) for i in range(n_shards)]
    if not all((out / n / SHARD_META).exists() for n in names):
        return None
    index = {
        "format": FORMAT, "version": VERSION, "sample_rate": SAMPLE_RATE, "pcm_scale": PCM_SCALE,
        "target_shape": list(matrix.shape[1:]), "teacher": teacher or {}, "shards": names,
        "n_clips": sum(json.loads((out / n / SHARD_META).read_text())["n_clips"] for n in names),
        "skipped_no_target": no_target,
    }
    atomic_write_json(out / INDEX, index)
    return out / INDEX


def read_index(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``index.json`` of a shard set (clear errors when absent or foreign)."""
    path = Path(directory) / INDEX
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: {directory} is not a complete shard set. Write it with "
            "`python -m w2clib.training.shards write --manifest ... --targets ... --out DIR` (all parts)"
        )
    index = json.loads(path.read_text())
    if index.get("format") != FORMAT or index.get("version") != VERSION:
        raise ValueError(f"{path} is not a {FORMAT} v{VERSION} index")
    return index


def verify_shards(directory: str | os.PathLike[str]) -> list[str]:
    """Re-hash every shard file; returns the files whose SHA-256 does not match (empty = intact)."""
    index, bad = read_index(directory), []
    for name in index["shards"]:
        meta = json.loads((Path(directory) / name / SHARD_META).read_text())
        for file, digest in meta["sha256"].items():
            if sha256_file(Path(directory) / name / file) != digest:
                bad.append(f"{name}/{file}")
    return bad


class ShardSource(PairSource):
    """A shard set as a :class:`~w2clib.training.sources.PairSource` (random access by mmap)."""

    def __init__(self, directory: str | os.PathLike[str], *, name: str | None = None, verify: bool = False) -> None:
        self.directory = Path(directory)
        self.name = name or self.directory.name
        index = read_index(self.directory)
        if verify:
            bad = verify_shards(self.directory)
            if bad:
                raise ValueError(f"shard files changed or corrupt: {bad[:5]}; rewrite those shards")
        ids, groups, targets, offsets, skipped = [], [], [], [], list(map(tuple, index["skipped_no_target"]))
        for name_ in index["shards"]:
            folder = self.directory / name_
            clips = json.loads((folder / "clips.json").read_text())
            ids += clips["clip_ids"]
            groups += clips["groups"] or []
            skipped += [tuple(s) for s in clips["skipped"]]
            targets.append(np.load(folder / "targets.npy"))
            offsets.append(np.load(folder / "offsets.npy"))
        self._shard_names = list(index["shards"])
        counts = np.array([len(o) - 1 for o in offsets])
        self._starts = np.concatenate([[0], np.cumsum(counts)])
        self._offsets = offsets
        self._audio: dict[int, np.ndarray] = {}
        stacked = np.concatenate(targets) if targets else np.zeros((0, *index["target_shape"]), np.float16)
        super().__init__(ids, stacked, groups=groups if groups else None, skipped=skipped,
                         teacher=index.get("teacher"))

    def _locate(self, row: int) -> tuple[int, int]:
        shard = int(np.searchsorted(self._starts, row, side="right") - 1)
        return shard, row - int(self._starts[shard])

    def _length(self, row: int) -> int:
        shard, local = self._locate(row)
        return int(self._offsets[shard][local + 1] - self._offsets[shard][local])

    def _read(self, row: int, start: int, stop: int) -> np.ndarray:
        shard, local = self._locate(row)
        if shard not in self._audio:  # opened lazily, so each loader worker maps its own view
            self._audio[shard] = np.load(self.directory / self._shard_names[shard] / "audio.npy", mmap_mode="r")
        base = int(self._offsets[shard][local])
        return self._audio[shard][base + start : base + stop].astype(np.float32) / np.float32(PCM_SCALE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m w2clib.training.shards", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write", help="decode a manifest + teacher targets into shards")
    w.add_argument("--manifest", required=True, help="CSV or Parquet with clip_id, audio_path[, split]")
    w.add_argument("--targets", required=True, help=".npz with clip_ids and embeddings")
    w.add_argument("--out", required=True)
    w.add_argument("--split", default=None, help="keep only manifest rows of this split (e.g. train)")
    w.add_argument("--shard-size", type=int, default=1024)
    w.add_argument("--min-seconds", type=float, default=1.0)
    w.add_argument("--max-seconds", type=float, default=None)
    w.add_argument("--group-column", default=None)
    w.add_argument("--workers", type=int, default=1)
    w.add_argument("--part", default="0/1", help="i/n: write shards i, i+n, ... (several machines)")
    i = sub.add_parser("info", help="summarise (and optionally verify) a shard set")
    i.add_argument("directory")
    i.add_argument("--verify", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "info":
        index = read_index(args.directory)
        print(json.dumps({k: v for k, v in index.items() if k != "skipped_no_target"}, indent=1))
        if args.verify:
            bad = verify_shards(args.directory)
            print("all shard files intact" if not bad else f"CORRUPT: {bad}")
            return 1 if bad else 0
        return 0
    path = Path(args.manifest)
    manifest = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if args.split is not None:
        manifest = manifest[manifest["split"] == args.split]
    targets, target_ids, teacher = load_target_table(args.targets)
    part_i, part_n = (int(x) for x in args.part.split("/"))
    done = write_shards(manifest, targets, target_ids, args.out, shard_size=args.shard_size,
                        min_seconds=args.min_seconds, max_seconds=args.max_seconds,
                        group_column=args.group_column, workers=args.workers, part=(part_i, part_n),
                        teacher=teacher)
    print(f"index written: {done}" if done else "this part is done; other parts are still missing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
