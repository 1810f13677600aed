"""Caption sets: clips with several reference captions and a train / valid / test split.

* :func:`embedded_caption_set` -- offline, from the project's embedded data:

  - **General MIDI renders** (:mod:`w2clib.data.embedded.soundfonts`): every clip is one note of one
    program, so its references are *templated, not human-written* descriptions of what was rendered:
    the instrument by name (a drum kit clip: the GM percussion instrument of its key), the register
    (low / middle / high: MIDI keys 36-51 / 52-67 / 68-84), the dynamics (velocity <= 70: soft, else
    loud; clips are peak-normalised afterwards, so this is heard in the timbre, not the level) and the
    pattern: a single note (:mod:`w2clib.data.embedded.soundfonts`) or, with ``scenes``, a rising phrase,
    a chord or two instruments together (:mod:`w2clib.data.embedded.scenes`; their register is the
    root's, a duet names both instruments).  Several paraphrase templates give ``references_per_clip``
    (3-5) references per clip.  FluidR3 renders train, TimGM6mb renders (a soundfont never heard) test.
  - **Tux Paint stamps**: one real human-written caption per stamp sound; concepts held out of
    pre-training are the test side.

  ``valid`` is a seeded share of the training clips (by a hash of the clip id), for model selection.
* :func:`clotho_caption_set` -- Clotho v2.1: development = train, validation = valid, evaluation = test,
  five references per clip.
* :func:`read_caption_table` -- a caption CSV of any origin (UTF-8, else ISO-8859-1, as Clotho's
  metadata is), with its empty captions and captionless clips dropped and counted.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ...data.embedded.scenes import PATTERNS as SCENE_PATTERNS
from ...data.embedded.scenes import PITCHED_PROGRAMS
from ...data.embedded.tables import DRUM_KIT, gm_family, gm_program_name
from .vocab import clean_caption, tokenize

__all__ = [
    "SPLITS",
    "CaptionSet",
    "gm_references",
    "gm_attributes",
    "gm_instrument",
    "register",
    "embedded_caption_set",
    "clotho_caption_set",
    "read_caption_table",
    "clean_references",
]

SPLITS = ("train", "valid", "test")
REGISTERS = ((51, "low"), (67, "middle"), (127, "high"))  # upper MIDI key (inclusive) -> register
SOFT_MAX_VELOCITY = 70
ATTRIBUTES = ("instrument", "register", "dynamics", "pattern")  # what a GM clip's references describe
PATTERNS = ("single", *SCENE_PATTERNS)  # "single": one note (every clip of the one-note sets)

# GM percussion map (keys 35-81 of the drum channel), reduced to the instrument a listener would name.
_DRUMS = {
    35: "bass drum", 36: "bass drum", 37: "side stick", 38: "snare drum", 39: "hand clap", 40: "snare drum",
    41: "floor tom", 42: "closed hi-hat", 43: "floor tom", 44: "pedal hi-hat", 45: "tom", 46: "open hi-hat",
    47: "tom", 48: "tom", 49: "crash cymbal", 50: "tom", 51: "ride cymbal", 52: "china cymbal",
    53: "ride bell", 54: "tambourine", 55: "splash cymbal", 56: "cowbell", 57: "crash cymbal",
    58: "vibraslap", 59: "ride cymbal", 60: "bongo", 61: "bongo", 62: "conga", 63: "conga", 64: "conga",
    65: "timbale", 66: "timbale", 67: "agogo bell", 68: "agogo bell", 69: "cabasa", 70: "maracas",
    71: "whistle", 72: "whistle", 73: "guiro", 74: "guiro", 75: "claves", 76: "wood block",
    77: "wood block", 78: "cuica", 79: "cuica", 80: "triangle", 81: "triangle",
}
# GM sound-effect programs (120-127): what is heard, as a noun phrase.
_EFFECTS = {
    120: "guitar fret noise", 121: "breath noise", 122: "waves on a seashore", 123: "a bird tweeting",
    124: "a telephone ringing", 125: "a helicopter", 126: "applause", 127: "a gunshot",
}
_MELODIC = (
    "{a_dyn} {reg} note played on {a_inst}",
    "{a_inst} plays a single {reg} note {dyn_adv}",
    "one {reg} {inst} note played {dyn_adv}",
    "the sound of {a_inst} playing one {dyn} {reg} note",
    "{a_fam} instrument, {a_inst}, holds a {reg} note",
)
_PERCUSSION = (
    "{a_dyn} hit on the {inst} of a drum kit",
    "someone strikes {a_inst} {dyn_adv}",
    "one {dyn} {inst} stroke",
    "the sound of {a_inst} hit once {dyn_adv}",
    "a drum kit plays a single {dyn} {inst} hit",
)
# Every template of a pattern says its pattern word ("rising"/"phrase", "chord", "together"/"duet"), and no
# other pattern's: what a caption says about the pattern can then be read off its words (attributes.py).
_PHRASE = (
    "{a_inst} plays a rising {reg} phrase {dyn_adv}",
    "four notes rising on {a_inst}, played {dyn_adv}",
    "a {dyn} {reg} phrase going up on {a_inst}",
    "the sound of {a_inst} playing a rising {dyn} phrase",
    "{a_fam} instrument, {a_inst}, plays a {reg} phrase upwards",
)
_CHORD = (
    "{a_inst} plays a {dyn} {reg} chord",
    "a {reg} chord struck {dyn_adv} on {a_inst}",
    "a chord of three notes on {a_inst}, played {dyn_adv}",
    "the sound of {a_inst} playing one {dyn} chord",
    "{a_fam} instrument, {a_inst}, holds a {reg} chord",
)
_DUET = (
    "{a_inst} and {a_inst2} play a {reg} note together",
    "{a_dyn} {reg} note on {a_inst} together with {a_inst2}",
    "a duet of {a_inst} and {a_inst2}, played {dyn_adv}",
    "the sound of {a_inst} and {a_inst2} playing together {dyn_adv}",
    "{a_inst} joined by {a_inst2} in a {reg} duet",
)
_EFFECT = (
    "the sound of {inst}",
    "{inst} heard {dyn_adv}",
    "a {dyn} recording of {inst}",
    "a short sound effect of {inst}",
    "{inst}",
)


def _a(phrase: str) -> str:
    return ("an " if phrase[:1] in "aeiou" else "a ") + phrase


def register(pitch: int) -> str:
    """``"low"`` (MIDI keys up to 51), ``"middle"`` (52-67) or ``"high"`` (68 and up)."""
    return next(name for top, name in REGISTERS if int(pitch) <= top)


def gm_instrument(program: int, pitch: int | None = None) -> str:
    """A readable name of a GM program (``"Acoustic Guitar (nylon)"`` -> ``"nylon acoustic guitar"``,
    ``"Lead 1 (square)"`` -> ``"square lead synth"``); the drum kit: the percussion instrument of ``pitch``."""
    if program == DRUM_KIT:
        if pitch is None or int(pitch) not in _DRUMS:
            return "drum"
        return _DRUMS[int(pitch)]
    if program in _EFFECTS:
        return _EFFECTS[program]
    name = gm_program_name(program).lower().replace("+", "and")
    base, _, detail = name.partition("(")
    words = [w for w in base.split() if not w.isdigit()]
    if words and words[0] in ("lead", "pad"):
        words = [*words, "synth"]
    if words and words[0] == "fx":
        words = ["synth", "effect"]
    phrase = " ".join([*detail.rstrip(")").split(), *words]) if detail else " ".join(words)
    return " ".join(dict.fromkeys(phrase.split()))  # "bass and lead lead synth" -> "bass and lead synth"


def gm_attributes(program: int, pitch: int, velocity: int, pattern: str = "single") -> dict[str, str]:
    """What the references of one rendered GM clip say: ``instrument`` (the first one of a duet),
    ``register``, ``dynamics`` and ``pattern``."""
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {PATTERNS}, got {pattern!r}")
    if pattern != "single" and int(program) not in PITCHED_PROGRAMS:
        raise ValueError(f"a {pattern} is rendered only on pitched GM programs (0-111), got {program}")
    return {"instrument": gm_instrument(int(program), int(pitch)), "register": register(pitch),
            "dynamics": "soft" if int(velocity) <= SOFT_MAX_VELOCITY else "loud", "pattern": pattern}


def gm_references(program: int, pitch: int, velocity: int, n: int = 4, *, pattern: str = "single",
                  program2: int = -1) -> list[str]:
    """``n`` (1-5) templated descriptions of one rendered GM clip (see the module docstring); a duet's
    second instrument is ``program2``."""
    if not 1 <= n <= 5:
        raise ValueError(f"references per GM clip must be 1-5, got {n}")
    attributes = gm_attributes(program, pitch, velocity, pattern)
    if (pattern == "duet") != (int(program2) >= 0):
        raise ValueError(f"program2 is the second instrument of a duet and only of a duet (pattern {pattern!r}, "
                         f"program2 {program2})")
    inst, dyn = attributes["instrument"], attributes["dynamics"]
    soft = dyn == "soft"
    values = {"inst": inst, "a_inst": _a(inst), "reg": attributes["register"], "dyn": dyn, "a_dyn": _a(dyn),
              "dyn_adv": "softly" if soft else "loudly",
              "a_fam": _a(gm_family(int(program)))}
    if pattern == "duet":
        second = gm_instrument(int(program2), int(pitch))
        values.update({"inst2": second, "a_inst2": _a(second)})
    templates = {"phrase": _PHRASE, "chord": _CHORD, "duet": _DUET}.get(pattern) or (
        _PERCUSSION if program == DRUM_KIT else _EFFECT if program in _EFFECTS else _MELODIC)
    return [t.format(**values) for t in templates[:n]]


@dataclass
class CaptionSet:
    """Clips with references: ``clips`` has ``clip_id, audio_path, split`` (train/valid/test), ``source``
    and ``references`` (a list of non-empty strings per clip); the embedded set's GM clips also carry what
    their references describe (``instrument, register, dynamics, pattern``; empty for other clips)."""

    name: str
    clips: pd.DataFrame
    description: str = ""
    dropped: dict[str, int] = field(default_factory=dict)  # why clips / captions were left out -> count

    def split(self, name: str) -> pd.DataFrame:
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        return self.clips[self.clips["split"] == name].reset_index(drop=True)

    def summary(self) -> pd.DataFrame:
        """Clips and references per (split, source)."""
        c = self.clips.assign(n_refs=self.clips["references"].map(len))
        return (c.groupby(["split", "source"]).agg(clips=("clip_id", "size"), references=("n_refs", "sum"))
                .reset_index())


def _in_valid(clip_id: str, fraction: float, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{clip_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def clean_references(captions: Sequence[object]) -> tuple[list[str], int]:
    """Non-empty captions (NFKC, white space collapsed; at least one word) and how many were dropped."""
    kept = [clean_caption(c) for c in captions]
    good = [c for c in kept if tokenize(c)]
    return good, len(kept) - len(good)


def _finish(name: str, clips: pd.DataFrame, description: str, dropped: dict[str, int]) -> CaptionSet:
    cleaned = [clean_references(r) for r in clips["references"]]
    clips = clips.assign(references=[c[0] for c in cleaned])
    dropped = {**dropped, "empty_caption": dropped.get("empty_caption", 0) + sum(c[1] for c in cleaned)}
    none = clips["references"].map(len) == 0
    dropped["clip_without_caption"] = dropped.get("clip_without_caption", 0) + int(none.sum())
    clips = clips[~none].reset_index(drop=True)
    for split in ("train", "test"):
        if not (clips["split"] == split).any():
            raise ValueError(f"caption set {name!r} has no {split} clips with captions")
    return CaptionSet(name, clips, description, dropped)


def _gm_part(gm: pd.DataFrame, source: str, references_per_clip: int) -> pd.DataFrame:
    missing = [c for c in ("clip_id", "audio_path", "split", "program", "pitch", "velocity") if c not in gm]
    if missing:
        raise ValueError(f"the {source} manifest lacks columns {missing}; load it with w2clib.data.embedded")
    patterns = gm["pattern"].astype(str) if "pattern" in gm else pd.Series("single", index=gm.index)
    second = gm["program2"].astype(int) if "program2" in gm else pd.Series(-1, index=gm.index)
    clips = list(zip(gm["program"], gm["pitch"], gm["velocity"], patterns, second))
    return pd.DataFrame({
        "clip_id": gm["clip_id"].astype(str), "audio_path": gm["audio_path"].astype(str),
        "split": gm["split"].astype(str), "source": source,
        "references": [gm_references(p, k, v, references_per_clip, pattern=t, program2=q) for p, k, v, t, q in clips],
        **pd.DataFrame([gm_attributes(p, k, v, t) for p, k, v, t, _ in clips], columns=list(ATTRIBUTES)).to_dict("list"),
    })


def embedded_caption_set(
    gm: pd.DataFrame,
    tuxpaint: pd.DataFrame,
    *,
    scenes: pd.DataFrame | None = None,
    references_per_clip: int = 4,
    valid_fraction: float = 0.1,
    seed: int = 0,
) -> CaptionSet:
    """The offline caption set (module docstring) from the GM renders and the Tux Paint manifest.

    Args:
        gm: GM render manifest rows (``clip_id, audio_path, split`` train/test, ``program, pitch, velocity``).
        tuxpaint: Tux Paint manifest rows (``clip_id, audio_path, split, caption``).
        scenes: GM scene manifest rows (the columns of ``gm`` plus ``pattern, program2``), source ``gm_scenes``.
        references_per_clip: templated references per GM clip (1-5).
        valid_fraction: share of training clips moved to ``valid`` (by a seeded hash of the clip id).
    """
    if not 0 <= valid_fraction < 1:
        raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
    if "caption" not in tuxpaint:
        raise ValueError("the Tux Paint manifest has no 'caption' column")
    if scenes is not None and "pattern" not in scenes:
        raise ValueError("the scene manifest has no 'pattern' column; load it with w2clib.data.embedded.scenes")
    parts = [
        _gm_part(gm, "gm", references_per_clip),
        *([_gm_part(scenes, "gm_scenes", references_per_clip)] if scenes is not None else []),
        pd.DataFrame({"clip_id": tuxpaint["clip_id"].astype(str), "audio_path": tuxpaint["audio_path"].astype(str),
                      "split": tuxpaint["split"].astype(str), "source": "tuxpaint",
                      "references": [[c] for c in tuxpaint["caption"]]}),
    ]
    clips = pd.concat(parts, ignore_index=True)
    clips[list(ATTRIBUTES)] = clips[list(ATTRIBUTES)].fillna("")
    valid = clips["clip_id"].map(lambda c: _in_valid(c, valid_fraction, seed)) & (clips["split"] == "train")
    clips.loc[valid, "split"] = "valid"
    bad = sorted(set(clips["split"]) - set(SPLITS))
    if bad:
        raise ValueError(f"unexpected split values {bad}; the embedded manifests use train/test")
    what = "GM notes" + (", phrases, chords and duets" if scenes is not None else "")
    return _finish("embedded_captions", clips,
                   f"{what} rendered (templated captions; train FluidR3, test TimGM6mb) + Tux Paint stamps "
                   "(one human caption; held-out concepts test)", {})


def clotho_caption_set(manifest: pd.DataFrame) -> CaptionSet:
    """Clotho from its w2clib manifest (``captions`` lists): development/validation/evaluation ->
    train/valid/test."""
    if "captions" not in manifest:
        raise ValueError("the Clotho manifest has no 'captions' column; prepare it with w2clib.data")
    mapping = {"development": "train", "validation": "valid", "evaluation": "test"}
    clips = pd.DataFrame({"clip_id": manifest["clip_id"].astype(str),
                          "audio_path": manifest["audio_path"].astype(str),
                          "split": manifest["split"].map(mapping), "source": "clotho",
                          "references": [list(c) for c in manifest["captions"]]})
    if clips["split"].isna().any():
        raise ValueError(f"Clotho split values must be {sorted(mapping)}")
    return _finish("clotho", clips, "Clotho v2.1, five human captions per clip", {})


def read_caption_table(path: str | os.PathLike[str], *, id_column: str = "file_name",
                       caption_prefix: str = "caption") -> pd.DataFrame:
    """A caption CSV (one row per clip, columns ``<id_column>, caption_1 .. caption_n``) as
    ``clip_id, references``; UTF-8, else ISO-8859-1.  Empty captions are dropped; clips left without one
    are dropped too (``df.attrs["dropped"]`` counts both).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the id column or every caption column is missing.
    """
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="ISO-8859-1")
    columns = [c for c in df.columns if c.startswith(caption_prefix)]
    if id_column not in df.columns or not columns:
        raise ValueError(f"{path}: needs a {id_column!r} column and {caption_prefix}_* columns, "
                         f"found {list(df.columns)}")
    cleaned = [clean_references(row) for row in df[columns].to_numpy().tolist()]
    out = pd.DataFrame({"clip_id": df[id_column].map(lambda f: Path(str(f)).stem),
                        "references": [c[0] for c in cleaned]})
    keep = out["references"].map(len) > 0
    out = out[keep].reset_index(drop=True)
    out.attrs["dropped"] = {"empty_caption": sum(c[1] for c in cleaned), "clip_without_caption": int((~keep).sum())}
    return out
