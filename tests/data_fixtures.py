"""Fixture builders for the data tests: re-exported from :mod:`w2clib.rehearsal` (one copy of the code).

Every builder writes real audio in the dataset's own folder layout, file names, CSV columns and
encodings, and returns what the readers must find -- including one corrupt file, one missing file
and one too-short clip per dataset, so ``validate()`` can be checked exactly.
"""

from __future__ import annotations

from w2clib.rehearsal.archives import split_zip, tar_gz_folder, zip_folder
from w2clib.rehearsal.audio import Expected, md5_of, write_corrupt, write_wav
from w2clib.rehearsal.layouts import (
    CLOTHO_CLIPS,
    ESC50_ROWS,
    FSD_DEV,
    FSD_EVAL,
    FSD_VOCAB,
    TAU_FOLDER,
    TAU_ROWS,
    US8K_ROWS,
    build_clotho,
    build_esc50,
    build_fsd50k,
    build_tau2020,
    build_urbansound8k,
)
from w2clib.rehearsal.server import serve_directory, unused_port_url
from w2clib.rehearsal.video import write_video

__all__ = [
    "CLOTHO_CLIPS", "ESC50_ROWS", "FSD_DEV", "FSD_EVAL", "FSD_VOCAB", "TAU_FOLDER", "TAU_ROWS", "US8K_ROWS",
    "Expected", "build_clotho", "build_esc50", "build_fsd50k", "build_tau2020", "build_urbansound8k", "md5_of",
    "serve_directory", "split_zip", "tar_gz_folder", "unused_port_url", "write_corrupt", "write_video", "write_wav",
    "zip_folder",
]
