"""Profiles: one file selects data, model size, budgets and checks for a whole run.

A profile is a YAML mapping of sections (``outputs``, ``encoder``, ``data``, ``teacher``, ``pretrain``,
``evaluate``, ``checks``, ...), usually ``profiles/<name>.yaml``.  Each stage owns a dataclass for its
section and builds it with :func:`section_config`, which rejects unknown keys so a typo in a profile
fails loudly.  Relative paths in a profile are relative to the project root.

* ``extends: other`` (a profile name or a path relative to the extending file) starts from that
  profile and deep-merges this file's sections over it (mappings merge key by key; anything else,
  lists included, replaces).  ``extends`` chains; a cycle is an error.
* ``overrides`` (``reproduce.sh --set section.key=value``) replace single keys after that; values are
  read as YAML (``--set pretrain.max_steps=10``, ``--set data.required=false``).
* :meth:`Profile.write_resolved` writes the result as one self-contained file (no ``extends``): the
  pipeline hands exactly that file to every notebook, so a notebook never re-reads a profile by name.

Nothing in the code branches on a profile's *name*: behaviour comes from fields such as
``compare_with_paper`` (the report's status column) and the ``checks`` section (each notebook's
acceptance thresholds).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

__all__ = [
    "Profile",
    "apply_overrides",
    "available_profiles",
    "load_profile",
    "project_root",
    "section_config",
]

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

    name: str  # a label for outputs (result rows, file names); never a switch for behaviour
    path: Path  # the file it was read from (for a resolved profile: the resolved file itself)
    sections: dict[str, Any]  # after ``extends`` and overrides
    overrides: tuple[str, ...] = ()  # the ``section.key=value`` strings applied, in order

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
    def compare_with_paper(self) -> bool:
        """Whether result rows get the paper's values, tolerances and statuses (a field, not a name)."""
        value = self.sections.get("compare_with_paper", False)
        if not isinstance(value, bool):
            raise ValueError(f"profile {self.path}: compare_with_paper must be true or false, got {value!r}")
        return value

    def checks(self, step: str) -> dict[str, Any]:
        """The acceptance checks of one notebook step (``checks: {step: {...}}``); empty when none."""
        value = self.section("checks").get(step) or {}
        if not isinstance(value, dict):
            raise ValueError(f"profile {self.path}: checks.{step} must be a mapping")
        return value

    def write_resolved(self, path: Path) -> Path:
        """Write this profile, ``extends`` and overrides applied, as one file; returns ``path``.

        The file records where it came from (``resolved_from``, ``overrides``) and is written
        atomically, so a notebook that loads it sees exactly what the pipeline resolved.
        """
        from ._io import atomic_write_text

        body = {k: v for k, v in self.sections.items() if k not in ("extends", "resolved_from", "overrides")}
        body = {"name": self.name, **body, "resolved_from": str(self.path), "overrides": list(self.overrides)}
        atomic_write_text(path, yaml.safe_dump(body, sort_keys=False, allow_unicode=True))
        return path

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


def _profile_path(name: str | os.PathLike[str], relative_to: Path | None = None) -> Path:
    candidate = Path(name).expanduser()
    if candidate.suffix in (".yaml", ".yml"):
        if not candidate.is_absolute() and relative_to is not None and (relative_to / candidate).exists():
            return relative_to / candidate
        return candidate
    return project_root() / "profiles" / f"{name}.yaml"


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"profile {path} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"profile {path} must be a YAML mapping of sections")
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: mappings merge key by key, everything else (lists too) replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _resolve_extends(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path.resolve() in seen:
        chain = " -> ".join(str(p) for p in (*seen, path.resolve()))
        raise ValueError(f"profile {path}: 'extends' forms a cycle ({chain})")
    data = _read_mapping(path)
    parent = data.get("extends")
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent:
        raise ValueError(f"profile {path}: extends must name one profile (a name or a .yaml path), got {parent!r}")
    parent_path = _profile_path(parent, relative_to=path.parent)
    if not parent_path.exists():
        raise FileNotFoundError(f"profile {path}: extends {parent!r}, but {parent_path} does not exist")
    merged = _merge(_resolve_extends(parent_path, (*seen, path.resolve())), data)
    merged.pop("extends", None)
    return merged


def apply_overrides(sections: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Apply ``section.key[.subkey]=value`` strings (values parsed as YAML) to a copy of ``sections``."""
    out = _merge({}, sections)
    for item in overrides:
        key, sep, raw = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise ValueError(f"--set {item!r}: expected section.key=value, e.g. pretrain.max_steps=10")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as err:
            raise ValueError(f"--set {item!r}: the value is not valid YAML ({err})") from None
        node = out
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ValueError(f"--set {item!r}: {'.'.join(parts[:depth + 1])} is not a mapping")
            else:
                child = node[part] = dict(child)
            node = child
        node[parts[-1]] = value
    return out


def load_profile(name: str | os.PathLike[str], overrides: list[str] | tuple[str, ...] = ()) -> Profile:
    """Load a profile: ``profiles/<name>.yaml`` or a YAML file path, ``extends`` and ``overrides`` applied.

    Args:
        name: a profile name (``"mini"``) or the path of a ``.yaml`` file.
        overrides: ``section.key=value`` strings (values parsed as YAML), applied last.
    """
    path = _profile_path(name)
    if not path.exists():
        raise FileNotFoundError(
            f"unknown profile {str(name)!r}: {path} does not exist; available: {', '.join(available_profiles())}"
        )
    data = apply_overrides(_resolve_extends(path), tuple(overrides))
    # a resolved file (Profile.write_resolved) carries the overrides it was made with: keep the record
    recorded = tuple(data.pop("overrides", None) or ()) + tuple(overrides)
    data.pop("resolved_from", None)
    return Profile(name=str(data.get("name", path.stem)), path=path, sections=data, overrides=recorded)


def section_config(cls: type[T], section: dict[str, Any], *, where: str = "profile") -> T:
    """Build dataclass ``cls`` from a profile section, rejecting unknown keys."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown} for {cls.__name__}; known: {sorted(known)}")
    return cls(**section)  # type: ignore[return-value]
