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
    with pytest.raises(ValueError, match="hop_length must be a positive"):
        w2clib.embed_audio(audio, small_model, frame_length=4000, hop_length=0)
    with pytest.raises(ValueError, match="batch_size"):
        w2clib.embed_audio(audio, small_model, batch_size=0)
    with pytest.raises(ValueError, match="sample rates must be positive"):
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
