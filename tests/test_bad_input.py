"""Bad input ends in a clear error naming the input and the fix, never a traceback from deep inside."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import w2clib


@pytest.mark.parametrize("audio", [np.zeros(0, np.float32), np.zeros((3, 0), np.float32), np.zeros((0, 100), np.float32)])
def test_empty_audio(small_model, audio):
    with pytest.raises(ValueError, match="empty"):
        w2clib.embed_audio(audio, small_model)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_name_the_clip(small_model, bad):
    audio = np.random.default_rng(0).normal(0, 0.1, (3, 8000)).astype(np.float32)
    audio[2, 100] = bad
    with pytest.raises(ValueError, match=r"NaN or infinite samples in clip\(s\) \[2\].*nan_to_num"):
        w2clib.embed_audio(audio, small_model)


def test_silent_clips_warn_and_still_embed(small_model):
    audio = np.random.default_rng(0).normal(0, 0.1, (2, 8000)).astype(np.float32)
    audio[1] = 0.0
    with pytest.warns(UserWarning, match=r"clip\(s\) \[1\] are silent"):
        out = w2clib.embed_audio(audio, small_model)
    assert np.isfinite(out).all()


def test_wrong_dimensions_and_types(small_model):
    with pytest.raises(ValueError, match="1-D .* or 2-D"):
        w2clib.embed_audio(np.zeros((2, 2, 100), np.float32), small_model)
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        w2clib.embed_audio([0.0, 0.1, 0.2], small_model)
    with pytest.raises(TypeError, match="argument order embed_audio\\(audio, model\\)"):
        w2clib.embed_audio(small_model, np.zeros(100, np.float32))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unsupported audio dtype"):
        w2clib.embed_audio(torch.zeros(100, dtype=torch.complex64), small_model)


def test_bad_options(small_model):
    audio = np.zeros(8000, np.float32) + 0.1
    with pytest.raises(ValueError, match="norm must be 'clip'"):
        w2clib.embed_audio(audio, small_model, norm="layer")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="precision must be"):
        w2clib.embed_audio(audio, small_model, precision="fp16")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="both frame_length and hop_length"):
        w2clib.embed_audio(audio, small_model, frame_length=4000)
    with pytest.raises(ValueError, match="hop_length must be between 1 and"):
        w2clib.embed_audio(audio, small_model, frame_length=4000, hop_length=0)
    with pytest.raises(ValueError, match="batch_size"):
        w2clib.embed_audio(audio, small_model, batch_size=0)
    with pytest.raises(ValueError, match="sample_rate must be between 1000 and 384000"):
        w2clib.embed_audio(audio, small_model, sample_rate=0)


def test_very_short_audio_is_padded_not_an_error(small_model):
    out = w2clib.embed_audio(np.full(40, 0.1, np.float32), small_model)
    assert out.shape == (1, 512) and np.isfinite(out).all()


def test_missing_and_unreadable_files_are_named(small_model, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        w2clib.embed_files([tmp_path / "nope.wav"], small_model)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    with pytest.raises(ValueError, match=r"cannot read audio file .*broken\.wav.*re-download"):
        w2clib.embed_files([broken], small_model)


def test_embed_files_refuses_batch_norm(small_model, tmp_path):
    with pytest.raises(ValueError, match="norm='clip' only"):
        w2clib.embed_files([tmp_path / "x.wav"], small_model, norm="batch")


# ------------------------------------------------------------------------------------------------
# Issue 9: each reproduction of a silent or raw failure, now a clear error (or a named warning).

import json  # noqa: E402
import os  # noqa: E402
import warnings  # noqa: E402
import zipfile  # noqa: E402
from pathlib import Path  # noqa: E402

import soundfile as sf  # noqa: E402

from w2clib.checkpoints import CheckpointError, save_checkpoint  # noqa: E402
from w2clib.cli import main as cli_main  # noqa: E402
from w2clib.model import ModelConfig, build_model  # noqa: E402


@pytest.fixture(scope="module")
def tiny_model():
    """Width 8: the smallest encoder, for input-handling tests (weights do not matter)."""
    return build_model(ModelConfig(width=8), seed=3).eval()


def _noise(seconds: float, rate: int = 16000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.1, int(seconds * rate)).astype(np.float32)


def test_repro1_nan_in_an_audio_file_names_the_file_and_the_time(tiny_model, tmp_path, capsys):
    wave = _noise(3.0)
    wave[int(2.5 * 16000)] = np.nan
    path = tmp_path / "poisoned.wav"
    sf.write(path, wave, 16000, subtype="FLOAT")
    with pytest.raises(ValueError, match=r"poisoned\.wav.*NaN or infinite sample at 2\.500000 s"):
        w2clib.embed_files([path], tiny_model)
    with pytest.raises(ValueError, match=r"poisoned\.wav.*at 2\.500000 s"):  # the long-file path too
        w2clib.embed_files([path], tiny_model, max_clip_seconds=1.0, segment_seconds=1.0)
    assert cli_main(["embed", str(path), "--out", str(tmp_path / "e.npz"), "--random-weights"]) == 2
    assert "poisoned.wav" in capsys.readouterr().err and not (tmp_path / "e.npz").exists()


def test_repro2_samples_by_channels_is_refused_and_channels_option_downmixes(tiny_model):
    mono = _noise(0.5)
    stereo = np.stack([mono, mono], 1)  # (8000, 2): read as 8000 clips of 2 samples before
    with pytest.raises(ValueError, match=r"looks like \(samples, channels\); pass \(channels, samples\)"):
        w2clib.embed_audio(stereo, tiny_model)
    expected = w2clib.embed_audio(mono, tiny_model)
    np.testing.assert_allclose(w2clib.embed_audio(stereo, tiny_model, channels="last"), expected, atol=1e-5)
    np.testing.assert_allclose(w2clib.embed_audio(stereo.T, tiny_model, channels="first"), expected, atol=1e-5)
    with pytest.raises(ValueError, match="channels must be None, 'first' or 'last'"):
        w2clib.embed_audio(stereo, tiny_model, channels="both")


@pytest.mark.parametrize("peak", [1e18, 3e38])
def test_repro3_absurd_amplitudes_are_refused_not_nan(tiny_model, tmp_path, peak):
    tone = np.ones(16000, np.float32) * np.float32(peak)
    with pytest.raises(ValueError, match=r"audio has samples up to .* far outside \[-1, 1\]"):
        w2clib.embed_audio(tone, tiny_model)
    from w2clib import hear

    with pytest.raises(ValueError, match="audio has samples up to"):
        hear.get_scene_embeddings(torch.from_numpy(tone)[None], hear.HearWav2CLIP(tiny_model))
    path = tmp_path / "loud.wav"
    sf.write(path, tone, 16000, subtype="FLOAT")
    with pytest.raises(ValueError, match=r"loud\.wav.*sample beyond"):
        w2clib.embed_files([path], tiny_model)


def test_large_but_sane_amplitudes_still_embed(tiny_model):
    out = w2clib.embed_audio(_noise(1.0) * 2.0**31, tiny_model)  # int32 PCM given as float
    assert np.isfinite(out).all()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"sample_rate": True}, TypeError, "sample_rate must be an integer, got bool"),
        ({"sample_rate": 1}, ValueError, "sample_rate must be between 1000 and 384000"),
        ({"sample_rate": 44100.5}, ValueError, "sample_rate must be a whole number"),
        ({"sample_rate": "16k"}, TypeError, "sample_rate must be an integer"),
        ({"sample_rate": 44101}, ValueError, r"sample_rate 44101 Hz cannot be resampled .* GiB"),
        ({"batch_size": True}, TypeError, "batch_size must be an integer"),
        ({"batch_size": 0}, ValueError, "batch_size must be between 1"),
        ({"batch_size": 2.5}, ValueError, "batch_size must be a whole number"),
        ({"frame_length": True, "hop_length": 800}, TypeError, "frame_length must be an integer"),
        ({"frame_length": 16000, "hop_length": 0.5}, ValueError, "hop_length must be a whole number"),
        ({"frame_length": 10**12, "hop_length": 800}, ValueError, "frame_length must be between 1 and"),
    ],
)
def test_repro4_numeric_arguments_are_checked_with_their_name(tiny_model, kwargs, error, message):
    with pytest.raises(error, match=message):
        w2clib.embed_audio(_noise(0.25), tiny_model, **kwargs)


def test_repro4_integral_floats_are_accepted(tiny_model):
    a = w2clib.embed_audio(_noise(0.25, 8000), tiny_model, sample_rate=8000.0, batch_size=4.0)
    b = w2clib.embed_audio(_noise(0.25, 8000), tiny_model, sample_rate=8000)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"segment_seconds": 0}, "segment_seconds must be a finite number >= 0.1"),
     ({"max_clip_seconds": float("nan")}, "max_clip_seconds must be a finite number"),
     ({"batch_size": False}, "batch_size must be an integer")],
)
def test_repro4_embed_files_arguments(tiny_model, tmp_path, kwargs, message):
    path = tmp_path / "a.wav"
    sf.write(path, _noise(0.5), 16000)
    with pytest.raises((ValueError, TypeError), match=message):
        w2clib.embed_files([path], tiny_model, **kwargs)


def test_repro6_checkpoint_folder_without_sha256_is_refused_unless_verify_false(tiny_model, tmp_path):
    folder = save_checkpoint(tiny_model, tmp_path / "ck")
    meta = json.loads((folder / "config.json").read_text())
    del meta["sha256"]
    (folder / "config.json").write_text(json.dumps(meta))
    weights = folder / "checkpoint.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF  # a flipped weight byte
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="records no sha256.*verify=False"):
        w2clib.load_model(folder, device="cpu")
    assert w2clib.load_model(folder, device="cpu", verify=False).embed_dim == 512


def test_repro6_malformed_config_empty_record_and_truncated_weights(tiny_model, tmp_path):
    folder = save_checkpoint(tiny_model, tmp_path / "ck")
    good = (folder / "config.json").read_text()
    (folder / "config.json").write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="not a w2clib checkpoint config"):
        w2clib.load_model(folder, device="cpu")
    (folder / "config.json").write_text(good)
    weights = folder / "checkpoint.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="does not match"):
        w2clib.load_model(folder, device="cpu")
    with pytest.raises(CheckpointError, match="cannot read .* as safetensors"):
        w2clib.load_model(folder, device="cpu", verify=False)


def test_repro6_empty_hash_record_of_a_named_download(tmp_path, monkeypatch):
    from w2clib import checkpoints

    entry = checkpoints.CheckpointEntry(url="file:///nowhere/T.pt", filename="T.pt", sha256=None, description="t")
    monkeypatch.setitem(checkpoints.REGISTRY, "t", entry)
    monkeypatch.setenv("W2C_CHECKPOINT_DIR", str(tmp_path))
    (tmp_path / "T.pt").write_bytes(b"weights")
    (tmp_path / "checksums.json").write_text("")
    with pytest.raises(checkpoints.ChecksumError, match="checksums.json is not valid JSON"):
        checkpoints.download_checkpoint("t")
    (tmp_path / "checksums.json").unlink()
    (tmp_path / "T.pt.sha256").write_text("")  # the record of releases before 0.2
    with pytest.raises(checkpoints.ChecksumError, match="hash record .* is empty or damaged"):
        checkpoints.download_checkpoint("t")


@pytest.mark.parametrize("error", [IsADirectoryError, FileExistsError, IndexError, AttributeError, KeyError])
def test_repro7_every_cli_error_is_one_line_and_exit_2(monkeypatch, capsys, error):
    from w2clib import cli

    def explode(args):
        raise error("something\nwent wrong")

    cli.build_parser()  # registers the plug-in commands first
    configure, _ = cli.COMMANDS["checkpoints"]
    monkeypatch.setitem(cli.COMMANDS, "checkpoints", (configure, explode))
    assert cli.main(["checkpoints"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"error: {error.__name__}: " in err and "Traceback" not in err
    with pytest.raises(error):
        cli.main(["--debug", "checkpoints"])


def test_repro7_damaged_checkpoint_in_the_cli_is_one_line(tiny_model, tmp_path, capsys):
    folder = save_checkpoint(tiny_model, tmp_path / "ck")
    (folder / "checkpoint.safetensors").write_bytes(b"\x00" * 10)
    wav = tmp_path / "a.wav"
    sf.write(wav, _noise(0.5), 16000)
    assert cli_main(["embed", str(wav), "--out", str(tmp_path / "o.npz"), "--checkpoint", str(folder)]) == 2
    assert "does not match" in capsys.readouterr().err


def test_repro8_out_is_never_overwritten_or_its_folder_created_silently(tmp_path, capsys):
    wav = tmp_path / "a.wav"
    sf.write(wav, _noise(0.5), 16000)
    out = tmp_path / "mine.npz"
    out.write_bytes(b"precious")
    base = ["embed", str(wav), "--random-weights", "--out"]
    assert cli_main([*base, str(out)]) == 2
    assert out.read_bytes() == b"precious" and "--force" in capsys.readouterr().err
    assert cli_main([*base, str(out), "--force"]) == 0
    assert set(np.load(out)) == {"paths", "embeddings"}
    old = os.umask(0o022)
    try:
        assert cli_main([*base, str(tmp_path / "new.npz")]) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "new.npz").stat().st_mode & 0o777 == 0o644
    nested = tmp_path / "no" / "such" / "dir" / "e.npz"
    assert cli_main([*base, str(nested)]) == 2
    assert "--parents" in capsys.readouterr().err and not (tmp_path / "no").exists()
    assert cli_main([*base, str(nested), "--parents"]) == 0 and nested.is_file()
    (tmp_path / "d.npz").mkdir()
    assert cli_main([*base, str(tmp_path / "d.npz"), "--force"]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_repro9_an_interrupted_training_run_is_not_a_finished_encoder(tmp_path):
    from tests.test_train import Interrupt, _config, _interrupt_at
    from w2clib.training import pretrain

    out = tmp_path / "run"
    with pytest.raises(Interrupt):
        pretrain(_config(max_steps=6, num_workers=0), out, on_step=_interrupt_at(4))
    assert (out / "checkpoint.safetensors").is_file()  # loadable weights from step 3 ...
    with pytest.raises(CheckpointError, match=r"UNFINISHED training run \(last checkpoint at step 3.*allow_unfinished"):
        w2clib.load_model(out, device="cpu")  # ... but not taken for the result
    with pytest.warns(UserWarning, match="unfinished training run"):
        assert w2clib.load_model(out, device="cpu", allow_unfinished=True).embed_dim == 16
    pretrain(_config(max_steps=6, num_workers=0), out, resume=True)
    assert json.loads((out / "config.json").read_text())["training"]["finished"] is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w2clib.load_model(out, device="cpu")


def test_repro9_evaluation_default_refuses_the_unfinished_encoder_and_stamps_record_inputs(
        tiny_model, tmp_path, monkeypatch):
    from tests.test_pipeline import _notebook
    from w2clib import pipeline
    from w2clib.evaluate.suite import load_context

    (tmp_path / "profiles").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "profiles" / "tiny.yaml").write_text(
        "name: tiny\noutputs:\n  run_dir: runs/tiny\n"
        "evaluate: {datasets: [gm_families], zero_shot_datasets: [], retrieval_datasets: [], "
        "fraction_dataset: gm_families, confusion_dataset: gm_families}\n")
    monkeypatch.setenv("W2C_PROJECT_ROOT", str(tmp_path))
    encoder = save_checkpoint(tiny_model, tmp_path / "runs" / "tiny" / "pretrain",
                              extra={"training": {"step": 3, "epoch": 0, "finished": False}})
    with pytest.raises(CheckpointError, match="UNFINISHED"):
        load_context("tiny", device="cpu")
    _notebook(tmp_path / "notebooks" / "04_eval.ipynb", "x = 1")
    assert pipeline.run_pipeline("tiny") == 0
    stamp = json.loads((tmp_path / "runs" / "tiny" / "stamps" / "04_eval.json").read_text())
    meta = json.loads((encoder / "config.json").read_text())
    assert stamp["inputs"]["encoder"] == {"path": str(encoder), "sha256": meta["sha256"], "step": 3,
                                          "finished": False}
    assert len(stamp["inputs"]["notebook_sha256"]) == 64


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_repro10_a_different_archive_of_the_same_size_is_extracted_again(tmp_path):
    from w2clib.data.extract import extract_archive

    dest = tmp_path / "out"
    first = _zip(tmp_path / "data.zip", {"x.txt": b"AAAA"})
    assert extract_archive(first, dest) == 1
    size = first.stat().st_size
    second = _zip(tmp_path / "data.zip", {"x.txt": b"BBBB"})
    assert second.stat().st_size == size
    assert extract_archive(second, dest) == 1 and (dest / "x.txt").read_bytes() == b"BBBB"
    assert extract_archive(second, dest) == 0


@pytest.mark.parametrize("members", [{"a": b"file", "a/b": b"inner"}, {"a/b": b"inner", "a": b"file"}])
def test_repro10_a_file_and_a_folder_of_one_name_is_a_clear_error(tmp_path, members):
    from w2clib.data.extract import extract_archive

    archive = _zip(tmp_path / "bad.zip", members)
    with pytest.raises(ValueError, match=r"bad\.zip: member .* a file and a folder of the same name"):
        extract_archive(archive, tmp_path / "out")


def test_repro11_a_truncated_wav_warns_with_expected_and_read_length(tiny_model, tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(path, _noise(1.0), 16000, subtype="FLOAT")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.warns(UserWarning, match=r"cut\.wav' is truncated: its header promises 16000 samples \(1\.000 s\) "
                                         r"but it holds 79\d\d"):
        out = w2clib.embed_files([path], tiny_model)
    assert np.isfinite(out).all()
