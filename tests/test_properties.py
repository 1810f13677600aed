"""Property tests of the input boundary: any array, file or tensor either embeds to finite numbers of
the documented shape, or is refused with a ValueError/TypeError that names the bad argument.

Never NaN, never a raw internal error, never an unbounded allocation.  Profiles (``HYPOTHESIS_PROFILE``):

* ``ci`` (default): a fixed-seed run (``derandomize``) of a few dozen cases per test, < 1 minute;
* ``slow``: 10x the cases, random seeds (``HYPOTHESIS_PROFILE=slow pytest tests/test_properties.py``).

Set ``W2C_PROPERTY_REPORT=FILE`` to write the count of generated cases per outcome as JSON.
"""

from __future__ import annotations

import json
import os
import resource
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import HealthCheck, settings
from hypothesis import given
from hypothesis import strategies as st

import w2clib
from w2clib import hear
from w2clib.model import ModelConfig, build_model

_COMMON = {"deadline": None, "database": None, "print_blob": True,
           "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture]}
settings.register_profile("ci", max_examples=40, derandomize=True, **_COMMON)
settings.register_profile("slow", max_examples=400, **_COMMON)
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
FILE_CASES = max(10, PROFILE.max_examples * 3 // 8)  # each file case writes and reads a file

MODEL = build_model(ModelConfig(width=8), seed=5).eval()
D = MODEL.embed_dim
OUTCOMES: Counter[str] = Counter()  # "<function>: <outcome>" -> cases
REASONS: Counter[str] = Counter()  # refusal messages, cut after the argument's name
MAX_RSS_GROWTH_MIB = 1500  # the whole module; an unbounded allocation (e.g. 12 GB) would exceed it


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture(scope="module", autouse=True)
def bounded_memory_and_report():
    before = _rss_mib()
    yield
    grown = _rss_mib() - before
    report = os.environ.get("W2C_PROPERTY_REPORT")
    if report:
        Path(report).write_text(json.dumps({"profile": os.environ.get("HYPOTHESIS_PROFILE", "ci"),
                                            "cases": dict(sorted(OUTCOMES.items())), "rss_growth_mib": round(grown),
                                            "refusals": dict(REASONS.most_common())}, indent=1))
    assert grown < MAX_RSS_GROWTH_MIB, f"peak memory grew by {grown:.0f} MiB"


# ------------------------------------------------------------------------------------ strategies
SCALES = [0.0, 1e-42, 1e-6, 0.3, 0.3, 0.3, 1.0, 1.0, 3e4, 2.0**31, 1e12, 1e18, 3e38]
SPECIALS = [np.nan, np.inf, -np.inf, 1e30, -1e20, 5e-324]


@st.composite
def samples(draw, max_len: int = 3000) -> np.ndarray:
    """Float64 noise of a random length and scale with a few special values at random positions."""
    n = draw(st.one_of(st.integers(0, 40), st.integers(0, max_len)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.normal(0, 1, n) * draw(st.sampled_from(SCALES))
    specials = draw(st.one_of(st.just([]), st.just([]), st.lists(st.sampled_from(SPECIALS), max_size=2)))
    for value in specials if n else []:
        x[rng.integers(n)] = value
    return x


DTYPES = ["float32"] * 4 + ["float16", "float64", "int8", "int16", "int32", "int64", "uint8", "bool", "complex64"]


def _cast(x: np.ndarray, dtype: str) -> np.ndarray:
    with np.errstate(all="ignore"):
        if np.dtype(dtype).kind in "iub":
            info = np.iinfo(dtype) if dtype != "bool" else None
            scaled = np.nan_to_num(x * (info.max if info else 1), posinf=0, neginf=0)
            return scaled.clip(info.min, info.max).astype(dtype) if info else (scaled > 0)
        return x.astype(dtype)


@st.composite
def audio_arrays(draw):
    """numpy or torch, 1-D/2-D/3-D, random dtype, contiguous or strided."""
    dtype = draw(st.sampled_from(DTYPES))
    ndim = draw(st.sampled_from([1, 1, 2, 2, 2, 3]))
    if ndim == 1:
        arr = _cast(draw(samples()), dtype)
    else:
        rows = draw(st.integers(0, 3))
        length = draw(st.one_of(st.integers(0, 10), st.integers(11, 2000), st.integers(11, 2000)))
        flat = np.concatenate([draw(samples(max_len=length))[:length] for _ in range(rows)] or [np.zeros(0)])
        flat = np.resize(flat, rows * length) if flat.size else np.zeros(rows * length)
        arr = _cast(flat.reshape(rows, length), dtype)
        if ndim == 3:
            arr = arr.reshape(1, rows, length)
    layout = draw(st.sampled_from(["plain", "strided", "transposed", "torch"]))
    if layout == "strided":
        arr = arr[..., ::2]
    elif layout == "transposed" and arr.ndim == 2:
        arr = np.ascontiguousarray(arr.T).T  # same values, Fortran order
    elif layout == "torch":
        arr = torch.from_numpy(np.ascontiguousarray(arr))
    return arr


INVALID = st.one_of(st.integers(-3, 0), st.booleans(), st.floats(allow_nan=True, allow_infinity=True),
                    st.integers(500_000, 10**12), st.just("16000"), st.integers(1001, 383_999))


@st.composite
def arguments(draw, valid: dict):
    """Valid values for every argument, then (in 3 cases of 7) one of them replaced by an invalid value."""
    values = {name: draw(strategy) for name, strategy in valid.items()}
    broken = draw(st.sampled_from([None, None, None, None, *valid]))
    if broken is not None:
        values[broken] = draw(INVALID)
    return values


COMMON_RATES = st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000, 96000, 16000.0])

ARGUMENTS = ("audio", "sample_rate", "batch_size", "frame_length", "hop_length", "channels", "hop_size_ms",
             "window_ms", "segment_seconds", "max_clip_seconds")


def _check_refusal(where: str, err: Exception, *names: str) -> None:
    message = str(err)
    assert any(name in message for name in names), f"{type(err).__name__} does not name the argument: {message}"
    OUTCOMES[f"{where}: refused ({type(err).__name__})"] += 1
    REASONS[f"{type(err).__name__}: {' '.join(message.split()[:5])[:60]}"] += 1


def _check_result(where: str, out: np.ndarray, n: int, frames: bool) -> None:
    assert out.dtype == np.float32
    assert out.shape[:2] == (n, D) and out.ndim == (3 if frames else 2), out.shape
    assert np.isfinite(out).all(), "non-finite embedding"
    OUTCOMES[f"{where}: embedded"] += 1


def _expected_rows(audio, channels) -> int:
    return 1 if audio.ndim == 1 or channels is not None else int(audio.shape[0])


# ------------------------------------------------------------------------------------ properties
@PROFILE
@given(audio=audio_arrays(), frames=st.booleans(),
       args=arguments({"sample_rate": COMMON_RATES, "batch_size": st.integers(1, 64),
                       "frame_length": st.integers(1, 8000), "hop_length": st.integers(800, 20_000)}),
       channels=st.sampled_from([None, None, None, "first", "last"]),
       norm=st.sampled_from(["clip", "batch"]))
def test_embed_audio_embeds_finitely_or_names_the_bad_argument(audio, frames, args, channels, norm):
    sample_rate, batch_size = args["sample_rate"], args["batch_size"]
    frame_length, hop_length = (args["frame_length"], args["hop_length"]) if frames else (None, None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # silence warnings are fine
            out = w2clib.embed_audio(audio, MODEL, sample_rate=sample_rate, batch_size=batch_size, norm=norm,
                                     frame_length=frame_length, hop_length=hop_length, channels=channels)
    except (ValueError, TypeError) as err:
        _check_refusal("embed_audio", err, *ARGUMENTS)
        return
    _check_result("embed_audio", out, _expected_rows(audio, channels), frames)


FORMATS = [("WAV", "PCM_16"), ("WAV", "FLOAT"), ("WAV", "DOUBLE"), ("WAV", "PCM_U8"), ("FLAC", "PCM_24"),
           ("OGG", "VORBIS")]


@settings(PROFILE, max_examples=FILE_CASES)
@given(wave=samples(max_len=20_000), fmt=st.sampled_from(FORMATS),
       rate=st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000, 96000]), channels=st.integers(1, 3),
       cut=st.sampled_from([None, None, None, 0.5, 0.9]), long=st.booleans(), frames=st.booleans())
def test_embed_files_embeds_finitely_or_names_the_file(tmp_path_factory, wave, fmt, rate, channels, cut, long, frames):
    path = tmp_path_factory.mktemp("prop") / f"clip.{fmt[0].lower()}"
    if fmt[1] not in ("FLOAT", "DOUBLE"):  # integer and lossy formats cannot hold NaN/inf: clip instead
        wave = np.clip(np.nan_to_num(wave, posinf=1, neginf=-1), -1, 1)
    data = np.repeat(wave[:, None], channels, axis=1) if wave.size else np.zeros((0, channels))
    try:
        sf.write(path, data, rate, format=fmt[0], subtype=fmt[1])
    except Exception:  # a combination libsndfile cannot write (e.g. Vorbis at this rate): not our input
        OUTCOMES["embed_files: format not writable"] += 1
        return
    if cut is not None:
        raw = path.read_bytes()
        path.write_bytes(raw[: int(len(raw) * cut)])
    kwargs = {"frame_length": 4000, "hop_length": 4000} if frames else {}
    if long:
        kwargs.update(max_clip_seconds=0.2, segment_seconds=0.1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # truncation and silence warnings are fine
            out = w2clib.embed_files([path], MODEL, batch_size=4, **kwargs)
    except (ValueError, TypeError) as err:
        _check_refusal("embed_files", err, str(path))
        return
    if frames:
        assert len(out) == 1
        _check_result("embed_files", out[0][None], 1, frames=True)
    else:
        _check_result("embed_files", out, 1, frames=False)


HEAR_DTYPES = [torch.float32, torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int16]


@PROFILE
@given(audio=audio_arrays(), dtype=st.sampled_from(HEAR_DTYPES), batch_axis=st.sampled_from([True, True, False]),
       args=arguments({"hop": st.one_of(st.floats(10.0, 1000.0), st.sampled_from([50.0, 25.0]))}),
       timestamps=st.booleans())
def test_hear_embeds_finitely_or_names_the_bad_argument(audio, dtype, batch_axis, args, timestamps):
    hop = args["hop"]
    values = audio.numpy() if isinstance(audio, torch.Tensor) else audio
    values = values[None] if batch_axis and values.ndim == 1 else values
    tensor = torch.as_tensor(np.real(values).astype(np.float64)).to(dtype)
    model = hear.HearWav2CLIP(MODEL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if timestamps:
                emb, times = hear.get_timestamp_embeddings(tensor, model, hop_size_ms=hop, window_ms=200.0)
                assert times.shape == emb.shape[:2]
                out = emb.transpose(1, 2).numpy()
            else:
                out = hear.get_scene_embeddings(tensor, model).numpy()
    except (ValueError, TypeError) as err:
        _check_refusal("hear", err, *ARGUMENTS)
        return
    _check_result("hear", out, int(tensor.shape[0]), frames=timestamps)
