"""MUSDB18: professionally produced music tracks with their isolated stems (drums, bass, other, vocals).

The paper draws musdb18 tracks in its Figure 5 (notebook 10 draws each stem alone and the track's mix).

Two editions are registered:

* ``musdb18_7s`` -- the public 7-second previews of all 150 tracks, ``MUSDB18-7-STEMS.zip`` on
  Zenodo (record 3270814; the ``musdb`` package downloads an archive of that name from an S3 mirror of
  open-unmix instead, which we have not compared byte for byte).  No checksum is published
  for it, so its SHA-256 is recorded on first use (:mod:`w2clib.data.download`).  Enough for the
  figure, which uses a few seconds per track.
* ``musdb18`` -- the full tracks, ``musdb18.zip`` on Zenodo (record 1117372, ~4.4 GB).  Zenodo
  grants it on request (academic use only), so it cannot be downloaded unattended: request access,
  download it yourself and place it in ``<data home>/musdb18/downloads/``.

Both unpack to ``train/`` (100 tracks) and ``test/`` (50) holding ``<Artist - Title>.stem.mp4``:
one MP4 with five AAC streams, in the order of :data:`STEMS` (the sigsep ``musdb`` package's
``stem_ids``); 44.1 kHz stereo.  The tracks carry their own licences (sigsep's track list);
research use.

``soundfile`` cannot read MP4, so :meth:`MUSDB18Dataset.build_manifest` decodes every stream once
(PyAV, :func:`w2clib.data.video.read_audio`) into ``wav16k/<subset>/<track>/<stem>.wav`` (16 kHz
mono PCM-16: the model's input rate; ~0.2 GB for the previews, ~6 GB for the full set) and indexes
those.  A stems file that cannot be decoded keeps its ``.stem.mp4`` as ``audio_path``, so
``validate()`` reports it as corrupt instead of the run failing.

Manifest: one row per (track, stem): ``clip_id`` = ``<subset>/<track>/<stem>``, ``label`` = the
stem name, ``split`` = ``train``/``test``, ``track``, ``stem``, ``stems_file`` (the ``.stem.mp4``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .._io import atomic_path
from .base import ArchiveDataset
from .download import ChecksumError, DownloadError, RemoteFile

__all__ = ["MUSDB18Dataset", "MUSDB18", "MUSDB18_7S", "STEMS", "SUFFIX", "decode_stems"]

STEMS = ("mixture", "drums", "bass", "other", "vocals")
"""The audio streams of a ``.stem.mp4``, in stream order (stream 0 is the mastered mix)."""
SUFFIX = ".stem.mp4"
SUBSETS = ("train", "test")
SAMPLE_RATE = 16000


def decode_stems(path: str | Path, *, sample_rate: int = SAMPLE_RATE) -> dict[str, np.ndarray]:
    """Every stream of one stems file as mono float32 at ``sample_rate``: ``{stem: wave}``.

    Raises:
        ValueError: the file does not decode, or has not the five streams of :data:`STEMS`.
    """
    import av

    from .video import read_audio

    try:
        with av.open(str(path)) as container:
            n = len(container.streams.audio)
    except av.error.FFmpegError as err:  # type: ignore[attr-defined]
        raise ValueError(f"cannot open {path}: {err}; the file may be damaged, download it again") from err
    if n != len(STEMS):
        raise ValueError(f"{path} has {n} audio streams; a musdb18 stems file has {len(STEMS)} ({', '.join(STEMS)})")
    waves = {}
    for index, stem in enumerate(STEMS):
        wave = read_audio(path, sample_rate=sample_rate, stream_index=index)
        waves[stem] = wave if wave is not None else np.zeros(0, np.float32)
    return waves


class MUSDB18Dataset(ArchiveDataset):
    """One edition of MUSDB18 (module docstring); ``access`` says how to get it where a download fails."""

    min_duration_s = 1.0
    description = "MUSDB18 music tracks with isolated drums, bass, other and vocals stems"
    license = "per track (sigsep's MUSDB18 track list); research use"

    def __init__(self, name: str, remote: RemoteFile, version: str, access: str) -> None:
        self.name = name
        self.remotes = (remote,)
        self.version = version
        self.access = access

    def fetch_all(self, root: Path, *, download: bool = True, progress: bool = True) -> dict[str, Path]:
        try:
            return super().fetch_all(root, download=download, progress=progress)
        except ChecksumError:
            raise
        except DownloadError as err:  # say how this edition is obtained (the full set is not downloadable)
            raise DownloadError(f"{err}\n{self.name}: {self.access}") from err

    def stems_files(self, root: Path) -> list[tuple[str, Path]]:
        """``(subset, path)`` of every ``.stem.mp4`` under ``root/train`` and ``root/test``, sorted."""
        return [(subset, p) for subset in SUBSETS for p in sorted((root / subset).glob(f"*{SUFFIX}"))]

    def is_extracted(self, root: Path) -> bool:
        return bool(self.stems_files(root))

    def build_manifest(self, root: Path) -> pd.DataFrame:
        import soundfile as sf

        rows = []
        for subset, path in self.stems_files(root):
            track = path.name[: -len(SUFFIX)]
            out_dir = root / "wav16k" / subset / track
            wavs = {stem: out_dir / f"{stem}.wav" for stem in STEMS}
            if not all(p.is_file() for p in wavs.values()):  # decoded once; a rerun only re-indexes
                try:
                    waves = decode_stems(path)
                except ValueError as err:
                    print(f"w2clib: {self.name}: {err}", file=sys.stderr)
                    waves = {}
                for stem, wave in waves.items():
                    with atomic_path(wavs[stem]) as tmp:
                        sf.write(str(tmp), np.clip(wave, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16", format="WAV")
            for stem in STEMS:
                decoded = wavs[stem].is_file()
                rows.append({"clip_id": f"{subset}/{track}/{stem}", "audio_path": str(wavs[stem] if decoded else path),
                             "label": stem, "split": subset, "track": track, "stem": stem, "stems_file": str(path)})
        return pd.DataFrame(rows, columns=["clip_id", "audio_path", "label", "split", "track", "stem", "stems_file"])


MUSDB18_7S = MUSDB18Dataset(
    "musdb18_7s",
    RemoteFile(url="https://zenodo.org/records/3270814/files/MUSDB18-7-STEMS.zip?download=1",
               filename="MUSDB18-7-STEMS.zip"),
    version="zenodo-3270814",
    access="the 7-second previews are public (Zenodo record 3270814); on a machine without internet, download "
           "MUSDB18-7-STEMS.zip elsewhere and place it in the folder named above",
)
MUSDB18 = MUSDB18Dataset(
    "musdb18",
    RemoteFile(url="https://zenodo.org/records/1117372/files/musdb18.zip?download=1", filename="musdb18.zip"),
    version="zenodo-1117372",
    access="the full set is access-controlled: request access on https://zenodo.org/records/1117372 (academic "
           "use; granted by hand), download musdb18.zip there and place it in the folder named above. "
           "The public 7-second previews are the dataset 'musdb18_7s'.",
)
