"""Embeddings of evaluation sets: extracted once through the one API, cached by content, resumable.

An :class:`Embedder` is anything that maps audio files to (n, D) float32 features -- the Wav2CLIP
encoder through :func:`w2clib.embed_files` (:func:`model_embedder`) or a baseline
(:mod:`w2clib.evaluate.baselines`).  :func:`extract_embeddings` embeds a manifest in chunks and caches the
result under ``<cache_dir>/<embedder name>/<key>/``, where the key hashes

* the weights: ``model.checkpoint_sha256`` when loaded from a file, else a SHA-256 of the state dict;
* the manifest: clip ids, audio paths, and each file's size and modification time (or its
  ``sha256`` column), so a re-rendered or replaced file invalidates the cache;
* the settings that change the numbers (norm, precision, clip length rules, feature recipe).

Each chunk is written atomically as ``parts/NNNNN.npy`` as soon as it is done, so an interrupted run
resumes at the first missing chunk; the finished ``embeddings.npz`` (with ``meta.json`` beside it)
replaces the parts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._io import atomic_path, atomic_write_json

__all__ = [
    "Embedder",
    "Embeddings",
    "model_embedder",
    "segmented_embedder",
    "model_fingerprint",
    "manifest_fingerprint",
    "cache_key",
    "extract_embeddings",
]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Embedder:
    """A named way to turn audio files into fixed-size features.

    ``embed(paths)`` returns float32 (len(paths), D).  ``fingerprint`` identifies the weights or the
    feature recipe; ``settings`` lists everything else that changes the output.  Both enter the cache key.
    """

    name: str  # "wav2clip", "random_init", "logmel_stats", ...
    fingerprint: str
    embed: Callable[[Sequence[str]], np.ndarray] = field(compare=False)
    settings: dict[str, Any] = field(default_factory=dict)


def model_fingerprint(model: torch.nn.Module) -> str:
    """``checkpoint_sha256`` of a loaded checkpoint, else ``state-<sha256 of the state dict>``.

    The state-dict hash covers names, dtypes, shapes and values, so two in-memory models with
    different weights never share a cache entry.
    """
    sha = getattr(model, "checkpoint_sha256", None)
    if sha:
        return str(sha)
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return "state-" + digest.hexdigest()


def manifest_fingerprint(manifest: pd.DataFrame) -> str:
    """SHA-256 over (clip_id, audio_path, file identity) of every row, in order.

    File identity is the ``sha256`` column when the manifest has one, else size and mtime (cheap,
    and any rewrite of the file changes it).  A missing file raises ``FileNotFoundError``.
    """
    for column in ("clip_id", "audio_path"):
        if column not in manifest.columns:
            raise ValueError(
                f"manifest lacks the {column!r} column; build it with w2clib.data.load_manifest"
            )
    digest = hashlib.sha256()
    has_sha = "sha256" in manifest.columns
    for row in manifest.itertuples(index=False):
        path = str(row.audio_path)
        if has_sha and isinstance(row.sha256, str) and row.sha256:
            ident = row.sha256
        else:
            try:
                st = os.stat(path)
            except FileNotFoundError:
                raise FileNotFoundError(
                    f"audio file of clip {row.clip_id!r} not found: {path!r}; re-run the dataset's prepare()"
                ) from None
            ident = f"{st.st_size}:{st.st_mtime_ns}"
        digest.update(f"{row.clip_id}\t{path}\t{ident}\n".encode())
    return digest.hexdigest()


def cache_key(embedder: Embedder, manifest_hash: str) -> str:
    """The cache key: SHA-256 of the embedder's fingerprint and settings and the manifest hash."""
    payload = json.dumps(
        {
            "embedder": embedder.name,
            "fingerprint": embedder.fingerprint,
            "settings": embedder.settings,
            "manifest": manifest_hash,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def model_embedder(
    model: torch.nn.Module,
    *,
    name: str = "wav2clip",
    norm: str = "clip",
    precision: str = "fp32",
    batch_size: int = 32,
    max_clip_seconds: float = 30.0,
    segment_seconds: float = 10.0,
) -> Embedder:
    """An :class:`Embedder` for a Wav2CLIP-architecture model through :func:`w2clib.embed_files`.

    Clip mode only: files up to ``max_clip_seconds`` are embedded whole, longer ones as the
    length-weighted mean of ``segment_seconds`` pieces.  ``batch_size`` bounds memory and never
    changes the result, so it is not part of the cache key.
    """
    from ..api import embed_files

    def embed(paths: Sequence[str]) -> np.ndarray:
        out = embed_files(
            list(paths),
            model,
            norm=norm,
            precision=precision,
            batch_size=batch_size,  # type: ignore[arg-type]
            max_clip_seconds=max_clip_seconds,
            segment_seconds=segment_seconds,
        )
        return np.asarray(out, dtype=np.float32)

    settings = {
        "norm": norm,
        "precision": precision,
        "max_clip_seconds": max_clip_seconds,
        "segment_seconds": segment_seconds,
        "api": "embed_files",
    }
    return Embedder(name, model_fingerprint(model), embed, settings)


def segmented_embedder(base: Embedder, segments: int) -> Embedder:
    """``base`` applied to ``segments`` equal consecutive parts of every file, the parts' features
    concatenated in time order: (n, segments * D).

    A sequence of window embeddings (what ``embed_audio(..., frame_length, hop_length)`` gives for one
    file) in a fixed-size form that any feature recipe can produce and the caches can key: each part is
    written to a temporary float WAV at 16 kHz (lossless) and embedded exactly as a whole file would be.
    ``segments == 1`` returns ``base`` itself.
    """
    if int(segments) < 1:
        raise ValueError(f"segments must be >= 1, got {segments}")
    if segments == 1:
        return base

    def embed(paths: Sequence[str]) -> np.ndarray:
        import tempfile

        import soundfile as sf

        from ..audio import SAMPLE_RATE, load_audio

        with tempfile.TemporaryDirectory(prefix="w2c_segments_") as tmp:
            parts = []
            for i, path in enumerate(paths):
                wave = load_audio(path)
                if len(wave) < segments:
                    raise ValueError(f"{path}: {len(wave)} samples cannot be cut into {segments} segments")
                bounds = np.linspace(0, len(wave), segments + 1).round().astype(int)
                for k in range(segments):
                    part = Path(tmp) / f"{i:06d}_{k:02d}.wav"
                    sf.write(part, wave[bounds[k]:bounds[k + 1]], SAMPLE_RATE, subtype="FLOAT")
                    parts.append(str(part))
            x = np.asarray(base.embed(parts), dtype=np.float32)
        return x.reshape(len(paths), segments * x.shape[1])

    return Embedder(base.name, base.fingerprint, embed, {**base.settings, "segments": int(segments)})


@dataclass
class Embeddings:
    """Embeddings of a manifest, row-aligned with it."""

    clip_ids: list[str]
    x: np.ndarray  # (n, D) float32
    key: str  # cache key
    path: Path | None  # the embeddings.npz file (None: not cached)
    embedder: str = ""

    def aligned(self, manifest: pd.DataFrame) -> np.ndarray:
        """Rows of ``x`` in the order of ``manifest.clip_id`` (a subset or reordering of the clips)."""
        index = {cid: i for i, cid in enumerate(self.clip_ids)}
        missing = [c for c in manifest["clip_id"].astype(str) if c not in index]
        if missing:
            raise ValueError(
                f"{len(missing)} clips have no embedding (e.g. {missing[:3]}); re-run extract_embeddings"
            )
        return self.x[[index[c] for c in manifest["clip_id"].astype(str)]]


def _load_final(folder: Path, key: str, name: str) -> Embeddings | None:
    final = folder / "embeddings.npz"
    if not final.exists():
        return None
    with np.load(final, allow_pickle=False) as data:
        if str(data["key"]) != key:
            return None
        return Embeddings(
            [str(c) for c in data["clip_ids"]], data["x"].astype(np.float32), key, final, name
        )


def extract_embeddings(
    manifest: pd.DataFrame,
    embedder: Embedder,
    cache_dir: PathLike | None,
    *,
    chunk_size: int = 256,
    progress: bool = True,
) -> Embeddings:
    """Embed every row of ``manifest`` (``clip_id``, ``audio_path``), cached and resumable.

    Args:
        manifest: one row per clip; the order of the result follows it.
        embedder: :func:`model_embedder` or a baseline from :func:`w2clib.evaluate.baselines.get_baseline`.
        cache_dir: root of the cache (e.g. ``<run_dir>/cache/embeddings``); ``None`` disables caching.
        chunk_size: clips per resumable chunk.
        progress: show a ``tqdm`` progress bar (clips).

    Returns:
        :class:`Embeddings` with ``x`` float32 (n_clips, D).

    Raises:
        ValueError: duplicate clip ids, an empty manifest, or embedder output of the wrong shape.
        FileNotFoundError: an audio file is missing.
    """
    if len(manifest) == 0:
        raise ValueError("the manifest is empty: nothing to embed")
    ids = manifest["clip_id"].astype(str).tolist()
    if len(set(ids)) != len(ids):
        raise ValueError("manifest clip_id values are not unique; embeddings are keyed by clip_id")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    key = cache_key(embedder, manifest_fingerprint(manifest))
    folder = Path(cache_dir) / embedder.name / key[:24] if cache_dir is not None else None
    if folder is not None:
        done = _load_final(folder, key, embedder.name)
        if done is not None:
            return done
    paths = manifest["audio_path"].astype(str).tolist()
    parts_dir = folder / "parts" if folder is not None else None
    if parts_dir is not None:
        _reset_parts_if_stale(parts_dir, key, chunk_size, len(ids))
    from tqdm.auto import tqdm

    chunks: list[np.ndarray] = []
    with tqdm(
        total=len(ids), desc=f"embedding ({embedder.name})", unit="clip", disable=not progress
    ) as bar:
        for i, start in enumerate(range(0, len(ids), chunk_size)):
            stop = min(start + chunk_size, len(ids))
            part = parts_dir / f"{i:05d}.npy" if parts_dir is not None else None
            if part is not None and part.exists():
                block = np.load(part)
            else:
                block = np.asarray(embedder.embed(paths[start:stop]), dtype=np.float32)
                if block.ndim != 2 or block.shape[0] != stop - start:
                    raise ValueError(
                        f"embedder {embedder.name!r} returned shape {block.shape} for {stop - start} files; "
                        "it must return (n_files, D)"
                    )
                if part is not None:
                    with atomic_path(part) as tmp, open(tmp, "wb") as f:
                        np.save(f, block)
            chunks.append(block)
            bar.update(stop - start)
    x = np.concatenate(chunks)
    if folder is None:
        return Embeddings(ids, x, key, None, embedder.name)
    final = folder / "embeddings.npz"
    with atomic_path(final) as tmp, open(tmp, "wb") as f:
        np.savez(f, x=x, clip_ids=np.array(ids), key=np.array(key))
    atomic_write_json(
        folder / "meta.json",
        {
            "embedder": embedder.name,
            "fingerprint": embedder.fingerprint,
            "settings": embedder.settings,
            "key": key,
            "n_clips": len(ids),
            "dim": int(x.shape[1]),
        },
    )
    if parts_dir is not None and parts_dir.exists():
        shutil.rmtree(parts_dir, ignore_errors=True)
    return Embeddings(ids, x, key, final, embedder.name)


def _reset_parts_if_stale(parts_dir: Path, key: str, chunk_size: int, n: int) -> None:
    """Keep partial chunks only when they were written for this key and chunking."""
    stamp = {"key": key, "chunk_size": chunk_size, "n_clips": n}
    meta = parts_dir / "parts.json"
    if parts_dir.exists():
        try:
            same = json.loads(meta.read_text()) == stamp
        except (OSError, ValueError):
            same = False
        if not same:
            shutil.rmtree(parts_dir)
    parts_dir.mkdir(parents=True, exist_ok=True)
    if not meta.exists():
        atomic_write_json(meta, stamp)
