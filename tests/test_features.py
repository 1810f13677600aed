"""The teacher-embedding cache: what a clip's target is, sharding, resuming and the on-disk format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from w2clib.teachers.targets import (
    compute_features,
    feature_key,
    load_features,
    manifest_fingerprint,
    merge_features,
)
from w2clib.teachers import Teacher, augmented_views, item_seed
from w2clib.teachers.base import l2_normalize, to_rgb
from w2clib.training.sources import load_target_table

DIM = 6


class FakeTeacher(Teacher):
    """A tiny deterministic teacher: an image's embedding is a fixed function of its pixels."""

    name = "fake"
    dim = DIM
    image_size = 8

    def __init__(self, fail_after: int | None = None) -> None:
        self.images_seen = 0
        self.fail_after = fail_after
        self.proj = np.random.default_rng(0).normal(size=(3 * 4, DIM))

    def preprocess(self, image):
        return np.asarray(to_rgb(image).resize((2, 2)), dtype=np.float64).reshape(-1) / 255.0

    def embed_images(self, images, *, batch_size=32):
        if self.fail_after is not None and self.images_seen + len(images) > self.fail_after:
            raise KeyboardInterrupt("simulated kill")
        self.images_seen += len(images)
        x = np.stack([self.preprocess(im) for im in images]) if len(images) else np.zeros((0, 12))
        return l2_normalize(x @ self.proj)

    def embed_texts(self, texts, *, batch_size=64):
        return l2_normalize(np.ones((len(texts), DIM)))

    def class_prototypes(self, classes):
        out = np.zeros((len(classes), DIM), np.float32)
        for row, c in enumerate(classes):
            out[row, int(c) % DIM] = 1.0
        return out


def _image(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (20, 14)) -> str:
    rng = np.random.default_rng(sum(colour))
    pixels = np.clip(np.array(colour)[None, None] + rng.integers(-40, 40, size=(size[1], size[0], 3)), 0, 255)
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return str(path)


@pytest.fixture
def manifest(tmp_path: Path) -> pd.DataFrame:
    """Stills (two clips share one photo), class prototypes, a missing and a corrupt file, a clip with no target."""
    red, blue = _image(tmp_path / "red.png", (200, 30, 30)), _image(tmp_path / "blue.png", (30, 30, 200))
    (tmp_path / "corrupt.png").write_bytes(b"not a png")
    rows = [
        {"clip_id": "a_red_effect", "image_path": red, "target_kind": "frames", "imagenet_index": -1},
        {"clip_id": "b_red_speech", "image_path": red, "target_kind": "frames", "imagenet_index": -1},
        {"clip_id": "c_blue", "image_path": blue, "target_kind": "frames", "imagenet_index": -1},
        {"clip_id": "d_piano", "image_path": "", "target_kind": "class_prototype", "imagenet_index": 579},
        {"clip_id": "e_no_class", "image_path": "", "target_kind": "class_prototype", "imagenet_index": -1},
        {"clip_id": "f_missing", "image_path": str(tmp_path / "gone.png"), "target_kind": "frames", "imagenet_index": -1},
        {"clip_id": "g_corrupt", "image_path": str(tmp_path / "corrupt.png"), "target_kind": "frames",
         "imagenet_index": -1},
    ]
    return pd.DataFrame(rows)


def _run(manifest: pd.DataFrame, tmp_path: Path, teacher: Teacher | None = None, **kwargs) -> Path:
    kwargs.setdefault("progress", False)
    kwargs.setdefault("workers", 0)
    return compute_features(manifest, teacher or FakeTeacher(), root=tmp_path / "features", **kwargs)


def test_still_image_target_is_the_mean_of_its_seeded_views(manifest, tmp_path):
    feats = load_features(_run(manifest, tmp_path, views=3, view_seed=7))
    red_path = manifest.loc[0, "image_path"]
    key = __import__("hashlib").sha256(Path(red_path).read_bytes()).hexdigest()
    views = augmented_views(Image.open(red_path), 3, item_seed(7, key))
    expected = FakeTeacher().embed_images(views).mean(axis=0)
    ids, targets = feats.targets(["a_red_effect"])
    assert ids == ["a_red_effect"]
    np.testing.assert_allclose(targets[0], expected, atol=1e-6)
    assert feats.index.set_index("clip_id").loc["a_red_effect", "n_frames"] == 3


def test_clips_sharing_a_photo_share_its_target_and_it_is_embedded_once(manifest, tmp_path):
    teacher = FakeTeacher()
    feats = load_features(_run(manifest, tmp_path, teacher, views=4))
    _, targets = feats.targets(["a_red_effect", "b_red_speech", "c_blue"])
    np.testing.assert_array_equal(targets[0], targets[1])
    assert not np.allclose(targets[0], targets[2])
    assert teacher.images_seen == 2 * 4  # red and blue photos, 4 views each


def test_items_without_a_picture_get_their_class_prototype(manifest, tmp_path):
    feats = load_features(_run(manifest, tmp_path))
    _, targets = feats.targets(["d_piano"])
    np.testing.assert_array_equal(targets[0], FakeTeacher().class_prototypes([579])[0])
    assert feats.index.set_index("clip_id").loc["d_piano", "source"] == "prototype"


def test_clips_without_a_usable_target_are_reported_not_dropped(manifest, tmp_path):
    folder = _run(manifest, tmp_path)
    feats = load_features(folder)
    status = feats.index.set_index("clip_id")["status"].to_dict()
    assert status == {"a_red_effect": "ok", "b_red_speech": "ok", "c_blue": "ok", "d_piano": "ok",
                      "e_no_class": "no_target", "f_missing": "missing", "g_corrupt": "unreadable"}
    bad = feats.index["status"] != "ok"
    assert np.isnan(feats.mean[bad.to_numpy()]).all()
    ids, targets = feats.targets()
    assert ids == ["a_red_effect", "b_red_speech", "c_blue", "d_piano"] and np.isfinite(targets).all()
    assert feats.summary()["status"] == {"ok": 4, "no_target": 1, "missing": 1, "unreadable": 1}


def test_frame_folders_are_subsampled_to_the_requested_rate(tmp_path):
    folder = tmp_path / "frames_3fps" / "clip"
    folder.mkdir(parents=True)
    for k in range(6):  # 2 s at 3 fps
        _image(folder / f"{k:04d}.jpg", (40 * k, 100, 100))
    manifest = pd.DataFrame([{"clip_id": "clip", "frames_dir": str(folder), "fps": 3.0}])
    teacher = FakeTeacher()
    feats = load_features(_run(manifest, tmp_path, teacher, frame_rate=1.0))
    assert feats.index.loc[0, "n_frames"] == 2 and teacher.images_seen == 2
    frames = [Image.open(folder / f"{k:04d}.jpg").convert("RGB") for k in (0, 3)]
    np.testing.assert_allclose(feats.mean[0], FakeTeacher().embed_images(frames).mean(axis=0), atol=1e-6)
    with pytest.raises(ValueError, match="whole divisor"):
        _run(manifest, tmp_path / "other", frame_rate=2.0)


def test_videos_are_decoded_at_the_frame_rate_from_the_clip_start(tmp_path, monkeypatch):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"fake")
    calls = []

    def fake_read_frames(path, *, start_s=0.0, duration_s=None, fps=1.0):
        calls.append((Path(path).name, start_s, fps))
        return [Image.new("RGB", (8, 8), (10 * k, 0, 0)) for k in range(4)]

    monkeypatch.setattr("w2clib.data.video.read_frames", fake_read_frames)
    manifest = pd.DataFrame([{"clip_id": "v", "video_path": str(video), "video_start_s": 12.0}])
    feats = load_features(_run(manifest, tmp_path, frame_rate=2.0))
    assert calls == [("v.mp4", 12.0, 2.0)]
    assert feats.index.loc[0, "source"] == "video" and feats.index.loc[0, "n_frames"] == 4


def test_sharded_runs_merge_to_the_single_process_result(manifest, tmp_path):
    single = load_features(_run(manifest, tmp_path / "one", every_frame=True, views=2))
    folder = None
    for i in range(3):
        folder = _run(manifest, tmp_path / "three", shard=(i, 3), every_frame=True, views=2, merge=False)
    assert not (folder / "complete.json").exists()
    merged = load_features(merge_features(folder))
    pd.testing.assert_frame_equal(merged.index, single.index)
    np.testing.assert_array_equal(merged.mean, single.mean)
    np.testing.assert_array_equal(np.asarray(merged.frames), np.asarray(single.frames))
    blue = merged.frames_of("c_blue")
    assert blue.shape == (2, DIM) and blue.dtype == np.float16
    row = merged.index.index[merged.index["clip_id"] == "c_blue"][0]
    np.testing.assert_allclose(blue.astype(np.float32).mean(axis=0), merged.mean[row], atol=2e-3)


def test_merge_refuses_while_a_shard_is_unfinished(manifest, tmp_path):
    folder = _run(manifest, tmp_path, shard=(0, 2))
    with pytest.raises(FileNotFoundError, match=r"shards \[1\] of 2"):
        merge_features(folder, n_shards=2)


def test_an_interrupted_run_resumes_from_its_saved_chunks(tmp_path):
    paths = [_image(tmp_path / f"im{k}.png", (20 * k, 50, 90)) for k in range(6)]
    manifest = pd.DataFrame({"clip_id": [f"c{k}" for k in range(6)], "image_path": paths})
    with pytest.raises(KeyboardInterrupt):
        _run(manifest, tmp_path, FakeTeacher(fail_after=9), views=2, chunk_size=2)  # dies in chunk 2
    chunks = sorted((tmp_path / "features").glob("*/shard-*/chunk-*.npz"))
    assert [c.name for c in chunks] == ["chunk-000000.npz", "chunk-000001.npz"]
    resumed = FakeTeacher()
    feats = load_features(_run(manifest, tmp_path, resumed, views=2, chunk_size=2))
    assert resumed.images_seen == 2 * 2  # only the last chunk's two photos
    fresh = load_features(_run(manifest, tmp_path / "fresh", views=2, chunk_size=2))
    np.testing.assert_array_equal(feats.mean, fresh.mean)


def test_a_finished_computation_is_reused_without_running_the_teacher(manifest, tmp_path):
    first = _run(manifest, tmp_path)
    again = FakeTeacher()
    assert _run(manifest, tmp_path, again) == first and again.images_seen == 0


def test_the_key_follows_teacher_manifest_frame_rate_and_views(manifest, tmp_path):
    base = _run(manifest, tmp_path)
    other_teacher = FakeTeacher()
    other_teacher.name = "fake2"
    assert _run(manifest, tmp_path, other_teacher) != base
    assert _run(manifest, tmp_path, frame_rate=2.0) != base
    assert _run(manifest, tmp_path, views=3) != base
    assert _run(manifest.iloc[:-1], tmp_path) != base
    # row order does not matter: the key hashes rows in clip-id order
    assert manifest_fingerprint(manifest) == manifest_fingerprint(manifest.iloc[::-1])
    spec = json.loads((base / "spec.json").read_text())
    assert base.name.endswith(feature_key(spec))


def test_a_folder_of_another_computation_is_refused(manifest, tmp_path):
    folder = _run(manifest.iloc[:3], tmp_path)
    with pytest.raises(ValueError, match="another computation"):
        compute_features(manifest, FakeTeacher(), folder, progress=False, workers=0)


def test_targets_file_is_what_the_trainer_reads(manifest, tmp_path):
    folder = _run(manifest, tmp_path)
    embeddings, ids, teacher = load_target_table(folder / "targets.npz")
    feats = load_features(folder)
    assert ids == feats.targets()[0]
    np.testing.assert_array_equal(embeddings, feats.targets()[1])
    assert teacher["name"] == "fake" and teacher["dim"] == DIM


def test_per_view_targets_keep_each_view_and_repeat_prototypes(manifest, tmp_path):
    feats = load_features(_run(manifest, tmp_path, views=3, every_frame=True))
    ids, per_view = feats.targets_per_view(3)
    assert per_view.shape == (4, 3, DIM) and ids == feats.targets()[0]
    np.testing.assert_allclose(per_view.mean(axis=1), feats.targets()[1], atol=2e-3)  # float16 frames
    piano = ids.index("d_piano")
    assert (per_view[piano] == per_view[piano, :1]).all()  # one prototype, repeated
    embeddings, saved_ids, _ = load_target_table(feats.save_targets(tmp_path / "views.npz", n_views=3))
    assert saved_ids == ids and embeddings.shape == (4, 3, DIM)
    with pytest.raises(ValueError, match="every_frame"):
        load_features(_run(manifest, tmp_path / "means")).targets_per_view(3)


@pytest.mark.parametrize("bad, error", [
    (pd.DataFrame({"image_path": ["x"]}), "clip_id"),
    (pd.DataFrame({"clip_id": ["a", "a"], "image_path": ["x", "y"]}), "unique"),
    (pd.DataFrame({"clip_id": ["a"], "audio_path": ["x"]}), "frame source"),
])
def test_bad_manifests_are_rejected_with_the_reason(bad, error, tmp_path):
    with pytest.raises(ValueError, match=error):
        _run(bad, tmp_path)


def test_bad_shard_is_rejected(manifest, tmp_path):
    with pytest.raises(ValueError, match="shard"):
        _run(manifest, tmp_path, shard=(2, 2))


def test_the_cache_key_does_not_depend_on_where_the_data_home_is(tmp_path, monkeypatch):
    from w2clib.teachers.targets import manifest_fingerprint

    def manifest(home):
        return pd.DataFrame({"clip_id": ["a", "b"], "image_path": [f"{home}/x/a.png", f"{home}/x/b.png"]})

    keys = []
    for home in (tmp_path / "one", tmp_path / "two"):
        monkeypatch.setenv("W2C_DATA_HOME", str(home))
        keys.append(manifest_fingerprint(manifest(home)))
    assert keys[0] == keys[1]  # the same data prepared under another home reuses the cache
    monkeypatch.setenv("W2C_DATA_HOME", str(tmp_path / "one"))
    assert manifest_fingerprint(manifest(tmp_path / "elsewhere")) != keys[0]  # files outside it: full path
