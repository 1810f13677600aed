"""A rehearsal in one block: build the stand-in mirror if needed, serve it, point every download at it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .._io import environment
from ..mirrors import mirror_environment
from .build import CHECKPOINT_FILE, CHECKSUMS_NAME, CLIP_WEIGHTS, SUMMARY_NAME, VQGAN_FILE, build_mirror
from .weights import write_vqgan_release
from .server import serve_directory

__all__ = ["MirrorSession", "mirror_session"]


@dataclass(frozen=True)
class MirrorSession:
    """A served stand-in mirror: its URL, folder, and the environment that points downloads at it."""

    url: str
    folder: Path
    environment: dict[str, str]

    @property
    def clip_weights(self) -> Path:
        """The random open_clip ViT-B-32 weights (the teacher's ``weights`` setting)."""
        return self.folder / CLIP_WEIGHTS

    @property
    def checkpoint(self) -> Path:
        """The stand-in ``Wav2CLIP.pt`` as served (``load_model("official")`` downloads it)."""
        return self.folder / CHECKPOINT_FILE


@contextlib.contextmanager
def mirror_session(folder: str | os.PathLike[str], *, build: bool = True, clip: bool = True,
                   cut_after: int | None = None) -> Iterator[MirrorSession]:
    """Serve the stand-in mirror in ``folder`` and set ``W2C_MIRROR`` / ``W2C_MIRROR_CHECKSUMS``
    in ``os.environ`` while the block runs (restored afterwards; child processes inherit them).

    Args:
        build: build the mirror first when ``folder`` has none yet (no ``rehearsal.json``).
        clip: with ``build``, also write the CLIP weights.
        cut_after: drop the first transfer after this many bytes (see :func:`serve_directory`).
    """
    folder = Path(folder)
    if build and not (folder / SUMMARY_NAME).is_file():
        build_mirror(folder, clip=clip)
    elif build and not (folder / VQGAN_FILE).is_file():  # a mirror built before the VQGAN stand-in existed
        write_vqgan_release(folder / VQGAN_FILE)
    with serve_directory(folder, cut_after=cut_after) as server:
        with environment(mirror_environment(server.url, folder / CHECKSUMS_NAME)) as env:
            yield MirrorSession(server.url, folder, env)
