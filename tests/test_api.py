"""Behaviour of the public embedding API: shapes, input handling, frame mode, files, precision."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

import w2clib
from tests.conftest import tone_mix
from w2clib.inference import frame_centers, frame_count


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def test_clip_mode_returns_one_float32_row_per_clip(small_model, clips):
    out = w2clib.embed_audio(clips, small_model)
    assert out.shape == (4, 512) and out.dtype == np.float32
    one = w2clib.embed_audio(clips[0], small_model)
    assert one.shape == (1, 512)
    np.testing.assert_allclose(one[0], out[0], atol=1e-5)


def test_torch_input_gives_the_same_embedding_as_numpy(small_model, clips):
    np.testing.assert_allclose(
        w2clib.embed_audio(torch.from_numpy(clips), small_model), w2clib.embed_audio(clips, small_model), atol=1e-6
    )


def test_int16_pcm_is_scaled_like_float(small_model, clips):
    pcm = np.round(clips * 32767).astype(np.int16)
    as_float = pcm.astype(np.float32) / 32768.0
    np.testing.assert_allclose(
        w2clib.embed_audio(pcm, small_model), w2clib.embed_audio(as_float, small_model), atol=1e-5
    )


def test_other_sample_rates_are_resampled_to_16k(small_model):
    def chirp(sr: int) -> np.ndarray:
        t = np.arange(int(2.0 * sr)) / sr
        return (0.3 * np.sin(2 * np.pi * (200 * t + 400 * t**2))).astype(np.float32)

    at_16k = w2clib.embed_audio(chirp(16000), small_model)
    at_44k = w2clib.embed_audio(chirp(44100), small_model, sample_rate=44100)
    assert cosine(at_16k, at_44k)[0] > 0.99
    # Without resampling the 44.1 kHz clip would be read as a 2.76x longer, lower-pitched sound.
    wrong = w2clib.embed_audio(chirp(44100), small_model)
    assert cosine(at_16k, wrong)[0] < cosine(at_16k, at_44k)[0]


def test_batch_size_never_changes_clip_norm_results(small_model):
    audio = tone_mix(7, 1.0, seed=5)
    full = w2clib.embed_audio(audio, small_model, batch_size=32)
    chunked = w2clib.embed_audio(audio, small_model, batch_size=2)
    np.testing.assert_allclose(full, chunked, atol=1e-5)


def test_embedding_uses_eval_mode_and_restores_training_flag(small_model, clips):
    expected = w2clib.embed_audio(clips, small_model)
    small_model.train()
    try:
        got = w2clib.embed_audio(clips, small_model)
        assert small_model.training
    finally:
        small_model.eval()
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_no_autograd_graph_is_built(small_model, clips):
    before = [p.grad for p in small_model.parameters()]
    w2clib.embed_audio(clips, small_model)
    assert all(p.grad is None for p in small_model.parameters()) and all(b is None for b in before)


@pytest.mark.parametrize("n_samples", [100, 8000, 20000, 32001])
def test_centred_frame_mode_counts_and_centres(small_model, n_samples):
    audio = tone_mix(1, n_samples / 16000, seed=1)
    out = w2clib.embed_audio(audio, small_model, frame_length=4000, hop_length=1600)
    n_frames = 1 + n_samples // 1600
    assert out.shape == (1, 512, n_frames) == (1, 512, frame_count(n_samples, 4000, 1600))
    np.testing.assert_allclose(frame_centers(n_frames, 4000, 1600), np.arange(n_frames) * 0.1)


def test_each_frame_is_the_clip_embedding_of_its_centred_window(small_model):
    audio = tone_mix(1, 1.5, seed=2)[0]
    frames = w2clib.embed_audio(audio, small_model, frame_length=8000, hop_length=4000)[0]
    padded = np.pad(audio, 4000)
    for i in (0, 2, frames.shape[1] - 1):
        window = padded[i * 4000 : i * 4000 + 8000]
        np.testing.assert_allclose(frames[:, i], w2clib.embed_audio(window, small_model)[0], atol=1e-5)


def test_get_model_is_call_compatible_with_the_reference_and_keeps_frame_settings():
    model = w2clib.get_model(pretrained=False, frame_length=16000, hop_length=8000)
    out = w2clib.embed_audio(tone_mix(2, 2.0), model)  # reference order: embed_audio(audio, model)
    assert out.shape == (2, 512, 5)
    assert model.audio_transform is not None and not model.training


def test_bf16_is_close_to_fp32(paper_model):
    audio = tone_mix(4, 3.0, seed=9)
    exact = w2clib.embed_audio(audio, paper_model)
    fast = w2clib.embed_audio(audio, paper_model, precision="bf16")
    assert fast.dtype == np.float32
    assert cosine(exact, fast).min() >= 0.999


# -------------------------------------------------------------------------------------- files
@pytest.fixture
def wav_44k_stereo(tmp_path):
    audio = tone_mix(2, 4.3, sr=44100, seed=4).T  # (samples, 2 channels)
    path = tmp_path / "stereo.flac"
    sf.write(path, audio, 44100)
    decoded, _ = sf.read(path, dtype="float32")  # FLAC stores 16-bit samples: compare with those
    return path, decoded.mean(axis=1)


def test_embed_files_matches_embed_audio_on_the_decoded_file(small_model, wav_44k_stereo, tmp_path):
    path, mono = wav_44k_stereo
    short = tmp_path / "short.wav"
    sf.write(short, tone_mix(1, 1.0, seed=8)[0], 16000)
    got = w2clib.embed_files([path, short], small_model)
    expected_long = w2clib.embed_audio(mono, small_model, sample_rate=44100)
    expected_short = w2clib.embed_audio(sf.read(short, dtype="float32")[0], small_model)
    assert got.shape == (2, 512)
    np.testing.assert_allclose(got[0], expected_long[0], atol=1e-4)
    np.testing.assert_allclose(got[1], expected_short[0], atol=1e-5)


def test_streamed_frame_mode_matches_whole_file_frame_mode(small_model, wav_44k_stereo):
    path, mono = wav_44k_stereo
    streamed = w2clib.embed_files(path, small_model, frame_length=8000, hop_length=1600, batch_size=7)[0]
    whole = w2clib.embed_audio(mono, small_model, sample_rate=44100, frame_length=8000, hop_length=1600)[0]
    assert streamed.shape == whole.shape
    np.testing.assert_allclose(streamed, whole, atol=1e-4)


def test_long_files_are_the_length_weighted_mean_of_their_segments(small_model, tmp_path):
    audio = tone_mix(1, 2.5, seed=6)[0]
    path = tmp_path / "long.wav"
    sf.write(path, audio, 16000, subtype="FLOAT")
    got = w2clib.embed_files(path, small_model, max_clip_seconds=1.0, segment_seconds=1.0)[0]
    pieces = [audio[0:16000], audio[16000:32000], audio[32000:]]
    parts = np.stack([w2clib.embed_audio(p, small_model)[0] for p in pieces])
    weights = np.array([16000, 16000, 8000], dtype=np.float32)[:, None]
    np.testing.assert_allclose(got, (parts * weights).sum(0) / weights.sum(), atol=1e-5)
