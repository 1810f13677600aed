"""Where one clip's distillation target comes from: its frames, a still image's views, or a class prototype.

Per manifest row, first match: ``frames_dir`` (extracted frames at the row's ``fps``, subsampled to
``frame_rate``), ``video_path`` (decoded at ``frame_rate``), ``image_path`` (``views`` augmented views
seeded by the file's SHA-256), else a ``class_prototype`` ImageNet index.  A damaged or missing file
is a status (``unreadable``, ``missing``, ``no_target``), never an exception that stops a long run.
The teacher-target cache (:mod:`w2clib.teachers.targets`) embeds what this module reads.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .augment import augmented_views, item_seed
from .base import imagenet_index

__all__ = ["IMAGE_SUFFIXES", "clip_frames", "prefetch_clip_frames"]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def _value(row: dict[str, Any], column: str) -> Any:
    value = row.get(column)
    if value is None or (isinstance(value, float) and math.isnan(value)) or (isinstance(value, str) and not value):
        return None
    return value


def _class_of(row: dict[str, Any]) -> int | None:
    index = _value(row, "imagenet_index")
    if index is not None and int(index) >= 0:
        return int(index)
    name = _value(row, "imagenet_class")
    return imagenet_index(str(name)) if name is not None else None


def _frames_from_dir(folder: Path, fps: float | None, frame_rate: float | None) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if frame_rate is None or fps is None or abs(fps - frame_rate) < 1e-6:
        return files
    step = fps / frame_rate
    if frame_rate > fps or abs(step - round(step)) > 1e-6:
        raise ValueError(
            f"{folder}: frames were extracted at {fps:g} fps; frame_rate={frame_rate:g} needs a whole divisor of it "
            f"-- extract again at that rate (w2clib.data.prepare('vggsound', fps=...)) or change frame_rate"
        )
    return files[:: round(step)]


def clip_frames(row: dict[str, Any], *, frame_rate: float | None, views: int, view_seed: int
                ) -> tuple[str, str, list[Any] | int | None, str | None]:
    """Where a clip's target comes from: ``(status, source, payload, image_key)``.

    ``payload``: a list of RGB PIL images (``source`` frames_dir / video / image), an ImageNet index
    (``source`` prototype), or None with a non-``ok`` status (``no_target``, ``missing``, ``unreadable``).
    ``image_key``: for a still image, the SHA-256 of its file (same photo, same views), else None.
    """
    from PIL import Image

    clip_id = str(row["clip_id"])
    frames_dir, video, image = _value(row, "frames_dir"), _value(row, "video_path"), _value(row, "image_path")
    files: list[Path] = []
    if frames_dir is not None and Path(frames_dir).is_dir():
        fps = _value(row, "fps")  # a frame-rate mismatch is a configuration error: it raises
        files = _frames_from_dir(Path(frames_dir), None if fps is None else float(fps), frame_rate)
    kind = "frames_dir" if files else ("video" if video is not None and Path(video).is_file() else
                                       "image" if image is not None and Path(image).is_file() else None)
    try:
        if kind == "frames_dir":
            frames = []
            for path in files:
                with Image.open(path) as im:
                    frames.append(im.convert("RGB"))
            return "ok", kind, frames, None
        if kind == "video":
            from ..data.video import DEFAULT_FPS, read_frames

            start = _value(row, "video_start_s")
            frames = read_frames(video, start_s=float(start or 0.0), fps=frame_rate or DEFAULT_FPS)
            return ("ok", kind, frames, None) if frames else ("unreadable", kind, None, None)
        if kind == "image":
            data = Path(image).read_bytes()
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                base = im.copy()
            key = hashlib.sha256(data).hexdigest()
            return "ok", kind, augmented_views(base, views, item_seed(view_seed, key)), key
    except (OSError, ValueError) as err:  # a damaged file must not stop the run: record it
        log.warning("clip %s: cannot read its frames (%s)", clip_id, err)
        return "unreadable", kind, None, None
    if str(_value(row, "target_kind") or "") == "class_prototype" or not any((frames_dir, video, image)):
        index = _class_of(row)
        return ("ok", "prototype", index, None) if index is not None else ("no_target", "prototype", None, None)
    return "missing", "frames_dir" if frames_dir else ("video" if video else "image"), None, None


def prefetch_clip_frames(rows: list[dict[str, Any]], workers: int, **kwargs: Any) -> Iterator[tuple[str, str, Any, Any]]:
    """clip_frames of each row in order, read by ``workers`` threads at most 2*workers clips ahead."""
    if workers <= 0:
        for row in rows:
            yield clip_frames(row, **kwargs)
        return
    with ThreadPoolExecutor(workers) as pool:
        pending: deque[Future] = deque()
        for row in rows:
            pending.append(pool.submit(clip_frames, row, **kwargs))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
