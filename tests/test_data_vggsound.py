"""VGGSound: csv and splits, the resumable downloader, audio + frame extraction, sharding, validation."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from tests.data_fixtures import write_corrupt, write_video
from w2clib import data
from w2clib.data import vggsound as vgg
from w2clib.data.video import extract_clip, read_audio, read_frames

# No header; a label with a comma is quoted, ids may start with "-", start times are integers.
CSV = """---g-f_I2yQ,1,people marching,test
-0BIyqJj9ZU,30,"cattle, bovinae cowbell",train
0Bc3w2n1Ns8,30,dog barking,train
zzz_MZs3_Aw,120,dog barking,train
5GeW-3nOsZ8,0,playing violin,train
9fhb5mEMr9E,30,playing violin,test
"""
IDS = ["---g-f_I2yQ_000001", "-0BIyqJj9ZU_000030", "0Bc3w2n1Ns8_000030", "zzz_MZs3_Aw_000120",
       "5GeW-3nOsZ8_000000", "9fhb5mEMr9E_000030"]


@pytest.fixture
def csv_path(tmp_path):
    path = tmp_path / "vggsound.csv"
    path.write_text(CSV)
    return path


def test_csv_rows_become_clip_ids_with_zero_padded_starts(csv_path):
    df = vgg.read_vggsound_csv(csv_path)
    assert df["clip_id"].tolist() == IDS
    assert df.loc[1, "label"] == "cattle, bovinae cowbell"
    assert df["split"].tolist() == ["test", "train", "train", "train", "train", "test"]
    assert df.loc[3, "start_s"] == 120 and df.loc[3, "youtube_id"] == "zzz_MZs3_Aw"


def test_malformed_csv_rows_name_the_line(tmp_path):
    bad = tmp_path / "vggsound.csv"
    bad.write_text("abc,1,dog,train\nabc,xx,dog,train\n")
    with pytest.raises(ValueError, match="vggsound.csv:2: start_seconds 'xx'"):
        vgg.read_vggsound_csv(bad)
    bad.write_text("abc,1,dog,validation\n")
    with pytest.raises(ValueError, match="split 'validation'"):
        vgg.read_vggsound_csv(bad)


def test_validation_split_is_the_last_ids_of_the_sorted_train_list(csv_path):
    df = vgg.assign_validation(vgg.read_vggsound_csv(csv_path), n_valid=2)
    # sorted train ids: -0BI…, 0Bc3…, 5GeW…, zzz_… -> the last two are valid
    assert df.set_index("clip_id")["split"].to_dict() == {
        "---g-f_I2yQ_000001": "test", "-0BIyqJj9ZU_000030": "train", "0Bc3w2n1Ns8_000030": "train",
        "zzz_MZs3_Aw_000120": "valid", "5GeW-3nOsZ8_000000": "valid", "9fhb5mEMr9E_000030": "test"}
    assert vgg.N_VALID == 500


# --------------------------------------------------------------------------- extraction


def test_audio_is_16k_mono_and_frames_follow_the_requested_rate(tmp_path):
    video = write_video(tmp_path / "clip.mp4", 2.5)
    audio = read_audio(video)
    assert abs(len(audio) - 40_000) <= 320  # 2.5 s at 16 kHz, within an AAC frame of padding
    spectrum = np.abs(np.fft.rfft(audio))
    assert np.argmax(spectrum) * 16_000 / len(audio) == pytest.approx(440, abs=2)
    one = read_frames(video, fps=1, duration_s=10)
    thirty = read_frames(video, fps=30, duration_s=10)
    assert (len(one), len(thirty)) == (3, 75)  # targets 0, 1, 2 s inside a 2.5 s video; every frame at 30 fps
    for k, image in enumerate(one):  # sample-and-hold picks frame 30 k, whose red level is 255 * 30k / 74
        assert np.array_equal(np.asarray(image), np.asarray(thirty[30 * k]))
        assert np.asarray(image)[..., 0].mean() == pytest.approx(255 * 30 * k / 74, abs=12)


def test_a_window_inside_the_video_starts_at_the_right_time(tmp_path):
    video = write_video(tmp_path / "whole.mp4", 4.0, silent_until=1.0)
    from_start = read_audio(video, duration_s=2.0)
    from_one = read_audio(video, start_s=1.0, duration_s=1.0)
    assert len(from_one) == 16_000
    rms = lambda x: float(np.sqrt(np.mean(x**2)))  # noqa: E731
    assert rms(from_start[1000:15000]) < 0.01 and rms(from_start[16_400:20_000]) > 0.15  # tone starts at 1 s
    assert rms(from_one[400:4000]) > 0.15  # ... which is sample 0 of the window
    frames = read_frames(video, start_s=1.0, duration_s=1.0, fps=1)
    assert len(frames) == 1
    assert np.asarray(frames[0])[..., 0].mean() == pytest.approx(255 * 30 / 119, abs=12)


def test_extract_clip_writes_a_wav_and_numbered_frames(tmp_path):
    video = write_video(tmp_path / "clip.mp4", 10.0)
    result = extract_clip(video, tmp_path / "a.wav", tmp_path / "frames" / "clip", fps=1, max_side=32)
    assert (result.status, result.n_samples, result.n_frames) == ("ok", 160_000, 10)
    wave, sr = sf.read(tmp_path / "a.wav")
    assert (sr, wave.ndim, len(wave)) == (16_000, 1, 160_000)
    names = sorted(p.name for p in (tmp_path / "frames" / "clip").iterdir())
    assert names == [f"{k:04d}.jpg" for k in range(10)]
    assert Image.open(tmp_path / "frames" / "clip" / "0003.jpg").size == (32, 24)
    assert not list((tmp_path / "frames").glob(".*tmp"))  # the temporary folder was renamed away


def test_paper_rate_gives_300_frames_per_10_s_clip(tmp_path):
    video = write_video(tmp_path / "clip.mp4", 10.0)
    result = extract_clip(video, tmp_path / "a.wav", tmp_path / "frames30", fps=30)
    assert result.n_frames == 300 and len(list((tmp_path / "frames30").glob("*.jpg"))) == 300


def test_a_muted_video_gives_frames_only(tmp_path):
    video = write_video(tmp_path / "mute.mp4", 2.0, audio=False)
    result = extract_clip(video, tmp_path / "a.wav", tmp_path / "f", fps=1)
    assert (result.status, result.n_frames) == ("no_audio", 2) and not (tmp_path / "a.wav").exists()


def test_undecodable_video_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="damaged"):
        extract_clip(write_corrupt(tmp_path / "bad.mp4"), tmp_path / "a.wav", tmp_path / "f")


# --------------------------------------------------------------------------- the whole pipeline


class FakeYouTube:
    """Stands in for yt-dlp: some videos exist (with a length), some are gone, one fails once."""

    def __init__(self, lengths: dict[str, float], gone: set[str], flaky: set[str]):
        self.lengths, self.gone, self.flaky, self.calls = lengths, gone, set(flaky), []

    def __call__(self, youtube_id, start_s, out_stem):
        self.calls.append(youtube_id)
        if youtube_id in self.gone:
            raise vgg.VideoUnavailable("ERROR: [youtube] Video unavailable")
        if youtube_id in self.flaky:
            self.flaky.discard(youtube_id)
            raise ConnectionError("HTTP Error 429: Too Many Requests")
        path = out_stem.with_suffix(".mp4")
        write_video(path, self.lengths[youtube_id])
        return path, 0.0


@pytest.fixture
def prepared(tmp_path, csv_path, monkeypatch):
    """vggsound prepared from a file:// mirror, with fake downloads and extraction at 1 fps."""
    mirror = tmp_path / "mirror" / "vggsound"
    mirror.mkdir(parents=True)
    mirror.joinpath("vggsound.csv").write_text(CSV)
    monkeypatch.setenv("W2C_DATA_MIRROR", (tmp_path / "mirror").as_uri())
    home = tmp_path / "home"
    youtube = FakeYouTube(
        lengths={"---g-f_I2yQ": 10.0, "-0BIyqJj9ZU": 3.0, "0Bc3w2n1Ns8": 10.0, "9fhb5mEMr9E": 10.0,
                 "5GeW-3nOsZ8": 2.0},
        gone={"zzz_MZs3_Aw"}, flaky={"5GeW-3nOsZ8"},
    )
    data.prepare("vggsound", data_home=home, videos=True, extract=True, n_valid=1, fetch_video=youtube,
                 progress=False)
    return home, youtube


def test_prepare_downloads_extracts_and_indexes(prepared):
    home, youtube = prepared
    df = data.load_manifest("vggsound", data_home=home).set_index("clip_id")
    assert df.index.tolist() == IDS
    assert df.loc["-0BIyqJj9ZU_000030", "label"] == "cattle, bovinae cowbell"
    assert df.loc["zzz_MZs3_Aw_000120", "split"] == "valid"  # the last sorted train id
    assert df.loc["5GeW-3nOsZ8_000000", "split"] == "train"
    root = home / "vggsound"
    assert df.loc["0Bc3w2n1Ns8_000030", "audio_path"] == str(root / "audio" / "0Bc3w2n1Ns8_000030.wav")
    assert df.loc["0Bc3w2n1Ns8_000030", "frames_dir"] == str(root / "frames_1fps" / "0Bc3w2n1Ns8_000030")
    assert sf.info(df.loc["0Bc3w2n1Ns8_000030", "audio_path"]).frames == 160_000
    assert len(list((root / "frames_1fps" / "-0BIyqJj9ZU_000030").glob("*.jpg"))) == 3  # a 3 s video
    assert sorted(youtube.calls) == sorted(["---g-f_I2yQ", "-0BIyqJj9ZU", "0Bc3w2n1Ns8", "zzz_MZs3_Aw",
                                            "5GeW-3nOsZ8", "9fhb5mEMr9E"])
    log = vgg.read_log(root, "download")
    assert {c: r["status"] for c, r in log.items()} == {
        "---g-f_I2yQ_000001": "ok", "-0BIyqJj9ZU_000030": "ok", "0Bc3w2n1Ns8_000030": "ok",
        "zzz_MZs3_Aw_000120": "unavailable", "5GeW-3nOsZ8_000000": "error", "9fhb5mEMr9E_000030": "ok"}


def test_validate_reports_missing_short_and_corrupt_clips(prepared):
    home, _ = prepared
    root = home / "vggsound"
    write_corrupt(root / "video" / "5GeW-3nOsZ8_000000.mp4")  # a broken download
    report = data.validate("vggsound", data_home=home)
    assert report.missing == [str(root / "video" / "zzz_MZs3_Aw_000120.mp4")]
    assert report.corrupt == [str(root / "video" / "5GeW-3nOsZ8_000000.mp4")]
    assert report.too_short == [str(root / "audio" / "-0BIyqJj9ZU_000030.wav")]


def test_unavailable_videos_are_not_retried_unless_asked(prepared):
    home, youtube = prepared
    root = home / "vggsound"
    manifest = data.load_manifest("vggsound", data_home=home)
    youtube.calls.clear()
    counts = vgg.download_videos(root, manifest, fetch=youtube, progress=False)
    assert youtube.calls == ["5GeW-3nOsZ8"]  # only the transient failure is tried again
    assert (counts["known_unavailable"], counts["skipped"], counts["ok"]) == (1, 4, 1)
    youtube.calls.clear()
    vgg.download_videos(root, manifest, fetch=youtube, retry_unavailable=True, progress=False)
    assert youtube.calls == ["zzz_MZs3_Aw"]


def test_extraction_resumes_and_shards_split_the_work(prepared):
    home, youtube = prepared
    root = home / "vggsound"
    manifest = data.load_manifest("vggsound", data_home=home)
    again = vgg.extract_media(root, manifest, progress=False)
    assert again["skipped"] == 4 and again["ok"] == 0  # everything extracted is left alone
    shards = [vgg._select(manifest, (i, 3), None)["clip_id"].tolist() for i in range(3)]
    assert sorted(sum(shards, [])) == sorted(IDS) and all(len(s) == 2 for s in shards)
    counts = [vgg.extract_media(root, manifest, fps=30, shard=(i, 2), progress=False) for i in range(2)]
    assert sum(c["ok"] + c["short"] for c in counts) == 4  # the four downloaded videos, split over two workers
    assert sorted(p.name for p in (root / "logs").glob("extract-30fps-*")) == ["extract-30fps-0of2.jsonl",
                                                                              "extract-30fps-1of2.jsonl"]
    assert len(list((root / "frames_30fps" / "---g-f_I2yQ_000001").glob("*.jpg"))) == 300
    with pytest.raises(ValueError, match="shard"):
        vgg.extract_media(root, manifest, shard=(2, 2), progress=False)


def test_prepare_is_repeatable_and_offline_safe(prepared, monkeypatch):
    home, _ = prepared
    manifest = (home / "vggsound" / "manifest.csv").read_bytes()
    monkeypatch.setenv("W2C_DATA_MIRROR", "http://127.0.0.1:9")  # unreachable: the csv is already there
    data.prepare("vggsound", data_home=home, download=False, n_valid=1, progress=False)
    assert (home / "vggsound" / "manifest.csv").read_bytes() == manifest


def test_youtube_fetcher_classifies_gone_videos(monkeypatch, tmp_path):
    import yt_dlp

    class FakeYDL:
        def __init__(self, options):
            self.options = options

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def extract_info(self, url, download):
            if url.endswith("gone"):
                raise yt_dlp.utils.DownloadError("ERROR: [youtube] gone: Private video. Sign in if you've been "
                                                 "granted access")
            raise yt_dlp.utils.DownloadError("ERROR: unable to download video data: HTTP Error 429: Too Many Requests")

    monkeypatch.setattr(yt_dlp, "YoutubeDL", FakeYDL)
    fetch = vgg.youtube_fetcher(cut=False)
    with pytest.raises(vgg.VideoUnavailable):
        fetch("gone", 30.0, tmp_path / "x")
    with pytest.raises(yt_dlp.utils.DownloadError):  # throttling is not "gone": retried next run
        fetch("busy", 30.0, tmp_path / "y")
