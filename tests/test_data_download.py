"""w2clib.data.download: resumable verified downloads, trust on first use, safe extraction, split zips."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import struct
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.data_fixtures import serve_directory, split_zip, unused_port_url
from w2clib.data.download import RemoteFile, fetch
from w2clib.data.extract import (
    UnsafeArchiveError,
    _rebuild_central_directory,
    _safe_target,
    extract_archive,
    open_split_zip,
)
from w2clib.downloads import CHECKSUMS_FILE, ChecksumError, DownloadError, download_file

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB, every byte value


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "www"
    folder.mkdir()
    (folder / "data.bin").write_bytes(PAYLOAD)
    return folder


def test_download_writes_the_file_and_leaves_no_partial(served, tmp_path):
    with serve_directory(served) as server:
        path = download_file(f"{server.url}/data.bin", tmp_path / "out" / "data.bin", progress=False)
    assert path.read_bytes() == PAYLOAD
    assert not (tmp_path / "out" / "data.bin.part").exists()


def test_resumed_download_continues_from_the_partial_file(served, tmp_path):
    dest = tmp_path / "out" / "data.bin"
    dest.parent.mkdir()
    (dest.parent / "data.bin.part").write_bytes(PAYLOAD[:300_000])
    with serve_directory(served) as server:
        download_file(f"{server.url}/data.bin", dest, progress=False)
        assert server.requests == [("/data.bin", "bytes=300000-")]
    assert dest.read_bytes() == PAYLOAD


def test_a_dropped_connection_is_resumed_on_the_next_attempt(served, tmp_path):
    dest = tmp_path / "data.bin"
    with serve_directory(served) as server:
        server.cut_after = 123_456  # the first response stops after this many bytes
        download_file(f"{server.url}/data.bin", dest, progress=False)
        ranges = [r for _, r in server.requests]
    assert dest.read_bytes() == PAYLOAD
    assert ranges == [None, "bytes=123456-"]


def test_a_server_ignoring_ranges_restarts_the_download_cleanly(served, tmp_path):
    dest = tmp_path / "data.bin"
    (tmp_path / "data.bin.part").write_bytes(b"x" * 1000)  # garbage that must not survive
    with serve_directory(served, honour_ranges=False) as server:
        download_file(f"{server.url}/data.bin", dest, progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_file_urls_download_and_resume(served, tmp_path):
    dest = tmp_path / "data.bin"
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD[:1000])
    download_file((served / "data.bin").as_uri(), dest, progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_offline_download_fails_with_instructions(tmp_path):
    dest = tmp_path / "downloads" / "ESC-50.zip"
    with pytest.raises(DownloadError, match="place it at .*ESC-50.zip") as err:
        download_file(f"{unused_port_url()}/ESC-50.zip", dest, retries=1, progress=False)
    assert isinstance(err.value, FileNotFoundError)
    assert not dest.exists()


def test_unsupported_url_scheme_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="ftp://"):
        download_file("ftp://example.org/x.zip", tmp_path / "x.zip")


def test_checksum_mismatch_is_an_error(served, tmp_path, monkeypatch):
    remote = RemoteFile(url="unused", filename="data.bin", md5="0" * 32)
    with serve_directory(served) as server:
        monkeypatch.setenv("W2C_DATA_MIRROR", server.url)
        with pytest.raises(ChecksumError, match="md5 is .* published md5 of data.bin is 0000"):
            fetch(remote, tmp_path / "dl", dataset="", progress=False)


def test_published_checksums_are_accepted(served, tmp_path, monkeypatch):
    remote = RemoteFile(url="unused", filename="data.bin", md5=hashlib.md5(PAYLOAD).hexdigest(),
                        sha256=hashlib.sha256(PAYLOAD).hexdigest())
    with serve_directory(served) as server:
        monkeypatch.setenv("W2C_DATA_MIRROR", server.url)
        path = fetch(remote, tmp_path, dataset="", progress=False)
    assert path.read_bytes() == PAYLOAD


def test_unknown_checksum_is_recorded_on_first_use_then_enforced(served, tmp_path, monkeypatch, capsys):
    remote = RemoteFile(url="unused", filename="data.bin")
    with serve_directory(served) as server:
        monkeypatch.setenv("W2C_DATA_MIRROR", server.url)
        path = fetch(remote, tmp_path, dataset="", progress=False)
    assert "trust on first use" in capsys.readouterr().err
    record = json.loads((tmp_path / CHECKSUMS_FILE).read_text())
    assert record["data.bin"]["sha256"] == hashlib.sha256(PAYLOAD).hexdigest()
    path.write_bytes(PAYLOAD[::-1])  # a different file under the same name
    with pytest.raises(ChecksumError, match="recorded on first use"):
        fetch(remote, tmp_path, dataset="", download=False)


def test_fetch_without_download_says_where_to_place_the_file(tmp_path):
    remote = RemoteFile(url="https://zenodo.org/x/UrbanSound8K.tar.gz", filename="UrbanSound8K.tar.gz")
    with pytest.raises(DownloadError, match=r"place it at .*downloads/UrbanSound8K.tar.gz"):
        fetch(remote, tmp_path / "downloads", dataset="urbansound8k", download=False)


# --------------------------------------------------------------------------- extraction


def _zip_with(names: dict[str, bytes], path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in names.items():
            zf.writestr(name, data)
    return path


def test_zip_extraction_writes_members_and_is_idempotent(tmp_path):
    archive = _zip_with({"ESC-50/meta/esc50.csv": b"filename\n", "ESC-50/audio/a.wav": b"RIFF"}, tmp_path / "a.zip")
    dest = tmp_path / "out"
    assert extract_archive(archive, dest) == 2
    assert (dest / "ESC-50" / "audio" / "a.wav").read_bytes() == b"RIFF"
    assert extract_archive(archive, dest) == 0  # stamp: already extracted


@pytest.mark.parametrize("evil", ["../evil.txt", "a/../../evil.txt", "/tmp/evil.txt", "C:/evil.txt", "..\\evil.txt"])
def test_zip_path_traversal_is_refused(tmp_path, evil):
    archive = _zip_with({"ok.txt": b"fine", evil: b"pwned"}, tmp_path / "evil.zip")
    dest = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match="outside"):
        extract_archive(archive, dest)
    assert not (tmp_path / "evil.txt").exists()
    assert not list(tmp_path.rglob("evil.txt"))


def _tar_with(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info in members:
            payload = data.get(info.name)
            if payload is not None:
                info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return path


def test_tar_path_traversal_is_refused(tmp_path):
    archive = _tar_with(tmp_path / "evil.tar.gz", [tarfile.TarInfo("../evil.txt")], {"../evil.txt": b"pwned"})
    with pytest.raises(UnsafeArchiveError, match="outside"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_tar_symlink_escaping_the_target_is_refused(tmp_path):
    link = tarfile.TarInfo("UrbanSound8K/escape")
    link.type, link.linkname = tarfile.SYMTYPE, "../../outside"
    archive = _tar_with(tmp_path / "link.tar.gz", [link], {})
    with pytest.raises(UnsafeArchiveError, match="points outside"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "UrbanSound8K" / "escape").exists()


def test_tar_extraction_keeps_regular_members(tmp_path):
    info = tarfile.TarInfo("UrbanSound8K/metadata/UrbanSound8K.csv")
    archive = _tar_with(tmp_path / "ok.tar.gz", [info], {info.name: b"slice_file_name\n"})
    assert extract_archive(archive, tmp_path / "out") == 1
    assert (tmp_path / "out" / "UrbanSound8K" / "metadata" / "UrbanSound8K.csv").read_bytes() == b"slice_file_name\n"


def test_member_name_check_is_shared_by_7z_extraction(tmp_path):
    # py7zr refuses to *write* such names, so the 7z path is checked on the name function it uses
    assert _safe_target(tmp_path, "development/a.wav", tmp_path / "x.7z") == tmp_path / "development" / "a.wav"
    for evil in ("../a.wav", "/etc/passwd", "development/../../a.wav"):
        with pytest.raises(UnsafeArchiveError):
            _safe_target(tmp_path, evil, tmp_path / "x.7z")


def test_7z_archives_extract(tmp_path):
    import py7zr

    archive = tmp_path / "clotho_audio_validation.7z"
    with py7zr.SevenZipFile(archive, "w") as z:
        z.writestr(b"RIFFdata", "validation/a b.wav")
    assert extract_archive(archive, tmp_path / "out") == 1
    assert (tmp_path / "out" / "validation" / "a b.wav").read_bytes() == b"RIFFdata"


# --------------------------------------------------------------------------- split zips


def _make_tree(folder: Path) -> dict[str, bytes]:
    files = {}
    for i in range(9):
        data = hashlib.sha256(str(i).encode()).digest() * (1000 + 517 * i)
        (folder / f"{1000 + i}.wav").parent.mkdir(parents=True, exist_ok=True)
        (folder / f"{1000 + i}.wav").write_bytes(data)
        files[f"FSD50K.eval_audio/{1000 + i}.wav"] = data
    return files


def test_split_zip_parts_read_as_one_archive(tmp_path):
    files = _make_tree(tmp_path / "src")
    parts = split_zip(tmp_path / "src", "FSD50K.eval_audio", tmp_path / "dl", "FSD50K.eval_audio", n_parts=4)
    assert [p.name for p in parts] == ["FSD50K.eval_audio.z01", "FSD50K.eval_audio.z02", "FSD50K.eval_audio.z03",
                                       "FSD50K.eval_audio.zip"]
    with pytest.raises(zipfile.BadZipFile):  # the last part alone is not a usable zip
        zipfile.ZipFile(parts[-1]).read("FSD50K.eval_audio/1000.wav")
    with open_split_zip(parts) as zf:
        assert zf.testzip() is None
        assert {n: zf.read(n) for n in zf.namelist()} == files


@pytest.mark.skipif(shutil.which("zip") is None, reason="Info-ZIP `zip` not installed")
def test_split_zip_made_by_info_zip_reads_too(tmp_path):
    files = _make_tree(tmp_path / "FSD50K.eval_audio")
    (tmp_path / "out").mkdir()
    subprocess.run(["zip", "-q", "-0", "-r", "-s", "64k", str(tmp_path / "out" / "FSD50K.eval_audio.zip"),
                    "FSD50K.eval_audio"], cwd=tmp_path, check=True, capture_output=True)
    parts = sorted((tmp_path / "out").glob("*.z[0-9]*")) + [tmp_path / "out" / "FSD50K.eval_audio.zip"]
    assert len(parts) > 2
    with open_split_zip(parts) as zf:
        assert {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")} == files


def test_split_zip_offsets_beyond_4_gib_use_zip64(tmp_path):
    # disk 1 holds a normal zip; disk 0 is 4.5 GB of (sparse) padding, so joined offsets exceed 32 bits
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("a/x.wav", b"hello" * 100)
    data = bytearray(buffer.getvalue())
    eocd = data.rfind(b"PK\x05\x06")
    fields = list(struct.unpack("<4s4H2LH", data[eocd : eocd + 22]))
    struct.pack_into("<H", data, fields[6] + 34, 1)  # the member lives on disk 1
    fields[1:3] = [1, 1]
    struct.pack_into("<4s4H2LH", data, eocd, *fields)
    first = tmp_path / "big.z01"
    with open(first, "wb") as f:
        f.write(b"PK\x07\x08")
        f.truncate(4_500_000_000)
    if first.stat().st_blocks * 512 > 1 << 20:
        pytest.skip("this filesystem does not support sparse files")
    (tmp_path / "big.zip").write_bytes(bytes(data))
    with open_split_zip([first, tmp_path / "big.zip"]) as zf:
        assert zf.infolist()[0].header_offset == 4_500_000_000
        assert zf.read("a/x.wav") == b"hello" * 100


def test_rebuilt_central_directory_round_trips_offsets(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("one.wav", b"1" * 10)
        zf.writestr("two.wav", b"2" * 20)
    data = buffer.getvalue()
    eocd = data.rfind(b"PK\x05\x06")
    size, offset = struct.unpack("<2L", data[eocd + 12 : eocd + 20])
    cd, count = _rebuild_central_directory(data[offset : offset + size], [0, len(data)], tmp_path / "x.zip")
    assert count == 2 and cd == data[offset : offset + size]  # one disk at offset 0: nothing changes
    with pytest.raises(ValueError, match="part 1"):
        _rebuild_central_directory(data[offset : offset + size], [0], tmp_path / "x.zip")


def test_missing_split_part_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="all parts"):
        open_split_zip([tmp_path / "FSD50K.dev_audio.z01", tmp_path / "FSD50K.dev_audio.zip"])
