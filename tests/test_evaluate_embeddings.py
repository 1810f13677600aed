"""The embedding cache: same numbers as the API, keyed by weights + manifest + settings, resumable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import w2clib
from w2clib.evaluate.embeddings import (
    Embedder,
    extract_embeddings,
    manifest_fingerprint,
    model_embedder,
    model_fingerprint,
)
from w2clib.model import ModelConfig, build_model

from .conftest import tone_mix


@pytest.fixture
def manifest(tmp_path) -> pd.DataFrame:
    """Five 1 s wav files (two at 22.05 kHz, to exercise resampling) laid out like a dataset."""
    rows = []
    for i, wave in enumerate(tone_mix(5, 1.0, seed=3)):
        path = tmp_path / "audio" / f"clip{i}.wav"
        path.parent.mkdir(exist_ok=True)
        sf.write(path, wave, 16000)
        rows.append(
            {"clip_id": f"clip{i}", "audio_path": str(path), "label": "tone", "split": "test"}
        )
    return pd.DataFrame(rows)


class CountingEmbedder:
    """Wraps an embedder; counts files embedded and can fail on a chosen call."""

    def __init__(self, inner: Embedder, fail_on_call: int | None = None) -> None:
        self.inner, self.fail_on_call, self.calls, self.files = inner, fail_on_call, 0, 0

    def __call__(self, paths):
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt("simulated interruption")
        self.files += len(paths)
        return self.inner.embed(paths)

    def embedder(self) -> Embedder:
        return Embedder(self.inner.name, self.inner.fingerprint, self, self.inner.settings)


def test_cached_embeddings_equal_embed_files_and_are_reused(manifest, small_model, tmp_path):
    counting = CountingEmbedder(model_embedder(small_model))
    first = extract_embeddings(
        manifest, counting.embedder(), tmp_path / "cache", chunk_size=2, progress=False
    )
    direct = w2clib.embed_files(manifest["audio_path"].tolist(), small_model)
    np.testing.assert_allclose(first.x, direct, rtol=1e-5, atol=1e-6)
    assert first.x.shape == (5, small_model.embed_dim) and counting.files == 5
    second = extract_embeddings(
        manifest, counting.embedder(), tmp_path / "cache", chunk_size=2, progress=False
    )
    assert counting.files == 5  # nothing embedded again
    np.testing.assert_array_equal(first.x, second.x)
    assert (first.path.parent / "meta.json").exists()


def test_an_interrupted_extraction_resumes_at_the_first_missing_chunk(
    manifest, small_model, tmp_path
):
    failing = CountingEmbedder(model_embedder(small_model), fail_on_call=2)
    with pytest.raises(KeyboardInterrupt):
        extract_embeddings(
            manifest, failing.embedder(), tmp_path / "cache", chunk_size=2, progress=False
        )
    resumed = CountingEmbedder(model_embedder(small_model))
    out = extract_embeddings(
        manifest, resumed.embedder(), tmp_path / "cache", chunk_size=2, progress=False
    )
    assert resumed.files == 3  # chunk 0 (2 clips) came from disk; chunks 1-2 were embedded
    fresh = extract_embeddings(manifest, model_embedder(small_model), None, progress=False)
    np.testing.assert_allclose(
        out.x, fresh.x, atol=1e-5
    )  # batch grouping differs: float rounding only


def test_cache_key_changes_with_weights_settings_and_files(manifest, tmp_path):
    a, b = build_model(ModelConfig(width=8), seed=0), build_model(ModelConfig(width=8), seed=1)
    assert model_fingerprint(a) != model_fingerprint(b)
    assert model_fingerprint(a) == model_fingerprint(build_model(ModelConfig(width=8), seed=0))
    a.checkpoint_sha256 = "abc123"
    assert model_fingerprint(a) == "abc123"  # a loaded checkpoint is identified by its file hash
    keys = {
        extract_embeddings(manifest, model_embedder(b), tmp_path, progress=False).key,
        extract_embeddings(
            manifest, model_embedder(b, precision="bf16"), tmp_path, progress=False
        ).key,
        extract_embeddings(manifest, model_embedder(a), tmp_path, progress=False).key,
    }
    assert len(keys) == 3
    before = manifest_fingerprint(manifest)
    sf.write(
        manifest["audio_path"][0], np.zeros(8000, dtype=np.float32) + 0.1, 16000
    )  # the file is rewritten
    assert manifest_fingerprint(manifest) != before


def test_embeddings_align_to_a_reordered_manifest(manifest, small_model):
    emb = extract_embeddings(manifest, model_embedder(small_model), None, progress=False)
    subset = manifest.iloc[[3, 1]]
    np.testing.assert_array_equal(emb.aligned(subset), emb.x[[3, 1]])
    with pytest.raises(ValueError, match="no embedding"):
        emb.aligned(pd.DataFrame({"clip_id": ["unknown"]}))


def test_bad_manifests_raise_clear_errors(manifest, small_model, tmp_path):
    with pytest.raises(ValueError, match="not unique"):
        extract_embeddings(
            pd.concat([manifest, manifest]), model_embedder(small_model), tmp_path, progress=False
        )
    broken = manifest.assign(audio_path=manifest["audio_path"].str.replace("clip0", "missing"))
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        extract_embeddings(broken, model_embedder(small_model), tmp_path, progress=False)
    with pytest.raises(ValueError, match="empty"):
        extract_embeddings(manifest.iloc[:0], model_embedder(small_model), tmp_path, progress=False)
