"""Where downloads come from: the public sources, or a mirror named by one setting.

``$W2C_MIRROR`` (a base URL, ``http(s)://`` or ``file://``) replaces every public source at once:

================================  =================================================  ==========================
what                              fetched from                                       per-kind override
================================  =================================================  ==========================
dataset files (archives, csv)     ``<mirror>/<dataset>/<filename>``                  ``$W2C_DATA_MIRROR`` (base)
VGGSound videos (yt-dlp)          ``<mirror>/vggsound/videos/<youtube_id>.mp4``      ``$W2C_VIDEO_URL_TEMPLATE``
the official checkpoint           ``<mirror>/checkpoints/<filename>``                ``$W2C_CHECKPOINT_MIRROR``
================================  =================================================  ==========================

A per-kind variable wins over ``$W2C_MIRROR``.  ``$W2C_VIDEO_URL_TEMPLATE`` is a URL with a
``{youtube_id}`` field (e.g. ``https://videos.example.org/{youtube_id}.mp4``).  CLIP weights come
from the Hugging Face hub, which has its own mirror setting, ``$HF_ENDPOINT``; a local weights file
is the teacher's ``weights`` setting.

A mirror serves the same files as the public release, so the published checksums still apply.  A
mirror that serves *other* files (a rehearsal's stand-ins) publishes their checksums in a JSON file
``{dataset: {filename: {"md5": hex} or {"sha256": hex}}}`` named by ``$W2C_MIRROR_CHECKSUMS`` (a
local path); those replace the published checksums of the files it lists.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from pathlib import Path

__all__ = [
    "MIRROR_ENV", "DATA_MIRROR_ENV", "VIDEO_URL_ENV", "CHECKPOINT_MIRROR_ENV", "CHECKSUMS_ENV",
    "data_url", "video_url_template", "checkpoint_url", "mirror_checksums", "mirror_environment",
]

MIRROR_ENV = "W2C_MIRROR"
DATA_MIRROR_ENV = "W2C_DATA_MIRROR"
VIDEO_URL_ENV = "W2C_VIDEO_URL_TEMPLATE"
CHECKPOINT_MIRROR_ENV = "W2C_CHECKPOINT_MIRROR"
CHECKSUMS_ENV = "W2C_MIRROR_CHECKSUMS"


def _base(specific: str | None, below_mirror: str) -> str | None:
    """``$specific``, else ``$W2C_MIRROR[/below_mirror]``, else None (no trailing slash)."""
    value = os.environ.get(specific, "").strip() if specific else ""
    if value:
        return value.rstrip("/")
    mirror = os.environ.get(MIRROR_ENV, "").strip().rstrip("/")
    if not mirror:
        return None
    return f"{mirror}/{below_mirror}" if below_mirror else mirror


def data_url(dataset: str, filename: str) -> str | None:
    """The mirror URL of a dataset file, or None when no mirror is set (use the public URL)."""
    base = _base(DATA_MIRROR_ENV, "")
    if base is None:
        return None
    return f"{base}/{dataset}/{urllib.parse.quote(filename)}"


def video_url_template() -> str | None:
    """The URL template (``{youtube_id}`` field) VGGSound videos are fetched from; None = YouTube."""
    template = os.environ.get(VIDEO_URL_ENV, "").strip()
    if not template:
        base = _base(None, "vggsound/videos")
        template = f"{base}/{{youtube_id}}.mp4" if base else ""
    if template and "{youtube_id}" not in template:
        raise ValueError(f"${VIDEO_URL_ENV}={template!r} has no {{youtube_id}} field; e.g. "
                         "https://mirror.example.org/vggsound/{youtube_id}.mp4")
    return template or None


def checkpoint_url(filename: str) -> str | None:
    """The mirror URL of a released checkpoint file, or None (use the registry's URL)."""
    base = _base(CHECKPOINT_MIRROR_ENV, "checkpoints")
    return f"{base}/{urllib.parse.quote(filename)}" if base else None


def mirror_checksums(dataset: str) -> dict[str, dict[str, str]]:
    """``{filename: {"md5"/"sha256": hex}}`` the mirror publishes for ``dataset`` (empty if none).

    Raises:
        FileNotFoundError: ``$W2C_MIRROR_CHECKSUMS`` names a file that does not exist.
        ValueError: the file is not ``{dataset: {filename: {algorithm: hex}}}`` JSON.
    """
    path = os.environ.get(CHECKSUMS_ENV, "").strip()
    if not path:
        return {}
    file = Path(path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(f"${CHECKSUMS_ENV}={path!r} does not exist; unset it or point it at the "
                                "mirror's checksums JSON")
    try:
        table = json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"${CHECKSUMS_ENV}: {file} is not valid JSON ({err})") from err
    entries = table.get(dataset, {}) if isinstance(table, dict) else None
    if not isinstance(entries, dict) or not all(
            isinstance(v, dict) and set(v) <= {"md5", "sha256"} for v in entries.values()):
        raise ValueError(f"${CHECKSUMS_ENV}: {file} must map dataset -> filename -> {{'md5'|'sha256': hex}}")
    return entries


def mirror_environment(base_url: str, checksums: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The environment variables that point every download at ``base_url`` (to ``os.environ.update``)."""
    env = {MIRROR_ENV: str(base_url).rstrip("/")}
    if checksums is not None:
        env[CHECKSUMS_ENV] = str(Path(checksums).expanduser().resolve())
    return env
