"""The teacher-embedding cache: each clip's distillation target, computed once and reused.

A clip's target is the mean of its frames' teacher image embeddings (the paper averages CLIP
embeddings of every frame at 30 fps).  Where the frames come from (:mod:`w2clib.teachers.frames`), per
manifest row, first match:

1. ``frames_dir`` -- extracted frames (``*.jpg``/``*.png``, sorted by name) at the row's ``fps``;
   ``frame_rate`` subsamples them (30 fps frames at 1 fps: every 30th);
2. ``video_path`` -- decoded at ``frame_rate`` (default 1 fps) from ``video_start_s``
   (:func:`w2clib.data.video.read_frames`);
3. ``image_path`` -- a still image: ``views`` augmented views (view 0 = the image), seeded by the
   SHA-256 of the image file (:func:`w2clib.teachers.augmented_views`), so a photo behaves like a
   video's frames and clips sharing a photo share its target (embedded once per run);
4. ``target_kind == "class_prototype"`` with an ``imagenet_index`` (or ``imagenet_class``) -- the
   teacher's class prototype (a stand-in for averaged frame embeddings: such clips have no picture).

Clips that match nothing or whose files are missing/unreadable get ``status`` ``no_target`` /
``missing`` / ``unreadable`` and NaN rows: counted and reported, never silently dropped.

On-disk format (one folder per teacher + manifest + settings, the *key*)::

    <root>/<teacher>-<key>/spec.json                    what was computed (teacher.describe(), settings)
        shard-00000-of-00004/chunk-000000.npz ...       resumable unit: ``chunk_size`` clips, atomic
        shard-00000-of-00004.done.json                  a finished shard: counts, seconds, throughput
        index.csv  mean.npy  [frames.npy]  targets.npz  complete.json     written by merge_features

Why: each shard is one process (``shard=(i, n)``: every n-th clip in clip-id order) writing only its
own folder, so shards need no locks and a killed run loses at most one chunk.  The merged
``mean.npy`` is (n_clips, dim) float32 (VGGSound: 200 k x 512 x 4 B = 400 MB) and ``frames.npy`` is
every frame/view embedding in float16 back to back, with ``frame_start``/``n_frames`` in
``index.csv`` (30 fps VGGSound: 60 GB): both are plain ``.npy`` files that ``np.load(mmap_mode="r")``
maps without reading them.  ``targets.npz`` (``clip_ids``, ``embeddings``, ``teacher``) is what the
trainer reads (:func:`w2clib.training.sources.load_target_table`).

    feats = features_for(manifest, teacher, TeacherConfig())    # compute if needed, then load
    feats.targets()                                              # (clip ids, (n, dim) float32)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._io import atomic_path, atomic_write_json, user_cache_dir
from . import TeacherConfig
from .base import Teacher
from .frames import prefetch_clip_frames

__all__ = [
    "FORMAT_VERSION",
    "TeacherFeatures",
    "compute_features",
    "default_features_dir",
    "feature_key",
    "features_for",
    "load_features",
    "manifest_fingerprint",
    "merge_features",
]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1  # bump when the folder layout or the target rule changes
KEY_COLUMNS = ("clip_id", "frames_dir", "fps", "video_path", "video_start_s", "image_path", "target_kind",
               "imagenet_index", "imagenet_class", "sha256")  # what decides a clip's target


# ------------------------------------------------------------------------------------------------
# Keys


def _check_manifest(manifest: pd.DataFrame) -> None:
    if not isinstance(manifest, pd.DataFrame):
        raise TypeError(f"manifest must be a pandas DataFrame, got {type(manifest).__name__}")
    if "clip_id" not in manifest.columns:
        raise ValueError(f"manifest lacks the clip_id column; it has {list(manifest.columns)}")
    dup = manifest["clip_id"].astype(str)
    if dup.duplicated().any():
        raise ValueError(f"manifest clip ids must be unique; repeated: {dup[dup.duplicated()].head(5).tolist()}")
    sources = {"frames_dir", "video_path", "image_path", "imagenet_index", "imagenet_class"}
    if not sources & set(manifest.columns):
        raise ValueError(f"manifest has no frame source: it needs one of {sorted(sources)} (see w2clib.data.base)")


PATH_COLUMNS = ("frames_dir", "video_path", "image_path")


def _portable(path: str, homes: Sequence[str]) -> str:
    """A path as the key sees it: relative to the data home it lies in (so the same data prepared
    under another home, on another machine, keys the same cache)."""
    for home in homes:
        if path.startswith(home):
            return "<data>/" + path[len(home):].lstrip("/")
    return path


def manifest_fingerprint(manifest: pd.DataFrame) -> str:
    """SHA-256 of the columns that decide the targets (:data:`KEY_COLUMNS`), rows in clip-id order;
    paths under the data home count relative to it."""
    from ..data import resolve_data_home

    _check_manifest(manifest)
    columns = [c for c in KEY_COLUMNS if c in manifest.columns]
    frame = manifest[columns].astype(str).sort_values("clip_id", kind="stable")
    home = resolve_data_home()
    homes = sorted({str(home), str(home.resolve())}, key=len, reverse=True)
    for column in set(PATH_COLUMNS) & set(columns):
        frame[column] = [_portable(p, homes) for p in frame[column]]
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


def _spec(teacher: Teacher, manifest: pd.DataFrame, frame_rate: float | None, views: int, view_seed: int,
          every_frame: bool) -> dict[str, Any]:
    return {"format_version": FORMAT_VERSION, "teacher": teacher.describe(),
            "manifest_sha256": manifest_fingerprint(manifest), "n_clips": len(manifest),
            "frame_rate": None if frame_rate is None else float(frame_rate), "views": int(views),
            "view_seed": int(view_seed), "every_frame": bool(every_frame)}


def feature_key(spec: dict[str, Any]) -> str:
    """16 hex digits identifying a computation (teacher, manifest, frame rate, views, format)."""
    fields = {k: spec[k] for k in ("format_version", "teacher", "manifest_sha256", "frame_rate", "views",
                                   "view_seed", "every_frame")}
    # a weights file is identified by its SHA-256 (also in the description), not by where it lies
    fields["teacher"] = {k: v for k, v in fields["teacher"].items() if k != "weights_file"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]


def default_features_dir(spec: dict[str, Any], root: str | os.PathLike[str] | None = None) -> Path:
    """``<root>/<teacher name>-<key>``; root defaults to ``<w2clib cache>/features``."""
    base = Path(root) if root is not None else user_cache_dir() / "features"
    slug = re.sub(r"[^A-Za-z0-9.]+", "_", str(spec["teacher"].get("name", "teacher"))).strip("_")
    return base / f"{slug}-{feature_key(spec)}"


# ------------------------------------------------------------------------------------------------
# Computing one shard


def _embed_chunk(teacher: Teacher, rows: list[dict[str, Any]], *, frame_rate: float | None, views: int,
                 view_seed: int, batch_size: int, workers: int, bar: Any,
                 memo: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Targets of ``rows``: images from many clips share forward passes of ``batch_size``.

    ``memo`` maps a still image's SHA-256 to its (views, dim) embeddings, across chunks of a run.
    """
    n, dim = len(rows), teacher.dim
    status, source = [""] * n, [""] * n
    per_clip: list[list[np.ndarray]] = [[] for _ in range(n)]
    expected = [0] * n
    buffer: list[tuple[int, Any]] = []
    waiting: dict[str, list[int]] = {}  # image key -> clips (after the first) that reuse its views
    keys: dict[int, str] = {}
    n_images = 0

    def flush() -> None:
        nonlocal n_images
        if not buffer:
            return
        emb = teacher.embed_images([im for _, im in buffer], batch_size=batch_size)
        for (i, _), e in zip(buffer, emb):
            per_clip[i].append(e)
        n_images += len(buffer)
        buffer.clear()

    frames_iter = prefetch_clip_frames(rows, workers, frame_rate=frame_rate, views=views, view_seed=view_seed)
    prototypes: dict[int, int] = {}
    for i, (st, src, payload, key) in enumerate(frames_iter):
        status[i], source[i] = st, src
        if st == "ok" and src == "prototype":
            prototypes[i] = int(payload)
            expected[i] = 1
        elif st == "ok":
            expected[i] = len(payload)
            if key is not None and key in memo:
                per_clip[i].extend(memo[key])
            elif key is not None and key in waiting:
                waiting[key].append(i)
            else:
                if key is not None:
                    waiting[key], keys[i] = [], key
                buffer.extend((i, im) for im in payload)
                if len(buffer) >= batch_size:
                    flush()
        if bar is not None:
            bar.update(1)
    flush()
    for i, key in keys.items():  # first clip of each new image: share its views with the others
        memo[key] = np.stack(per_clip[i])
        for j in waiting[key]:
            per_clip[j].extend(memo[key])
    if len(memo) > 20000:  # bounded: VGGSound stills are rare, Tux Paint has ~800 photos
        memo.clear()
    if prototypes:
        protos = teacher.class_prototypes(list(prototypes.values()))
        for (i, _), p in zip(prototypes.items(), protos):
            per_clip[i].append(p)
    mean = np.full((n, dim), np.nan, dtype=np.float32)
    n_frames = np.zeros(n, dtype=np.int64)
    frames = []
    for i in range(n):
        if status[i] == "ok":
            stack = np.stack(per_clip[i]).astype(np.float32)
            if len(stack) != expected[i]:
                raise RuntimeError(f"internal error: clip {rows[i]['clip_id']} got {len(stack)} of {expected[i]} frames")
            mean[i] = stack.mean(axis=0)
            n_frames[i] = len(stack)
            frames.append(stack.astype(np.float16))
    return {"clip_ids": np.array([str(r["clip_id"]) for r in rows]), "status": np.array(status),
            "source": np.array(source), "n_frames": n_frames, "mean": mean,
            "frames": np.concatenate(frames) if frames else np.zeros((0, dim), np.float16), "n_images": np.int64(n_images)}


def _shard_name(i: int, n: int) -> str:
    return f"shard-{i:05d}-of-{n:05d}"


def _write_spec(folder: Path, spec: dict[str, Any]) -> None:
    path = folder / "spec.json"
    if path.is_file():
        old = json.loads(path.read_text())
        if feature_key(old) != feature_key(spec):
            raise ValueError(f"{folder} holds features of another computation (key {feature_key(old)}, "
                             f"wanted {feature_key(spec)}); use a different folder or delete it")
        return
    atomic_write_json(path, {**spec, "key": feature_key(spec)})


def compute_features(
    manifest: pd.DataFrame, teacher: Teacher, out_dir: str | os.PathLike[str] | None = None, *,
    frame_rate: float | None = None, views: int = 8, view_seed: int = 0, every_frame: bool = False,
    shard: tuple[int, int] = (0, 1), batch_size: int = 32, chunk_size: int = 256, workers: int = 2,
    root: str | os.PathLike[str] | None = None, progress: bool = True, merge: bool = True,
) -> Path:
    """Compute (or resume) the teacher targets of shard ``shard = (i, n)`` of ``manifest``.

    Clips are taken in clip-id order; shard i gets every n-th one.  Work is saved every
    ``chunk_size`` clips, so a rerun continues where a killed one stopped.  With one shard (or
    ``merge`` and every shard done) the result is merged (:func:`merge_features`).

    Args:
        manifest: rows with ``clip_id`` and a frame source (module docstring).
        teacher: the teacher whose image embeddings are the targets.
        out_dir: the feature folder (default :func:`default_features_dir` under ``root``).
        frame_rate: frames per second for videos/frame folders (None: as extracted; videos 1 fps).
        views: augmented views per still image.  view_seed: their seed.
        every_frame: also store every frame/view embedding (float16).
        shard: (index, count) of this process's share.
        batch_size: images per teacher forward pass.  chunk_size: clips per saved chunk.
        workers: threads that read and decode frames ahead of the teacher (0: none).

    Returns:
        The feature folder.
    """
    i, n = shard
    if not (isinstance(i, int) and isinstance(n, int) and 0 <= i < n):
        raise ValueError(f"shard must be (index, count) with 0 <= index < count, got {shard}")
    if views < 1 or batch_size < 1 or chunk_size < 1:
        raise ValueError("views, batch_size and chunk_size must be >= 1")
    spec = _spec(teacher, manifest, frame_rate, views, view_seed, every_frame)
    folder = Path(out_dir) if out_dir is not None else default_features_dir(spec, root)
    if (folder / "complete.json").is_file() and _complete_matches(folder, spec):
        return folder
    _write_spec(folder, spec)
    done_path = folder / f"{_shard_name(i, n)}.done.json"
    if not done_path.is_file():
        rows = manifest.assign(clip_id=manifest["clip_id"].astype(str)).sort_values("clip_id", kind="stable")
        mine = rows.iloc[i::n].to_dict("records")
        chunks = [mine[s:s + chunk_size] for s in range(0, len(mine), chunk_size)]
        shard_dir = folder / _shard_name(i, n)
        from tqdm.auto import tqdm

        bar = tqdm(total=len(mine), desc=f"teacher {teacher.name} [{i + 1}/{n}]", unit="clip", disable=not progress)
        began, n_images, counts, memo = time.time(), 0, Counter(), {}
        for c, chunk in enumerate(chunks):
            path = shard_dir / f"chunk-{c:06d}.npz"
            saved = _saved_chunk(path) if path.is_file() else None
            if saved is not None:
                if saved["clip_ids"] != [str(r["clip_id"]) for r in chunk]:
                    raise ValueError(f"{path} does not hold the clips this shard expects; delete {folder}")
                counts.update(saved["status"])
                bar.update(len(chunk))
                continue
            t0 = time.time()
            out = _embed_chunk(teacher, chunk, frame_rate=frame_rate, views=views, view_seed=view_seed,
                               batch_size=batch_size, workers=workers, bar=bar, memo=memo)
            if not every_frame:
                out["frames"] = np.zeros((0, teacher.dim), np.float16)
            with atomic_path(path) as tmp, open(tmp, "wb") as handle:
                np.savez(handle, **out)
            seconds = max(time.time() - t0, 1e-9)
            n_images += int(out["n_images"])
            counts.update(str(s) for s in out["status"])
            bar.set_postfix(img_per_s=f"{int(out['n_images']) / seconds:.1f}")
            log.info("%s chunk %d: %d clips, %d images in %.1f s (%.1f clips/s, %.1f images/s)", _shard_name(i, n),
                     c, len(chunk), int(out["n_images"]), seconds, len(chunk) / seconds, int(out["n_images"]) / seconds)
        bar.close()
        seconds = time.time() - began
        atomic_write_json(done_path, {"shard": [i, n], "n_clips": len(mine), "status": dict(counts),
                                      "images_this_run": n_images, "seconds_this_run": round(seconds, 2),
                                      "images_per_s": round(n_images / seconds, 2) if seconds > 0 else None,
                                      "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})
    if merge and all((folder / f"{_shard_name(j, n)}.done.json").is_file() for j in range(n)):
        merge_features(folder, n_shards=n)
    return folder


# ------------------------------------------------------------------------------------------------
# Merging and loading


def _complete_matches(folder: Path, spec: dict[str, Any]) -> bool:
    try:
        return json.loads((folder / "complete.json").read_text()).get("key") == feature_key(spec)
    except (OSError, ValueError):
        return False


def merge_features(folder: str | os.PathLike[str], n_shards: int | None = None) -> Path:
    """Join the chunks of every shard into ``index.csv``, ``mean.npy``, ``frames.npy`` (if kept),
    ``targets.npz`` and, last, ``complete.json``.  Rows follow clip-id order.

    Raises:
        FileNotFoundError: a shard has not finished (its ``.done.json`` is missing).
    """
    folder = Path(folder)
    spec = json.loads((folder / "spec.json").read_text())
    if n_shards is None:
        layouts = sorted({int(m.group(1)) for p in folder.glob("shard-*-of-*.done.json")
                          if (m := re.search(r"-of-(\d+)\.done", p.name))})
        if not layouts:
            raise FileNotFoundError(f"{folder}: no finished shard; run compute_features first")
        n_shards = layouts[-1]
    missing = [j for j in range(n_shards) if not (folder / f"{_shard_name(j, n_shards)}.done.json").is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: shards {missing} of {n_shards} have not finished; run them first "
                                f"(compute_features(..., shard=(i, {n_shards})))")
    # Small per-clip arrays of every chunk in memory; frames (possibly tens of GB) streamed below.
    paths = [path for j in range(n_shards) for path in sorted((folder / _shard_name(j, n_shards)).glob("chunk-*.npz"))]
    parts = []
    for path in paths:
        with np.load(path) as data:
            parts.append({k: data[k] for k in ("clip_ids", "status", "source", "n_frames", "mean")})
    dim = int(spec["teacher"]["dim"])

    def joined(key: str, empty: np.ndarray) -> np.ndarray:
        return np.concatenate([p[key] for p in parts]) if parts else empty

    ids = joined("clip_ids", np.array([], dtype=str))
    order = np.argsort(ids, kind="stable")  # output row r holds chunk-order clip order[r]
    mean = joined("mean", np.zeros((0, dim), np.float32))[order]
    n_frames = joined("n_frames", np.zeros(0, np.int64))[order]
    index = pd.DataFrame({"clip_id": ids[order], "status": joined("status", np.array([], dtype=str))[order],
                          "source": joined("source", np.array([], dtype=str))[order], "n_frames": n_frames})
    if spec["every_frame"]:
        # frames of clip r sit at frame_start[r] : frame_start[r] + n_frames[r] in frames.npy
        frame_start = np.concatenate([[0], np.cumsum(n_frames)[:-1]]).astype(np.int64) if len(n_frames) else n_frames
        index["frame_start"] = frame_start
        row_of = np.empty(len(order), dtype=np.int64)
        row_of[order] = np.arange(len(order))  # chunk-order clip -> output row
        with atomic_path(folder / "frames.npy") as tmp:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(int(n_frames.sum()), dim))
            clip = 0
            for path, part in zip(paths, parts):
                with np.load(path) as data:
                    frames = data["frames"]
                offsets = np.concatenate([[0], np.cumsum(part["n_frames"])])
                for k in range(len(part["clip_ids"])):
                    row = row_of[clip]
                    out[frame_start[row]: frame_start[row] + n_frames[row]] = frames[offsets[k]: offsets[k + 1]]
                    clip += 1
            out.flush()
            del out
    _save_npy(folder / "mean.npy", mean.astype(np.float32))
    with atomic_path(folder / "index.csv") as tmp:
        index.to_csv(tmp, index=False)
    ok = index["status"].to_numpy() == "ok"
    with atomic_path(folder / "targets.npz") as tmp, open(tmp, "wb") as handle:
        np.savez(handle, clip_ids=index["clip_id"].to_numpy()[ok].astype(str), embeddings=mean[ok].astype(np.float32),
                 teacher=np.array(json.dumps(spec["teacher"], sort_keys=True)))
    dones = [json.loads((folder / f"{_shard_name(j, n_shards)}.done.json").read_text()) for j in range(n_shards)]
    atomic_write_json(folder / "complete.json", {
        "key": feature_key(spec), "n_clips": len(index), "n_shards": n_shards,
        "status": index["status"].value_counts().to_dict(), "source": index.loc[ok, "source"].value_counts().to_dict(),
        "n_frames_total": int(n_frames.sum()), "shards": dones,
    })
    return folder


def _saved_chunk(path: Path) -> dict[str, list[str]] | None:
    """A saved chunk's clip ids and statuses, every member read (CRC-checked); ``None`` when damaged."""
    try:
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
        return {"clip_ids": [str(c) for c in arrays["clip_ids"]], "status": [str(s) for s in arrays["status"]]}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        log.warning("%s is damaged (%s); computing it again", path, err)
        return None


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array)


@dataclass
class TeacherFeatures:
    """A merged feature folder, loaded.

    ``index``: one row per clip (``clip_id, status, source, n_frames[, frame_start]``), clip-id
    order; ``mean``: (n, dim) float32 (NaN rows where ``status != "ok"``); ``frames``: (total, dim)
    float16 memory map of every frame/view embedding, or None; ``spec``: what was computed.
    """

    folder: Path
    spec: dict[str, Any]
    index: pd.DataFrame
    mean: np.ndarray
    frames: np.ndarray | None

    @property
    def clip_ids(self) -> list[str]:
        return self.index["clip_id"].astype(str).tolist()

    def targets(self, clip_ids: Sequence[str] | None = None) -> tuple[list[str], np.ndarray]:
        """(clip ids, (n, dim) float32) of the clips with a target (``status == "ok"``), optionally
        restricted to ``clip_ids`` (in that order; ids without a target are left out)."""
        ok = self.index["status"].to_numpy() == "ok"
        ids = self.index["clip_id"].astype(str).to_numpy()
        if clip_ids is None:
            return ids[ok].tolist(), self.mean[ok]
        row = {c: k for k, c in enumerate(ids) if ok[k]}
        keep = [str(c) for c in clip_ids if str(c) in row]
        return keep, self.mean[[row[c] for c in keep]] if keep else np.zeros((0, self.mean.shape[1]), np.float32)

    def targets_per_view(self, n_views: int, clip_ids: Sequence[str] | None = None) -> tuple[list[str], np.ndarray]:
        """(clip ids, (n, n_views, dim) float32): per-frame/view targets, for a trainer that samples
        one view per step (needs ``every_frame``).  A clip with a different number of frames gets
        ``n_views`` evenly spaced ones (repeating when it has fewer, e.g. a class prototype)."""
        if n_views < 1:
            raise ValueError(f"n_views must be >= 1, got {n_views}")
        ids, _ = self.targets(clip_ids)
        out = np.zeros((len(ids), n_views, self.mean.shape[1]), np.float32)
        for k, clip_id in enumerate(ids):
            frames = np.asarray(self.frames_of(clip_id), dtype=np.float32)
            pick = np.floor(np.arange(n_views) * len(frames) / n_views).astype(np.int64)
            out[k] = frames[pick]
        return ids, out

    def save_targets(self, path: str | os.PathLike[str], *, n_views: int | None = None) -> Path:
        """Write a trainer target file (``clip_ids``, ``embeddings``, ``teacher``): mean targets, or
        per-view ones ((n, n_views, dim)) when ``n_views`` is given."""
        ids, emb = self.targets() if n_views is None else self.targets_per_view(n_views)
        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, clip_ids=np.array(ids, dtype=str), embeddings=emb.astype(np.float32),
                     teacher=np.array(json.dumps(self.spec["teacher"], sort_keys=True)))
        return path

    def frames_of(self, clip_id: str) -> np.ndarray:
        """(n_frames, dim) float16 embeddings of one clip's frames/views (needs ``every_frame``)."""
        if self.frames is None:
            raise ValueError(f"{self.folder} keeps only mean embeddings; compute with every_frame=True")
        match = self.index.index[self.index["clip_id"].astype(str) == str(clip_id)]
        if not len(match):
            raise KeyError(f"clip {clip_id!r} is not in {self.folder}")
        row = self.index.loc[match[0]]
        return self.frames[int(row["frame_start"]): int(row["frame_start"]) + int(row["n_frames"])]

    def summary(self) -> dict[str, Any]:
        return json.loads((self.folder / "complete.json").read_text())


def load_features(folder: str | os.PathLike[str], *, mmap: bool = True) -> TeacherFeatures:
    """Open a merged feature folder (``frames.npy`` memory-mapped when ``mmap``)."""
    folder = Path(folder)
    if not (folder / "complete.json").is_file():
        raise FileNotFoundError(f"{folder} holds no finished teacher features (complete.json missing): "
                                "run w2clib.teachers.targets.compute_features (all shards) and merge_features")
    spec = json.loads((folder / "spec.json").read_text())
    index = pd.read_csv(folder / "index.csv", dtype={"clip_id": str}, keep_default_na=False)
    mean = np.load(folder / "mean.npy", mmap_mode="r" if mmap else None)
    frames_path = folder / "frames.npy"
    frames = np.load(frames_path, mmap_mode="r" if mmap else None) if frames_path.is_file() else None
    return TeacherFeatures(folder, spec, index, np.asarray(mean), frames)


def features_for(manifest: pd.DataFrame, teacher: Teacher, config: TeacherConfig | None = None, *,
                 root: str | os.PathLike[str] | None = None, progress: bool = True) -> TeacherFeatures:
    """Compute the targets of ``manifest`` in one process if they are not cached, then load them."""
    c = config or TeacherConfig()
    folder = compute_features(manifest, teacher, frame_rate=c.frame_rate, views=c.views, view_seed=c.view_seed,
                              every_frame=c.every_frame, batch_size=c.batch_size, chunk_size=c.chunk_size,
                              root=root, progress=progress)
    return load_features(folder)

