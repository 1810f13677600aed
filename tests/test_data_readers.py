"""The paper's datasets on fixtures laid out like the real ones: download, manifest, validate, idempotence."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pandas as pd
import pytest

from tests.data_fixtures import (
    FSD_VOCAB,
    TAU_FOLDER,
    build_clotho,
    build_esc50,
    build_fsd50k,
    build_tau2020,
    build_urbansound8k,
    md5_of,
    serve_directory,
    split_zip,
    tar_gz_folder,
    unused_port_url,
    zip_folder,
)
from w2clib import data
from w2clib.data.base import REQUIRED_COLUMNS, read_manifest, write_manifest
from w2clib.data.clotho import CLOTHO
from w2clib.downloads import ChecksumError, DownloadError
from w2clib.data.esc50 import COMMIT
from w2clib.data.fsd50k import FSD50K, SPLIT_GROUPS, vocabulary
from w2clib.data.tau2020 import TAU2020


def _report_sets(report):
    return sorted(report.missing), sorted(report.corrupt), sorted(report.too_short)


def _expected_sets(expected):
    return sorted(expected.missing), sorted(expected.corrupt), sorted(expected.too_short)


def _with_fixture_md5(dataset, folder):
    """The dataset with published md5s replaced by those of the fixture archives in ``folder``."""
    return dataset.with_remotes(
        [dataclasses.replace(r, md5=md5_of(folder / r.filename))
         for r in dataset.remotes if (folder / r.filename).exists()]
    )


# --------------------------------------------------------------------------- manifest I/O


def test_manifest_round_trip_keeps_lists_and_makes_paths_absolute(tmp_path):
    df = pd.DataFrame({
        "clip_id": ["007", "b"], "audio_path": [str(tmp_path / "a" / "x.wav"), "/elsewhere/y.wav"],
        "label": ["", "dog,cat"], "split": ["train", "eval"], "labels": [[], ["dog", "cat"]],
        "captions": [["a, quoted \"one\"", "b"], ["ü"]],
    })
    write_manifest(df, tmp_path / "manifest.csv")
    assert "a/x.wav" in (tmp_path / "manifest.csv").read_text()  # stored relative to the dataset folder
    back = read_manifest(tmp_path / "manifest.csv")
    assert back["clip_id"].tolist() == ["007", "b"]  # ids stay strings
    assert back["audio_path"].tolist() == [str(tmp_path / "a" / "x.wav"), "/elsewhere/y.wav"]
    assert back["labels"].tolist() == [[], ["dog", "cat"]]
    assert back["captions"].tolist() == [["a, quoted \"one\"", "b"], ["ü"]]
    assert back["label"].tolist() == ["", "dog,cat"]


def test_manifest_rejects_duplicate_ids_and_missing_columns(tmp_path):
    with pytest.raises(ValueError, match="unique"):
        write_manifest(pd.DataFrame({"clip_id": ["a", "a"], "audio_path": ["", ""], "label": ["", ""],
                                     "split": ["", ""]}), tmp_path / "m.csv")
    with pytest.raises(ValueError, match="split"):
        write_manifest(pd.DataFrame({"clip_id": ["a"], "audio_path": [""], "label": [""]}), tmp_path / "m.csv")


def test_unknown_dataset_and_unprepared_dataset_errors(tmp_path):
    with pytest.raises(ValueError, match="known datasets: .*esc50"):
        data.prepare("esc-50", data_home=tmp_path)
    with pytest.raises(FileNotFoundError, match="prepare\\('esc50'"):
        data.load_manifest("esc50", data_home=tmp_path)


def test_data_home_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("W2C_DATA_HOME", str(tmp_path / "home"))
    assert data.resolve_data_home() == tmp_path / "home"
    assert data.resolve_data_home(tmp_path / "explicit") == tmp_path / "explicit"


# --------------------------------------------------------------------------- ESC-50


@pytest.fixture
def esc50_mirror(tmp_path):
    """A mirror folder serving ``esc50/ESC-50-<commit>.zip`` built from the fixture."""
    staging = tmp_path / "staging" / f"ESC-50-{COMMIT}"
    expected = build_esc50(staging)
    mirror = tmp_path / "mirror"
    (mirror / "esc50").mkdir(parents=True)
    zip_folder(staging, mirror / "esc50" / f"ESC-50-{COMMIT}.zip")
    return mirror, expected


def test_esc50_downloads_extracts_and_indexes_the_pinned_commit(esc50_mirror, tmp_path, monkeypatch, capsys):
    mirror, expected = esc50_mirror
    home = tmp_path / "home"
    with serve_directory(mirror) as server:
        monkeypatch.setenv("W2C_DATA_MIRROR", server.url)
        root = data.prepare("esc50", data_home=home, progress=False)
        assert [p for p, _ in server.requests] == [f"/esc50/ESC-50-{COMMIT}.zip"]
    assert "trust on first use" in capsys.readouterr().err  # GitHub archives have no published checksum
    df = data.load_manifest("esc50", data_home=home)
    assert set(REQUIRED_COLUMNS) <= set(df.columns)
    folder = root / f"ESC-50-{COMMIT}"
    assert df["clip_id"].tolist() == [c for c in expected.clip_ids]
    row = df.set_index("clip_id").loc["1-115545-B-48"]
    assert (row["label"], row["split"], row["fold"], row["target"], bool(row["esc10"])) == (
        "fireworks", "fold1", 1, 48, False)
    assert row["audio_path"] == str(folder / "audio" / "1-115545-B-48.wav")
    assert df["fold"].tolist() == [1, 1, 2, 3, 4, 5, 5]
    assert len(df.loc[df["clip_id"] == "1-100032-A-0", "sha256"].iloc[0]) == 64
    assert df.loc[df["clip_id"] == "5-9032-A-0", "sha256"].iloc[0] == ""  # missing file: no hash


def test_esc50_validate_reports_exactly_the_broken_files(esc50_mirror, tmp_path, monkeypatch):
    mirror, expected = esc50_mirror
    expected_paths = [sorted(str(p).replace(str(expected.root), str(tmp_path / "home" / "esc50" / f"ESC-50-{COMMIT}"))
                             for p in group) for group in _expected_sets(expected)]
    with serve_directory(mirror) as server:
        monkeypatch.setenv("W2C_DATA_MIRROR", server.url)
        root = data.prepare("esc50", data_home=tmp_path / "home", progress=False)
    report = data.validate("esc50", data_home=tmp_path / "home")
    assert _report_sets(report) == tuple(expected_paths)
    assert (report.n_items, report.ok) == (7, False)
    assert json.loads((root / "validation.json").read_text())["missing"] == expected_paths[0]


def test_esc50_prepare_is_idempotent(esc50_mirror, tmp_path, monkeypatch):
    mirror, _ = esc50_mirror
    home = tmp_path / "home"
    with serve_directory(mirror) as server:
        monkeypatch.setenv("W2C_DATA_MIRROR", server.url)
        root = data.prepare("esc50", data_home=home, progress=False)
        first = (root / "manifest.csv").read_bytes()
        mtime = (root / "manifest.csv").stat().st_mtime_ns
        data.prepare("esc50", data_home=home, progress=False)
        assert len(server.requests) == 1  # nothing downloaded the second time
    assert (root / "manifest.csv").read_bytes() == first
    assert (root / "manifest.csv").stat().st_mtime_ns == mtime  # not even rewritten
    data.prepare("esc50", data_home=home, force=True, download=False, progress=False)
    assert (root / "manifest.csv").read_bytes() == first  # rebuilt from scratch: same bytes


def test_esc50_offline_error_then_archive_placed_by_hand(esc50_mirror, tmp_path, monkeypatch):
    mirror, _ = esc50_mirror
    home = tmp_path / "home"
    monkeypatch.setenv("W2C_DATA_MIRROR", unused_port_url())
    with pytest.raises(DownloadError, match=f"place it at .*esc50/downloads/ESC-50-{COMMIT}.zip"):
        data.prepare("esc50", data_home=home, progress=False)
    shutil.copy(mirror / "esc50" / f"ESC-50-{COMMIT}.zip", home / "esc50" / "downloads")
    data.prepare("esc50", data_home=home, download=False, progress=False)
    assert len(data.load_manifest("esc50", data_home=home)) == 7


def test_esc50_accepts_an_existing_master_copy_without_downloading(tmp_path, monkeypatch):
    build_esc50(tmp_path / "home" / "esc50" / "ESC-50-master")
    monkeypatch.setenv("W2C_DATA_MIRROR", unused_port_url())  # any download attempt would fail
    data.prepare("esc50", data_home=tmp_path / "home", progress=False)
    df = data.load_manifest("esc50", data_home=tmp_path / "home")
    assert df["audio_path"].iloc[0] == str(tmp_path / "home" / "esc50" / "ESC-50-master" / "audio" / "1-100032-A-0.wav")


# --------------------------------------------------------------------------- UrbanSound8K


def test_urbansound8k_locates_extracted_files_and_reads_folds(tmp_path):
    home = tmp_path / "home"
    expected = build_urbansound8k(home / "urbansound8k")
    data.prepare("urbansound8k", data_home=home, download=False, progress=False)
    df = data.load_manifest("urbansound8k", data_home=home).set_index("clip_id")
    assert df.index.tolist() == expected.clip_ids
    row = df.loc["102305-6-0-0"]
    assert (row["label"], row["split"], row["fold"], row["target"], row["fsid"]) == (
        "gun_shot", "fold10", 10, 6, "102305")
    assert row["audio_path"].endswith("UrbanSound8K/audio/fold10/102305-6-0-0.wav")
    assert df.loc["100032-3-0-0", "end_s"] == pytest.approx(0.317551)
    report = data.validate("urbansound8k", data_home=home)
    assert _report_sets(report) == _expected_sets(expected)


def test_urbansound8k_tar_gz_with_wrong_md5_is_rejected(tmp_path, monkeypatch):
    build_urbansound8k(tmp_path / "staging")
    (tmp_path / "mirror" / "urbansound8k").mkdir(parents=True)
    tar_gz_folder(tmp_path / "staging" / "UrbanSound8K", tmp_path / "mirror" / "urbansound8k" / "UrbanSound8K.tar.gz")
    with serve_directory(tmp_path / "mirror") as server:
        monkeypatch.setenv("W2C_DATA_MIRROR", server.url)
        with pytest.raises(ChecksumError, match="published md5 of UrbanSound8K.tar.gz is 9aa69802"):
            data.prepare("urbansound8k", data_home=tmp_path / "home", progress=False)
    assert not (tmp_path / "home" / "urbansound8k" / "UrbanSound8K").exists()  # nothing extracted


def test_urbansound8k_tar_gz_with_matching_md5_extracts(tmp_path):
    from w2clib.data.urbansound8k import URBANSOUND8K

    expected = build_urbansound8k(tmp_path / "staging")
    downloads = tmp_path / "home" / "urbansound8k" / "downloads"
    downloads.mkdir(parents=True)
    tar_gz_folder(tmp_path / "staging" / "UrbanSound8K", downloads / "UrbanSound8K.tar.gz")
    dataset = _with_fixture_md5(URBANSOUND8K, downloads)
    dataset.prepare(tmp_path / "home", download=False, progress=False)
    df = dataset.load_manifest(tmp_path / "home")
    assert df["clip_id"].tolist() == expected.clip_ids
    assert (tmp_path / "home" / "urbansound8k" / "UrbanSound8K" / "audio" / "fold5" / "100032-3-0-0.wav").is_file()


# --------------------------------------------------------------------------- Clotho


def test_clotho_extracts_7z_archives_and_reads_five_captions(tmp_path):
    home = tmp_path / "home"
    root = home / "clotho"
    root.mkdir(parents=True)
    expected = build_clotho(root, archives=root / "downloads")
    shutil.rmtree(root / "downloads" / "_staging")
    dataset = CLOTHO.with_remotes([
        dataclasses.replace(r, md5=md5_of((root if r.kind == "file" else root / "downloads") / r.filename))
        for r in CLOTHO.remotes
    ])
    dataset.prepare(home, download=False, progress=False)
    df = dataset.load_manifest(home).set_index("clip_id")
    assert df.index.tolist() == expected.clip_ids
    cafe = df.loc["Café ambience"]
    assert (cafe["split"], cafe["label"]) == ("validation", "")
    assert cafe["caption"] == "People chat in a busy café."
    assert len(cafe["captions"]) == 5 and cafe["captions"][4] == "Voices and dishes in a small café."
    assert cafe["keywords"] == ["café", "people", "talking"]  # decoded from ISO-8859-1
    assert df.loc["Distorted AM Radio noise", "captions"][0] == "A radio hisses, and a voice, far away, mumbles."
    assert df["split"].value_counts().to_dict() == {"development": 2, "validation": 2, "evaluation": 2}
    report = dataset.validate(home)
    assert _report_sets(report) == _expected_sets(expected)


def test_clotho_archive_checksums_are_the_published_ones():
    md5 = {r.filename: r.md5 for r in CLOTHO.remotes}
    assert md5["clotho_audio_development.7z"] == "c8b05bc7acdb13895bb3c6a29608667e"
    assert len(md5) == 9 and all(len(v) == 32 for v in md5.values())


# --------------------------------------------------------------------------- TAU 2020 Mobile


def test_tau2020_reads_the_fold1_setup_from_zips(tmp_path):
    staging = tmp_path / "staging"
    expected = build_tau2020(staging)
    downloads = tmp_path / "home" / "tau2020" / "downloads"
    downloads.mkdir(parents=True)
    base = staging / TAU_FOLDER
    # the audio zip holds audio/, the meta zip the csv files, each under the common top folder
    import zipfile

    with zipfile.ZipFile(downloads / f"{TAU_FOLDER}.audio.1.zip", "w") as zf:
        for path in sorted((base / "audio").glob("*.wav")):
            zf.write(path, f"{TAU_FOLDER}/audio/{path.name}")
    with zipfile.ZipFile(downloads / f"{TAU_FOLDER}.meta.zip", "w") as zf:
        for path in [base / "meta.csv", *sorted((base / "evaluation_setup").glob("*.csv"))]:
            zf.write(path, f"{TAU_FOLDER}/{path.relative_to(base).as_posix()}")
    dataset = _with_fixture_md5(TAU2020, downloads)
    assert [r.filename for r in dataset.remotes] == [f"{TAU_FOLDER}.audio.1.zip", f"{TAU_FOLDER}.meta.zip"]
    dataset.prepare(tmp_path / "home", download=False, progress=False)
    df = dataset.load_manifest(tmp_path / "home").set_index("clip_id")
    assert df.index.tolist() == expected.clip_ids
    assert df["split"].to_dict() == {
        "airport-barcelona-0-0-a": "train", "bus-helsinki-106-3046-s2": "train",
        "park-lisbon-1000-40104-b": "test", "tram-vienna-285-8639-s5": "test",
        "metro-paris-52-1498-c": "unused", "street_traffic-prague-1102-43234-s1": "train",
    }
    row = df.loc["bus-helsinki-106-3046-s2"]
    assert (row["label"], row["device"], row["city"], row["identifier"]) == ("bus", "s2", "helsinki", "helsinki-106")
    expected_sets = [sorted(p.replace(str(staging), str(tmp_path / "home" / "tau2020")) for p in group)
                     for group in _expected_sets(expected)]
    assert _report_sets(dataset.validate(tmp_path / "home")) == tuple(expected_sets)


def test_tau2020_lists_all_sixteen_audio_zips_with_md5():
    names = [r.filename for r in TAU2020.remotes]
    assert sum(".audio." in n for n in names) == 16 and f"{TAU_FOLDER}.meta.zip" in names
    assert all(r.md5 and len(r.md5) == 32 for r in TAU2020.remotes)


# --------------------------------------------------------------------------- FSD50K


def test_fsd50k_joins_split_zips_and_reads_multilabels(tmp_path):
    staging = tmp_path / "staging"
    expected = build_fsd50k(staging)
    home = tmp_path / "home"
    downloads = home / "fsd50k" / "downloads"
    split_zip(staging / "FSD50K.dev_audio", "FSD50K.dev_audio", downloads, "FSD50K.dev_audio", n_parts=3)
    split_zip(staging / "FSD50K.eval_audio", "FSD50K.eval_audio", downloads, "FSD50K.eval_audio", n_parts=2)
    zip_folder(staging / "FSD50K.ground_truth", downloads / "FSD50K.ground_truth.zip")
    dataset = _with_fixture_md5(FSD50K, downloads)
    assert {r.filename for r in dataset.remotes if r.kind == "part"} == {
        "FSD50K.dev_audio.z01", "FSD50K.dev_audio.z02", "FSD50K.dev_audio.zip",
        "FSD50K.eval_audio.z01", "FSD50K.eval_audio.zip"}
    assert dataset.split_groups() == {
        "FSD50K.dev_audio": ["FSD50K.dev_audio.z01", "FSD50K.dev_audio.z02", "FSD50K.dev_audio.zip"],
        "FSD50K.eval_audio": ["FSD50K.eval_audio.z01", "FSD50K.eval_audio.zip"]}
    dataset.prepare(home, download=False, progress=False)
    df = dataset.load_manifest(home).set_index("clip_id")
    assert df.index.tolist() == expected.clip_ids
    assert df["split"].to_dict() == {"64760": "train", "16399": "train", "31244": "valid", "2033": "train",
                                     "37199": "eval", "21914": "eval", "99990": "eval"}
    assert df.loc["16399", "labels"] == ["Bark", "Dog", "Domestic_animals_and_pets", "Animal"]
    assert df.loc["16399", "label"] == "Bark,Dog,Domestic_animals_and_pets,Animal"
    assert df.loc["37199", "audio_path"] == str(home / "fsd50k" / "FSD50K.eval_audio" / "37199.wav")
    expected_sets = [sorted(p.replace(str(staging), str(home / "fsd50k")) for p in group)
                     for group in _expected_sets(expected)]
    assert _report_sets(dataset.validate(home)) == tuple(expected_sets)
    assert vocabulary(home) == FSD_VOCAB


def test_fsd50k_release_has_five_dev_parts_and_one_eval_part():
    assert FSD50K.split_groups() == SPLIT_GROUPS
    dev = [f"FSD50K.dev_audio.z0{i}" for i in range(1, 6)] + ["FSD50K.dev_audio.zip"]
    assert SPLIT_GROUPS["FSD50K.dev_audio"] == dev
    assert SPLIT_GROUPS["FSD50K.eval_audio"] == ["FSD50K.eval_audio.z01", "FSD50K.eval_audio.zip"]
