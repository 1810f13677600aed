"""w2clib reproduces wav2clip 0.1.0 (the reference) with identical weights.

The reference is driven the way its checkpoint path works (BatchNorm in eval mode, projection head
present) with a synthetic checkpoint in the official layout; its ``get_model(pretrained=False)``
leaves BatchNorm in training mode and drops the head, which is not the model anyone uses.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import w2clib
from tests.conftest import tone_mix

wav2clip = pytest.importorskip("wav2clip", reason="the reference implementation wav2clip==0.1.0 is a test dependency")
from wav2clip.model.encoder import ResNetExtractor  # noqa: E402

TOLERANCE = 1e-5


def reference_model(state: dict[str, torch.Tensor], frame_length=None, hop_length=None) -> torch.nn.Module:
    return ResNetExtractor(
        checkpoint=state, scenario="frozen", transform=True, frame_length=frame_length, hop_length=hop_length
    )


@pytest.fixture(scope="module")
def official_state(paper_model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in paper_model.state_dict().items()}


@pytest.fixture
def librosa_positional(monkeypatch):
    """The reference calls librosa.util.frame positionally, which librosa >= 0.10 rejects."""
    import librosa

    original = librosa.util.frame
    monkeypatch.setattr(
        librosa.util, "frame", lambda x, fl, hl: original(x, frame_length=fl, hop_length=hl)
    )


@pytest.mark.parametrize("shape", [(1, 16000), (4, 32000), (16, 20000), (3, 160000)])
def test_batch_norm_mode_matches_reference_in_clip_mode(paper_model, official_state, shape):
    audio = tone_mix(shape[0], shape[1] / 16000, seed=shape[0])
    expected = wav2clip.embed_audio(audio, reference_model(official_state))
    ours = w2clib.embed_audio(audio, paper_model, norm="batch")
    assert ours.shape == expected.shape == (shape[0], 512)
    assert np.abs(ours - expected).max() <= TOLERANCE


def test_batch_norm_mode_matches_reference_when_batched_internally(paper_model, official_state):
    audio = tone_mix(10, 1.5, seed=3)
    expected = wav2clip.embed_audio(audio, reference_model(official_state))
    ours = w2clib.embed_audio(audio, paper_model, norm="batch", batch_size=3)
    assert np.abs(ours - expected).max() <= TOLERANCE


@pytest.mark.parametrize(("n", "seconds", "frame", "hop"), [(1, 3.0, 16000, 8000), (2, 2.5, 8000, 4000)])
def test_batch_norm_mode_matches_reference_in_frame_mode(
    paper_model, official_state, librosa_positional, n, seconds, frame, hop
):
    audio = tone_mix(n, seconds, seed=7)
    expected = wav2clip.embed_audio(audio, reference_model(official_state, frame, hop))
    ours = w2clib.embed_audio(
        audio, paper_model, norm="batch", frame_length=frame, hop_length=hop, center=False, batch_size=4
    )
    assert ours.shape == expected.shape
    assert np.abs(ours - expected).max() <= TOLERANCE


def test_clip_norm_embedding_does_not_depend_on_batch_mates(paper_model):
    target = tone_mix(1, 2.0, seed=11)
    alone = w2clib.embed_audio(target, paper_model)[0]
    for seed in (1, 2):
        mates = tone_mix(15, 2.0, seed=100 + seed)
        batch = np.concatenate([mates[:7], target, mates[7:]])
        inside = w2clib.embed_audio(batch, paper_model, batch_size=16)[7]
        assert np.abs(inside - alone).max() <= TOLERANCE


def test_reference_batch_norm_makes_embeddings_depend_on_batch_mates(paper_model, official_state):
    """The defect users reported, measured so the README's number comes from code."""
    target = tone_mix(1, 2.0, seed=11)
    ref = reference_model(official_state)
    embeddings = []
    for seed in (1, 2):
        mates = tone_mix(15, 2.0, seed=100 + seed) * (0.05 if seed == 1 else 1.0)
        embeddings.append(wav2clip.embed_audio(np.concatenate([target, mates]), ref)[0])
    assert np.abs(embeddings[0] - embeddings[1]).max() > 1e-3
