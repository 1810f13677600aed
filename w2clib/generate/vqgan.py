"""The VQGAN decoder and quantizer (taming-transformers layout), ported small enough to read.

Only what generation needs: the codebook (``quantize.embedding.weight``), the 1x1
``post_quant_conv`` and the convolutional ``decoder.*`` -- the encoder, the discriminator and the
perceptual loss stored in the same checkpoint are ignored.  The module names follow the original
checkpoint keys exactly, so its state dict loads without renaming (``strict=True``).

The architecture is read from the tensor shapes (:func:`config_from_state`), so the released
ImageNet f16-16384 model (:data:`F16_16384`: 256-d codes, 16384 of them, channel multipliers
(1, 1, 2, 2, 4), two residual blocks per level, attention at the 16x16 level) and the small
random-weight stand-in of the rehearsal profile load through the same code.

Shapes: codes ``z`` are (n, embed_dim, h, w); the decoder doubles h and w ``levels - 1`` times
(x16 for f16) and returns (n, 3, 16h, 16w) in about [-1, 1].
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["F16_16384", "VQGANConfig", "VQGANDecoder", "config_from_state", "decoder_state", "load_decoder"]


@dataclass(frozen=True)
class VQGANConfig:
    """The decoder's shape (defaults: the released ImageNet f16-16384 model)."""

    n_embed: int = 16384  # codebook entries
    embed_dim: int = 256  # size of a code
    z_channels: int = 256  # channels after post_quant_conv
    ch: int = 128  # base width; level i has ch * ch_mult[i] channels
    ch_mult: tuple[int, ...] = (1, 1, 2, 2, 4)  # one entry per resolution level (f = 2 ** (len - 1))
    num_res_blocks: int = 2  # residual blocks per level (the decoder runs num_res_blocks + 1)
    attn_levels: tuple[int, ...] = (4,)  # levels with self-attention (level 4 = the 16 x 16 one)
    out_ch: int = 3

    @property
    def factor(self) -> int:
        """Pixels per code along each side (16 for f16)."""
        return 2 ** (len(self.ch_mult) - 1)


F16_16384 = VQGANConfig()


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=32, num_channels=channels, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.norm1 = _norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = _norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.nin_shortcut is None else self.nin_shortcut(x)) + h


class AttnBlock(nn.Module):
    """Single-head self-attention over the h x w positions, with 1x1 convolutions as projections."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = _norm(channels)
        self.q, self.k, self.v, self.proj_out = (nn.Conv2d(channels, channels, 1) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        y = self.norm(x)
        q, k, v = (m(y).reshape(n, c, h * w) for m in (self.q, self.k, self.v))
        weights = torch.softmax(q.transpose(1, 2) @ k / math.sqrt(c), dim=2)  # (n, query, key)
        out = (v @ weights.transpose(1, 2)).reshape(n, c, h, w)
        return x + self.proj_out(out)


class Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class _Level(nn.Module):
    def __init__(self, block: nn.ModuleList, attn: nn.ModuleList, upsample: nn.Module | None) -> None:
        super().__init__()
        self.block, self.attn = block, attn
        if upsample is not None:
            self.upsample = upsample


class Decoder(nn.Module):
    """codes after post_quant_conv (n, z_channels, h, w) -> image (n, out_ch, f h, f w)."""

    def __init__(self, cfg: VQGANConfig) -> None:
        super().__init__()
        levels = len(cfg.ch_mult)
        block_in = cfg.ch * cfg.ch_mult[-1]
        self.conv_in = nn.Conv2d(cfg.z_channels, block_in, 3, padding=1)
        self.mid = nn.Module()
        self.mid.block_1 = ResnetBlock(block_in, block_in)
        self.mid.attn_1 = AttnBlock(block_in)
        self.mid.block_2 = ResnetBlock(block_in, block_in)
        up: list[_Level] = []
        for level in reversed(range(levels)):  # built from the coarsest level, stored finest first
            block_out = cfg.ch * cfg.ch_mult[level]
            blocks, attns = nn.ModuleList(), nn.ModuleList()
            for _ in range(cfg.num_res_blocks + 1):
                blocks.append(ResnetBlock(block_in, block_out))
                block_in = block_out
                if level in cfg.attn_levels:
                    attns.append(AttnBlock(block_in))
            up.insert(0, _Level(blocks, attns, Upsample(block_in) if level != 0 else None))
        self.up = nn.ModuleList(up)
        self.norm_out = _norm(block_in)
        self.conv_out = nn.Conv2d(block_in, cfg.out_ch, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(self.conv_in(z))))
        for level in reversed(range(len(self.up))):
            stage = self.up[level]
            for i, block in enumerate(stage.block):
                h = block(h)
                if len(stage.attn):
                    h = stage.attn[i](h)
            if hasattr(stage, "upsample"):
                h = stage.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class VQGANDecoder(nn.Module):
    """Codebook + post_quant_conv + decoder, with the checkpoint's key names.

    ``decode(z)``: (n, embed_dim, h, w) continuous codes -> each snapped to its nearest codebook
    entry (straight-through: the gradient flows to ``z`` as if no snapping happened) -> image
    (n, 3, 16h, 16w) in [0, 1] (clamped in the forward pass only, so saturated pixels still
    receive gradients, as in VQGAN-CLIP).
    """

    def __init__(self, cfg: VQGANConfig = F16_16384) -> None:
        super().__init__()
        self.config = cfg
        self.quantize = nn.Module()
        self.quantize.embedding = nn.Embedding(cfg.n_embed, cfg.embed_dim)
        self.post_quant_conv = nn.Conv2d(cfg.embed_dim, cfg.z_channels, 1)
        self.decoder = Decoder(cfg)

    @property
    def codebook(self) -> torch.Tensor:
        """(n_embed, embed_dim) code vectors."""
        return self.quantize.embedding.weight

    def quantize_codes(self, z: torch.Tensor) -> torch.Tensor:
        """Snap every position of ``z`` (n, embed_dim, h, w) to its nearest code, straight-through."""
        flat = z.movedim(1, -1).reshape(-1, z.shape[1])
        book = self.codebook
        distance = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ book.T + book.pow(2).sum(1)[None]
        snapped = book[distance.argmin(1)].reshape(*z.shape[:1], *z.shape[2:], z.shape[1]).movedim(-1, 1)
        return z + (snapped - z).detach()

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        image = self.decoder(self.post_quant_conv(self.quantize_codes(z))).add(1).div(2)
        return image + (image.clamp(0, 1) - image).detach()


_LEVEL_KEY = re.compile(r"^decoder\.up\.(\d+)\.block\.(\d+)\.conv1\.weight$")


def decoder_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of a taming-transformers checkpoint that :class:`VQGANDecoder` uses.

    ``state``: the checkpoint's ``state_dict`` (a Lightning file holds it under ``"state_dict"``).
    """
    keep = ("decoder.", "post_quant_conv.", "quantize.embedding.weight")
    return {k: v for k, v in state.items() if k.startswith(keep)}


def config_from_state(state: dict[str, torch.Tensor]) -> VQGANConfig:
    """Infer the decoder's shape from a state dict in the checkpoint's layout.

    Raises:
        ValueError: a key the decoder needs is missing (not a taming-transformers VQGAN).
    """
    try:
        n_embed, embed_dim = state["quantize.embedding.weight"].shape
        z_channels = state["post_quant_conv.weight"].shape[0]
        out_ch = state["decoder.conv_out.weight"].shape[0]
    except KeyError as err:
        raise ValueError(f"not a VQGAN checkpoint: {err.args[0]!r} is missing (expected the taming-transformers "
                         "key layout: quantize.embedding.weight, post_quant_conv.*, decoder.*)") from None
    widths: dict[int, int] = {}
    blocks: dict[int, int] = {}
    for key, tensor in state.items():
        match = _LEVEL_KEY.match(key)
        if match:
            level, block = int(match[1]), int(match[2])
            blocks[level] = max(blocks.get(level, 0), block + 1)
            if block == 0:
                widths[level] = int(tensor.shape[0])
    if not widths:
        raise ValueError("not a VQGAN checkpoint: no decoder.up.<level>.block.<i> tensors")
    levels = sorted(widths)
    ch = widths[0]  # level 0 has multiplier 1 in every released VQGAN
    attn = tuple(level for level in levels if f"decoder.up.{level}.attn.0.q.weight" in state)
    return VQGANConfig(n_embed=int(n_embed), embed_dim=int(embed_dim), z_channels=int(z_channels), ch=ch,
                       ch_mult=tuple(widths[level] // ch for level in levels),
                       num_res_blocks=blocks[0] - 1, attn_levels=attn, out_ch=int(out_ch))


def load_decoder(state: dict[str, torch.Tensor]) -> VQGANDecoder:
    """A :class:`VQGANDecoder` in eval mode, frozen, with the weights of ``state`` (checked strictly)."""
    state = decoder_state(state)
    model = VQGANDecoder(config_from_state(state))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"the VQGAN weights do not fit the decoder: missing {missing[:5]}, unexpected "
                         f"{unexpected[:5]}")
    return model.eval().requires_grad_(False)
