"""Checkpoints: official layout, our safetensors format, named downloads with SHA-256 checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import w2clib
from tests.conftest import tone_mix
from w2clib import checkpoints
from w2clib.checkpoints import CheckpointEntry, CheckpointError, ChecksumError, DownloadError
from w2clib.model import ModelConfig, build_model

OFFICIAL_HEAD_KEYS = {
    "audio_transform.sequential.0.weight", "audio_transform.sequential.0.bias",
    "audio_transform.sequential.3.weight", "audio_transform.sequential.3.bias",
}


def test_paper_model_has_the_official_key_layout_and_size(paper_model):
    keys = set(paper_model.state_dict())
    assert OFFICIAL_HEAD_KEYS <= keys
    assert {"audio_encoder.conv1.weight", "audio_encoder.layer1.0.conv1.weight",
            "audio_encoder.layer4.1.bn2.running_var", "audio_encoder.spectrogram.window"} <= keys
    assert all(k.startswith(("audio_encoder.", "audio_transform.")) for k in keys)
    n_params = sum(p.numel() for p in paper_model.parameters())
    assert 11.6e6 < n_params < 11.8e6  # docs/method.md §1: ~11.7 M


def test_official_layout_pt_file_loads_and_reproduces_embeddings(paper_model, tmp_path):
    path = tmp_path / "Wav2CLIP.pt"
    state = dict(paper_model.state_dict())
    state["loss_fn_a.logit_scale"] = torch.tensor(2.6)  # what the original trainer also stored
    torch.save(state, path)
    loaded = w2clib.load_model(path, device="cpu")
    audio = tone_mix(2, 1.0)
    np.testing.assert_allclose(w2clib.embed_audio(audio, loaded), w2clib.embed_audio(audio, paper_model), atol=1e-6)
    assert loaded.checkpoint_sha256 is not None and len(loaded.checkpoint_sha256) == 64


def test_image_head_in_an_official_file_is_kept(tmp_path):
    model = build_model(ModelConfig(width=8, image_head=True), seed=0)
    torch.save(model.state_dict(), tmp_path / "x.pt")
    loaded = w2clib.load_model(tmp_path / "x.pt", device="cpu")
    assert loaded.image_transform is not None and loaded.config.width == 8


def test_safetensors_folder_round_trip_and_tamper_detection(small_model, tmp_path):
    folder = checkpoints.save_checkpoint(small_model, tmp_path / "ckpt", extra={"note": "test"})
    meta = json.loads((folder / "config.json").read_text())
    assert meta["model"]["width"] == 16 and meta["note"] == "test"
    loaded = w2clib.load_model(folder, device="cpu")
    audio = tone_mix(1, 1.0)
    np.testing.assert_allclose(w2clib.embed_audio(audio, loaded), w2clib.embed_audio(audio, small_model), atol=1e-6)
    data = bytearray((folder / "checkpoint.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (folder / "checkpoint.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        w2clib.load_model(folder)


def test_mismatched_keys_are_named(small_model, tmp_path):
    state = dict(small_model.state_dict())
    del state["audio_encoder.layer2.0.conv1.weight"]
    state["audio_encoder.fc.weight"] = torch.zeros(3, 3)
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"missing 1 keys.*layer2\.0\.conv1\.weight.*unexpected.*fc\.weight"):
        w2clib.load_model(tmp_path / "bad.pt")


def test_file_without_the_wav2clip_layout_is_rejected(tmp_path):
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not in the Wav2CLIP layout"):
        w2clib.load_model(tmp_path / "other.pt")


def test_pickled_objects_are_never_unpickled(tmp_path):
    torch.save({"audio_encoder.conv1.weight": torch.zeros(1), "evil": object()}, tmp_path / "pickle.pt")
    with pytest.raises(CheckpointError, match="weights-only"):
        w2clib.load_model(tmp_path / "pickle.pt")


def test_unknown_names_and_missing_paths_get_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="unknown checkpoint name 'wav2clap'.*known names"):
        w2clib.load_model("wav2clap")
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        w2clib.load_model(tmp_path / "nowhere.pt")
    with pytest.raises(ValueError, match="not both"):
        w2clib.load_model("wav2clip", pretrained=False)


@pytest.fixture
def registry_entry(monkeypatch, tmp_path):
    """A registry entry served from a local file, with the cache in tmp_path."""
    monkeypatch.setenv("W2C_CHECKPOINT_DIR", str(tmp_path / "cache"))

    def install(url: str, sha256: str | None) -> None:
        entry = CheckpointEntry(url=url, filename="Test.pt", sha256=sha256, description="test")
        monkeypatch.setitem(checkpoints.REGISTRY, "test-ckpt", entry)

    return install


def test_named_download_records_its_hash_on_first_use_and_verifies_later(small_model, tmp_path, registry_entry, capsys):
    source = tmp_path / "served.pt"
    torch.save(small_model.state_dict(), source)
    registry_entry(source.as_uri(), None)
    model = w2clib.load_model("test-ckpt", device="cpu")
    assert "recorded" in capsys.readouterr().err
    record = json.loads((tmp_path / "cache" / "checksums.json").read_text())
    assert record["Test.pt"]["sha256"] == model.checkpoint_sha256
    cached = tmp_path / "cache" / "Test.pt"
    cached.write_bytes(cached.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ChecksumError, match="recorded on first use"):
        w2clib.load_model("test-ckpt")


def test_named_download_with_a_known_hash_rejects_other_bytes(small_model, tmp_path, registry_entry):
    source = tmp_path / "served.pt"
    torch.save(small_model.state_dict(), source)
    registry_entry(source.as_uri(), "0" * 64)
    with pytest.raises(ChecksumError, match="published sha256 of Test.pt is 0000"):
        w2clib.load_model("test-ckpt")


def test_offline_download_says_where_to_place_the_file(registry_entry):
    registry_entry("http://127.0.0.1:9/Test.pt", None)  # nothing listens on the discard port
    with pytest.raises(DownloadError, match=r"place it at .*cache.*Test\.pt"):
        w2clib.load_model("test-ckpt")


def test_a_hash_recorded_by_an_earlier_release_beside_the_file_is_still_checked(small_model, tmp_path, registry_entry):
    registry_entry("http://127.0.0.1:9/Test.pt", None)  # never downloaded: the file is already in the cache
    cached = tmp_path / "cache" / "Test.pt"
    cached.parent.mkdir()
    torch.save(small_model.state_dict(), cached)
    (tmp_path / "cache" / "Test.pt.sha256").write_text("f" * 64 + "  Test.pt\n")
    with pytest.raises(ChecksumError, match="published sha256 of Test.pt is f{64}"):
        w2clib.load_model("test-ckpt")
