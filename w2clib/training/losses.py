"""Distillation losses of Wav2CLIP (docs/method.md §3): ``clip``, ``clip_i`` and ``clip_x``.

The building block is the CLIP loss ``L(x, y)``: both sides are L2-normalised, the logits are
``exp(s) * x @ y.T`` with a learnable logit scale ``s`` (initialised to ``log(1 / 0.07)``, i.e. a
temperature of 0.07), and the loss is the mean of the two cross-entropies (rows: x -> y, columns:
y -> x) with the matching pair on the diagonal and the rest of the batch as negatives.

Variants (``a`` = audio backbone output, ``v`` = the teacher target, e.g. the mean CLIP frame
embedding of the clip; ``MLP_aud`` = the model's ``audio_transform``, ``MLP_img`` = its
``image_transform``)::

    clip    L(MLP_aud(a), v)
    clip_i  L(MLP_aud(a), MLP_img(v))
    clip_x  ½ [ L_a(a, MLP_img(v)) + L_i(MLP_aud(a), v) ]     # the paper's method, the default

``clip_x`` is exactly the reference's cross-projection loss, with its two separately learnable
scales named as in the released checkpoint (``loss_fn_a``, ``loss_fn_i``).  Its second term puts the
public embedding ``MLP_aud(a)`` in the teacher's space.

For ``clip`` and ``clip_i`` the paper compares the *backbone* output with the target and has no audio
head.  Our checkpoint layout always has one (the public embedding is ``head(backbone(x))``), so for
these two variants the whole encoder -- backbone plus audio head -- plays the role of ``a``; otherwise
the public embedding would pass through an untrained head.

Temperature clamp: as in CLIP, each logit scale is clamped to ``[0, log(max_logit_scale)]``
(default 100) *after every optimiser step* (:meth:`DistillationLoss.clamp_`).  The reference code
does not clamp; with the paper's learning rate the scale stays far below 100, so the clamp only
guards against the instability CLIP reported.  Pass ``max_logit_scale=None`` to disable it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "INIT_LOGIT_SCALE",
    "LOSSES",
    "MAX_LOGIT_SCALE",
    "CLIPLoss",
    "DistillationLoss",
    "LossOutput",
    "check_loss",
    "clip_loss",
    "needs_image_head",
]

LOSSES = ("clip", "clip_i", "clip_x")
INIT_LOGIT_SCALE = math.log(1 / 0.07)  # temperature 0.07, as CLIP and the reference
MAX_LOGIT_SCALE = 100.0  # CLIP's clamp on exp(s)


def check_loss(kind: str) -> None:
    """Raise a clear ``ValueError`` for an unknown loss name."""
    if kind not in LOSSES:
        raise ValueError(
            f"unknown loss {kind!r}; choose 'clip_x' (cross-projection, the paper's method), "
            "'clip_i' (image-side head only) or 'clip' (no heads)"
        )


def needs_image_head(kind: str) -> bool:
    """Whether the model must hold ``image_transform`` (``ModelConfig.image_head``) for ``kind``."""
    check_loss(kind)
    return kind in ("clip_i", "clip_x")


def clip_loss(x: torch.Tensor, y: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE between paired rows of ``x`` and ``y``.

    Args:
        x, y: (batch, dim) features; row ``i`` of ``x`` is paired with row ``i`` of ``y``.  Any
            float dtype; computed in float32 (safe under bf16 autocast).
        logit_scale: scalar ``s``; the logits are ``exp(s) * cos(x_i, y_j)``.

    Returns:
        Scalar float32 loss: the mean of the x->y and y->x cross-entropies (natural log units).
    """
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"clip_loss needs two (batch, dim) tensors of equal shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    x = F.normalize(x.float(), dim=-1)
    y = F.normalize(y.float(), dim=-1)
    logits = logit_scale.float().exp() * (x @ y.T)
    labels = torch.arange(x.shape[0], device=x.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


class CLIPLoss(nn.Module):
    """One CLIP loss with its own learnable logit scale (parameter ``logit_scale``, shape ())."""

    def __init__(self, init_logit_scale: float = INIT_LOGIT_SCALE) -> None:
        super().__init__()
        self.logit_scale = nn.Parameter(torch.tensor(float(init_logit_scale)))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return clip_loss(x, y, self.logit_scale)

    @property
    def temperature(self) -> float:
        """``1 / exp(s)``: the softmax temperature this loss currently uses."""
        return float(torch.exp(-self.logit_scale.detach()))


@dataclass
class LossOutput:
    """What :class:`DistillationLoss` returns for one batch."""

    total: torch.Tensor  # scalar float32, the quantity to minimise
    terms: dict[str, torch.Tensor]  # per-term scalar losses (``loss_a``/``loss_i`` for clip_x)


class DistillationLoss(nn.Module):
    """The Wav2CLIP distillation loss; holds only the learnable logit scales.

    The projection heads live in the model (``audio_transform`` / ``image_transform``) so that a
    checkpoint keeps them in the released layout; they are passed to :meth:`forward`.
    Parameter names follow the reference: ``loss_fn.logit_scale`` for ``clip``/``clip_i``,
    ``loss_fn_a.logit_scale`` and ``loss_fn_i.logit_scale`` for ``clip_x``.
    """

    def __init__(
        self,
        kind: str = "clip_x",
        *,
        init_logit_scale: float = INIT_LOGIT_SCALE,
        max_logit_scale: float | None = MAX_LOGIT_SCALE,
    ) -> None:
        super().__init__()
        check_loss(kind)
        if max_logit_scale is not None and max_logit_scale < 1.0:
            raise ValueError(f"max_logit_scale must be >= 1 (or None for no clamp), got {max_logit_scale}")
        self.kind = kind
        self.max_logit_scale = max_logit_scale
        if kind == "clip_x":
            self.loss_fn_a = CLIPLoss(init_logit_scale)  # backbone vs image head
            self.loss_fn_i = CLIPLoss(init_logit_scale)  # audio head vs teacher target
        else:
            self.loss_fn = CLIPLoss(init_logit_scale)

    @property
    def term_names(self) -> tuple[str, ...]:
        """Names of the per-term losses (also the suffixes of :meth:`temperatures`)."""
        return ("loss_a", "loss_i") if self.kind == "clip_x" else ("loss",)

    def forward(
        self,
        audio: torch.Tensor,
        target: torch.Tensor,
        audio_head: nn.Module,
        image_head: nn.Module | None,
    ) -> LossOutput:
        """Loss of one batch.

        Args:
            audio: (batch, dim) backbone output ``a``.
            target: (batch, dim) teacher targets ``v`` (need not be normalised).
            audio_head: the model's ``audio_transform``.
            image_head: the model's ``image_transform`` (required by ``clip_i`` and ``clip_x``).
        """
        if self.kind != "clip" and image_head is None:
            raise ValueError(f"loss {self.kind!r} needs a model built with ModelConfig(image_head=True)")
        if self.kind == "clip":
            loss = self.loss_fn(audio_head(audio), target)
            return LossOutput(loss, {"loss": loss})
        if self.kind == "clip_i":
            loss = self.loss_fn(audio_head(audio), image_head(target))  # type: ignore[misc]
            return LossOutput(loss, {"loss": loss})
        loss_a = self.loss_fn_a(audio, image_head(target))  # type: ignore[misc]
        loss_i = self.loss_fn_i(audio_head(audio), target)
        return LossOutput(0.5 * (loss_a + loss_i), {"loss_a": loss_a, "loss_i": loss_i})

    def scales(self) -> dict[str, CLIPLoss]:
        """The CLIP losses keyed by term name."""
        if self.kind == "clip_x":
            return {"loss_a": self.loss_fn_a, "loss_i": self.loss_fn_i}
        return {"loss": self.loss_fn}

    def temperatures(self) -> dict[str, float]:
        """Current temperature ``1/exp(s)`` of each term, keyed ``temp_a``/``temp_i`` or ``temp``."""
        return {name.replace("loss", "temp"): fn.temperature for name, fn in self.scales().items()}

    @torch.no_grad()
    def clamp_(self) -> None:
        """Clamp every logit scale to ``[0, log(max_logit_scale)]`` (call after each optimiser step)."""
        if self.max_logit_scale is None:
            return
        upper = math.log(self.max_logit_scale)
        for fn in self.scales().values():
            fn.logit_scale.clamp_(0.0, upper)
