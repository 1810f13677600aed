"""A MUSDB18 stand-in: ``.stem.mp4`` files (five AAC streams, 44.1 kHz stereo) zipped as the previews are.

Each stem is a tone of its own frequency (:data:`STEM_FREQS`), so a reader that mixes up the stream
order is caught; the mix (stream 0) is their sum.  One upload is damaged, as a failed download leaves it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .._av import mux_audio
from .audio import Expected, write_corrupt

__all__ = ["MUSDB_TRACKS", "STEM_FREQS", "build_musdb18", "write_stems_file"]

STEM_FREQS = {"drums": 110.0, "bass": 220.0, "other": 880.0, "vocals": 440.0}
MUSDB_TRACKS = (  # subset, track name, seconds (None: a damaged file)
    ("train", "Stand-In Quartet - Tone Study", 2.0),
    ("test", "Stand-In Quartet - Second Study", 2.0),
    ("test", "Stand-In Trio - Broken Upload", None),
)


def write_stems_file(path: Path, seconds: float, *, sr: int = 44100) -> Path:
    """A stems MP4: stream 0 the mix, then drums, bass, other, vocals (the musdb18 order)."""
    import av

    from ..data.musdb18 import STEMS

    t = np.arange(int(round(seconds * sr))) / sr
    stems = {name: (0.15 * np.sin(2 * np.pi * freq * t)).astype(np.float32) for name, freq in STEM_FREQS.items()}
    waves = {"mixture": sum(stems.values()).astype(np.float32), **stems}
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as out:
        streams = []
        for _ in STEMS:
            stream = out.add_stream("aac", rate=sr)
            stream.layout = "stereo"
            streams.append(stream)
        for stream, name in zip(streams, STEMS):
            mux_audio(out, stream, np.stack([waves[name], waves[name]]), sr)
    return path


def build_musdb18(out: Path, staging: Path) -> Expected:
    """``out/MUSDB18-7-STEMS.zip`` holding ``train/`` and ``test/`` at its top, as the previews' zip does."""
    from ..data.musdb18 import STEMS, SUFFIX

    root = staging / "musdb18"
    ids, corrupt = [], []
    for subset, track, seconds in MUSDB_TRACKS:
        path = root / subset / f"{track}{SUFFIX}"
        if seconds is None:
            write_corrupt(path)
            corrupt += [str(path)] * len(STEMS)  # each stem's row points at the undecodable file
        else:
            write_stems_file(path, seconds)
        ids += [f"{subset}/{track}/{stem}" for stem in STEMS]
    with zipfile.ZipFile(out / "MUSDB18-7-STEMS.zip", "w", zipfile.ZIP_STORED) as zf:  # mp4 is compressed
        for path in sorted(root.rglob("*")):
            zf.write(path, path.relative_to(root).as_posix())
    return Expected(root, ids, corrupt=corrupt)
