"""One downloader and one checksum store for every file the project fetches (datasets, weights).

* :func:`download_file` gets ``http(s)://`` or ``file://`` URLs through ``<dest>.part``, resuming a
  partial file with an HTTP ``Range`` request (also in the next run), retrying broken transfers with
  back-off, and never taking a transfer that ended early for the whole file.
* :func:`verify_download` checks a file against its published MD5/SHA-256, or -- where the project
  knows none -- against the SHA-256 recorded the first time the file was seen (trust on first use),
  kept in ``checksums.json`` in a folder the caller names (the dataset folder; the checkpoint cache).
* Errors: :class:`DownloadError` (the file cannot be obtained; the message says where to place a copy
  by hand) and its subclass :class:`ChecksumError` (the bytes are not the expected ones).

Why not ``pooch`` or ``torch.hub.download_url_to_file(hash_prefix=...)``: neither resumes a broken
transfer (both restart from byte 0, which for FSD50K's 24 GB or VGGSound's archives is the difference
between finishing and not), neither records a hash where none is published, and ``torch.hub`` checks
a SHA-256 prefix only.  What they do beyond this module (registries of many files, decompression
hooks) the datasets do themselves (:mod:`w2clib.data.download`, :mod:`w2clib.data.extract`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ._io import atomic_write_json

__all__ = [
    "CHECKSUMS_FILE",
    "ChecksumError",
    "DownloadError",
    "download_file",
    "file_digests",
    "verify_download",
]

CHECKSUMS_FILE = "checksums.json"
CHUNK = 1 << 20
_USER_AGENT = "w2clib/0.2 (+https://github.com/descriptinc/lyrebird-wav2clip)"


class DownloadError(FileNotFoundError):
    """A file that is needed is neither on disk nor downloadable (offline, 404, ...), or is not the
    expected file (:class:`ChecksumError`)."""


class ChecksumError(DownloadError, ValueError):
    """A downloaded or hand-placed file does not match its published or recorded checksum."""


def file_digests(path: str | os.PathLike[str]) -> dict[str, str]:
    """MD5 and SHA-256 of a file in one pass: ``{"md5": hex, "sha256": hex}``."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            md5.update(block)
            sha.update(block)
    return {"md5": md5.hexdigest(), "sha256": sha.hexdigest()}


def _read_records(folder: Path) -> dict[str, dict[str, str]]:
    path = folder / CHECKSUMS_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ChecksumError(f"{path} is not valid JSON ({err}); delete it to re-record checksums") from err
    return data if isinstance(data, dict) else {}


def verify_download(path: Path, name: str, *, md5: str | None = None, sha256: str | None = None,
                    url: str = "", record_dir: Path, redo: str = "download it again") -> dict[str, str]:
    """Check ``path`` (stored as ``name``) against the published ``md5``/``sha256`` or the TOFU record.

    With no published checksum and no record yet, the file's SHA-256 is recorded in
    ``record_dir/checksums.json`` and a note goes to stderr; later copies must match it.  ``redo``
    completes the error message ("delete it and <redo>").

    Returns:
        the file's digests ``{"md5", "sha256"}``.

    Raises:
        ChecksumError: a published or recorded checksum does not match (or the record is damaged).
    """
    digests = file_digests(path)
    records = _read_records(record_dir)
    recorded = records.get(name, {})
    expected = {"md5": md5, "sha256": sha256}
    source = "published"
    if not (md5 or sha256) and recorded.get("sha256"):
        expected = {"md5": None, "sha256": recorded["sha256"]}
        source = f"recorded on first use in {record_dir / CHECKSUMS_FILE}"
    for algo, want in expected.items():
        if want and digests[algo] != want.lower():
            raise ChecksumError(
                f"{path}: {algo} is {digests[algo]} but the {source} {algo} of {name} is {want}. The file "
                f"is damaged or is a different version: delete it and {redo} (or place a good copy there)."
            )
    if not (md5 or sha256) and not recorded.get("sha256"):
        print(
            f"w2clib: no published checksum is known for {name}; recorded its SHA-256 {digests['sha256']} "
            f"in {record_dir / CHECKSUMS_FILE} (trust on first use). Later copies are verified against "
            "this record.",
            file=sys.stderr,
        )
    if recorded.get("sha256") != digests["sha256"]:
        records[name] = {"sha256": digests["sha256"], "md5": digests["md5"], "url": url}
        atomic_write_json(record_dir / CHECKSUMS_FILE, records)
    return digests


def _open_source(url: str, offset: int, timeout: float):
    """Open ``url`` at byte ``offset``: (stream, resumed?, total size or None)."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        path = Path(urllib.request.url2pathname(parsed.path))
        stream = open(path, "rb")  # noqa: SIM115 (closed by the caller)
        stream.seek(offset)
        return stream, True, path.stat().st_size
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (scheme checked)
    resumed = offset > 0 and response.status == 206
    length = response.headers.get("Content-Length")
    total = int(length) + (offset if resumed else 0) if length and length.isdigit() else None
    return response, resumed, total


def download_file(url: str, dest: Path, *, resume: bool = True, timeout: float = 60.0,
                  retries: int = 3, progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming a partial file.

    The partial file is kept when a transfer breaks, so the next attempt (or the next run) continues
    where it stopped (HTTP ``Range``; a server that ignores ranges makes the download restart).

    Raises:
        ValueError: not an http(s):// or file:// URL.
        DownloadError: the URL cannot be read after ``retries`` attempts (offline, 404, ...).
    """
    if urllib.parse.urlparse(url).scheme not in ("http", "https", "file"):
        raise ValueError(f"unsupported URL scheme in {url!r}; use http(s):// or file://")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    if not resume and part.exists():
        part.unlink()
    last_error: Exception | None = None
    for attempt in range(retries):
        if attempt:
            time.sleep(min(2 ** (attempt - 1), 8))
        offset = part.stat().st_size if part.exists() else 0
        try:
            stream, resumed, total = _open_source(url, offset, timeout)
        except urllib.error.HTTPError as err:
            if err.code == 416 and offset:  # range starts at the end: the partial file is complete
                last_error = None
                break
            last_error = err
            if 400 <= err.code < 500 and err.code != 429:
                break  # retrying does not fix a client error
            continue
        except OSError as err:  # URLError, refused connection, timeout, missing file:// path
            last_error = err
            continue
        try:
            _stream(stream, part, "ab" if resumed else "wb", offset if resumed else 0, total, dest.name, progress)
            last_error = None
            break
        except OSError as err:  # the transfer broke: keep the partial file for the next attempt
            last_error = err
        finally:
            stream.close()
    if last_error is not None:
        raise DownloadError(
            f"could not download {url} ({type(last_error).__name__}: {last_error}). Without internet "
            f"access, download it on another machine and place it at {dest}; the next run verifies "
            "and uses it."
        ) from last_error
    os.replace(part, dest)
    return dest


def _stream(stream, part: Path, mode: str, offset: int, total: int | None, name: str, progress: bool) -> None:
    from tqdm.auto import tqdm

    with open(part, mode) as out, tqdm(
        total=total, initial=offset, unit="B", unit_scale=True, desc=name, disable=not progress, leave=False
    ) as bar:
        for block in iter(lambda: stream.read(CHUNK), b""):
            out.write(block)
            bar.update(len(block))
        written = out.tell()
    if total is not None and written < total:
        # http.client ends a body silently when the peer closes early: treat it as a broken transfer
        raise ConnectionError(f"transfer of {name} ended at {written} of {total} bytes")
