"""The trainer: determinism and resume, DDP, problem reporting, batching, shards, schedules, profiles."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml
from safetensors.torch import load_file

import w2clib
from w2clib.audio import load_audio
from w2clib.cli import main as cli_main
from w2clib.training.shards import PCM_SCALE, ShardSource, verify_shards, write_shards
from w2clib.training import (
    ArraySource,
    BatchPart,
    ManifestSource,
    PairData,
    PretrainConfig,
    pretrain,
)
from w2clib.training.config import load_pretrain_config
from w2clib.training.engine import LRSchedule, build_optimizer, setup_runtime
from w2clib.training.loader import BatchPlan, valid_batches
from w2clib.training.loop import build_training
from w2clib.training.sources import split_last_sorted
from w2clib.training.synthetic import synthetic_source

ROOT = Path(__file__).resolve().parents[1]

# A tiny but complete run: two mixed sources (one with distinct classes per batch), random crops,
# gain and noise augmentation, two loader workers, AdamW with warm-up and cosine, mid-epoch checkpoints.
TINY = {
    "data": "synthetic", "data_options": {"n_clips": 40, "dim": 16, "parts": 2},
    "n_valid": 8, "clip_seconds": 0.5, "min_clip_seconds": 0.25, "width": 8, "batch_size": 8,
    "optimizer": "adamw", "weight_decay": 0.01, "schedule": "cosine", "warmup_steps": 2, "max_steps": 10,
    "early_stopping_patience": None, "num_workers": 2, "checkpoint_every_steps": 3, "progress": False,
    "final_weights": "last", "gain_db": 6.0, "noise_snr_db": [10.0, 40.0],
}
TIMING = {"clips_per_s", "data_wait_share", "step_s", "epoch_s"}


def _config(**changes: object) -> PretrainConfig:
    return PretrainConfig.from_dict({**TINY, **changes})


def _weights(folder: Path) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in load_file(str(folder / "checkpoint.safetensors")).items()}


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


class Interrupt(Exception):
    pass


def _interrupt_at(step: int):
    def hook(row: dict) -> None:
        if row["step"] == step:
            raise Interrupt
    return hook


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pretrain(_config(), tmp_path_factory.mktemp("straight") / "run")


def test_resuming_an_interrupted_run_reproduces_the_uninterrupted_weights(uninterrupted: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(Interrupt):  # killed after step 5; the last checkpoint is from step 3
        pretrain(_config(), out, on_step=_interrupt_at(5))
    assert json.loads((out / "config.json").read_text())["training"]["step"] == 3
    pretrain(_config(), out, resume=True)
    straight, resumed = _weights(uninterrupted), _weights(out)
    assert straight.keys() == resumed.keys()
    for key in straight:
        np.testing.assert_array_equal(straight[key], resumed[key], err_msg=key)  # bitwise
    assert _rows(uninterrupted / "metrics.csv") == _rows(out / "metrics.csv")
    assert [r["step"] for r in _rows(out / "metrics.csv")] == [str(s) for s in range(1, 11)]
    assert _rows(uninterrupted / "problems.csv") == _rows(out / "problems.csv")


def test_resume_across_an_epoch_end_with_plateau_schedule_and_early_stopping(tmp_path: Path) -> None:
    config = _config(data_options={"n_clips": 24, "dim": 16}, schedule="plateau", optimizer="adam",
                     weight_decay=0.0, warmup_steps=0, plateau_patience=0, early_stopping_patience=3,
                     max_steps=None, max_epochs=3, num_workers=0, checkpoint_every_steps=None,
                     final_weights="best")
    straight = pretrain(config, tmp_path / "straight")
    out = tmp_path / "resumed"
    with pytest.raises(Interrupt):  # 2 steps per epoch: stop inside epoch 1, resume from epoch 0's end
        pretrain(config, out, on_step=_interrupt_at(3))
    pretrain(config, out, resume=True)
    for key, value in _weights(straight).items():
        np.testing.assert_array_equal(value, _weights(out)[key], err_msg=key)
    epochs = _rows(out / "epochs.csv")
    assert [r["epoch"] for r in epochs] == ["0", "1", "2"]
    assert epochs == _rows(straight / "epochs.csv")
    best = min(epochs, key=lambda r: float(r["val_loss"]))
    meta = json.loads((out / "config.json").read_text())  # final weights = the best epoch's
    assert meta["training"]["best_val_loss"] == pytest.approx(float(best["val_loss"]), rel=1e-5)


def test_an_existing_run_is_never_overwritten_and_resume_refuses_a_different_config(uninterrupted: Path) -> None:
    with pytest.raises(FileExistsError, match="resume"):
        pretrain(_config(), uninterrupted)
    with pytest.raises(ValueError, match="lr"):
        pretrain(_config(lr=0.5), uninterrupted, resume=True)


def test_ddp_with_one_process_matches_the_single_process_run(uninterrupted: Path, tmp_path: Path) -> None:
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(TINY))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1",
           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        [sys.executable, "-m", "w2clib.cli", "pretrain", "--config", str(config_file), "--out", str(tmp_path / "ddp")],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    meta = json.loads((tmp_path / "ddp" / "config.json").read_text())
    assert meta["training"]["world_size"] == 1
    assert "1 process(es)" in result.stderr
    straight, ddp = _weights(uninterrupted), _weights(tmp_path / "ddp")
    for key in straight:
        np.testing.assert_allclose(ddp[key], straight[key], rtol=0, atol=1e-6, err_msg=key)


def _write_wav(path: Path, seconds: float, rate: int = 16000, amplitude: float = 0.3, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, amplitude * np.sin(2 * np.pi * rng.uniform(200, 2000) * t), rate)


@pytest.fixture
def manifest_with_problems(tmp_path: Path) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    rows = []
    for i in range(12):
        path = tmp_path / f"clip{i:02d}.wav"
        _write_wav(path, 0.8, rate=(16000, 22050, 44100)[i % 3], seed=i)
        rows.append((f"c{i:02d}", str(path)))
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    _write_wav(tmp_path / "short.wav", 0.1)
    _write_wav(tmp_path / "silent.wav", 0.8, amplitude=0.0)
    rows += [("x_corrupt", str(tmp_path / "corrupt.wav")), ("x_missing", str(tmp_path / "nope.wav")),
             ("x_short", str(tmp_path / "short.wav")), ("x_silent", str(tmp_path / "silent.wav")),
             ("x_notarget", str(tmp_path / "clip00.wav")), ("x_nantarget", str(tmp_path / "clip01.wav"))]
    manifest = pd.DataFrame(rows, columns=["clip_id", "audio_path"]).assign(split="train", label="tone")
    ids = [r[0] for r in rows if r[0] != "x_notarget"]
    targets = np.random.default_rng(0).normal(size=(len(ids), 8)).astype(np.float32)
    targets[ids.index("x_nantarget")] = np.nan  # a teacher cache's placeholder for a failed clip
    return manifest, targets, ids


def test_bad_clips_are_counted_per_epoch_and_never_stop_training(manifest_with_problems, tmp_path: Path) -> None:
    manifest, targets, ids = manifest_with_problems
    source = ManifestSource(manifest, targets, ids, name="fixture")
    assert source.skipped == [("x_notarget", "no_target"), ("x_nantarget", "no_target")]
    # Sorted ids put the x_* clips last; keep them in training by validating on c00..c03 instead.
    order = np.argsort(source.clip_ids)
    train, valid = source.subset(order[4:]), source.subset(order[:4])
    train.skipped = source.skipped
    data = PairData([BatchPart(train, 4)], [BatchPart(valid, 4)])
    config = _config(data="manifest", data_options={}, n_valid=4, batch_size=4, min_clip_seconds=0.3,
                     max_steps=None, max_epochs=2, num_workers=2, schedule="constant", warmup_steps=0)
    out = pretrain(config, tmp_path / "run", data=data)
    epochs = _rows(out / "epochs.csv")
    assert len(epochs) == 2
    for row in epochs:  # 3 steps per epoch over all 12 training items: each bad clip once per epoch
        assert {k: row[f"problems_{k}"] for k in ("missing", "unreadable", "too_short", "silent", "no_target")} == {
            "missing": "1", "unreadable": "1", "too_short": "1", "silent": "1", "no_target": "2"}
    problems = _rows(out / "problems.csv")
    assert {(r["clip_id"], r["reason"]) for r in problems} == {
        ("x_corrupt", "unreadable"), ("x_missing", "missing"), ("x_short", "too_short"),
        ("x_silent", "silent"), ("x_notarget", "no_target"), ("x_nantarget", "no_target")}
    assert sum(r["reason"] == "unreadable" for r in problems) == 2  # once per epoch
    assert w2clib.load_model(out, device="cpu").embed_dim == 8


def test_batches_partition_each_epoch_across_ranks_and_replay_identically() -> None:
    source = synthetic_source("s", n_clips=40, n_classes=5, dim=4, seconds=0.1, min_seconds=0.05,
                              target_noise=0.1, n_silent=0, n_short=0, seed=0)
    other = synthetic_source("t", n_clips=10, n_classes=5, dim=4, seconds=0.1, min_seconds=0.05,
                             target_noise=0.1, n_silent=0, n_short=0, seed=1)
    parts = [BatchPart(source, 4), BatchPart(other, 3, distinct_groups=True)]
    plans = [BatchPlan(parts, seed=7, world_size=2, rank=r) for r in (0, 1)]
    assert plans[0].steps_per_epoch == 5
    seen = [k[1] for plan in plans for step in range(5) for k in plan.keys(epoch=0, step=step) if k[0] == 0]
    assert sorted(seen) == list(range(40))  # every clip of the first source exactly once per epoch
    epoch1 = [k[1] for step in range(5) for k in plans[0].keys(1, step) if k[0] == 0]
    assert epoch1 != [k[1] for step in range(5) for k in plans[0].keys(0, step) if k[0] == 0]
    groups = other.groups
    for step in range(5):
        second = [k[1] for k in plans[0].keys(0, step) if k[0] == 1]
        assert len({groups[i] for i in second}) == 3  # distinct classes within a batch
    again = BatchPlan(parts, seed=7, world_size=2, rank=0)
    assert again.keys(0, 3) == plans[0].keys(0, 3)
    assert [len(b) for b in valid_batches([BatchPart(source.subset(range(9)), 4)])] == [4, 5]


def test_validation_is_the_last_sorted_ids() -> None:
    source = ArraySource([np.ones(10)] * 6, np.ones((6, 2)), ["b", "f", "a", "e", "c", "d"])
    train, valid = split_last_sorted(source, 2)
    assert sorted(valid.clip_ids) == ["e", "f"] and sorted(train.clip_ids) == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="n_valid"):
        split_last_sorted(source, 6)


def test_shards_round_trip_audio_and_targets_and_record_skipped_clips(manifest_with_problems, tmp_path) -> None:
    manifest, targets, ids = manifest_with_problems
    out = tmp_path / "shards"
    index = write_shards(manifest, targets, ids, out, shard_size=5, min_seconds=0.3, group_column="label",
                         workers=1, part=(1, 2), progress=False)
    assert index is None  # only the odd shards so far
    index = write_shards(manifest, targets, ids, out, shard_size=5, min_seconds=0.3, group_column="label",
                         workers=2, part=(0, 2), progress=False)
    assert index == out / "index.json"
    source = ShardSource(out, verify=True)
    assert len(source) == 12 and verify_shards(out) == []
    assert sorted(source.skipped) == sorted([("x_notarget", "no_target"), ("x_nantarget", "no_target"),
                                             ("x_corrupt", "unreadable"),
                                             ("x_missing", "missing"), ("x_short", "too_short"),
                                             ("x_silent", "silent")])
    row = source.clip_ids.index("c04")
    original = load_audio(manifest.set_index("clip_id").loc["c04", "audio_path"])
    crop = source.load(row, 4000, min_samples=100, crop="center")
    start = (len(original) - 4000) // 2
    np.testing.assert_allclose(crop, original[start : start + 4000], atol=0.6 / PCM_SCALE)
    np.testing.assert_allclose(source.target(row), targets[ids.index("c04")], rtol=1e-3, atol=1e-3)
    assert set(source.groups) == {"tone"}
    (out / "shard-00000" / "targets.npy").write_bytes(b"changed")
    assert verify_shards(out) == ["shard-00000/targets.npy"]


def test_lr_schedules_follow_warmup_cosine_and_plateau() -> None:
    config = _config(lr=1e-3, min_lr=1e-5, warmup_steps=4, schedule="cosine")
    model = build_training(config, 16, setup_runtime(config)).module
    schedule = LRSchedule(build_optimizer(model, config), config, total_steps=14)
    assert [schedule.lr_at(s) for s in range(4)] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3])
    assert schedule.lr_at(4) == pytest.approx(1e-3)
    assert schedule.lr_at(9) == pytest.approx(1e-5 + (1e-3 - 1e-5) * 0.5)
    assert schedule.lr_at(14) == pytest.approx(1e-5)
    plateau = _config(schedule="plateau", warmup_steps=0, plateau_patience=1, early_stopping_patience=None)
    schedule = LRSchedule(build_optimizer(model, plateau), plateau, total_steps=100)
    for val in (1.0, 1.0, 1.0):  # no improvement for two epochs > patience 1: lr x 0.1
        schedule.after_epoch(val)
    assert schedule.lr == pytest.approx(1e-4)


def test_the_loss_falls_on_learnable_pairs(tmp_path: Path) -> None:
    config = _config(data_options={"n_clips": 48, "dim": 16, "n_classes": 4}, max_steps=30, lr=3e-3,
                     num_workers=0, checkpoint_every_steps=None)
    out = pretrain(config, tmp_path / "run")
    losses = [float(r["loss"]) for r in _rows(out / "metrics.csv")]
    assert np.mean(losses[-5:]) < 0.75 * np.mean(losses[:5]), losses


def test_paper_profile_is_the_published_recipe() -> None:
    paper = load_pretrain_config("paper")
    assert (paper.batch_size, paper.optimizer, paper.lr, paper.schedule) == (128, "adam", 1e-3, "plateau")
    assert (paper.plateau_factor, paper.plateau_patience, paper.min_lr) == (0.1, 5, 1e-6)
    assert (paper.early_stopping_patience, paper.max_epochs, paper.seed) == (10, 100, 2021)
    assert (paper.n_valid, paper.clip_seconds, paper.loss, paper.width) == (None, 10.0, "clip_x", 64)
    # validation is the manifest's valid split: the last 500 sorted train ids, carved once by the dataset
    assert paper.data_options["valid_split"] == "valid"
    from w2clib.data.vggsound import N_VALID
    assert N_VALID == 500
    for name in ("smoke", "mini"):
        config = load_pretrain_config(name)
        assert config.max_steps is not None  # CPU profiles are budgeted in steps, never in time


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="optimizer"):
        _config(optimizer="sgd")
    with pytest.raises(ValueError, match="unknown keys"):
        PretrainConfig.from_dict({**TINY, "learning_rate": 1e-3})
    with pytest.raises(ValueError, match="n_valid"):
        _config(n_valid=0, schedule="plateau")


def test_command_line_trains_from_a_profile(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    assert cli_main(["pretrain", "--profile", "smoke", "--out", str(out), "--set", "max_steps=2", "--set", "num_workers=0"]) == 0
    assert json.loads((out / "config.json").read_text())["training"]["step"] == 2
    assert w2clib.load_model(out, device="cpu").config.width == load_pretrain_config("smoke").width


def test_bf16_autocast_step_keeps_the_loss_in_float32_and_close_to_fp32() -> None:
    import torch

    losses = {}
    for precision in ("fp32", "bf16"):  # bf16 autocast also runs on CPUs (the CUDA default)
        config = _config(precision=precision, num_workers=0)
        training = build_training(config, 16, setup_runtime(config))
        wave = torch.from_numpy(np.random.default_rng(0).normal(0, 0.1, (4, 8000)).astype(np.float32))
        target = torch.from_numpy(np.random.default_rng(1).normal(size=(4, 16)).astype(np.float32))
        training.module.eval()
        with torch.no_grad():
            total, terms = training.module(wave, target)
        assert total.dtype == torch.float32 and all(t.dtype == torch.float32 for t in terms.values())
        losses[precision] = float(total)
    assert losses["bf16"] == pytest.approx(losses["fp32"], abs=0.05)


def test_two_process_ddp_run_under_torchrun_trains_and_gathers_problems(tmp_path: Path) -> None:
    config_file = tmp_path / "config.yaml"
    options = {**TINY["data_options"], "n_silent": 3}
    config_file.write_text(yaml.safe_dump({**TINY, "data_options": options, "num_workers": 1}))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
               "-m", "w2clib.cli", "pretrain", "--config", str(config_file), "--out", str(tmp_path / "ddp2")]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
                            env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "8 clips x 2 process(es)" in result.stderr
    meta = json.loads((tmp_path / "ddp2" / "config.json").read_text())
    assert meta["training"]["world_size"] == 2 and meta["training"]["step"] == 10
    epochs = _rows(tmp_path / "ddp2" / "epochs.csv")
    assert [r["complete"] for r in epochs] == ["True", "True", "False"]  # 2 x 8 clips per step: 4 steps/epoch
    silent = [r for r in _rows(tmp_path / "ddp2" / "problems.csv") if r["reason"] == "silent"]
    # Silent clips met by either rank reach rank 0's report (gathered), and add up per epoch.
    by_epoch = {e: sum(r["epoch"] == e and r["split"] == "train" for r in silent) for e in ("0", "1")}
    assert [int(epochs[i]["problems_silent"]) for i in (0, 1)] == [by_epoch["0"], by_epoch["1"]]
    assert sum(by_epoch.values()) >= 1
    assert w2clib.load_model(tmp_path / "ddp2", device="cpu").embed_dim == 16
