"""Stand-ins for every download of the paper path, and a local server for them (rehearsals, tests).

The paper path downloads ESC-50, UrbanSound8K, Clotho, TAU 2020 Mobile, FSD50K, VGGSound (csv and
YouTube videos), the official ``Wav2CLIP.pt`` and CLIP's weights.  This package builds tiny
copies of all of them in the formats of the real releases (:func:`build_mirror`, seconds) and
serves them on 127.0.0.1 (:func:`serve_directory`; :func:`mirror_session` also sets the environment), so that the downloaders users run -- pointed
at the server by ``$W2C_MIRROR`` (:mod:`w2clib.mirrors`) -- can be exercised end to end without
the internet: download, resume after a dropped connection, checksums, safe extraction, manifests.
Numbers computed on stand-ins mean nothing.

Command line::

    python -m w2clib.rehearsal build DIR [--no-clip]
    python -m w2clib.rehearsal serve DIR [--port 0] [--port-file F] [--env-file F] [--cut-after N]
"""

from __future__ import annotations

from .audio import Expected, md5_of, write_corrupt, write_wav
from .build import CHECKPOINT_FILE, CHECKSUMS_NAME, CLIP_WEIGHTS, PAPER_DATASETS, SUMMARY_NAME, build_mirror
from .server import serve_directory, unused_port_url
from .session import MirrorSession, mirror_session
from .weights import write_openclip_weights, write_wav2clip_release

__all__ = [
    "build_mirror", "serve_directory", "mirror_session", "MirrorSession", "unused_port_url", "write_wav2clip_release", "write_openclip_weights",
    "write_wav", "write_corrupt", "md5_of", "Expected", "PAPER_DATASETS", "CHECKSUMS_NAME", "SUMMARY_NAME",
    "CLIP_WEIGHTS", "CHECKPOINT_FILE",
]
