"""Archives in the formats the public releases use: zip, tar.gz and Info-ZIP split zips."""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile
from pathlib import Path

__all__ = ["zip_folder", "tar_gz_folder", "split_zip"]


def zip_folder(folder: Path, zip_path: Path, *, arc_root: str | None = None) -> Path:
    """Zip ``folder`` under the top-level name ``arc_root`` (default: the folder's name)."""
    arc_root = arc_root or folder.name
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, f"{arc_root}/{path.relative_to(folder).as_posix()}")
    return zip_path


def tar_gz_folder(folder: Path, tar_path: Path) -> Path:
    """``folder`` as a gzip'd tar with the folder's name as its top-level entry."""
    with tarfile.open(tar_path, "w:gz", compresslevel=1) as tar:
        tar.add(folder, arcname=folder.name)
    return tar_path


def split_zip(folder: Path, arc_root: str, out_dir: Path, stem: str, n_parts: int) -> list[Path]:
    """Write ``folder`` as an Info-ZIP style split archive ``stem.z01 … stem.zip`` (disk order).

    Written independently of the reader: a normal zip is cut into ``n_parts`` pieces before its
    central directory, the split signature is prepended, and the central directory records the
    disk number and disk-relative offset of every member, as ``zip -s`` does.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, f"{arc_root}/{path.relative_to(folder).as_posix()}")
    data = bytearray(buffer.getvalue())
    eocd = data.rfind(b"PK\x05\x06")
    sig, _d, _cd_disk, n_this, n_total, cd_size, cd_offset, comment = struct.unpack("<4s4H2LH", data[eocd : eocd + 22])
    cuts = [0] + [int(cd_offset * k / n_parts) for k in range(1, n_parts)] + [len(data)]
    data = bytearray(b"PK\x07\x08") + data  # the split-archive signature starts disk 0
    cuts = [0] + [c + 4 for c in cuts[1:]]
    cd_at = cd_offset + 4

    def disk_of(offset: int) -> tuple[int, int]:
        disk = max(k for k in range(n_parts) if cuts[k] <= offset)
        return disk, offset - cuts[disk]

    pos = cd_at
    while data[pos : pos + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack("<3H", data[pos + 28 : pos + 34])
        local = struct.unpack("<L", data[pos + 42 : pos + 46])[0] + 4
        disk, rel = disk_of(local)
        struct.pack_into("<H", data, pos + 34, disk)
        struct.pack_into("<L", data, pos + 42, rel)
        pos += 46 + name_len + extra_len + comment_len
    last = n_parts - 1
    struct.pack_into("<4s4H2LH", data, eocd + 4, sig, last, last, n_this, n_total, cd_size, cd_at - cuts[last], comment)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [f"{stem}.z{k + 1:02d}" for k in range(n_parts - 1)] + [f"{stem}.zip"]
    paths = []
    for k, name in enumerate(names):
        (out_dir / name).write_bytes(bytes(data[cuts[k] : cuts[k + 1]]))
        paths.append(out_dir / name)
    return paths
