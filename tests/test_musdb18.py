"""MUSDB18 (Figure 5's music): stems files decoded in stream order, a damaged upload reported, the
access-controlled full set explained offline, and the tracks notebook 10 draws chosen and plotted."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from w2clib import data
from w2clib.data.download import DownloadError
from w2clib.data.musdb18 import STEMS, decode_stems
from w2clib.rehearsal.musdb import MUSDB_TRACKS, STEM_FREQS, build_musdb18, write_stems_file


@pytest.fixture(scope="module")
def musdb_home(tmp_path_factory):
    """A data home whose ``musdb18_7s`` was prepared from the stand-in zip placed by hand (no network)."""
    base = tmp_path_factory.mktemp("musdb")
    (base / "zip").mkdir()
    build_musdb18(base / "zip", base / "staging")
    downloads = base / "home" / "musdb18_7s" / "downloads"
    downloads.mkdir(parents=True)
    shutil.copy2(base / "zip" / "MUSDB18-7-STEMS.zip", downloads)
    data.prepare("musdb18_7s", data_home=base / "home", download=False, progress=False)
    return base / "home"


def _peak_hz(wave: np.ndarray, sr: int = 16000) -> float:
    return float(np.fft.rfftfreq(len(wave), 1 / sr)[np.argmax(np.abs(np.fft.rfft(wave)))])


def test_every_stem_is_decoded_from_its_own_stream(musdb_home):
    manifest = data.load_manifest("musdb18_7s", data_home=musdb_home)
    assert len(manifest) == len(MUSDB_TRACKS) * len(STEMS)
    assert manifest["clip_id"].iloc[0] == "train/Stand-In Quartet - Tone Study/mixture"
    from w2clib.audio import load_audio

    train = manifest[manifest["split"] == "train"].set_index("stem")
    for stem, freq in STEM_FREQS.items():
        assert abs(_peak_hz(load_audio(train.loc[stem, "audio_path"])) - freq) < 2, stem
    mix = load_audio(train.loc["mixture", "audio_path"])
    parts = sum(load_audio(train.loc[s, "audio_path"]) for s in STEM_FREQS)
    # the mix is the sum of the stems, as in the release (up to the AAC coding of each stream)
    assert np.sqrt(np.mean((mix - parts) ** 2)) < 0.05 * np.sqrt(np.mean(mix**2))


def test_a_damaged_upload_is_reported_corrupt_and_nothing_is_decoded_twice(musdb_home):
    report = data.validate("musdb18_7s", data_home=musdb_home)
    assert len(report.corrupt) == len(STEMS) and {p.rsplit("/", 1)[-1] for p in report.corrupt} == {
        "Stand-In Trio - Broken Upload.stem.mp4"}
    assert not report.missing
    wav = musdb_home / "musdb18_7s" / "wav16k" / "train" / "Stand-In Quartet - Tone Study" / "drums.wav"
    before = wav.stat().st_mtime_ns
    data.prepare("musdb18_7s", data_home=musdb_home, download=False, force=True, progress=False)
    assert wav.stat().st_mtime_ns == before


def test_a_file_without_the_five_streams_is_refused_by_name(tmp_path):
    import av

    from w2clib._av import mux_audio

    path = tmp_path / "two.stem.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        streams = [out.add_stream("aac", rate=44100) for _ in range(2)]
        for stream in streams:
            stream.layout = "mono"
        for stream in streams:
            mux_audio(out, stream, np.zeros((1, 4410), np.float32), 44100)
    with pytest.raises(ValueError, match="two.stem.mp4 has 2 audio streams.*5"):
        decode_stems(path)
    good = write_stems_file(tmp_path / "good.stem.mp4", 0.5)
    assert list(decode_stems(good)) == list(STEMS)


def test_offline_the_full_set_says_it_must_be_requested_and_where_to_put_it(tmp_path):
    with pytest.raises(DownloadError, match="(?s)musdb18.zip.*downloads.*request access.*musdb18_7s"):
        data.prepare("musdb18", data_home=tmp_path, download=False, progress=False)


def test_notebook_10_picks_tracks_whose_stems_all_decoded(musdb_home, monkeypatch):
    from w2clib.generate import GenerationConfig
    from w2clib.generate.experiment import _music_tracks

    monkeypatch.setenv("W2C_DATA_HOME", str(musdb_home))
    rows = _music_tracks(GenerationConfig(music_dataset="musdb18_7s", music_tracks=1))
    assert set(rows["track"]) == {"Stand-In Quartet - Second Study"}  # the damaged one is left out
    assert set(rows["stem"]) == set(STEMS)
    with pytest.raises(ValueError, match="2 tracks asked.*has 1"):
        _music_tracks(GenerationConfig(music_dataset="musdb18_7s", music_tracks=2))
    with pytest.raises(ValueError, match="Broken Upload.*not among the usable tracks"):
        _music_tracks(GenerationConfig(music_dataset="musdb18_7s", music_tracks=["Stand-In Trio - Broken Upload"]))


def test_without_the_prepared_dataset_the_music_tracks_are_skipped_with_a_message(tmp_path, monkeypatch, capsys):
    from w2clib.generate import GenerationConfig
    from w2clib.generate.experiment import _music_tracks, _music_tracks_or_none

    monkeypatch.setenv("W2C_DATA_HOME", str(tmp_path))
    cfg = GenerationConfig(music_dataset="musdb18_7s")
    with pytest.raises(FileNotFoundError, match="musdb18_7s is not prepared"):
        _music_tracks(cfg)
    assert _music_tracks_or_none(cfg) is None
    assert "no music tracks drawn" in capsys.readouterr().err


@pytest.mark.parametrize("bad, match", [
    ({"music_dataset": "musdb"}, "music_dataset"),
    ({"music_tracks": 0}, "music_tracks"),
    ({"music_tracks": []}, "music_tracks"),
    ({"music_stems": ["mixture"]}, "music_stems"),
    ({"music_split": "valid"}, "music_split"),
    ({"music_seconds": 0}, "music_seconds"),
])
def test_bad_music_settings_are_refused_by_name(bad, match):
    from w2clib.generate import GenerationConfig

    with pytest.raises(ValueError, match=match):
        GenerationConfig(**bad)


def test_the_tracks_figure_shows_each_stem_then_the_mix_with_the_judges_verdicts(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from PIL import Image

    from w2clib.generate.figures import plot_figure5_tracks

    rows = []
    for stem in ("vocals", "drums"):
        rows.append({"job": f"stem__T__{stem}", "condition": "stem", "label": stem, "labels": stem,
                     "clip_id": f"T/{stem}"})
    rows.append({"job": "track__T", "condition": "track", "label": "T", "labels": "vocals|drums", "clip_id": "T/mixture"})
    drawn = pd.DataFrame(rows)
    drawn["image_path"] = [str(tmp_path / f"{j}.png") for j in drawn["job"]]
    for path in drawn["image_path"]:
        Image.new("RGB", (8, 8), (200, 10, 10)).save(path)
    scores = pd.DataFrame([{"job": "stem__T__drums", "class": "drums", "rank": 3, "p_class": 0.2},
                           {"job": "track__T", "class": "drums", "rank": 7, "p_class": 0.05}])
    fig = plot_figure5_tracks(drawn, scores)
    axes = fig.axes
    assert [a.get_title() for a in axes] == ["vocals", "drums", "mix"]
    assert axes[0].get_xlabel() == "not judged" and axes[1].get_xlabel() == "rank 3, p=0.20"
    assert axes[2].get_xlabel() == "vocals: not judged\ndrums: rank 7, p=0.05"
