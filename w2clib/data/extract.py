"""Unpacking dataset archives safely: zip, tar(.gz/.bz2/.xz), 7z, and Info-ZIP split zips.

* :func:`extract_archive` unpacks an archive into a folder, refusing members whose name is absolute
  or climbs out of the target (``..``) and links that point outside it; a stamp file holding the
  archive's SHA-256 marks a finished extraction, so a rerun skips it and a different archive under
  the same name is extracted again.
* :func:`open_split_zip` reads a multi-part ("split") zip -- ``name.z01 … name.zNN, name.zip`` as
  FSD50K ships -- as one archive, by concatenating the parts virtually and rewriting the central
  directory with absolute offsets (no 30 GB temporary copy).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

from .._io import atomic_write_json, sha256_file
from ..downloads import CHUNK as _CHUNK

__all__ = ["UnsafeArchiveError", "extract_archive", "extract_zipfile", "open_split_zip"]


class UnsafeArchiveError(ValueError):
    """An archive member would be written outside the extraction folder."""


def _safe_target(dest: Path, name: str, archive: Path) -> Path:
    """``dest/name`` if ``name`` stays inside ``dest``; raises :class:`UnsafeArchiveError` otherwise."""
    clean = name.replace("\\", "/")
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":") or ".." in parts:
        raise UnsafeArchiveError(
            f"{archive}: member {name!r} would be written outside {dest} (absolute path or '..'); "
            "refusing to extract this archive. Re-download it from the official source."
        )
    target = dest.joinpath(*parts) if parts else dest
    root = dest.resolve()
    if not target.resolve().is_relative_to(root):  # catches a path through a symlinked folder
        raise UnsafeArchiveError(f"{archive}: member {name!r} resolves outside {dest}; refusing to extract")
    return target


def _stamp_path(dest: Path, archive: Path) -> Path:
    return dest / f".extracted.{archive.name}.json"


def _archive_kind(archive: Path) -> str:
    name = archive.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(".7z"):
        return "7z"
    if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")):
        return "tar"
    raise ValueError(f"unknown archive type for {archive}; expected .zip, .7z or .tar(.gz/.bz2/.xz)")


def extract_zipfile(zf: zipfile.ZipFile, dest: Path, *, label: Path) -> int:
    """Extract an open zip into ``dest`` safely; returns the number of files written."""
    count = 0
    for info in zf.infolist():
        target = _safe_target(dest, info.filename, label)
        try:
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, _CHUNK)
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as err:
            raise _conflict_error(label, info.filename, dest, err) from err
        count += 1
    return count


def _conflict_error(archive: Path, name: str, dest: Path, err: OSError) -> ValueError:
    return ValueError(
        f"{archive}: member {name!r} cannot be written into {dest}: a file and a folder of the same name "
        f"({err.filename or name!r}) are both in the archive or already in the folder. The archive is "
        "malformed or a different one was extracted there before: re-download it, or empty the folder"
    )


def _extract_tar(archive: Path, dest: Path) -> int:
    count = 0
    root = dest.resolve()
    with tarfile.open(archive) as tar:
        for member in tar:  # one pass, checking each member before it is written
            target = _safe_target(dest, member.name, archive)
            if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
                raise UnsafeArchiveError(f"{archive}: member {member.name!r} is a device or fifo; refusing")
            if member.issym() or member.islnk():
                base = target.parent if member.issym() else dest
                link = (base / member.linkname).resolve() if not os.path.isabs(member.linkname) else Path(
                    member.linkname
                )
                if not link.is_relative_to(root):
                    raise UnsafeArchiveError(
                        f"{archive}: link {member.name!r} -> {member.linkname!r} points outside {dest}; refusing"
                    )
            try:
                if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4: also strips modes, owners
                    tar.extract(member, dest, filter="data")
                else:
                    tar.extract(member, dest)
            except (FileExistsError, NotADirectoryError, IsADirectoryError) as err:
                raise _conflict_error(archive, member.name, dest, err) from err
            count += member.isfile()
    return count


def _extract_7z(archive: Path, dest: Path) -> int:
    try:
        import py7zr
    except ImportError as err:
        raise ImportError(
            f"extracting {archive.name} needs py7zr: pip install py7zr (or pip install 'w2clib[paper]')"
        ) from err
    with py7zr.SevenZipFile(archive) as z:
        infos = z.list()
        for info in infos:
            _safe_target(dest, info.filename, archive)
            if info.is_symlink:
                raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is a symbolic link; refusing")
        z.extractall(path=dest)
    return sum(1 for info in infos if not info.is_directory)


def extract_archive(archive: Path, dest: Path, *, force: bool = False) -> int:
    """Extract ``archive`` into ``dest`` (idempotent: a stamp file marks a finished extraction).

    The stamp records the archive's SHA-256, so a different archive (even of the same size) under
    the same name is extracted again.

    Returns:
        the number of files written (0 when the stamp shows it was already extracted).

    Raises:
        UnsafeArchiveError: a member would land outside ``dest`` (absolute path, ``..``, escaping link,
            device file); nothing outside ``dest`` is ever written.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise FileNotFoundError(f"archive not found: {archive}")
    dest.mkdir(parents=True, exist_ok=True)
    stamp = _stamp_path(dest, archive)
    size = archive.stat().st_size
    digest = sha256_file(archive)
    if stamp.exists() and not force:
        try:
            if json.loads(stamp.read_text()).get("sha256") == digest:
                return 0
        except (json.JSONDecodeError, AttributeError):
            pass
    kind = _archive_kind(archive)
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                count = extract_zipfile(zf, dest, label=archive)
        elif kind == "tar":
            count = _extract_tar(archive, dest)
        else:
            count = _extract_7z(archive, dest)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as err:
        raise ValueError(
            f"archive {archive} is damaged ({err}); nothing is marked extracted. Delete it and download it again"
        ) from err
    atomic_write_json(stamp, {"archive": archive.name, "size": size, "sha256": digest, "files": count})
    return count


# --------------------------------------------------------------------------- split zips

_EOCD = b"PK\x05\x06"
_EOCD64 = b"PK\x06\x06"
_LOC64 = b"PK\x06\x07"
_CDH = b"PK\x01\x02"


class _ConcatFile(io.RawIOBase):
    """A read-only, seekable view of several files followed by an in-memory tail."""

    def __init__(self, paths: Sequence[Path], tail: bytes = b"") -> None:
        super().__init__()
        self._files = [open(p, "rb") for p in paths]
        self._sizes = [os.fstat(f.fileno()).st_size for f in self._files]
        self._tail = tail
        self._starts = [sum(self._sizes[:i]) for i in range(len(self._sizes) + 1)]
        self._size = self._starts[-1] + len(tail)
        self._pos = 0
        self.name = str(paths[-1])

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self._size:
            if self._pos >= self._starts[-1]:
                start = self._pos - self._starts[-1]
                chunk = self._tail[start : start + len(view) - done]
            else:
                index = max(i for i in range(len(self._files)) if self._starts[i] <= self._pos)
                f = self._files[index]
                f.seek(self._pos - self._starts[index])
                chunk = f.read(min(len(view) - done, self._starts[index + 1] - self._pos))
            if not chunk:
                break
            view[done : done + len(chunk)] = chunk
            done += len(chunk)
            self._pos += len(chunk)
        return done

    def close(self) -> None:
        for f in self._files:
            f.close()
        super().close()


def _find_eocd(data: bytes, label: Path) -> int:
    pos = data.rfind(_EOCD)
    if pos < 0:
        raise ValueError(f"{label}: no zip end-of-central-directory record; is this the last part (.zip)?")
    return pos


def _central_directory_location(view: _ConcatFile, starts: list[int], last: Path) -> tuple[int, int, int]:
    """(absolute offset, size, entry count) of the central directory of a split zip."""
    size_last = view._sizes[-1]
    tail_len = min(size_last, 65536 + 22)
    view.seek(starts[-1] - tail_len)
    tail = view.read(tail_len)
    pos = _find_eocd(tail, last)
    (_, disk, cd_disk, _, n_total, cd_size, cd_offset, _) = struct.unpack("<4s4H2LH", tail[pos : pos + 22])
    if pos >= 20 and tail[pos - 20 : pos - 16] == _LOC64:
        _, eocd64_disk, eocd64_offset, _ = struct.unpack("<4sLQL", tail[pos - 20 : pos])
        view.seek(starts[eocd64_disk] + eocd64_offset)
        record = view.read(56)
        if record[:4] != _EOCD64:
            raise ValueError(f"{last}: broken zip64 end-of-central-directory record")
        (_, _, _, _, disk, cd_disk, _, n_total, cd_size, cd_offset) = struct.unpack("<4sQ2H2L4Q", record)
    if cd_disk >= len(starts) - 1:
        raise ValueError(
            f"{last}: the central directory is on part {cd_disk + 1} but only {len(starts) - 1} parts were given"
        )
    return starts[cd_disk] + cd_offset, cd_size, n_total


def _rebuild_central_directory(cd: bytes, starts: list[int], label: Path) -> tuple[bytes, int]:
    """Rewrite disk-relative local-header offsets as absolute ones (zip64 where needed)."""
    out, pos, count = bytearray(), 0, 0
    while pos < len(cd) and cd[pos : pos + 4] == _CDH:
        fixed = list(struct.unpack("<4s6H3L5H2L", cd[pos : pos + 46]))
        name_len, extra_len, comment_len = fixed[10], fixed[11], fixed[12]
        csize, usize, disk, offset = fixed[8], fixed[9], fixed[13], fixed[16]
        name = cd[pos + 46 : pos + 46 + name_len]
        extra = cd[pos + 46 + name_len : pos + 46 + name_len + extra_len]
        comment = cd[pos + 46 + name_len + extra_len : pos + 46 + name_len + extra_len + comment_len]
        pos += 46 + name_len + extra_len + comment_len
        others, i = bytearray(), 0
        while i + 4 <= len(extra):
            tag, length = struct.unpack("<2H", extra[i : i + 4])
            body = extra[i + 4 : i + 4 + length]
            if tag == 1:  # zip64: the 64-bit values of the fields that hold 0xFFFF(FFFF), in order
                j = 0
                if usize == 0xFFFFFFFF:
                    usize, j = struct.unpack("<Q", body[j : j + 8])[0], j + 8
                if csize == 0xFFFFFFFF:
                    csize, j = struct.unpack("<Q", body[j : j + 8])[0], j + 8
                if offset == 0xFFFFFFFF:
                    offset, j = struct.unpack("<Q", body[j : j + 8])[0], j + 8
                if disk == 0xFFFF:
                    disk = struct.unpack("<L", body[j : j + 4])[0]
            else:
                others += extra[i : i + 4 + length]
            i += 4 + length
        if disk >= len(starts) - 1:
            raise ValueError(f"{label}: member {name!r} lives on part {disk + 1}, which was not given")
        absolute = starts[disk] + offset
        zip64 = bytearray()
        if usize >= 0xFFFFFFFF:
            zip64 += struct.pack("<Q", usize)
        if csize >= 0xFFFFFFFF:
            zip64 += struct.pack("<Q", csize)
        if absolute >= 0xFFFFFFFF:
            zip64 += struct.pack("<Q", absolute)
        new_extra = bytes(others) + (struct.pack("<2H", 1, len(zip64)) + zip64 if zip64 else b"")
        fixed[8] = min(csize, 0xFFFFFFFF)
        fixed[9] = min(usize, 0xFFFFFFFF)
        fixed[16] = min(absolute, 0xFFFFFFFF)
        fixed[13] = 0
        fixed[11] = len(new_extra)
        out += struct.pack("<4s6H3L5H2L", *fixed) + name + new_extra + comment
        count += 1
    return bytes(out), count


def open_split_zip(parts: Sequence[str | os.PathLike[str]]) -> zipfile.ZipFile:
    """Open a split zip (``x.z01 … x.zNN, x.zip``, given in that order) as one :class:`zipfile.ZipFile`.

    The parts are concatenated virtually and a rewritten central directory (absolute offsets, one
    disk, zip64 records) is appended in memory, so nothing large is copied.

    Why not simpler: :mod:`zipfile` over the plain concatenation of the parts fails ("Bad magic
    number for file header", checked with :func:`w2clib.rehearsal.archives.split_zip`), because a
    split zip's central directory gives each member's offset relative to its own part, and zipfile
    refuses a zip64 end record that names several disks (FSD50K's dev audio is zip64); Info-ZIP's
    ``zip -s 0`` joins the parts but needs that binary and a second 24 GB copy.

    Raises:
        FileNotFoundError: a part is missing.  ValueError: the parts do not form a split zip.
    """
    paths = [Path(p) for p in parts]
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"split zip part not found: {p}; all parts (.z01 … .zip) are needed")
    view = _ConcatFile(paths)
    starts = view._starts
    try:
        cd_start, cd_size, n_total = _central_directory_location(view, starts, paths[-1])
        view.seek(cd_start)
        cd = view.read(cd_size)
    finally:
        view.close()
    new_cd, count = _rebuild_central_directory(cd, starts, paths[-1])
    if count != n_total:
        raise ValueError(f"{paths[-1]}: read {count} central-directory entries, the archive says {n_total}")
    total = starts[-1]
    eocd64_at = total + len(new_cd)
    tail = new_cd
    tail += struct.pack("<4sQ2H2L4Q", _EOCD64, 44, 45, 45, 0, 0, count, count, len(new_cd), total)
    tail += struct.pack("<4sLQL", _LOC64, 0, eocd64_at, 1)
    tail += struct.pack("<4s4H2LH", _EOCD, 0, 0, min(count, 0xFFFF), min(count, 0xFFFF),
                        min(len(new_cd), 0xFFFFFFFF), min(total, 0xFFFFFFFF), 0)
    return _SplitZipFile(io.BufferedReader(_ConcatFile(paths, tail), buffer_size=_CHUNK))


class _SplitZipFile(zipfile.ZipFile):
    """A ZipFile over a virtual concatenation; closing it closes the part files too."""

    def close(self) -> None:
        source = self.fp
        super().close()
        if source is not None:
            source.close()

