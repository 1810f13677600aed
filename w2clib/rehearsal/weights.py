"""Random weights in the layouts of the real releases: ``Wav2CLIP.pt``, an open_clip CLIP state dict and a
VQGAN checkpoint."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .._io import atomic_path

__all__ = ["write_wav2clip_release", "write_openclip_weights", "write_vqgan_release"]


def write_wav2clip_release(path: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Write a ``Wav2CLIP.pt`` like the official release: random weights, same keys and shapes.

    A flat ``torch.save`` state dict: ``audio_encoder.*`` (ResNet-18), ``audio_transform.*`` and
    ``image_transform.*`` (the two heads of the paper's loss) and the loss temperatures
    ``loss_fn_a.logit_scale`` / ``loss_fn_i.logit_scale`` the original trainer stored (~45 MB).
    """
    from ..model import ModelConfig, build_model

    state = dict(build_model(ModelConfig(image_head=True), seed=seed).state_dict())
    state["loss_fn_a.logit_scale"] = torch.tensor(2.6592)
    state["loss_fn_i.logit_scale"] = torch.tensor(2.6592)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(state, str(tmp))
    return path


def write_openclip_weights(path: str | os.PathLike[str], model_name: str = "ViT-B-32", *, seed: int = 0,
                           dtype: torch.dtype = torch.float16) -> Path:
    """Write the state dict of open_clip's ``model_name`` with random weights to ``path``.

    open_clip builds the architecture offline (``pretrained=None``); the file is what
    ``load_teacher(model_name, weights=path)`` reads.  ``.safetensors`` (recommended: no pickle) or
    ``.pt``; ``dtype`` float16 halves the size (ViT-B-32: ~300 MB instead of ~600 MB) and is
    converted back to float32 on load.
    """
    import open_clip

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = open_clip.create_model(model_name, pretrained=None, device="cpu")
    state = {k: v.detach().to(dtype if v.is_floating_point() else v.dtype).contiguous().clone()
             for k, v in model.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        if path.suffix == ".safetensors":
            from safetensors.torch import save_file

            save_file(state, str(tmp))
        else:
            torch.save(state, str(tmp))
    return path


def write_vqgan_release(path: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Write a small VQGAN f16 checkpoint in the taming-transformers layout (a Lightning file with a
    ``state_dict``), random weights: 64 codes of 16 values, base width 32 (~2 MB instead of ~1 GB).
    :func:`w2clib.generate.load_vqgan` reads the shape from the tensors, so the real code path runs."""
    from ..generate.vqgan import VQGANConfig, VQGANDecoder

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        decoder = VQGANDecoder(VQGANConfig(n_embed=64, embed_dim=16, z_channels=32, ch=32, num_res_blocks=1))
    state = {k: v.detach().clone() for k, v in decoder.state_dict().items()}
    state["encoder.conv_in.weight"] = torch.zeros(32, 3, 3, 3)  # parts of the release the decoder ignores
    state["quant_conv.weight"] = torch.zeros(16, 16, 1, 1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save({"state_dict": state, "global_step": 0}, str(tmp))
    return path
