"""Real recordings from other registry packages: sound effects and instruments with a name or a picture.

Tux Paint is one package; a model trained on it (and on rendered General MIDI notes) has seen one
recording style.  This module turns further **real recordings** that Debian packages ship -- game
and educational sound effects, a recorded drum kit -- into a dataset ``real_sounds``, one
``source`` per upstream project, for evaluation (and, later, training) *held out by source*.

Each source is a hand-made table (:data:`SOURCES`): which package(s) to fetch, which folder holds
the sounds, and for each sound file's *key* (its stem with variant numbers / velocity layers
stripped) the thing it depicts -- a ``label`` (English text), an ImageNet class where one depicts the
thing, and for sources that ship one, a picture of it.  Files whose key is not in the table (menu
blips, voice lines, music) are left out and counted; so are silent, corrupt and overlong files
(background music) and byte-identical copies.  Nothing is committed: the packages are fetched with
``apt-get download`` into ``<data_home>/_packages/debian/`` (:func:`.packages.debian_package`).

Target of an item, ``target_kind``:

* ``frames`` -- it has a picture (``image_path``): the teacher's embeddings of the picture;
* ``class_prototype`` -- no picture but an ImageNet class: the teacher's class prototype;
* ``text_prototype`` -- only a label: the teacher's text-tower embedding of the label (photo
  prompts), a prototype of the *name*, not of anything seen.

A source's ``split`` says its role: ``test`` sources (:data:`HELDOUT_SOURCES`) are held out for
evaluation; ``train`` sources (:data:`TRAIN_SOURCES`, LMMS's sample library) are ones the embedded
recipe may train on (``pretrain.data_options.real_sources``).  Evaluation never scores a model on a
source it trained on (:func:`w2clib.evaluate.real_heldout.heldout_sources`).
Debian's ``gcompris*`` packages are never used here (kept for an independent check).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote

import pandas as pd

from ..._io import atomic_write_json, sha256_file
from ...config import section_config
from ..base import Dataset, ValidationReport, read_manifest, write_manifest
from .packages import debian_package, file_lock, read_stamp
from .tables import imagenet_short_name
from .tuxpaint import AUDIO_EXTS, _check_sound, _copy_atomic, _require, _write_csv

__all__ = [
    "REAL_SOUNDS",
    "HELDOUT_SOURCES",
    "SOURCES",
    "TRAIN_SOURCES",
    "RealSoundsDataset",
    "RealSoundsOptions",
    "RealSource",
    "SoundEntry",
    "build_source",
    "sound_key",
]

PARSER_VERSION = 4  # bump when the tables or parsing rules change: prepared sets are keyed by it
RESERVED_PREFIX = "gcompris"  # Debian packages kept for an independent check: never read


@dataclass(frozen=True)
class SoundEntry:
    """What a sound depicts: ``label`` text, ImageNet class (-1: none), picture file (``""``: none)."""

    label: str
    imagenet: int = -1
    image: str = ""  # path below the source's image_dir


def _e(label: str, imagenet: int = -1, image: str = "") -> SoundEntry:
    return SoundEntry(label, imagenet, image)


@dataclass(frozen=True)
class RealSource:
    """One source of real recordings: package(s), where the sounds are, and the key -> thing table.

    ``key_strip`` is a regular expression removed from the lower-cased file stem to get the key
    (variant numbers, velocity layers).  ``image_dir`` is below the package root; ``recorded``
    says in words why these are recordings (not synthesised).
    """

    name: str
    packages: tuple[str, ...]
    sound_dir: str
    table: dict[str, SoundEntry]
    license: str
    recorded: str
    key_strip: str = r"[-_]?\d+$"
    image_dir: str = ""
    exclude_files: tuple[str, ...] = ()  # file names (glob-free) left out, e.g. synthesised kits
    split: str = "test"  # "test": held out for evaluation; "train": a source the embedded recipe may train on

    def __post_init__(self) -> None:
        if self.split not in ("train", "test"):
            raise ValueError(f"source {self.name!r}: split must be 'train' or 'test', got {self.split!r}")
        if any(p.startswith(RESERVED_PREFIX) for p in self.packages):
            raise ValueError(f"source {self.name!r}: {RESERVED_PREFIX}* packages are reserved for an "
                             "independent check and must not be used")


# -- lincity-ng: city-simulation ambiences, one per building type, with the building's tile -----
_LINCITY_IMAGES = "usr/share/games/lincity-ng/images/tiles"
LINCITY = RealSource(
    name="lincity-ng", packages=("lincity-ng-data",), sound_dir="usr/share/games/lincity-ng/sounds",
    license="GPL-2+ / CC-BY-SA-2.0 (dual-licensed sound effects and images; Debian copyright file)",
    recorded="field recordings of places and machines (traffic, crowds, water, forge, farm animals)",
    image_dir=_LINCITY_IMAGES,
    key_strip=r"(low|med|full|empty)?\d*$",
    table={
        "blacksmith": _e("blacksmith forge", image="blacksmith0.png"),
        "coalmine": _e("coal mine", image="coalmine-full.png"),
        "farm": _e("farm", image="farm7.png"), "organicfarm": _e("farm", image="farm7.png"),
        "fire": _e("fire", image="fire3.png"), "firewasteland": _e("fire", image="fire3.png"),
        "firestation": _e("fire station", image="firestation1.png"),
        "harbor": _e("harbor", image="ex_port.png"),
        "industryhigh": _e("heavy industry", image="industryhh1.png"),
        "industrylight": _e("factory", image="industryl-full.png"),
        "market": _e("market", image="market-full.png"),
        "mill": _e("mill", image="mill1.png"),
        "oremine": _e("ore mine", image="oremine1.png"),
        "parklandlake": _e("lake in a park", image="parkland-lake.png"),
        "pottery": _e("pottery workshop", image="pottery0.png"),
        "powercoal": _e("coal power station", image="powerscoal-full.png"),
        "powersolar": _e("solar power station", image="powerssolar.png"),
        "railtrain": _e("train", image="raillr.png"),
        "recycle": _e("recycling centre", image="recycle-centre.png"),
        "rocket": _e("rocket launch", image="rocket1.png"),
        "rockettakeoff": _e("rocket launch", image="rocket1.png"),
        "school": _e("school playground", image="school0.png"),
        "sportscroud": _e("sports crowd", image="cricket1.png"),
        "tip": _e("rubbish tip", image="tip1.png"),
        "trafichigh": _e("road traffic", image="roadlr.png"),
        "trafic": _e("road traffic", image="roadlr.png"),  # TraficLow: "low" is stripped as a level
        "university": _e("university", image="university.png"),
        "water": _e("water", image="water.png"),
        "windmill": _e("windmill", image="windmill1w.png"),
        "windmillhtech": _e("windmill", image="windmill1w.png"),
    },
)

# -- Hydrogen's GMRockKit: a recorded acoustic drum kit (velocity layers) -------------------------
HYDROGEN = RealSource(
    name="hydrogen-gmrockkit", packages=("hydrogen-data",),
    sound_dir="usr/share/hydrogen/data/drumkits/GMRockKit",
    license="GPL (kit by Glen MacArthur / Sebastian Moors; package GPL-2+)",
    recorded="an acoustic drum kit recorded at five velocities (the package's TR-808 kit is an "
             "emulation and is not used)",
    key_strip=r"-(hardest|hard|med|softest|soft|\d+)$",
    table={
        "24ride": _e("ride cymbal"), "ride": _e("ride cymbal"), "bell": _e("ride cymbal bell"),
        "cowbell": _e("cowbell"), "crash": _e("crash cymbal"), "splash": _e("splash cymbal"),
        "handclap": _e("hand clap"),
        "hatclosed": _e("hi-hat"), "hatopen": _e("hi-hat"), "hatpedal": _e("hi-hat"),
        "hatsemiopen": _e("hi-hat"),
        "kick": _e("bass drum", 541), "snare": _e("snare drum", 541), "snarerimshot": _e("snare drum", 541),
        "sidestick": _e("snare drum", 541),
        "tom1": _e("tom-tom drum", 541), "tom2": _e("tom-tom drum", 541), "tomfloor": _e("tom-tom drum", 541),
    },
)

# -- sound-icons (speech-dispatcher's earcons): recorded instruments and a few creatures ----------
SOUND_ICONS = RealSource(
    name="sound-icons", packages=("sound-icons",), sound_dir="usr/share/sounds/sound-icons",
    license="GPL-2+ (Brailcom, o.p.s.)",
    recorded="short recordings of acoustic instruments, a canary, a beetle and a glass of water",
    table={
        "canary-long": _e("canary"), "cembalo": _e("harpsichord"), "cockchafer-gentleman": _e("cockchafer beetle"),
        "cymbaly": _e("cymbal"), "electric-piano": _e("electric piano"), "glass-water": _e("glass of water"),
        "guitar": _e("acoustic guitar", 402), "klavichord": _e("clavichord"), "piano": _e("grand piano", 579),
        "trumpet": _e("trumpet", 513), "violoncello": _e("cello", 486), "xylofon": _e("xylophone", 642),
    },
)

# -- Tux4Kids (tuxmath, tuxtype): game effects; the two packages share files, deduplicated -------
TUX4KIDS = RealSource(
    name="tux4kids", packages=("tuxmath-data", "tuxtype-data"), sound_dir="usr/share",
    license="public domain / GPL-2+ (short .wav effects: Sam Hart, Bill Kendrick, public-domain "
            "collections; Debian copyright files)",
    recorded="recorded effects: crowd cheering, an explosion, a harp glissando, a tower clock, a bite",
    table={
        "alarm": _e("alarm bell"), "cheer": _e("crowd cheering"), "engine": _e("engine"),
        "explosion": _e("explosion"), "harp": _e("harp", 594), "sizzling": _e("sizzling"),
        "towerclock": _e("tower clock chime"), "tock": _e("clock tick"), "bite": _e("biting an apple"),
        "run": _e("running footsteps"), "splat": _e("splat"),
    },
)

# -- Heroes (a Tron-like game) and FreeDink (an RPG): recorded game effects ------------------------
HEROES = RealSource(
    name="heroes", packages=("heroes-sound-effects",), sound_dir="usr/share/games/heroes/sfx",
    license="GPL-2+ (Heroes; Debian copyright file)",
    recorded="recorded effects: a car horn, crowds, a clock, coins, an explosion",
    table={
        "claxon": _e("car horn"), "clock": _e("ticking clock"), "coins": _e("coins"),
        "explo": _e("explosion"), "foule": _e("crowd"),
    },
)

FREEDINK = RealSource(
    name="freedink", packages=("freedink-data",), sound_dir="usr/share/games/dink/dink/Sound",
    license="zlib-style permissive licence of the Dink Smallwood data (Seth A. Robinson; Debian copyright file)",
    recorded="recorded effects: a bird, fire, an axe, a sword, a punch, footsteps, a scream",
    table={
        "arrow": _e("arrow"), "axe": _e("axe"), "bird": _e("bird song"), "bow": _e("bow and arrow"),
        "burn": _e("fire"), "fire": _e("fire"), "gold": _e("gold coins"), "grunt": _e("grunt"),
        "open": _e("door opening"), "punch": _e("punch"), "stairs": _e("footsteps on stairs"),
        "swing": _e("sword swing"), "sword": _e("sword"), "wscream": _e("scream"),
    },
)

# -- Tux Paint's tool sounds: the same upstream as the training stamps, other recordings ------------
TUXPAINT_TOOLS = RealSource(
    name="tuxpaint-tools", packages=("tuxpaint-data", "tuxpaint-plugins-default"),
    sound_dir="usr/share/tuxpaint/sounds",
    license="GPL-2+ (Tux Paint, Bill Kendrick et al.; Debian copyright files)",
    recorded="recorded effects of the painting tools: rain, thunder, chalk, an eraser, a typewriter bell "
             "(same project as the training stamps, other packages and recordings)",
    table={
        "rain": _e("rain"), "lightning": _e("thunder and lightning"), "drip": _e("dripping water"),
        "waves": _e("water waves"), "tornado_release": _e("tornado wind"), "chalk": _e("chalk on a blackboard"),
        "bubble": _e("bubble popping"), "giggle": _e("child giggling"), "typewriterbell": _e("typewriter bell"),
        "eraser": _e("eraser rubbing"), "paint": _e("paintbrush stroke"), "toothpaste": _e("squeezing a tube"),
    },
)

# -- Scratch 1.4's media library: sounds, and costumes (drawings) of some of the things they are ---
_SCRATCH_MEDIA = "usr/share/scratch/Media"
SCRATCH = RealSource(
    name="scratch", packages=("scratch",), sound_dir=f"{_SCRATCH_MEDIA}/Sounds", image_dir=f"{_SCRATCH_MEDIA}/Costumes",
    license="CC-BY-SA-3.0 (Scratch 1.4 media, MIT; Debian copyright file)",
    recorded="recordings of animals, a passing car, a crying baby, typing and a drum roll, each with a "
             "drawing of the thing from the same library",
    key_strip=r"\d+$",
    table={
        "bird": _e("bird", image="Animals/bird-flying.gif"),
        **{k: _e("cat", image="Animals/cat2.gif") for k in ("cat", "meow", "kitten")},
        **{k: _e("cricket", image="Animals/grasshopper1.gif") for k in ("cricket", "crickets")},
        "dog": _e("dog barking", image="Animals/dog1-a.png"),
        "duck": _e("duck", image="Animals/duck1.png"),
        **{k: _e("horse", image="Animals/horse1-a.png") for k in ("horse", "horsegallop")},
        "carpassing": _e("car passing", image="Transportation/car1.png"),
        "drumbuzz": _e("drum roll", image="Things/drum1.gif"),
        "babycry": _e("baby crying", image="People/baby.png"),
        "typing": _e("typing on a keyboard", image="Things/laptop.png"),
    },
)

# -- LMMS's sample library: recorded instruments, drum hits, crowds (a *training* source) ----------
LMMS = RealSource(
    name="lmms", packages=("lmms-common",), sound_dir="usr/share/lmms/samples",
    license="GPL-2+ (LMMS sample library; Debian copyright file)",
    recorded="samples of acoustic instruments (cello, violin, piano, organ, trumpet, flute, guitars), "
             "drum-kit hits (some from drum machines), applause, a crowd, a metronome, wind chimes",
    key_strip=r"\d+$", split="train",
    table={
        **{k: _e("bass drum", 541) for k in ("bassdrum", "bassdrum_acoustic", "kick", "kick_hard", "kick_soft",
                                             "kick_long")},
        **{k: _e("snare drum", 541) for k in ("snare", "snare_acoustic", "snare_muffled", "snare_short",
                                              "snare_rim", "sidestick", "rim")},
        **{k: _e("tom-tom drum", 541) for k in ("tom", "tom_hi", "tom_low", "tom_mid")},
        **{k: _e("hi-hat") for k in ("hihat_closed", "hihat_opened", "hihat_foot_pedal")},
        "clap": _e("hand clap"), "crash": _e("crash cymbal"), "ride": _e("ride cymbal"), "shaker": _e("shaker"),
        "wood": _e("wood block"), "clav": _e("claves"),
        "bassslap": _e("slap bass guitar"), "cello": _e("cello", 486), "church_organ": _e("church organ", 687),
        "e_organ": _e("electric organ"), "e_piano_accord": _e("electric piano"), "flute": _e("flute", 558),
        "harpsichord": _e("harpsichord"), "piano": _e("grand piano", 579),
        "steel_guitar": _e("acoustic guitar", 402), "latin_guitar": _e("acoustic guitar", 402),
        **{f"steel_guitar_{k}_distorted": _e("electric guitar", 546) for k in ("heavy", "medium", "slight")},
        "trumpet": _e("trumpet", 513), "latin_brass": _e("brass section"),
        **{k: _e("violin", 889) for k in ("violin_double_stop", "violin_fingered", "violin_pizzicato")},
        "applause": _e("applause"), "breath": _e("breathing"), "metronome": _e("metronome"),
        "raving_crowd": _e("cheering crowd"), "snaph": _e("finger snap"), "explode": _e("explosion"),
        "scratch": _e("record scratch"), "wind_chimes": _e("wind chimes", 494),
        "strings": _e("string section"), "chorus": _e("choir"),
    },
)

SOURCES: dict[str, RealSource] = {s.name: s for s in (LINCITY, HYDROGEN, SOUND_ICONS, TUX4KIDS, HEROES, FREEDINK,
                                                      TUXPAINT_TOOLS, SCRATCH, LMMS)}
HELDOUT_SOURCES = tuple(name for name, s in SOURCES.items() if s.split == "test")  # evaluation only
TRAIN_SOURCES = tuple(name for name, s in SOURCES.items() if s.split == "train")  # the recipe may train on them


def sound_key(stem: str, key_strip: str) -> str:
    """The table key of a sound file stem: lower-cased, ``key_strip`` removed (``Kick-Hard`` -> ``kick``)."""
    name = stem.lower()
    stripped = re.sub(key_strip, "", name)
    return stripped or name


@dataclass(frozen=True)
class RealSoundsOptions:
    """How ``real_sounds`` is built (options of ``prepare("real_sounds", ...)``)."""

    sources: tuple[str, ...] = tuple(SOURCES)  # source names (keys of SOURCES)
    max_seconds: float = 30.0  # longer files are background music, not a depicted sound: dropped
    root_dirs: dict[str, str] = field(default_factory=dict)  # package -> unpacked root to use instead of apt

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(self.sources))
        unknown = sorted(set(self.sources) - set(SOURCES))
        if unknown or not self.sources:
            raise ValueError(f"real_sounds sources must be a non-empty subset of {sorted(SOURCES)}, got "
                             f"{list(self.sources)}")
        if self.max_seconds <= 0:
            raise ValueError(f"real_sounds max_seconds must be > 0, got {self.max_seconds}")

    @classmethod
    def from_options(cls, options: dict[str, object]) -> RealSoundsOptions:
        return section_config(cls, dict(options), where="real_sounds options")


def build_source(source: RealSource, roots: dict[str, Path], opts: RealSoundsOptions,
                 versions: dict[str, str] | None = None,
                 seen: set[str] | None = None) -> tuple[list[dict[str, object]], Counter[str]]:
    """Manifest rows of one source from its unpacked package ``roots`` (package -> root folder).

    ``seen``: SHA-256 of files already taken (by earlier sources); a byte-identical file is left
    out, so no recording is in two sources.  Updated in place.

    Returns the rows (sorted by file) and a counter of dropped files by reason (``unlabelled``,
    ``silent``, ``corrupt``, ``too_long``, ``duplicate``, ``missing_image``).
    """
    rows: list[dict[str, object]] = []
    dropped: Counter[str] = Counter()
    seen = set() if seen is None else seen
    for package in source.packages:
        root = Path(roots[package])
        files = sorted(p for p in (root / source.sound_dir).rglob("*")
                       if p.suffix.lower() in (*AUDIO_EXTS, ".flac", ".mp3") and p.is_file())
        for path in files:
            if path.name in source.exclude_files:
                continue
            entry = source.table.get(sound_key(path.stem, source.key_strip))
            if entry is None:
                dropped["unlabelled"] += 1
                continue
            digest = sha256_file(path)
            if digest in seen:
                dropped["duplicate"] += 1
                continue
            status, duration, rate = _check_sound(path)
            if status != "ok":
                dropped[status] += 1
                continue
            if duration > opts.max_seconds:
                dropped["too_long"] += 1
                continue
            image = ""
            if entry.image:
                picture = root / source.image_dir / entry.image
                if picture.is_file():
                    image = str(picture)
                else:
                    dropped["missing_image"] += 1
            seen.add(digest)
            kind = "frames" if image else ("class_prototype" if entry.imagenet >= 0 else "text_prototype")
            rel = path.relative_to(root / source.sound_dir).with_suffix("").as_posix()
            rows.append({
                "clip_id": f"{source.name}/{rel}", "audio_path": str(path), "label": entry.label,
                "split": source.split, "source": source.name, "package": package,
                "package_version": (versions or {}).get(package, ""), "image_path": image,
                "imagenet_index": entry.imagenet, "imagenet_class": imagenet_short_name(entry.imagenet),
                "duration_s": round(duration, 4), "sample_rate": rate, "sha256": digest, "target_kind": kind,
            })
    return rows, dropped


def _set_key(opts: RealSoundsOptions, versions: dict[str, str]) -> str:
    blob = json.dumps({"options": asdict(opts), "versions": versions, "parser": PARSER_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _fetch(source: RealSource, data_home: Path, opts: RealSoundsOptions,
           log: Callable[[str], None]) -> tuple[dict[str, Path], dict[str, str]]:
    """Unpacked root and version of each package of ``source`` (a ``root_dirs`` entry wins)."""
    roots, versions = {}, {}
    for package in source.packages:
        if package in opts.root_dirs:
            roots[package], versions[package] = Path(opts.root_dirs[package]), "directory"
            continue
        include = [source.sound_dir, f"usr/share/doc/{package}"] + ([source.image_dir] if source.image_dir else [])
        tree = debian_package(package, data_home, include=include, log=log)
        # .deb file names spell an epoch's ':' as %3a
        roots[package], versions[package] = tree, unquote(str((read_stamp(tree) or {}).get("version", "")))
    return roots, versions


class RealSoundsDataset(Dataset):
    """Real recordings of other packages, one ``source`` per project; see the module docstring.

    Manifest columns: ``clip_id, audio_path, label, split`` (the source's role) ``, source, package,
    package_version, image_path`` ("" if none) ``, imagenet_index`` (-1 if none) ``, imagenet_class,
    duration_s, sample_rate, sha256, target_kind``.
    """

    name = "real_sounds"
    license = "per source (GPL-2+, GPL-3+, CC-BY-SA-2.0); see the 'license' of each source"
    description = "Real sound-effect and instrument recordings from Debian game/education packages, by source"

    def prepare(self, data_home: Path, *, log: Callable[[str], None] = print, **options: object) -> Path:
        """Fetch the packages, build the manifest of the chosen sources; idempotent.  Returns the set folder.

        Raises:
            PackageError: a package cannot be fetched (offline without apt); the message says how to
                place the ``.deb`` by hand.
        """
        opts = RealSoundsOptions.from_options(options)
        data_home, root = Path(data_home), self.root(Path(data_home))
        began = time.time()
        with file_lock(root / ".lock"):
            fetched = {name: _fetch(SOURCES[name], data_home, opts, log) for name in opts.sources}
            versions = {p: v for _, vs in fetched.values() for p, v in vs.items()}
            set_dir = root / "sets" / _set_key(opts, versions)
            if not (set_dir / "info.json").is_file():
                rows, report, seen = [], {}, set()
                for name, (roots, vs) in fetched.items():
                    source_rows, dropped = build_source(SOURCES[name], roots, opts, vs, seen)
                    rows.extend(source_rows)
                    report[name] = {"items": len(source_rows), "labels": len({r["label"] for r in source_rows}),
                                    "with_image": sum(bool(r["image_path"]) for r in source_rows),
                                    "dropped": dict(sorted(dropped.items())), "license": SOURCES[name].license,
                                    "packages": vs}
                manifest = pd.DataFrame(rows)
                if manifest.empty:
                    raise ValueError(f"no usable real_sounds items for sources {list(opts.sources)}; check root_dirs")
                write_manifest(manifest, set_dir / "manifest.csv", root=root)
                _write_csv(set_dir / "sources.csv", source_table(manifest))
                atomic_write_json(set_dir / "info.json", {
                    "dataset": self.name, "options": asdict(opts), "parser_version": PARSER_VERSION,
                    "prepare_seconds": round(time.time() - began, 2), "n_items": len(manifest), "sources": report,
                })
            write_manifest(read_manifest(set_dir / "manifest.csv", root=root), root / "manifest.csv", root=root)
            for name in ("sources.csv", "info.json"):
                _copy_atomic(set_dir / name, root / name)
        return set_dir

    def load_manifest(self, data_home: Path, **options: object) -> pd.DataFrame:
        """The manifest of the last prepared set (options are accepted for symmetry and ignored
        when empty; with options the matching set must have been prepared)."""
        root = self.root(Path(data_home))
        path = root / "manifest.csv"
        if options:
            opts = RealSoundsOptions.from_options(options)
            info = root / "info.json"
            wanted = json.loads(json.dumps(asdict(opts)))  # as JSON stores it (tuples -> lists)
            if not info.is_file() or json.loads(info.read_text()).get("options") != wanted:
                raise FileNotFoundError(f"real_sounds with options {options} is not the prepared set: run "
                                        "w2clib.data.prepare('real_sounds', ...) with them first")
        _require(path, self.name)
        return read_manifest(path, root=root)

    def validate(self, data_home: Path, *, check_hashes: bool = False, decode: bool = False) -> ValidationReport:
        """Audio files as in :class:`Dataset`, plus every picture must exist."""
        report = super().validate(data_home, check_hashes=check_hashes, decode=decode)
        manifest = self.load_manifest(data_home)
        report.missing.extend(p for p in sorted({p for p in manifest["image_path"] if isinstance(p, str) and p})
                              if not Path(p).is_file())
        return report


def source_table(manifest: pd.DataFrame) -> pd.DataFrame:
    """Per source: packages, versions, items, labels, items with a picture / an ImageNet class,
    sample rates and length range -- the inventory table of the docs."""
    rows = []
    for name, part in manifest.groupby("source", sort=True):
        rows.append({
            "source": name,
            "packages": " ".join(sorted(f"{p} {v}" for p, v in set(zip(part["package"], part["package_version"])))),
            "items": len(part), "labels": part["label"].nunique(),
            "with_picture": int((part["image_path"].astype(str) != "").sum()),
            "with_imagenet": int((part["imagenet_index"] >= 0).sum()),
            "sample_rates": " ".join(str(r) for r in sorted(part["sample_rate"].unique())),
            "seconds_min": round(float(part["duration_s"].min()), 2),
            "seconds_median": round(float(part["duration_s"].median()), 2),
            "seconds_max": round(float(part["duration_s"].max()), 2),
            "license": SOURCES[name].license if name in SOURCES else "",
        })
    return pd.DataFrame(rows)


def pick_sources(manifest: pd.DataFrame, sources: Sequence[str] | None) -> pd.DataFrame:
    """Rows of ``manifest`` from ``sources`` (all when ``None``), sorted by ``clip_id``."""
    if sources is not None:
        unknown = sorted(set(sources) - set(manifest["source"]))
        if unknown:
            have = sorted(manifest["source"].unique())
            raise ValueError(f"sources {unknown} are not in this manifest; it has {have}")
        manifest = manifest[manifest["source"].isin(list(sources))]
    return manifest.sort_values("clip_id").reset_index(drop=True)


REAL_SOUNDS = RealSoundsDataset()
