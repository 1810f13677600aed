"""Image parameterisations: what the optimiser changes to make a picture.

Both are ``torch.nn.Module`` objects whose parameters are the *latent*; calling one gives the
picture, (1, 3, H, W) float in [0, 1], differentiable with respect to the latent.  Their
``state_dict()`` is the latent that :mod:`w2clib.generate.optimize` saves and resumes from, and that
a video's next frame starts from.

* :class:`FourierImage` -- the offline one.  The picture is an inverse FFT of a learnable spectrum
  whose coefficients are scaled by ``1 / frequency`` (so a step of the optimiser changes coarse
  structure as readily as fine detail, and high-frequency noise -- the adversarial patterns a
  classifier responds to -- is damped), with colours drawn in a decorrelated basis (the square root
  of ImageNet's colour covariance) and squashed by a sigmoid.  It needs no downloaded generator:
  the only image prior is the spectrum's 1/f shape, which natural images share, so it runs with
  nothing but the packaged teacher.  (A randomly initialised convolutional generator would add no
  prior that this lacks and costs more per step.)
* :class:`VQGANImage` -- the paper's.  The latent is a grid of VQGAN codes (one per 16 x 16
  pixels), initialised from random codebook entries and decoded by the frozen VQGAN decoder.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .vqgan import VQGANDecoder

__all__ = ["FourierImage", "VQGANImage"]

# Square root of the colour covariance of ImageNet pixels (RGB), as used for decorrelated image
# parameterisations in feature-visualisation work; columns scaled to a largest norm of 1 below.
_COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOR = _COLOR_SQRT / _COLOR_SQRT.norm(dim=0).max()


class FourierImage(nn.Module):
    """A (height x width) RGB picture as a 1/f-scaled spectrum in a decorrelated colour basis.

    Args:
        height, width: picture size in pixels.
        generator: the random source of the initial spectrum (Gaussian, ``init_scale`` std).
        decay: exponent of the 1/f scaling (1.0: natural-image statistics).
        init_scale: standard deviation of the initial coefficients (small: a grey start).
    """

    def __init__(self, height: int, width: int, *, generator: torch.Generator, decay: float = 1.0,
                 init_scale: float = 0.01) -> None:
        super().__init__()
        self.height, self.width = height, width
        fy = torch.fft.fftfreq(height)[:, None]
        fx = torch.fft.rfftfreq(width)[None, :]
        freq = torch.sqrt(fx**2 + fy**2).clamp(min=1.0 / max(height, width))
        self.register_buffer("scale", (1.0 / freq**decay) * math.sqrt(height * width) / max(height, width),
                             persistent=False)
        self.spectrum = nn.Parameter(torch.randn(3, height, width // 2 + 1, 2, generator=generator) * init_scale)

    def forward(self) -> torch.Tensor:
        coeffs = torch.view_as_complex(self.spectrum) * self.scale
        pixels = torch.fft.irfft2(coeffs, s=(self.height, self.width), norm="ortho")  # (3, H, W)
        rgb = torch.einsum("ij,jhw->ihw", _COLOR.to(pixels), pixels)
        return torch.sigmoid(rgb)[None]

    def project_(self) -> None:
        """Nothing to keep in range (the sigmoid bounds the pixels)."""


class VQGANImage(nn.Module):
    """A picture decoded by a frozen VQGAN from a learnable grid of codes.

    Args:
        decoder: the frozen :class:`~w2clib.generate.vqgan.VQGANDecoder` (not part of the latent).
        height, width: picture size in pixels, multiples of the decoder's factor (16).
        generator: picks the random codebook entries the grid starts from.
    """

    def __init__(self, decoder: VQGANDecoder, height: int, width: int, *, generator: torch.Generator) -> None:
        super().__init__()
        factor = decoder.config.factor
        if height % factor or width % factor:
            raise ValueError(f"VQGAN pictures must be multiples of {factor} px, got {width} x {height}; "
                             f"use size={max(factor, round(height / factor) * factor)}")
        self.__dict__["decoder"] = decoder  # held, not registered: its weights are no part of the latent
        book = decoder.codebook.detach()
        rows, cols = height // factor, width // factor
        index = torch.randint(book.shape[0], (rows * cols,), generator=generator)
        self.z = nn.Parameter(book[index.to(book.device)].T.reshape(1, -1, rows, cols).clone())
        self.register_buffer("z_min", book.min(0).values[None, :, None, None], persistent=False)
        self.register_buffer("z_max", book.max(0).values[None, :, None, None], persistent=False)

    def forward(self) -> torch.Tensor:
        return self.decoder.decode(self.z)

    @torch.no_grad()
    def project_(self) -> None:
        """Keep every code inside the codebook's bounding box (as VQGAN-CLIP does after each step)."""
        self.z.copy_(torch.maximum(torch.minimum(self.z, self.z_max), self.z_min))
