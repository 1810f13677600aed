"""Free disk space before a long step: stop with a clear message instead of a failed write mid-notebook.

A profile may ask for ``outputs.min_free_gib``: the pipeline checks, before every notebook, that each
file system it writes to -- the run folder, the data home and the user cache (features, teachers) --
has at least that much free space.  When one has less, the run stops *before* the notebook starts,
naming the folder, what is free and what the profile asks for; finished notebooks keep their stamps,
so rerunning after freeing space resumes there.  Without the check a full disk shows up as a
traceback from whichever library was writing (a safetensors or numpy I/O error) in the middle of a
notebook.

``shutil.disk_usage`` does the measuring; what is ours is choosing the folders (a folder that does not
exist yet is measured at its nearest existing parent) and grouping them by file system.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

__all__ = ["GIB", "min_free_gib", "free_space_problems", "written_folders"]

GIB = 1024**3


def min_free_gib(outputs: Mapping[str, object], where: str = "profile") -> float:
    """``outputs.min_free_gib`` as a float (0 when absent: no check).

    Raises:
        ValueError: not a number, or negative.
    """
    value = outputs.get("min_free_gib", 0) or 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{where}: outputs.min_free_gib must be a number of GiB >= 0, got {value!r}")
    return float(value)


def _existing(path: Path) -> Path:
    path = path.expanduser().absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_space_problems(folders: Mapping[str, os.PathLike[str] | str], need_gib: float) -> list[str]:
    """One message per file system holding one of ``folders`` (label -> path) with less than ``need_gib``
    free; empty when every one has enough (or ``need_gib`` is 0)."""
    if need_gib <= 0:
        return []
    by_device: dict[int, tuple[list[str], Path]] = {}
    for label, folder in folders.items():
        existing = _existing(Path(folder))
        labels, _ = by_device.setdefault(existing.stat().st_dev, ([], existing))
        labels.append(f"{label} {Path(folder)}")
    problems = []
    for labels, probe in by_device.values():
        free = shutil.disk_usage(probe).free / GIB
        if free < need_gib:
            problems.append(f"only {free:.1f} GiB free on the file system of {', '.join(labels)}; the profile asks "
                            f"for at least {need_gib:g} GiB (outputs.min_free_gib). Free some space, or point the "
                            "folder elsewhere (outputs.run_dir, $W2C_DATA_HOME, $W2C_CACHE_DIR), then rerun: "
                            "finished notebooks are kept")
    return problems


def written_folders(run_dir: Path) -> dict[str, Path]:
    """The folders a pipeline run writes to: the run folder, the data home and the user cache."""
    from ._io import user_cache_dir
    from .data import resolve_data_home

    return {"run folder": run_dir, "data home": resolve_data_home(), "cache": user_cache_dir()}
