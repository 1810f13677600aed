"""CLIP through open_clip: the paper's teacher (ViT-B/32, OpenAI weights) or any open_clip model.

``OpenCLIPTeacher("ViT-B-32", "openai")`` is the default.  The paper's code does not name the CLIP
variant; its 512-d embeddings and the authors' generation script (CLIP ViT-B/32 as perceptor) imply
ViT-B/32 with OpenAI weights -- an inference, not a stated fact (docs/method.md §2).

``pretrained`` is an open_clip tag (downloaded once into the Hugging Face cache, or from the hub
mirror ``$HF_ENDPOINT``) or the path of a local weights file (an open_clip state dict:
``.safetensors``, ``.bin`` or ``.pt``).  ``weights=<file>`` reads the weights from a local file while
``pretrained`` still names the tag they are (QuickGELU, image mean/std): ``OpenCLIPTeacher("ViT-B-32",
"openai", weights="ViT-B-32-openai.safetensors")`` is the paper's teacher without a download.  The
file's path and SHA-256 go into :meth:`describe`, so a checkpoint's teacher is rebuilt from the same
file.  Without an internet connection a tag fails at once with instructions instead of retrying for
a minute.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._io import sha256_file
from .base import ImageLike, Teacher, l2_normalize, to_rgb

__all__ = ["PAPER_MODEL", "PAPER_PRETRAINED", "OpenCLIPTeacher"]

PAPER_MODEL = "ViT-B-32"  # inferred from the 512-d targets and the authors' generation script
PAPER_PRETRAINED = "openai"


def _require_open_clip():
    try:
        import open_clip
    except ImportError as err:
        raise ImportError("CLIP teachers need open_clip: pip install open_clip_torch (or 'w2clib[paper]')") from err
    return open_clip


def _offline_message(model_name: str, pretrained: str, cfg: dict[str, Any], err: BaseException) -> str:
    hub = cfg.get("hf_hub", "").rstrip("/")
    where = f"https://huggingface.co/{hub}" if hub else cfg.get("url", "the open_clip release")
    return (
        f"cannot get the CLIP weights {model_name}/{pretrained}: no internet connection and not in the local "
        f"Hugging Face cache ({type(err).__name__}: {str(err)[:200]}). Either run once on a machine with internet "
        f"(open_clip caches the weights), or download open_clip_model.safetensors from {where} and pass its path: "
        f"w2clib.load_teacher({model_name!r}, pretrained={pretrained!r}, "
        "weights='/path/to/open_clip_model.safetensors') (in a profile: teacher.weights), or set HF_ENDPOINT to a "
        "reachable hub mirror, or use the offline teacher: w2clib.load_teacher('packaged')."
    )


class OpenCLIPTeacher(Teacher):
    """A CLIP model from open_clip, frozen, fp32 unless ``precision`` says otherwise.

    Args:
        model_name: an open_clip architecture (``open_clip.list_models()``), e.g. ``"ViT-B-32"``.
        pretrained: an open_clip tag for it (``open_clip.list_pretrained_tags_by_model``), a local
            weights file, or ``None`` for random weights (tests only).
        quick_gelu: use QuickGELU activations.  ``None``: as the tag was trained (True for OpenAI
            weights); for a local file, False -- pass True for OpenAI weights saved to a file.
        device: ``"cuda"`` when available, else ``"cpu"``, unless given.
        precision: ``"fp32"`` (default), ``"fp16"`` or ``"bf16"`` (GPU).
        cache_dir: where open_clip keeps downloads (default: the Hugging Face cache).
        weights: a local weights file to load instead of downloading ``pretrained`` (``~`` and
            ``$VARIABLES`` expanded); ``pretrained`` (a tag or ``None``) then only sets QuickGELU and
            the image preprocessing.
    """

    def __init__(self, model_name: str = PAPER_MODEL, pretrained: str | os.PathLike[str] | None = PAPER_PRETRAINED,
                 *, quick_gelu: bool | None = None, device: str | None = None, precision: str = "fp32",
                 cache_dir: str | None = None, weights: str | os.PathLike[str] | None = None) -> None:
        import torch

        open_clip = _require_open_clip()
        if model_name not in open_clip.list_models() and not model_name.startswith("hf-hub:"):
            raise ValueError(
                f"unknown open_clip model {model_name!r}; open_clip.list_models() has e.g. ViT-B-32, ViT-B-16, "
                "ViT-L-14, RN50 (or register a config with open_clip.add_model_config)"
            )
        self.model_name = model_name
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.weights_sha256: str | None = None
        self.weights_file: str | None = None
        tag_cfg: dict[str, Any] = {}
        checkpoint: str | None = None
        if weights is not None:
            file = Path(os.path.expandvars(str(weights))).expanduser()  # "$W2C_REHEARSAL/clip/…" works in profiles
            if not file.is_file():
                raise FileNotFoundError(f"teacher weights={str(weights)!r}: no such file; pass the path of an "
                                        f"open_clip state dict of {model_name} (.safetensors, .bin or .pt)")
            checkpoint = str(file.resolve())
            if pretrained is not None:
                tag_cfg = open_clip.get_pretrained_cfg(model_name, str(pretrained)) or {}
                if not tag_cfg:
                    raise ValueError(f"with weights=<file>, pretrained must be an open_clip tag of {model_name} "
                                     f"(or None), got {pretrained!r}; known tags: "
                                     f"{open_clip.list_pretrained_tags_by_model(model_name)}")
            self.pretrained = str(pretrained) if pretrained is not None else f"file:{file.name}"
            self.weights_file = checkpoint
        elif pretrained is not None and Path(pretrained).expanduser().is_file():
            checkpoint = str(Path(pretrained).expanduser().resolve())
            self.pretrained = f"file:{Path(checkpoint).name}"
            self.weights_file = checkpoint
        elif pretrained is not None:
            tag = str(pretrained)
            tag_cfg = open_clip.get_pretrained_cfg(model_name, tag) or {}
            if not tag_cfg:
                tags = open_clip.list_pretrained_tags_by_model(model_name)
                looks_like_path = any(sep in tag for sep in ("/", "\\")) or Path(tag).suffix
                raise (FileNotFoundError if looks_like_path else ValueError)(
                    f"pretrained={tag!r} is neither a weights file that exists nor an open_clip tag of {model_name}; "
                    f"known tags: {tags}"
                )
            checkpoint = self._download(open_clip, model_name, tag, tag_cfg, cache_dir)
            self.pretrained = tag
            self.weights_file = checkpoint
        else:
            self.pretrained = "random"
        use_quick_gelu = bool(tag_cfg.get("quick_gelu", False)) if quick_gelu is None else bool(quick_gelu)
        kwargs: dict[str, Any] = {}
        for key, arg in (("mean", "image_mean"), ("std", "image_std"), ("interpolation", "image_interpolation"),
                         ("resize_mode", "image_resize_mode")):
            if key in tag_cfg:
                kwargs[arg] = tag_cfg[key]
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                model_name, pretrained=checkpoint, force_quick_gelu=use_quick_gelu, device=self.device,
                precision=precision, **kwargs)
        except RuntimeError as err:
            if checkpoint is not None and any(m in str(err) for m in ("state_dict", "size mismatch", "key")):
                raise ValueError(
                    f"the weights in {checkpoint} do not fit open_clip's {model_name}: {str(err)[:300]}; "
                    "check the model name matches the file"
                ) from err
            raise
        if checkpoint is not None:
            self.weights_sha256 = sha256_file(checkpoint)
        self.quick_gelu = use_quick_gelu
        self.precision = precision
        self._model = model.eval().requires_grad_(False)  # frozen: gradients reach only the inputs
        self._preprocess = preprocess
        self._tokenizer = open_clip.get_tokenizer(model_name)
        self.dim = self._probe_dim()
        size = getattr(model.visual, "image_size", 224)
        self.image_size = int(size[0] if isinstance(size, (tuple, list)) else size)
        self.name = f"{model_name}/{Path(checkpoint).name}" if weights is not None else f"{model_name}/{self.pretrained}"
        self._from_file = weights is not None or self.pretrained.startswith("file:")

    @staticmethod
    def _download(open_clip: Any, model_name: str, tag: str, cfg: dict[str, Any], cache_dir: str | None) -> str:
        """The local path of the tag's weights: downloaded (or found in the cache); clear error offline."""
        from ._hub import hub_offline, hub_reachable

        online = hub_reachable()
        try:
            with hub_offline(enabled=not online):
                return str(open_clip.download_pretrained(cfg, cache_dir=cache_dir))
        except Exception as err:  # the hub client raises many kinds (HTTP, OS, offline-mode errors)
            if online:
                raise RuntimeError(f"downloading the CLIP weights {model_name}/{tag} failed: {err}") from err
            raise RuntimeError(_offline_message(model_name, tag, cfg, err)) from err

    def _probe_dim(self) -> int:
        import torch

        with torch.inference_mode():
            return int(self._model.encode_text(self._tokenizer(["a"]).to(self.device)).shape[-1])

    def preprocess(self, image: ImageLike) -> Any:
        """open_clip's evaluation transform (resize, centre crop, CLIP mean/std) of one RGB image."""
        return self._preprocess(to_rgb(image))

    def embed_image_tensor(self, pixels: Any) -> Any:
        """Differentiable :meth:`embed_images` of a torch batch: (n, 3, S, S) float RGB in [0, 1] at
        the model's input size S -> (n, dim) L2-normalised tensor (CLIP mean/std applied here)."""
        import torch
        import torch.nn.functional as F

        norm = next(t for t in self._preprocess.transforms if type(t).__name__ == "Normalize")
        mean = torch.tensor(norm.mean, device=pixels.device, dtype=pixels.dtype)[None, :, None, None]
        std = torch.tensor(norm.std, device=pixels.device, dtype=pixels.dtype)[None, :, None, None]
        return F.normalize(self._model.encode_image((pixels - mean) / std).float(), dim=1)

    def embed_images(self, images: Sequence[ImageLike], *, batch_size: int = 32) -> np.ndarray:
        """(n, dim) float32, L2-normalised CLIP image embeddings."""
        import torch

        if isinstance(images, (str, bytes)) or not hasattr(images, "__len__"):
            raise TypeError(f"images must be a list of PIL images or uint8 arrays, got {type(images).__name__}")
        out = []
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                x = torch.stack([self.preprocess(im) for im in images[start:start + batch_size]]).to(self.device)
                out.append(self._model.encode_image(x).float().cpu().numpy())
        return l2_normalize(np.concatenate(out)) if out else np.zeros((0, self.dim), dtype=np.float32)

    def embed_texts(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """(n, dim) float32, L2-normalised CLIP text embeddings (texts truncated to 77 tokens)."""
        import torch

        if isinstance(texts, str) or any(not isinstance(t, str) for t in texts):
            raise TypeError("embed_texts expects a list of str")
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                tokens = self._tokenizer(list(texts[start:start + batch_size])).to(self.device)
                out.append(self._model.encode_text(tokens).float().cpu().numpy())
        return l2_normalize(np.concatenate(out)) if out else np.zeros((0, self.dim), dtype=np.float32)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": "open_clip", "dim": self.dim, "image_size": self.image_size,
            "model_name": self.model_name, "pretrained": self.pretrained, "quick_gelu": self.quick_gelu,
            "weights_sha256": self.weights_sha256, "precision": self.precision,
            **({"weights_file": self.weights_file} if self._from_file else {}),
        }
