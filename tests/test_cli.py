"""The command line: `w2clib embed` writes what it says, bad input exits 2 with a message."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from tests.conftest import tone_mix
from w2clib.cli import main


def test_embed_clips_and_frames(tmp_path, capsys):
    for i, seconds in enumerate((1.0, 2.5)):
        sf.write(tmp_path / f"clip{i}.wav", tone_mix(1, seconds, seed=i)[0], 16000)
    out = tmp_path / "clips.npz"
    assert main(["embed", str(tmp_path), "--out", str(out), "--random-weights"]) == 0
    data = np.load(out)
    assert data["embeddings"].shape == (2, 512)
    assert [p.rsplit("/", 1)[1] for p in data["paths"]] == ["clip0.wav", "clip1.wav"]

    frames = tmp_path / "frames.npz"
    args = ["embed", str(tmp_path / "clip1.wav"), "--out", str(frames), "--random-weights", "--frames", "--hop-ms", "250"]
    assert main(args) == 0
    data = np.load(frames)
    assert data["embeddings_0"].shape == (11, 512)  # 1 + 2.5 s // 0.25 s windows
    np.testing.assert_allclose(data["timestamps_ms_0"], np.arange(11) * 250.0)
    assert "frames (1000 ms windows every 250 ms)" in capsys.readouterr().out


def test_embed_errors_exit_2_with_a_message(tmp_path, capsys):
    assert main(["embed", str(tmp_path / "missing.wav"), "--out", str(tmp_path / "o.npz"), "--random-weights"]) == 2
    assert "missing.wav" in capsys.readouterr().err
    sf.write(tmp_path / "a.wav", tone_mix(1, 1.0)[0], 16000)
    assert main(["embed", str(tmp_path / "a.wav"), "--out", str(tmp_path / "o.txt"), "--random-weights"]) == 2
    assert ".npz" in capsys.readouterr().err
    assert main(["embed", str(tmp_path / "a.wav"), "--out", str(tmp_path / "o.npz"), "--checkpoint", "nosuch"]) == 2
    assert "unknown checkpoint name" in capsys.readouterr().err
    assert not (tmp_path / "o.npz").exists()
