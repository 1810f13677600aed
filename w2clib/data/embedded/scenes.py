"""General MIDI *scenes*: rendered clips with more than one note, for captions that describe a pattern.

The GM datasets of :mod:`.soundfonts` play one note per clip.  A caption set whose references describe
"a rising phrase", "a chord" or "two instruments together" needs clips that play them, so this module
renders three patterns from the same two soundfonts (FluidR3 = ``train``, TimGM6mb = ``test``):

* ``phrase`` -- four notes rising over an octave from the root (root, major third, fifth, octave),
  each held for a quarter of ``note_seconds``;
* ``chord``  -- a major triad on the root (root, major third, fifth), struck together and held;
* ``duet``   -- the root on two programs at once, the second drawn from another GM family, so that the
  two instruments are told apart by their family, not only by their name.

Only the 112 pitched programs (GM families piano to ethnic, programs 0-111) take part: a phrase or a
chord on the drum kit, a percussive program or a sound effect would not be one.  Each program gets
``scenes_per_pattern`` clips of each pattern; its (root, velocity) pairs and its duet partner come from a
permutation seeded by ``(seed, program, pattern)``, so a smaller count is a prefix of a larger one.
Roots lie in ``root_range`` (the phrase's top note is an octave above).

Manifest columns: those of the single-note sets (``program`` and everything derived from it describe
the first instrument; ``pitch`` is the root) plus ``pattern`` and ``program2`` / ``program2_name`` (the
duet's second program; -1 / "" otherwise).  Clips are rendered, cached and dropped when silent exactly
as the single-note sets' (:class:`~.soundfonts.SoundFontDataset`), under ``<data_home>/gm_scenes_<font>/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...config import section_config
from .soundfonts import (
    FLUIDR3,
    TIMGM6MB,
    ClipSpec,
    Note,
    SoundFont,
    SoundFontDataset,
    check_render_settings,
    note_fields,
)
from .tables import gm_family, gm_program_name

__all__ = ["PATTERNS", "PITCHED_PROGRAMS", "SceneOptions", "SceneDataset", "GM_SCENES_FLUIDR3", "GM_SCENES_TIMGM6MB", "plan_scenes"]

PATTERNS = ("phrase", "chord", "duet")
PHRASE_STEPS = (0, 4, 7, 12)  # semitones above the root: a rising major arpeggio over an octave
CHORD_STEPS = (0, 4, 7)  # a major triad
PITCHED_PROGRAMS = tuple(range(112))  # GM families piano .. ethnic


@dataclass(frozen=True)
class SceneOptions:
    """What to render (the ``scenes:`` mapping of the profile's ``captioning`` section)."""

    scenes_per_pattern: int = 1  # clips of each pattern per program
    patterns: tuple[str, ...] = PATTERNS  # which patterns to render
    programs: tuple[int, ...] = PITCHED_PROGRAMS  # pitched GM programs (0-111) taking part
    clip_seconds: float = 2.0  # length of every clip
    note_seconds: float = 1.5  # a chord or duet is held this long; a phrase's four notes share it
    root_range: tuple[int, int] = (43, 72)  # MIDI keys (inclusive) of the root; phrases reach an octave higher
    velocities: tuple[int, ...] = (40, 70, 100, 127)
    seed: int = 0
    peak: float = 0.95  # peak amplitude after normalisation
    silence_peak: float = 1e-4  # raw peak below which a clip is dropped as silent
    render_rate: int = 32000  # synthesis rate before band-limited resampling to 16 kHz

    def __post_init__(self) -> None:
        for name in ("patterns", "programs", "root_range", "velocities"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "programs", tuple(int(p) for p in self.programs))
        unknown = sorted(set(self.patterns) - set(PATTERNS))
        if unknown or not self.patterns:
            raise ValueError(f"scene patterns must be a non-empty subset of {PATTERNS}, got {list(self.patterns)}")
        bad = sorted(set(self.programs) - set(PITCHED_PROGRAMS))
        if bad or not self.programs:
            raise ValueError(f"scene programs must be pitched GM programs 0-111, got {bad or 'none'}")
        lo, hi = self.root_range
        if not 0 <= lo <= hi <= 127 - max(PHRASE_STEPS):
            raise ValueError(f"root_range must lie in 0..{127 - max(PHRASE_STEPS)} (a phrase rises an octave), "
                             f"got {self.root_range}")
        if self.scenes_per_pattern < 0:
            raise ValueError(f"scenes_per_pattern must be >= 0, got {self.scenes_per_pattern}")
        check_render_settings(self)
        if "duet" in self.patterns and len({gm_family(p) for p in self.programs}) < 2:
            raise ValueError("a duet needs programs of at least two GM families")

    @classmethod
    def from_options(cls, options: dict[str, object]) -> SceneOptions:
        return section_config(cls, dict(options), where="scene render options")


@dataclass(frozen=True)
class Scene:
    pattern: str
    program: int
    key: int
    velocity: int
    program2: int = -1  # the duet's second program


def plan_scenes(opts: SceneOptions) -> list[Scene]:
    """The scenes to render, deterministic in ``opts.seed`` (see the module docstring)."""
    lo, hi = opts.root_range
    grid = [(key, vel) for key in range(lo, hi + 1) for vel in opts.velocities]
    if opts.scenes_per_pattern > len(grid):
        raise ValueError(f"{opts.scenes_per_pattern} scenes per pattern asked but the root x velocity grid "
                         f"holds only {len(grid)}; widen root_range/velocities or lower the count")
    plan = []
    for program in sorted(set(opts.programs)):
        partners = [p for p in sorted(set(opts.programs)) if gm_family(p) != gm_family(program)]
        for k, pattern in enumerate(PATTERNS):
            if pattern not in opts.patterns:
                continue
            rng = np.random.default_rng([opts.seed, program, k])
            order = rng.permutation(len(grid))[:opts.scenes_per_pattern]
            others = rng.choice(len(partners), size=len(order)) if pattern == "duet" else [-1] * len(order)
            for i, other in zip(order, others):
                key, velocity = grid[i]
                plan.append(Scene(pattern, program, key, velocity, partners[other] if pattern == "duet" else -1))
    return plan


def scene_notes(scene: Scene, opts: SceneOptions) -> tuple[Note, ...]:
    """The notes a scene plays (see the module docstring for each pattern)."""
    held = opts.note_seconds
    if scene.pattern == "phrase":
        step = held / len(PHRASE_STEPS)
        return tuple(Note(scene.program, scene.key + up, scene.velocity, i * step, (i + 1) * step)
                     for i, up in enumerate(PHRASE_STEPS))
    if scene.pattern == "chord":
        return tuple(Note(scene.program, scene.key + up, scene.velocity, 0.0, held) for up in CHORD_STEPS)
    return (Note(scene.program, scene.key, scene.velocity, 0.0, held),
            Note(scene.program2, scene.key, scene.velocity, 0.0, held))


def scene_name(scene: Scene) -> str:
    second = f"_q{scene.program2:03d}" if scene.program2 >= 0 else ""
    return f"{scene.pattern}_p{scene.program:03d}{second}_n{scene.key:03d}_v{scene.velocity:03d}"


class SceneDataset(SoundFontDataset):
    """Rendered GM scenes from one soundfont (module docstring); ``prepare(**SceneOptions fields)``."""

    options_type = SceneOptions

    def __init__(self, font: SoundFont) -> None:
        super().__init__(font)
        self.name = f"gm_scenes_{font.key}"
        self.description = (f"GM phrases, chords and duets rendered from {font.filename} ({font.package}); "
                            f"split '{font.split}'")

    def _plan(self, opts: Any) -> list[ClipSpec]:
        specs = []
        for scene in plan_scenes(opts):
            fields = note_fields(scene.program, scene.key, scene.velocity)
            fields.update({"pattern": scene.pattern, "program2": scene.program2,
                           "program2_name": gm_program_name(scene.program2) if scene.program2 >= 0 else ""})
            specs.append(ClipSpec(scene_name(scene), scene_notes(scene, opts), fields))
        return specs


GM_SCENES_FLUIDR3 = SceneDataset(FLUIDR3)
GM_SCENES_TIMGM6MB = SceneDataset(TIMGM6MB)
