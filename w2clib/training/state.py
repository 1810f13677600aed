"""What a run leaves in its folder, and how it is written so that an interruption never corrupts it.

::

    DIR/checkpoint.safetensors + config.json   the exported encoder (w2clib.load_model(DIR) loads it);
                                               config.json also holds the resolved pretrain config
    DIR/best/...                               the weights with the lowest validation loss so far
    DIR/train_state.pt                         everything needed to resume: model + logit scales,
                                               optimiser, schedule, loss scaler, RNG states, data
                                               position, early-stopping counters, epoch rows
    DIR/metrics.csv                            one row per logged step
    DIR/epochs.csv                             one row per epoch (train/val loss, lr, problems, ...)
    DIR/problems.csv                           every skipped clip: step, epoch, split, source, id, reason

``train_state.pt`` is one file written atomically, so weights and optimiser state can never come from
different steps; it is read with ``torch.load(weights_only=True)`` (no pickled code).  Its SHA-256 is
recorded in ``train_state.pt.sha256`` (JSON) *before* the new state replaces the old one, together with
the old state's hash, so a kill between the two writes still resumes while a damaged state (flipped
bytes, a truncated copy) is refused on resume with a clear error.
"""

from __future__ import annotations

import csv
import json
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._io import atomic_path, atomic_write_json, atomic_write_text, sha256_file

__all__ = ["STATE_NAME", "CsvLog", "load_state", "rng_state", "save_state", "set_rng_state", "verify_state",
           "write_rows"]

STATE_NAME = "train_state.pt"
STATE_FORMAT = "w2clib-train-state"
STATE_VERSION = 1


def rng_state() -> dict[str, Any]:
    """Every RNG a run touches (torch CPU/CUDA, numpy, Python), in a weights_only-loadable form."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()  # type: ignore[misc]
    version, internal, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(gauss)],
        "python": [version, list(internal), py_gauss],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, py_gauss = state["python"]
    random.setstate((version, tuple(internal), py_gauss))


def _hash_record(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def save_state(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write a training snapshot atomically, its SHA-256 recorded beside it first."""
    path = Path(path)
    record = _hash_record(path)
    with atomic_path(path) as tmp:
        torch.save({"format": STATE_FORMAT, "version": STATE_VERSION, **state}, tmp)
        previous = _recorded(record).get("sha256") if path.exists() else None
        atomic_write_json(record, {"sha256": sha256_file(tmp), "previous": previous})


def _recorded(record: Path) -> dict[str, Any]:
    try:
        value = json.loads(record.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def verify_state(path: str | os.PathLike[str]) -> None:
    """Check ``path`` against its ``.sha256`` record (the current or, after a kill mid-save, the previous hash)."""
    path = Path(path)
    record = _recorded(_hash_record(path))
    accepted = {record.get("sha256"), record.get("previous")} - {None}
    if not accepted:
        raise ValueError(
            f"the training state {str(path)!r} has no readable SHA-256 record ({_hash_record(path).name}), so it "
            "cannot be verified; delete the run folder's train_state.pt* to start over, or restore both files"
        )
    if sha256_file(path) not in accepted:
        raise ValueError(
            f"the training state {str(path)!r} does not match its SHA-256 record: the file was damaged or "
            "changed after it was written. Delete the run folder's train_state.pt* to start over, or "
            "restore it from a backup"
        )


def load_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a snapshot written by :func:`save_state`, verified by SHA-256 (CPU tensors, no code executed)."""
    verify_state(path)
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(
            f"cannot read the training state {str(path)!r} ({err}); the file is damaged -- delete the run "
            "folder's train_state.pt to start over, or restore it from a backup"
        ) from err
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise ValueError(f"{path} is not a w2clib training state")
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"{path} has state version {state.get('version')}, this w2clib reads {STATE_VERSION}")
    return state


class CsvLog:
    """Append-only CSV with a fixed header; on resume, rows after the resumed step are dropped."""

    def __init__(self, path: str | os.PathLike[str], columns: Sequence[str], *, keep_until_step: int | None) -> None:
        self.path, self.columns = Path(path), list(columns)
        if keep_until_step is None or not self.path.exists():
            atomic_write_text(self.path, ",".join(self.columns) + "\n")
        else:
            with open(self.path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if r.get("step") and int(float(r["step"])) <= keep_until_step]
            write_rows(self.path, self.columns, rows)
        self._file = open(self.path, "a", newline="")  # noqa: SIM115 - kept open for the run; close()
        self._writer = csv.DictWriter(self._file, fieldnames=self.columns, extrasaction="ignore")

    def write(self, row: dict[str, Any]) -> None:
        self._writer.writerow({k: _fmt(row.get(k)) for k in self.columns})
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else value


def write_rows(path: str | os.PathLike[str], columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    """Write a whole CSV atomically (columns in order; missing values left empty)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _fmt(row.get(k)) for k in columns})
