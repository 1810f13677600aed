"""The rehearsal mirror: stand-ins for every paper download, fetched by the downloaders users run.

A mirror built by ``python -m w2clib.rehearsal build`` is served on 127.0.0.1 (stopped by each
test) and ``W2C_MIRROR`` points the real code at it: dataset ``prepare()`` (download, resume after a
dropped connection, checksums, safe extraction, manifests), VGGSound videos through yt-dlp, the
official checkpoint through ``load_model`` and CLIP weights from a local file as a teacher.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest

import w2clib
from w2clib import data, mirrors
from w2clib.data.extract import UnsafeArchiveError
from w2clib.downloads import ChecksumError
from w2clib.rehearsal import CHECKPOINT_FILE, CHECKSUMS_NAME, PAPER_DATASETS, SUMMARY_NAME, serve_directory
from w2clib.rehearsal.__main__ import main as rehearsal_cli

ARCHIVE_DATASETS = ("esc50", "urbansound8k", "clotho", "tau2020", "fsd50k", "musdb18_7s")


@pytest.fixture(scope="module")
def mirror(tmp_path_factory) -> Path:
    """The stand-in mirror without the CLIP weights (built through the command line's entry point)."""
    folder = tmp_path_factory.mktemp("mirror")
    assert rehearsal_cli(["build", str(folder), "--no-clip"]) == 0
    return folder


@pytest.fixture
def use_mirror(monkeypatch, tmp_path):
    """Point every download at a served URL; the checkpoint cache and data home live in tmp_path."""
    for var in (mirrors.DATA_MIRROR_ENV, mirrors.VIDEO_URL_ENV, mirrors.CHECKPOINT_MIRROR_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("W2C_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))

    def point_at(url: str, checksums: Path | None) -> None:
        for key, value in mirrors.mirror_environment(url, checksums).items():
            monkeypatch.setenv(key, value)

    return point_at


def _summary(mirror: Path) -> dict:
    return json.loads((mirror / SUMMARY_NAME).read_text())["datasets"]


def _relative(paths: list[str], root: Path) -> list[str]:
    return sorted(Path(p).relative_to(root).as_posix() for p in paths)


# --------------------------------------------------------------------------- what the mirror holds


def test_the_mirror_holds_every_file_the_downloaders_ask_for(mirror):
    for name in ARCHIVE_DATASETS:
        served = {p.name for p in (mirror / name).iterdir()}
        assert served == {r.filename for r in data.get_dataset(name).remotes}, name
    assert (mirror / "vggsound" / "vggsound.csv").is_file()
    assert len(list((mirror / "vggsound" / "videos").glob("*.mp4"))) == 12  # 14 ids, two gone
    checksums = json.loads((mirror / CHECKSUMS_NAME).read_text())
    assert sorted(checksums) == ["clotho", "fsd50k", "tau2020", "urbansound8k"]  # where the release publishes md5s
    assert len(checksums["tau2020"]) == 18 and len(checksums["fsd50k"]) == 11
    summary = _summary(mirror)
    assert sorted(summary) == sorted(PAPER_DATASETS)
    assert {k: v["n_clips"] for k, v in summary.items()} == {
        "esc50": 7, "urbansound8k": 7, "clotho": 6, "tau2020": 6, "fsd50k": 7, "vggsound": 14,
        "musdb18_7s": 15}


def test_urbansound8k_stand_in_varies_rate_depth_and_channels(mirror, tmp_path):
    import tarfile

    import soundfile as sf

    with tarfile.open(mirror / "urbansound8k" / "UrbanSound8K.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    corrupt = {Path(p).name for p in _summary(mirror)["urbansound8k"]["corrupt"]}
    infos = [sf.info(str(p)) for p in (tmp_path / "UrbanSound8K" / "audio").rglob("*.wav") if p.name not in corrupt]
    assert len({i.samplerate for i in infos}) >= 3 and {i.channels for i in infos} == {1, 2}
    assert {i.subtype for i in infos} == {"PCM_16", "PCM_24"}


# --------------------------------------------------------------------------- datasets


def test_every_archive_dataset_prepares_from_the_mirror_with_one_dropped_transfer(mirror, tmp_path, use_mirror):
    home = tmp_path / "home"
    summary = _summary(mirror)
    with serve_directory(mirror) as server:
        use_mirror(server.url, mirror / CHECKSUMS_NAME)
        server.cut_after = 50_000  # the first transfer (the ESC-50 zip) breaks after 50 kB
        for name in ARCHIVE_DATASETS:
            root = data.prepare(name, data_home=home, progress=False)
            manifest = data.load_manifest(name, data_home=home)
            assert len(manifest) == summary[name]["n_clips"], name
            report = data.validate(name, data_home=home)
            for kind in ("missing", "corrupt", "too_short"):
                assert _relative(getattr(report, kind), root) == summary[name][kind], (name, kind)
        requests = list(server.requests)
    esc50_zip = [r for r in requests if r[0].startswith("/esc50/")]
    assert [rng is not None for _, rng in esc50_zip] == [False, True]  # resumed with a Range request
    assert esc50_zip[1][1] == "bytes=50000-"
    # no published checksum for the ESC-50 zip: recorded on first use; the others matched the mirror's
    tofu = json.loads((home / "esc50" / "checksums.json").read_text())
    assert list(tofu) == [p.name for p in (mirror / "esc50").iterdir()]
    clotho = data.load_manifest("clotho", data_home=home).set_index("clip_id")
    assert clotho.loc["Café ambience", "keywords"] == ["café", "people", "talking"]  # ISO-8859-1 decoded


def test_tampered_files_are_rejected_against_published_and_recorded_checksums(mirror, tmp_path, use_mirror):
    served = tmp_path / "served"
    shutil.copytree(mirror, served, ignore=shutil.ignore_patterns("vggsound", "checkpoints"))
    tar = served / "urbansound8k" / "UrbanSound8K.tar.gz"
    damaged = bytearray(tar.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # one byte changed in transit
    tar.write_bytes(bytes(damaged))
    home = tmp_path / "home"
    with serve_directory(served) as server:
        use_mirror(server.url, served / CHECKSUMS_NAME)
        with pytest.raises(ChecksumError, match="published md5 of UrbanSound8K.tar.gz"):
            data.prepare("urbansound8k", data_home=home, progress=False)
        data.prepare("esc50", data_home=home, progress=False)  # first use: its SHA-256 is recorded
    assert not (home / "urbansound8k" / "UrbanSound8K").exists()  # nothing extracted from a bad archive
    (zipped,) = (home / "esc50" / "downloads").glob("*.zip")
    zipped.write_bytes(zipped.read_bytes() + b"tampered")
    with pytest.raises(ChecksumError, match="recorded on first use"):
        data.prepare("esc50", data_home=home, force=True, download=False, progress=False)


def test_an_archive_escaping_its_folder_is_refused(mirror, tmp_path, use_mirror):
    served = tmp_path / "served"
    (esc50_zip,) = (mirror / "esc50").glob("*.zip")
    (served / "esc50").mkdir(parents=True)
    with zipfile.ZipFile(served / "esc50" / esc50_zip.name, "w") as zf:
        zf.writestr(f"{esc50_zip.stem}/meta/esc50.csv", "filename,fold,target,category,esc10,src_file,take\n")
        zf.writestr("../../escaped.txt", "outside")
    home = tmp_path / "deep" / "home"
    with serve_directory(served) as server:
        use_mirror(server.url, None)
        with pytest.raises(UnsafeArchiveError, match="outside"):
            data.prepare("esc50", data_home=home, progress=False)
    assert not list(tmp_path.rglob("escaped.txt"))


def test_vggsound_videos_come_through_yt_dlp_from_the_mirror(mirror, tmp_path, use_mirror):
    pytest.importorskip("yt_dlp")
    from w2clib.data import vggsound as vgg
    from w2clib.rehearsal.vggsound import VGG_ROWS

    home = tmp_path / "home"
    kinds = {vgg.clip_id_for(ytid, start): kind for ytid, start, _label, _split, kind in VGG_ROWS}
    with serve_directory(mirror) as server:
        use_mirror(server.url, mirror / CHECKSUMS_NAME)
        data.prepare("vggsound", data_home=home, videos=True, extract=True, n_valid=1, progress=False)
        requested = {path for path, _ in server.requests}
    root = home / "vggsound"
    assert {f"/vggsound/videos/{ytid}.mp4" for ytid, *_ in VGG_ROWS} <= requested
    statuses = {c: r["status"] for c, r in vgg.read_log(root, "download").items()}
    assert statuses == {c: "unavailable" if k == "gone" else "ok" for c, k in kinds.items()}
    manifest = data.load_manifest("vggsound", data_home=home).set_index("clip_id")
    assert len(manifest) == 14
    assert kinds[manifest.index[manifest["split"] == "valid"][0]] == "ok"  # the validation clip is usable
    report = data.validate("vggsound", data_home=home)
    by_kind = {kind: sorted(c for c, k in kinds.items() if k == kind) for kind in ("gone", "no_audio", "short")}
    assert sorted(Path(p).stem for p in report.missing) == by_kind["gone"]
    assert sorted(Path(p).stem for p in report.corrupt) == by_kind["no_audio"]
    assert sorted(Path(p).stem for p in report.too_short) == by_kind["short"]
    still = next(c for c, k in kinds.items() if k == "still")
    assert len(list((root / "frames_1fps" / still).glob("*.jpg"))) == 10
    assert "vggsound.csv" in json.loads((root / "checksums.json").read_text())  # trust on first use


# --------------------------------------------------------------------------- checkpoint and teacher


def test_the_official_checkpoint_comes_from_the_mirror_and_loads(mirror, tmp_path, use_mirror, capsys):
    from w2clib.checkpoints import read_state_dict

    with serve_directory(mirror) as server:
        use_mirror(server.url, None)
        server.cut_after = 1_000_000
        model = w2clib.load_model("official", device="cpu")
        ranges = [rng for path, rng in server.requests if path == "/checkpoints/Wav2CLIP.pt"]
    assert ranges == [None, "bytes=1000000-"]
    assert "recorded" in capsys.readouterr().err  # no published hash: trust on first use
    cached = tmp_path / "checkpoints" / "Wav2CLIP.pt"
    assert cached.read_bytes() == (mirror / CHECKPOINT_FILE).read_bytes()
    recorded = json.loads((tmp_path / "checkpoints" / "checksums.json").read_text())
    assert recorded["Wav2CLIP.pt"]["sha256"] == model.checkpoint_sha256
    state, _ = read_state_dict(mirror / CHECKPOINT_FILE)
    assert {k.split(".")[0] for k in state} == {"audio_encoder", "audio_transform", "image_transform",
                                                "loss_fn_a", "loss_fn_i"}
    tone = (0.1 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype(np.float32)[None]
    emb = w2clib.embed_audio(tone, model)
    assert emb.shape == (1, 512)


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory) -> Path:
    pytest.importorskip("open_clip")
    from w2clib.rehearsal import write_openclip_weights

    return write_openclip_weights(tmp_path_factory.mktemp("clip") / "ViT-B-32.safetensors")


def test_clip_weights_from_a_file_are_a_teacher_recorded_for_rebuilding(clip_file):
    """(Rebuilding from the record is checked on a tiny CLIP in test_teachers.py; ViT-B-32 loads once here.)"""
    from w2clib.teachers import TeacherConfig

    teacher = TeacherConfig(name="ViT-B-32", pretrained="openai", weights=str(clip_file), options={"device": "cpu"}).load()
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (60, 80, 3), dtype=np.uint8) for _ in range(2)]
    img, txt = teacher.embed_images(images), teacher.embed_texts(["a dog barks", "rain on a roof"])
    assert img.shape == (2, 512) and txt.shape == (2, 512)
    assert np.allclose(np.linalg.norm(img, axis=1), 1.0, atol=1e-5)
    record = teacher.describe()
    assert record["weights_file"] == str(clip_file.resolve()) and record["pretrained"] == "openai"
    assert record["quick_gelu"] is True  # from the tag the file stands in for, no extra option
    assert record["weights_sha256"] == w2clib._io.sha256_file(clip_file)


# --------------------------------------------------------------------------- settings and the server CLI


def test_mirror_settings_resolve_per_kind_with_w2c_mirror_as_the_default(monkeypatch):
    for var in (mirrors.MIRROR_ENV, mirrors.DATA_MIRROR_ENV, mirrors.VIDEO_URL_ENV, mirrors.CHECKPOINT_MIRROR_ENV):
        monkeypatch.delenv(var, raising=False)
    assert mirrors.data_url("clotho", "a b.csv") is None and mirrors.video_url_template() is None
    monkeypatch.setenv("W2C_MIRROR", "http://m.example/")
    assert mirrors.data_url("clotho", "a b.csv") == "http://m.example/clotho/a%20b.csv"
    assert mirrors.checkpoint_url("Wav2CLIP.pt") == "http://m.example/checkpoints/Wav2CLIP.pt"
    assert mirrors.video_url_template() == "http://m.example/vggsound/videos/{youtube_id}.mp4"
    monkeypatch.setenv("W2C_DATA_MIRROR", "file:///srv/data")
    monkeypatch.setenv("W2C_VIDEO_URL_TEMPLATE", "https://v.example/{youtube_id}")
    assert mirrors.data_url("esc50", "x.zip") == "file:///srv/data/esc50/x.zip"
    assert mirrors.video_url_template() == "https://v.example/{youtube_id}"
    monkeypatch.setenv("W2C_VIDEO_URL_TEMPLATE", "https://v.example/video.mp4")
    with pytest.raises(ValueError, match="youtube_id"):
        mirrors.video_url_template()


def test_the_hub_probe_follows_hf_endpoint(monkeypatch):
    from w2clib.teachers._hub import hub_endpoint, hub_reachable

    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert hub_endpoint() == ("huggingface.co", 443)
    for var in ("HF_HUB_OFFLINE", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    with serve_directory(Path(__file__).parent) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        assert hub_endpoint() == ("127.0.0.1", server.server_address[1])
        assert hub_reachable(timeout_s=5)
    assert not hub_reachable(timeout_s=5)  # the same endpoint, now closed


def test_a_mirror_session_sets_the_environment_only_while_it_runs(mirror, monkeypatch, tmp_path):
    from w2clib.downloads import download_file
    from w2clib.rehearsal import mirror_session

    monkeypatch.delenv("W2C_MIRROR", raising=False)
    with mirror_session(mirror, build=False) as session:
        assert session.environment == {"W2C_MIRROR": session.url,
                                       "W2C_MIRROR_CHECKSUMS": str((mirror / CHECKSUMS_NAME).resolve())}
        assert mirrors.checkpoint_url("Wav2CLIP.pt") == f"{session.url}/checkpoints/Wav2CLIP.pt"
        got = download_file(mirrors.checkpoint_url("Wav2CLIP.pt"), tmp_path / "x.pt", progress=False)
        assert got.read_bytes() == session.checkpoint.read_bytes()
    assert "W2C_MIRROR" not in os.environ and mirrors.checkpoint_url("Wav2CLIP.pt") is None


def test_serve_command_prints_the_url_and_writes_the_port_and_environment(mirror, tmp_path):
    port_file, env_file = tmp_path / "port", tmp_path / "env.sh"
    proc = subprocess.Popen([sys.executable, "-m", "w2clib.rehearsal", "serve", str(mirror), "--port", "0",
                             "--port-file", str(port_file), "--env-file", str(env_file)],
                            stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        port = int(port_file.read_text())
        assert url == f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{url}/vggsound/vggsound.csv", timeout=30) as response:
            assert response.read() == (mirror / "vggsound" / "vggsound.csv").read_bytes()
        env = env_file.read_text()
        assert f"export W2C_MIRROR={url}\n" in env and f"W2C_MIRROR_CHECKSUMS={mirror / CHECKSUMS_NAME}" in env
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0
    with pytest.raises(ConnectionRefusedError):  # stopped: nothing listens on the port any more
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
