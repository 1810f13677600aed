"""precision="bf16" runs bf16 only where the device has it natively; elsewhere fp32 with one warning."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import w2clib
from w2clib import cpu_features
from w2clib.cpu_features import PrecisionFallbackWarning

from .conftest import tone_mix


@pytest.fixture
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(cpu_features, "_warned", set())


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_cpu_flags_are_booleans_and_agree_with_proc_cpuinfo():
    flags = cpu_features.cpu_flags()
    assert set(cpu_features.BF16_CPU_FLAGS) <= set(flags)
    assert all(isinstance(v, bool) for v in flags.values())
    proc = Path("/proc/cpuinfo")
    if proc.exists() and " avx2" in proc.read_text():  # x86 Linux: cpuinfo (torch) and the kernel agree
        text = proc.read_text()
        for name in ("avx2", "avx512_bf16", "amx_bf16"):
            assert flags[name] == (f" {name}" in text), name
    assert cpu_features.native_bf16("cpu") == any(flags[f] for f in cpu_features.BF16_CPU_FLAGS)
    assert cpu_features.cpu_name()


def test_proc_cpuinfo_fallback_reads_x86_and_arm_spellings(monkeypatch, tmp_path):
    fake = tmp_path / "cpuinfo"
    fake.write_text("flags\t\t: fpu avx2 avx512f avx512_bf16\n\nFeatures\t: asimd svebf16\n")
    monkeypatch.setattr(cpu_features, "Path", lambda _: fake)
    assert {"avx2", "avx512_f", "avx512_bf16", "neon", "sve_bf16"} <= cpu_features._proc_cpuinfo_flags()


def test_bf16_without_native_support_is_fp32_with_one_warning(small_model, monkeypatch, fresh_warnings):
    monkeypatch.setattr(cpu_features, "native_bf16", lambda device="cpu": False)
    audio = tone_mix(3, 1.0, seed=2)
    exact = w2clib.embed_audio(audio, small_model)
    with pytest.warns(PrecisionFallbackWarning, match='precision="bf16".*using fp32') as record:
        fast = w2clib.embed_audio(audio, small_model, precision="bf16")
        again = w2clib.embed_audio(audio[:1], small_model, precision="bf16", norm="clip")
    assert len([w for w in record if w.category is PrecisionFallbackWarning]) == 1
    np.testing.assert_array_equal(fast, exact)
    np.testing.assert_allclose(again, exact[:1], atol=1e-5)  # per-clip normalisation: alone = in a batch


def test_bf16_with_native_support_autocasts_and_stays_close(paper_model, monkeypatch, fresh_warnings):
    monkeypatch.setattr(cpu_features, "native_bf16", lambda device="cpu": True)  # emulated here if not native
    audio = tone_mix(2, 2.0, seed=9)
    exact = w2clib.embed_audio(audio, paper_model)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrecisionFallbackWarning)
        fast = w2clib.embed_audio(audio, paper_model, precision="bf16")
    assert fast.dtype == np.float32
    assert not np.array_equal(fast, exact)  # autocast really ran in bf16
    assert cosine(exact, fast).min() >= 0.999


def test_cuda_asks_torch_and_fp32_is_never_touched(monkeypatch, fresh_warnings):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert cpu_features.native_bf16("cuda:0") is False
    with pytest.warns(PrecisionFallbackWarning, match="cuda:0 does not support bf16"):
        assert cpu_features.resolve_precision("bf16", "cuda:0") == "fp32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert cpu_features.resolve_precision("bf16", "cuda") == "bf16"
    assert cpu_features.resolve_precision("fp32", "cpu") == "fp32"
