"""Profiles: extends, overrides, the resolved file, and behaviour that comes from content, never a name."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from w2clib.config import apply_overrides, load_profile, project_root

ROOT = Path(__file__).resolve().parents[1]


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def test_extends_deep_merges_and_lists_replace(tmp_path):
    _write(tmp_path / "base.yaml", {"name": "base", "pretrain": {"lr": 1.0, "width": 64}, "data": {"datasets": ["a", "b"]}})
    child = _write(tmp_path / "child.yaml", {"extends": "base.yaml", "name": "child",
                                               "pretrain": {"lr": 2.0}, "data": {"datasets": ["c"]}})
    p = load_profile(child)
    assert p.name == "child" and "extends" not in p.sections
    assert p.sections["pretrain"] == {"lr": 2.0, "width": 64} and p.sections["data"]["datasets"] == ["c"]


def test_the_shipped_rehearsal_profile_extends_paper():
    paper, rehearsal = load_profile("paper"), load_profile("rehearsal")
    assert rehearsal.compare_with_paper and paper.compare_with_paper
    assert rehearsal.section("evaluate")["datasets"] == paper.section("evaluate")["datasets"]


def test_an_extends_cycle_is_an_error(tmp_path):
    _write(tmp_path / "a.yaml", {"extends": "b.yaml"})
    _write(tmp_path / "b.yaml", {"extends": "a.yaml"})
    with pytest.raises(ValueError, match="cycle"):
        load_profile(tmp_path / "a.yaml")


def test_overrides_are_yaml_values_recorded_in_the_resolved_file(tmp_path):
    p = load_profile("smoke", ["pretrain.max_steps=7", "data.required=false", "evaluate.seeds=[1, 2]"])
    assert p.sections["pretrain"]["max_steps"] == 7 and p.sections["data"]["required"] is False
    assert p.sections["evaluate"]["seeds"] == [1, 2]
    resolved = load_profile(p.write_resolved(tmp_path / "resolved.yaml"))
    assert resolved.sections == p.sections and resolved.overrides == p.overrides
    assert resolved.name == "smoke"


@pytest.mark.parametrize("bad", ["pretrain", "=3", "pretrain.=3", "name.x=1", "pretrain.lr=[1"])
def test_malformed_overrides_name_the_problem(bad):
    with pytest.raises(ValueError, match="--set"):
        apply_overrides({"name": "x", "pretrain": {}}, [bad])


def test_compare_with_paper_must_be_a_boolean(tmp_path):
    p = load_profile(_write(tmp_path / "p.yaml", {"compare_with_paper": "yes"}))
    with pytest.raises(ValueError, match="compare_with_paper"):
        p.compare_with_paper


# Comparisons of a profile's name, or of any string against the shipped profiles' names.
NAME_BRANCH = re.compile(
    r"""(\b(P|prof|profile|self\.profile|ctx\.profile)\.name\s*(==|!=|\bin\b))"""
    r"""|((==|!=|\bin\b)\s*[\"'(\[{]*(paper|mini|smoke|rehearsal)[\"'])"""
    r"""|PAPER_PROFILES"""
)


def test_no_code_branches_on_a_profile_name():
    files = subprocess.run(["git", "ls-files", "w2clib", "notebooks/src", "scripts"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    hits = [f"{f}:{n}: {line.strip()}" for f in files if f.endswith(".py")
            for n, line in enumerate((ROOT / f).read_text(encoding="utf-8").splitlines(), 1)
            if NAME_BRANCH.search(line)]
    assert not hits, "behaviour must come from profile fields, not names:\n" + "\n".join(hits)


def test_the_name_branch_pattern_catches_what_it_must():
    for line in ['if P.name == "mini":', 'return self.profile.name != "paper"', 'x in ("paper", "mini")',
                 "profile in PAPER_PROFILES"]:
        assert NAME_BRANCH.search(line), line
    assert not NAME_BRANCH.search('print(f"[{profile.name}] done")')


def test_every_shipped_profile_loads_and_the_project_root_holds_them():
    names = sorted(p.stem for p in (project_root() / "profiles").glob("*.yaml"))
    assert {"mini", "smoke", "paper", "rehearsal"} <= set(names)
    for name in names:
        assert load_profile(name).sections
