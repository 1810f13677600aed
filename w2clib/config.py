"""Profiles: one name selects data, model size and budgets for a whole run.

A profile is ``profiles/<name>.yaml``: a mapping of sections (``outputs``, ``encoder``, ``data``,
``teacher``, ``pretrain``, ``evaluate``, ...).  Each stage owns a dataclass for its section and builds
it with :func:`section_config`, which rejects unknown keys so a typo in a profile fails loudly.
Relative paths in a profile are relative to the project root.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

__all__ = ["Profile", "load_profile", "available_profiles", "project_root", "section_config"]

T = TypeVar("T")


def project_root() -> Path:
    """The repository root (holds ``profiles/``): ``$W2C_PROJECT_ROOT``, else found upwards."""
    env = os.environ.get("W2C_PROJECT_ROOT")
    if env:
        return Path(env).resolve()
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            if (folder / "profiles").is_dir() and (folder / "pyproject.toml").exists():
                return folder
    raise FileNotFoundError(
        "cannot find the w2clib project root (a folder with profiles/ and pyproject.toml); "
        "run from inside the repository or set W2C_PROJECT_ROOT"
    )


def available_profiles() -> list[str]:
    return sorted(p.stem for p in (project_root() / "profiles").glob("*.yaml"))


@dataclass(frozen=True)
class Profile:
    """A parsed profile file."""

    name: str
    path: Path
    sections: dict[str, Any]

    def section(self, key: str) -> dict[str, Any]:
        value = self.sections.get(key, {}) or {}
        if not isinstance(value, dict):
            raise ValueError(f"profile {self.path}: section {key!r} must be a mapping")
        return value

    def resolve(self, value: str | os.PathLike[str]) -> Path:
        """A path from the profile, made absolute against the project root."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else project_root() / path

    @property
    def run_dir(self) -> Path:
        """Executed notebooks, stamps, checkpoints and caches of this profile (git-ignored)."""
        return self.resolve(self.section("outputs").get("run_dir", f"runs/{self.name}"))

    @property
    def figures_dir(self) -> Path:
        return self.resolve(self.section("outputs").get("figures_dir", f"runs/{self.name}/figures"))

    @property
    def results_dir(self) -> Path:
        return self.resolve(self.section("outputs").get("results_dir", f"runs/{self.name}/results"))


def load_profile(name: str | os.PathLike[str]) -> Profile:
    """Load ``profiles/<name>.yaml`` (or a YAML file path)."""
    candidate = Path(name)
    path = candidate if candidate.suffix in (".yaml", ".yml") else project_root() / "profiles" / f"{name}.yaml"
    if not path.exists():
        raise FileNotFoundError(
            f"unknown profile {str(name)!r}: {path} does not exist; available: {', '.join(available_profiles())}"
        )
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"profile {path} must be a YAML mapping of sections")
    return Profile(name=str(data.get("name", path.stem)), path=path, sections=data)


def section_config(cls: type[T], section: dict[str, Any], *, where: str = "profile") -> T:
    """Build dataclass ``cls`` from a profile section, rejecting unknown keys."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown} for {cls.__name__}; known: {sorted(known)}")
    return cls(**section)  # type: ignore[return-value]
