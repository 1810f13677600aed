"""One training step on any device: the model + loss module, DDP, precision, optimiser, schedule.

The same code runs on a laptop CPU (one process, fp32) and on many GPUs: under ``torchrun`` the
environment variables ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``/``MASTER_ADDR`` are set and the module is
wrapped in DistributedDataParallel (NCCL on CUDA, gloo on CPU); on CUDA the ResNet runs under bf16
autocast (the front end, the projection heads and the loss stay fp32), on CPU in fp32.  Convolutions
use channels-last tensors on both: at batch 32 x 10 s a CPU training step was ~1.3x faster than with
the default layout (benchmarks/bench_train.py).
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .losses import DistillationLoss
from ..model import Wav2CLIP
from .config import PretrainConfig

__all__ = [
    "DistillationModule",
    "LRSchedule",
    "Runtime",
    "TrainStep",
    "build_optimizer",
    "seed_step",
    "setup_runtime",
    "teardown_runtime",
]


@dataclass
class Runtime:
    """Where and how this process trains."""

    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    distributed: bool = False  # wrapped in DDP (set under torchrun, even with one process)
    owns_process_group: bool = False  # this run initialised it (and tears it down)
    autocast_dtype: torch.dtype | None = None  # bf16/fp16 autocast for the ResNet, None = fp32
    channels_last: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _under_torchrun() -> bool:
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


def setup_runtime(config: PretrainConfig) -> Runtime:
    """Pick the device and precision; initialise the process group under torchrun."""
    import torch.distributed as dist

    distributed = _under_torchrun()
    rank = int(os.environ.get("RANK", "0")) if distributed else 0
    world = int(os.environ.get("WORLD_SIZE", "1")) if distributed else 1
    local_rank = int(os.environ.get("LOCAL_RANK", "0")) if distributed else 0
    if config.device == "auto":
        device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(config.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"pretrain.device={config.device!r} but CUDA is not available; use 'auto' or 'cpu'")
        if device.type == "cuda" and device.index is None:
            device = torch.device(f"cuda:{local_rank}")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    precision = config.precision
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("pretrain.precision fp16 needs CUDA; use fp32 (or bf16) on CPU")
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    owns = False
    if distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        owns = True
    return Runtime(device, rank, world, local_rank, distributed, owns, dtype, bool(config.channels_last))


def teardown_runtime(runtime: Runtime) -> None:
    import torch.distributed as dist

    if runtime.owns_process_group and dist.is_initialized():
        dist.destroy_process_group()


class DistillationModule(nn.Module):
    """Encoder + loss in one module (one DDP wrapper syncs heads, backbone and logit scales).

    ``forward(wave, target)`` takes (batch, samples) float32 audio at 16 kHz and (batch, dim) targets
    and returns ``(total_loss, {term: loss})``.
    """

    def __init__(self, model: Wav2CLIP, loss: DistillationLoss, *, norm: str = "clip",
                 channels_last: bool = False, autocast_dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.model, self.loss = model, loss
        self.norm, self.channels_last, self.autocast_dtype = norm, channels_last, autocast_dtype

    def forward(self, wave: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        encoder = self.model.audio_encoder
        device_type = wave.device.type
        with torch.autocast(device_type, enabled=False):  # the log-spectrogram needs fp32 range
            spec = encoder.spectrogram_input(wave, self.norm)  # type: ignore[arg-type]
        if self.channels_last:
            spec = spec.contiguous(memory_format=torch.channels_last)
        amp = (torch.autocast(device_type, dtype=self.autocast_dtype) if self.autocast_dtype is not None
               else contextlib.nullcontext())
        with amp:
            audio = encoder.trunk(spec)
        # Heads and loss in fp32, outside autocast: bf16 logits at scale up to 100 would be off by
        # ~0.5, and the two 512 x 512 heads cost nothing next to the ResNet.
        out = self.loss(audio.float(), target.float(), self.model.audio_transform, self.model.image_transform)
        return out.total, out.terms


def build_optimizer(module: nn.Module, config: PretrainConfig) -> torch.optim.Optimizer:
    """Adam (paper) or AdamW; weight decay only on weight matrices and kernels (ndim >= 2)."""
    decay = [p for p in module.parameters() if p.requires_grad and p.ndim >= 2]
    rest = [p for p in module.parameters() if p.requires_grad and p.ndim < 2]  # norms, biases, scales
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    device = next(module.parameters()).device
    # One fused kernel for all parameters instead of ~10 elementwise passes per tensor.
    kwargs: dict[str, Any] = {"fused": True} if device.type in ("cpu", "cuda") else {}
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(groups, lr=config.lr, **kwargs)


class LRSchedule:
    """The learning rate: ReduceLROnPlateau per epoch, or warm-up + cosine / constant per step."""

    def __init__(self, optimizer: torch.optim.Optimizer, config: PretrainConfig, total_steps: int) -> None:
        self.optimizer, self.config, self.total_steps = optimizer, config, max(1, total_steps)
        self.plateau = None
        if config.schedule == "plateau":
            self.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="min", factor=config.plateau_factor, patience=config.plateau_patience,
                min_lr=config.min_lr,
            )

    def lr_at(self, step: int) -> float | None:
        """The lr for optimiser step ``step`` (0-based) when it is a function of the step, else None."""
        c = self.config
        if step < c.warmup_steps:
            return c.lr * (step + 1) / c.warmup_steps
        if c.schedule == "constant":
            return c.lr
        if c.schedule == "cosine":
            progress = min(1.0, (step - c.warmup_steps) / max(1, self.total_steps - c.warmup_steps))
            return c.min_lr + (c.lr - c.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
        if step == c.warmup_steps and c.warmup_steps > 0:
            return c.lr  # plateau after warm-up: start from the peak, then the plateau rule decides
        return None

    def before_step(self, step: int) -> None:
        lr = self.lr_at(step)
        if lr is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = lr

    def after_epoch(self, val_loss: float | None) -> None:
        if self.plateau is not None and val_loss is not None:
            self.plateau.step(val_loss)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def state_dict(self) -> dict[str, Any]:
        return {"plateau": self.plateau.state_dict() if self.plateau is not None else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.plateau is not None and state.get("plateau") is not None:
            self.plateau.load_state_dict(state["plateau"])


def seed_step(seed: int, step: int, rank: int) -> None:
    """Seed the global torch RNG (dropout) from the step: a resumed run draws what the original drew."""
    torch.manual_seed((seed * 1_000_003 + step * 7919 + rank) % (2**63 - 1))


class TrainStep:
    """forward + backward + optimiser step + logit-scale clamp on one batch."""

    def __init__(self, module: DistillationModule, runner: nn.Module, optimizer: torch.optim.Optimizer,
                 scaler: torch.amp.GradScaler, grad_clip_norm: float | None = None) -> None:
        self.module, self.runner, self.optimizer = module, runner, optimizer
        self.scaler, self.grad_clip_norm = scaler, grad_clip_norm

    def __call__(self, wave: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        """One optimiser step; returns the batch's loss terms as floats (synchronises the device)."""
        self.optimizer.zero_grad(set_to_none=True)
        total, terms = self.runner(wave, target)
        self.scaler.scale(total).backward()
        if self.grad_clip_norm is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.module.parameters(), self.grad_clip_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.module.loss.clamp_()
        values = {"loss": float(total.detach())}
        values.update({k: float(v.detach()) for k, v in terms.items() if k != "loss"})
        return values
