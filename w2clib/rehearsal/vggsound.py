"""A VGGSound stand-in: ``vggsound.csv`` and the "YouTube" videos a mirror serves by id.

The csv has the real format (no header, ``youtube_id,start_seconds,label,split``, a quoted label
with a comma, an id starting with ``-``); every video is a whole "upload" of ``start + 10`` s
(H.264 + AAC), so a downloader that cuts the 10 s section and one that fetches the whole file both
work.  Some clips are broken the ways real ones are: one too short, one without an audio track, one
still picture with a soundtrack, and two ids the server does not have (private / removed videos).
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..data.vggsound import clip_id_for
from .audio import Expected
from .video import write_video

__all__ = ["VGG_ROWS", "build_vggsound"]

# youtube_id, start_s, label, split, kind: ok / short (4 s after start) / no_audio / still / gone
VGG_ROWS = [  # broken clips sort early, so the validation split (the last sorted train ids) is usable
    ("-w2cRhrs001", 0, "playing violin, fiddle", "train", "ok"),
    ("w2cRhrs0002", 30, "people marching", "train", "gone"),
    ("w2cRhrs0003", 0, "dog barking", "train", "no_audio"),
    ("w2cRhrs0004", 0, "rain on surface", "train", "short"),
    ("w2cRhrs0005", 0, "rain on surface", "train", "still"),
    ("w2cRhrs0006", 3, "dog barking", "train", "ok"),
    ("w2cRhrs0007", 12, "playing violin, fiddle", "train", "ok"),
    ("w2cRhrs0008", 0, "people marching", "train", "ok"),
    ("w2cRhrs0009", 0, "dog barking", "train", "ok"),
    ("w2cRhrs0010", 0, "people marching", "train", "ok"),
    ("w2cRhrs0011", 0, "dog barking", "test", "ok"),
    ("w2cRhrs0012", 5, "rain on surface", "test", "gone"),
    ("w2cRhrs0013", 0, "playing violin, fiddle", "test", "ok"),
    ("w2cRhrs0014", 0, "people marching", "test", "ok"),
]
_FREQS = {"dog barking": 330.0, "playing violin, fiddle": 660.0, "people marching": 150.0, "rain on surface": 990.0}


def build_vggsound(folder: Path, *, fps: int = 25) -> Expected:
    """``folder/vggsound.csv`` and ``folder/videos/<youtube_id>.mp4`` (no file for the "gone" ids).

    Returns the clip ids in csv order; ``missing`` lists the gone clips, ``corrupt`` the one without
    audio, ``too_short`` the short one (as clip ids: their paths depend on the data home); ``extra``
    maps ``kind`` -> clip ids.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "vggsound.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerows(row[:4] for row in VGG_ROWS)
    expected = Expected(folder, [], extra={})
    for ytid, start, label, _split, kind in VGG_ROWS:
        clip = clip_id_for(ytid, start)
        expected.clip_ids.append(clip)
        expected.extra.setdefault(kind, []).append(clip)
        {"gone": expected.missing, "no_audio": expected.corrupt, "short": expected.too_short}.get(kind, []).append(clip)
        if kind == "gone":
            continue
        seconds = start + (4.0 if kind == "short" else 10.0)
        write_video(folder / "videos" / f"{ytid}.mp4", seconds, fps=fps, audio=kind != "no_audio",
                    freq=_FREQS[label], still=kind == "still", silent_until=max(start - 1.0, 0.0))
    return expected
