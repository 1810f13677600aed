"""Free-space checks before long steps (w2clib.diskspace)."""

from __future__ import annotations

from collections import namedtuple

import pytest

from w2clib import diskspace

Usage = namedtuple("Usage", "total used free")


def test_min_free_gib_reads_a_non_negative_number():
    assert diskspace.min_free_gib({}) == 0.0 and diskspace.min_free_gib({"min_free_gib": 3}) == 3.0
    assert diskspace.min_free_gib({"min_free_gib": None}) == 0.0
    for bad in ("ten", -1, True, [2]):
        with pytest.raises(ValueError, match="profile p.yaml: outputs.min_free_gib"):
            diskspace.min_free_gib({"min_free_gib": bad}, where="profile p.yaml")


def test_folders_on_one_file_system_are_checked_once_and_missing_ones_at_their_parent(tmp_path, monkeypatch):
    seen = []

    def usage(path):
        seen.append(path)
        return Usage(0, 0, int(1.5 * diskspace.GIB))

    monkeypatch.setattr(diskspace.shutil, "disk_usage", usage)
    folders = {"run folder": tmp_path / "runs" / "not" / "yet", "data home": tmp_path}
    problems = diskspace.free_space_problems(folders, 2)
    assert len(problems) == 1 and len(seen) == 1 and seen[0] in (tmp_path, tmp_path / "runs" / "not" / "yet")
    assert "only 1.5 GiB free" in problems[0] and "run folder" in problems[0] and "data home" in problems[0]
    assert diskspace.free_space_problems(folders, 1) == []
    assert diskspace.free_space_problems(folders, 0) == [] and len(seen) == 2  # 0: nothing measured


def test_the_written_folders_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("W2C_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("W2C_CACHE_DIR", str(tmp_path / "cache"))
    assert diskspace.written_folders(tmp_path / "run") == {
        "run folder": tmp_path / "run", "data home": tmp_path / "data", "cache": tmp_path / "cache"}
