"""Getting a dataset's files: what is published where (:class:`RemoteFile`), mirrors, and :func:`fetch`.

:func:`fetch` downloads one :class:`RemoteFile` (``http(s)://`` or ``file://``) into a folder with the
project's one downloader (:func:`w2clib.downloads.download_file`: resumes a ``.part`` file left by an
interrupted run with HTTP ``Range``) and verifies it against the published MD5/SHA-256 or, where the
project knows no published checksum, against the SHA-256 recorded on first use in ``checksums.json``
beside it (:func:`w2clib.downloads.verify_download`).  Archives are unpacked by :mod:`w2clib.data.extract`.

``$W2C_MIRROR`` (or ``$W2C_DATA_MIRROR``, a base URL) replaces the public sources: files are then
fetched from ``<mirror>/<dataset>/<filename>``, and ``$W2C_MIRROR_CHECKSUMS`` may name the checksums
of a mirror that serves other files (see :mod:`w2clib.mirrors`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from .. import mirrors
from ..downloads import ChecksumError, DownloadError, download_file, verify_download

__all__ = [
    "RemoteFile",
    "DownloadError",
    "ChecksumError",
    "fetch",
    "verify_file",
    "mirror_url",
    "mirrored_remote",
]


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset's public source.

    Attributes:
        url: where it is published.
        filename: the name it is stored under (in the dataset's ``downloads/`` or its root).
        md5 / sha256: published checksums (hex); both ``None`` means unknown -> trust on first use.
        kind: ``"archive"`` (extracted into the dataset folder), ``"file"`` (used as is, stored in the
            dataset folder) or ``"part"`` (a piece of a split archive the dataset joins itself).
    """

    url: str
    filename: str
    md5: str | None = None
    sha256: str | None = None
    kind: str = "archive"

    def __post_init__(self) -> None:
        if self.kind not in ("archive", "file", "part"):
            raise ValueError(f"RemoteFile.kind must be 'archive', 'file' or 'part', got {self.kind!r}")
        if Path(self.filename).name != self.filename:
            raise ValueError(f"RemoteFile.filename must be a bare file name, got {self.filename!r}")


def mirror_url(remote: RemoteFile, dataset: str) -> str:
    """``remote.url``, or ``<mirror>/<dataset>/<filename>`` when a mirror is configured
    (``$W2C_DATA_MIRROR``, else ``$W2C_MIRROR``; :func:`w2clib.mirrors.data_url`)."""
    return mirrors.data_url(dataset, remote.filename) or remote.url


def mirrored_remote(remote: RemoteFile, dataset: str) -> RemoteFile:
    """``remote`` with the checksum the mirror publishes for it (``$W2C_MIRROR_CHECKSUMS``), if any."""
    published = mirrors.mirror_checksums(dataset).get(remote.filename)
    if not published:
        return remote
    return dataclasses.replace(remote, md5=published.get("md5"), sha256=published.get("sha256"))


def verify_file(path: Path, remote: RemoteFile, *, registry_dir: Path | None = None) -> dict[str, str]:
    """Check ``path`` against the published checksum of ``remote`` or the TOFU record in
    ``registry_dir/checksums.json`` (default: the file's folder); returns its ``{"md5", "sha256"}``.

    Raises:
        ChecksumError: a published or recorded checksum does not match.
    """
    return verify_download(path, remote.filename, md5=remote.md5, sha256=remote.sha256, url=remote.url,
                           record_dir=registry_dir or path.parent,
                           redo="run prepare() again to re-download it")


def fetch(remote: RemoteFile, folder: Path, *, dataset: str, download: bool = True,
          registry_dir: Path | None = None, progress: bool = True) -> Path:
    """Return ``folder/remote.filename`` verified, downloading it first if it is not there.

    Args:
        remote: what to get.
        folder: where the file lives (``downloads/`` for archives).
        dataset: the dataset name (for the mirror URL and messages).
        download: ``False`` never touches the network: a missing file is an error that says where
            to place it.
        registry_dir: folder of the TOFU ``checksums.json`` (default ``folder``).

    Raises:
        DownloadError: missing and not downloadable.  ChecksumError: present but wrong.
    """
    remote = mirrored_remote(remote, dataset)
    dest = folder / remote.filename
    if not dest.exists():
        url = mirror_url(remote, dataset)
        if not download:
            raise DownloadError(
                f"{dataset}: {remote.filename} is not in {folder} and downloading is disabled. Download "
                f"it from {url} and place it at {dest}, then run prepare() again."
            )
        download_file(url, dest, progress=progress)
    verify_file(dest, remote, registry_dir=registry_dir or folder)
    return dest
