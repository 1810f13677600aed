"""The training-input stage: shard sets from a manifest + teacher targets, rebuilt when inputs change."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from tests.data_fixtures import write_wav
from w2clib.training import PretrainConfig
from w2clib.training.inputs import ShardInputOptions, _write_set


def _feats(tmp_path, name="ViT-B-32-0123456789abcdef"):
    def targets(ids):
        return list(ids), np.ones((len(ids), 4), np.float32)
    return SimpleNamespace(folder=tmp_path / name, spec={"teacher": {"name": "t"}}, targets=targets)


CONFIG = PretrainConfig(clip_seconds=1.0, min_clip_seconds=0.5, n_valid=None, batch_size=2)
OPTS = ShardInputOptions({"dataset": "vggsound"})


def test_a_set_with_no_usable_clip_is_an_error_that_says_why(tmp_path):
    rows = pd.DataFrame({"clip_id": ["a", "b"], "audio_path": [str(tmp_path / "gone.wav"), str(tmp_path / "gone2.wav")],
                         "video_path": ["a.mp4", "b.mp4"]})
    with pytest.raises(ValueError, match="0 clips of 2 manifest rows.*missing"):
        _write_set(rows, _feats(tmp_path), tmp_path / "out", CONFIG, OPTS, "vggsound/train", False)


def test_an_empty_split_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="is empty"):
        _write_set(pd.DataFrame({"clip_id": [], "audio_path": [], "video_path": []}), _feats(tmp_path), tmp_path / "out",
                   CONFIG, OPTS, "vggsound/train", False)


def test_a_set_is_reused_while_its_inputs_hold_and_rebuilt_when_they_change(tmp_path):
    paths = [str(write_wav(tmp_path / f"{c}.wav", 1.0, 16000, seed=i)) for i, c in enumerate("abc")]
    rows = pd.DataFrame({"clip_id": list("ab"), "audio_path": paths[:2], "video_path": ["a.mp4", "b.mp4"]})
    out = tmp_path / "out"
    _write_set(rows, _feats(tmp_path), out, CONFIG, OPTS, "vggsound/train", False)
    index = json.loads((out / "index.json").read_text())
    assert index["n_clips"] == 2
    stamp = (out / "index.json").stat().st_mtime_ns
    _write_set(rows, _feats(tmp_path), out, CONFIG, OPTS, "vggsound/train", False)
    assert (out / "index.json").stat().st_mtime_ns == stamp  # same inputs: reused
    more = pd.DataFrame({"clip_id": list("abc"), "audio_path": paths, "video_path": ["a.mp4", "b.mp4", "c.mp4"]})
    _write_set(more, _feats(tmp_path), out, CONFIG, OPTS, "vggsound/train", False)
    assert json.loads((out / "index.json").read_text())["n_clips"] == 3  # other rows: rebuilt
    _write_set(more, _feats(tmp_path, "ViT-B-32-fedcba9876543210"), out, CONFIG, OPTS, "vggsound/train", False)
    assert json.loads((out / "input.json").read_text())["teacher_targets"].endswith("fedcba9876543210")


def test_unknown_options_are_named():
    with pytest.raises(ValueError, match="unknown keys \\['dir'\\]"):
        ShardInputOptions({"dataset": "vggsound", "dir": "x"})
