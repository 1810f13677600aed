"""Fault injection for each long step: download, extraction, teacher cache, training, pipeline.

Each step is killed at a few seeded points (or its saved state is corrupted) and run again.  The
property: the final artifacts equal those of an uninterrupted run, or the rerun stops with a clear
error -- never a silently different result.  ``W2C_FAULT_POINTS`` (default 3) sets how many kill
points each test draws; the seed is fixed, so CI always tries the same ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tests.data_fixtures import serve_directory
from w2clib.data.download import RemoteFile, fetch
from w2clib.data.extract import extract_archive
from w2clib.downloads import ChecksumError, DownloadError, download_file

N_POINTS = int(os.environ.get("W2C_FAULT_POINTS", "3"))
RNG = np.random.default_rng(2022)
FAULTS: list[str] = []  # one entry per injected fault (counted in the README's reliability table)


def _points(low: int, high: int) -> list[int]:
    """N_POINTS distinct seeded kill points in [low, high)."""
    return sorted(int(p) for p in RNG.choice(np.arange(low, high), size=min(N_POINTS, high - low), replace=False))


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x5A
    path.write_bytes(bytes(data))


# ------------------------------------------------------------------------------------ download
PAYLOAD = np.random.default_rng(0).integers(0, 256, 600_000, dtype=np.uint8).tobytes()
REMOTE = RemoteFile(url="unused", filename="data.bin", sha256=hashlib.sha256(PAYLOAD).hexdigest())


@pytest.mark.parametrize("cut", _points(1, len(PAYLOAD)))
def test_download_killed_mid_transfer_resumes_to_the_same_file_or_a_corrupt_part_is_refused(tmp_path, monkeypatch,
                                                                                              cut):
    www = tmp_path / "www"
    www.mkdir()
    (www / "data.bin").write_bytes(PAYLOAD)
    with serve_directory(www) as server:
        monkeypatch.setenv("W2C_DATA_MIRROR", server.url)
        for corrupt in (False, True):
            folder = tmp_path / f"dl-{corrupt}"
            server.cut_after = cut  # the connection dies after `cut` bytes, one attempt only
            with pytest.raises(DownloadError):
                download_file(f"{server.url}/data.bin", folder / "data.bin", retries=1, progress=False)
            part = folder / "data.bin.part"
            assert part.stat().st_size == cut and not (folder / "data.bin").exists()
            FAULTS.append(f"download killed at byte {cut}" + (" + corrupted partial" if corrupt else ""))
            if corrupt:
                _flip(part, cut // 2)
                with pytest.raises(ChecksumError, match="data.bin"):
                    fetch(REMOTE, folder, dataset="", progress=False)
            else:
                assert fetch(REMOTE, folder, dataset="", progress=False).read_bytes() == PAYLOAD


# ---------------------------------------------------------------------------------- extraction
def _archive(path: Path) -> tuple[Path, dict[str, bytes]]:
    rng = np.random.default_rng(1)
    members = {f"set/{k // 4}/f{k}.bin": rng.integers(0, 256, 3000, dtype=np.uint8).tobytes() for k in range(12)}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path, members


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith(".extracted.")}


@pytest.mark.parametrize("kill_at", _points(1, 12))
def test_extraction_killed_after_some_members_is_redone_completely(tmp_path, monkeypatch, kill_at):
    archive, members = _archive(tmp_path / "a.zip")
    dest = tmp_path / "out"
    import shutil

    real, calls = shutil.copyfileobj, []

    def dying(src, dst, length=0):
        calls.append(1)
        if len(calls) == kill_at:
            raise KeyboardInterrupt("killed")
        return real(src, dst, length)

    monkeypatch.setattr("w2clib.data.extract.shutil.copyfileobj", dying)
    with pytest.raises(KeyboardInterrupt):
        extract_archive(archive, dest)
    FAULTS.append(f"extraction killed at member {kill_at}")
    monkeypatch.setattr("w2clib.data.extract.shutil.copyfileobj", real)
    assert not list(dest.glob(".extracted.*"))  # no stamp: the next run extracts again
    assert extract_archive(archive, dest) == len(members)
    assert _tree(dest) == members


def test_a_damaged_archive_is_a_clear_error_and_never_marked_extracted(tmp_path):
    archive, members = _archive(tmp_path / "a.zip")
    assert extract_archive(archive, tmp_path / "good") == len(members)
    for offset in _points(100, archive.stat().st_size - 200):
        damaged = tmp_path / f"d{offset}" / "a.zip"
        damaged.parent.mkdir()
        damaged.write_bytes(archive.read_bytes())
        _flip(damaged, offset)
        FAULTS.append(f"archive byte {offset} flipped")
        dest = tmp_path / f"out{offset}"
        try:
            extract_archive(damaged, dest)
        except ValueError as err:
            assert "a.zip" in str(err)
            assert not list(dest.glob(".extracted.*"))
            continue
        assert _tree(dest) == members  # a flip in unused bytes (e.g. a header comment) changes nothing


# ------------------------------------------------------------------------------- teacher cache
def _stills(tmp_path: Path, n: int = 6) -> pd.DataFrame:
    from tests.test_features import _image

    paths = [_image(tmp_path / f"im{k}.png", (30 * k, 60, 120)) for k in range(n)]
    return pd.DataFrame({"clip_id": [f"c{k}" for k in range(n)], "image_path": paths})


def _features(manifest: pd.DataFrame, root: Path, teacher=None):
    from tests.test_features import FakeTeacher
    from w2clib.teachers.targets import compute_features, load_features

    folder = compute_features(manifest, teacher or FakeTeacher(), root=root, views=2, chunk_size=2,
                              progress=False, workers=0)
    return load_features(folder, mmap=False)


@pytest.fixture(scope="module")
def straight_features(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("straight")
    manifest = _stills(tmp)
    return manifest, _features(manifest, tmp / "features")


@pytest.mark.parametrize("kill_at", _points(1, 12))  # 6 stills x 2 views = 12 teacher images
def test_teacher_cache_killed_or_with_a_damaged_chunk_recomputes_the_same_targets(straight_features, tmp_path,
                                                                                  kill_at):
    from tests.test_features import FakeTeacher

    manifest, straight = straight_features
    root = tmp_path / "features"
    with pytest.raises(KeyboardInterrupt):
        _features(manifest, root, FakeTeacher(fail_after=kill_at))
    FAULTS.append(f"teacher cache killed at image {kill_at}")
    chunks = sorted(root.glob("*/shard-*/chunk-*.npz"))
    if chunks:  # also damage the last saved chunk, as a crash of the disk or a bad copy would
        chunks[-1].write_bytes(chunks[-1].read_bytes()[: len(chunks[-1].read_bytes()) // 2])
        FAULTS.append(f"teacher cache chunk {chunks[-1].name} truncated")
    resumed = _features(manifest, root)
    np.testing.assert_array_equal(resumed.mean, straight.mean)
    assert list(resumed.index["clip_id"]) == list(straight.index["clip_id"])


# ------------------------------------------------------------------------------------ training
def _train_config():
    from tests.test_train import _config

    return _config(max_steps=6, num_workers=0, checkpoint_every_steps=2)


def _weights(folder: Path) -> dict[str, np.ndarray]:
    from safetensors.torch import load_file

    return {k: v.numpy() for k, v in load_file(str(folder / "checkpoint.safetensors")).items()}


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    from w2clib.training import pretrain

    return pretrain(_train_config(), tmp_path_factory.mktemp("train") / "run")


@pytest.mark.parametrize("kill_at", _points(1, 6))
def test_training_killed_at_a_step_resumes_to_the_uninterrupted_weights(straight_run, tmp_path, kill_at):
    from tests.test_train import Interrupt, _interrupt_at
    from w2clib.training import pretrain

    out = tmp_path / "run"
    with pytest.raises(Interrupt):
        pretrain(_train_config(), out, on_step=_interrupt_at(kill_at))
    FAULTS.append(f"training killed after step {kill_at}")
    pretrain(_train_config(), out, resume=True)
    straight, resumed = _weights(straight_run), _weights(out)
    for key in straight:
        np.testing.assert_array_equal(straight[key], resumed[key], err_msg=key)
    assert json.loads((out / "config.json").read_text())["training"]["finished"] is True


def _interrupted(tmp_path: Path) -> Path:
    from tests.test_train import Interrupt, _interrupt_at
    from w2clib.training import pretrain

    out = tmp_path / "run"
    with pytest.raises(Interrupt):
        pretrain(_train_config(), out, on_step=_interrupt_at(3))
    return out


def test_a_damaged_training_state_is_refused_on_resume(tmp_path):
    from w2clib.training import pretrain

    out = _interrupted(tmp_path)
    state = out / "train_state.pt"
    good = state.read_bytes()
    for offset in _points(len(good) // 2, len(good)):  # inside the tensors' bytes: torch.load still works
        state.write_bytes(good)
        _flip(state, offset)
        FAULTS.append(f"train_state.pt byte {offset} flipped")
        with pytest.raises(ValueError, match="does not match its SHA-256 record"):
            pretrain(_train_config(), out, resume=True)
    state.write_bytes(good[: len(good) // 3])
    FAULTS.append("train_state.pt truncated")
    with pytest.raises(ValueError, match="does not match its SHA-256 record"):
        pretrain(_train_config(), out, resume=True)
    state.write_bytes(good)
    (out / "train_state.pt.sha256").unlink()
    FAULTS.append("train_state.pt hash record deleted")
    with pytest.raises(ValueError, match="no readable SHA-256 record"):
        pretrain(_train_config(), out, resume=True)


def test_a_kill_between_the_hash_record_and_the_state_still_resumes(tmp_path):
    from w2clib.training.state import load_state, save_state

    path = tmp_path / "train_state.pt"
    save_state(path, {"x": torch.ones(3)})
    old = path.read_bytes()
    save_state(path, {"x": torch.zeros(3)})
    path.write_bytes(old)  # as if killed after the record was written but before the rename
    FAULTS.append("killed between the state's hash record and its rename")
    assert torch.equal(load_state(path)["x"], torch.ones(3))


def test_non_finite_weights_in_a_resumed_state_and_a_nan_loss_stop_training(tmp_path, monkeypatch):
    from w2clib.training import pretrain
    from w2clib.training.engine import TrainStep
    from w2clib.training.loop import NonFiniteTrainingError
    from w2clib.training.state import load_state, save_state

    out = _interrupted(tmp_path)
    before = (out / "checkpoint.safetensors").read_bytes()
    snap = load_state(out / "train_state.pt")
    first = next(k for k, v in snap["module"].items() if v.is_floating_point())
    snap["module"][first] = snap["module"][first].clone().fill_(float("nan"))
    save_state(out / "train_state.pt", snap)  # a consistently hashed state with NaN weights
    FAULTS.append("NaN weights in a hashed training state")
    with pytest.raises(NonFiniteTrainingError, match="NaN or infinite weights"):
        pretrain(_train_config(), out, resume=True)
    assert (out / "checkpoint.safetensors").read_bytes() == before

    real, calls = TrainStep.__call__, []

    def nan_at_step_5(self, wave, target):
        values = real(self, wave, target)
        calls.append(1)
        return {**values, "loss": float("nan")} if len(calls) == 5 else values

    monkeypatch.setattr(TrainStep, "__call__", nan_at_step_5)
    fresh = tmp_path / "nan"
    with pytest.raises(NonFiniteTrainingError, match="loss became nan at step 5.*keeps the last good checkpoint"):
        pretrain(_train_config(), fresh)
    FAULTS.append("NaN loss at step 5")
    meta = json.loads((fresh / "config.json").read_text())["training"]
    assert meta["step"] == 4 and meta["finished"] is False
    assert all(np.isfinite(v).all() for v in _weights(fresh).values())


# ------------------------------------------------------------------------------------ pipeline
@pytest.fixture
def fake_project(tmp_path, monkeypatch):
    """Four notebooks whose 'execution' appends to a log (no kernels: the pipeline's bookkeeping is tested)."""
    from w2clib import pipeline

    (tmp_path / "profiles").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "profiles" / "tiny.yaml").write_text("name: tiny\noutputs:\n  run_dir: runs/tiny\n")
    for name in ("00_a", "01_b", "02_c", "03_d"):
        (tmp_path / "notebooks" / f"{name}.ipynb").write_text(json.dumps({"name": name}))
    monkeypatch.setenv("W2C_PROJECT_ROOT", str(tmp_path))
    state = {"log": [], "fail": None}

    def fake_run(cmd, **kwargs):
        notebook = Path(cmd[4])
        if notebook.stem == state["fail"]:
            state["fail"] = None
            return subprocess.CompletedProcess(cmd, 1, stdout="Traceback: killed\n")
        state["log"].append(notebook.stem)
        Path(cmd[5]).write_text(f"executed {notebook.stem}")
        return subprocess.CompletedProcess(cmd, 0, stdout='{"kernel_peak_rss_mib": 1.0}\n')

    monkeypatch.setattr(pipeline.subprocess, "run", fake_run)
    return tmp_path, state


def _stamps(root: Path) -> dict[str, str]:
    return {p.stem: json.loads(p.read_text())["key"] for p in sorted((root / "runs/tiny/stamps").glob("*.json"))}


@pytest.mark.parametrize("kill_at", _points(0, 4))
def test_pipeline_killed_at_a_notebook_resumes_to_the_same_stamps(fake_project, kill_at):
    from w2clib import pipeline

    root, state = fake_project
    names = ["00_a", "01_b", "02_c", "03_d"]
    state["fail"] = names[kill_at]
    assert pipeline.run_pipeline("tiny") == 1
    FAULTS.append(f"pipeline killed in notebook {names[kill_at]}")
    assert state["log"] == names[:kill_at] and len(_stamps(root)) == kill_at
    assert pipeline.run_pipeline("tiny") == 0
    assert state["log"] == names  # each notebook ran exactly once overall
    keys = _stamps(root)
    assert list(keys) == names
    stamp = root / "runs/tiny/stamps" / f"{names[kill_at]}.json"
    stamp.write_text('{"key": "' + keys[names[kill_at]][:10])  # a half-written (damaged) stamp
    FAULTS.append(f"pipeline stamp {names[kill_at]} damaged")
    state["log"].clear()
    assert pipeline.run_pipeline("tiny") == 0
    assert state["log"] == names[kill_at:]  # the damaged one and everything after it ran again
    assert _stamps(root) == keys  # content keys are what an uninterrupted run records


@pytest.fixture(scope="module", autouse=True)
def report_faults():
    """After the module: the number of injected faults, printed (pytest -s) and written to $W2C_FAULT_REPORT."""
    yield
    print(f"\nfaults injected: {len(FAULTS)}")
    if os.environ.get("W2C_FAULT_REPORT"):
        Path(os.environ["W2C_FAULT_REPORT"]).write_text(json.dumps(FAULTS, indent=1))
