"""The one config of a pre-training run (the ``pretrain:`` section of a profile).

The defaults are the paper's recipe (docs/method.md §4): batch 128, Adam 1e-3,
ReduceLROnPlateau(0.1,
patience 5, min 1e-6) on the validation loss, early stopping after 10 epochs without improvement, at
most 100 epochs, seed 2021, validation = the last 500 sorted train ids, 10 s clips at 16 kHz, the
cross-projection loss.  The CPU profiles override what they need (AdamW, warm-up + cosine by steps).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..config import Profile, load_profile, section_config
from ..frontend import check_norm
from .losses import check_loss

__all__ = ["RESUME_SAFE_FIELDS", "PretrainConfig", "changed_fields", "load_pretrain_config"]

SAMPLE_RATE = 16000


@dataclass
class PretrainConfig:
    """Everything that defines a pre-training run; saved in every checkpoint's ``config.json``."""

    # --- data -----------------------------------------------------------------------------------
    data: str = "shards"  # pair-source builder: synthetic | shards | manifest | a registered name
    data_options: dict[str, Any] = field(default_factory=dict)  # builder options (paths, sizes, mix)
    n_valid: int | None = 500  # validation = the last n_valid sorted train clip ids (paper: 500); 0 = none;
    #   None = the data's own validation set (a dataset's valid split, written by the training-input stage)
    clip_seconds: float = 10.0  # training crop length in seconds at 16 kHz (paper: 10 s)
    min_clip_seconds: float = 5.0  # shorter clips are skipped and counted as too_short; shorter
    #   than clip_seconds but long enough: zero-padded at the end
    random_crop: bool = True  # random crop window in training (validation always centre-crops)
    gain_db: float = 0.0  # random gain, uniform in [-gain_db, +gain_db] dB; 0 = off
    noise_snr_db: list[float] | None = None  # [low, high]: add white noise at a uniform SNR; None = off
    shift_seconds: float = 0.0  # delay the training crop by uniform [0, shift_seconds] s (zeros in front,
    #   the end cut off): varies onset position where clips are no longer than the crop; 0 = off
    eq_db: float = 0.0  # random smooth EQ: gains uniform in [-eq_db, eq_db] dB at 6 log-spaced
    #   frequencies (50 Hz-8 kHz), interpolated; imitates other microphones/instruments; 0 = off
    # Further augmentations (w2clib.training.augment), all off by default; applied in this order:
    # mixing, speed, reverb, shift, EQ, gain, noise, time masks, frequency masks.
    mix_prob: float = 0.0  # share of training items mixed with a random other item (any part) at equal
    #   loudness, weights (w, 1 - w), w uniform in mix_range; the target is the same mix of the two
    #   unit-length targets; 0 = off
    mix_range: list[float] = field(default_factory=lambda: [0.5, 0.9])
    speed_range: list[float] | None = None  # [low, high]: speed factor (pitch and tempo); None = off
    reverb_prob: float = 0.0  # share of training items through a synthetic room; 0 = off
    reverb_rt60: list[float] = field(default_factory=lambda: [0.2, 1.0])  # seconds, uniform
    time_masks: int = 0  # zeroed spans per item (SpecAugment's time masks); 0 = off
    time_mask_seconds: float = 0.2  # longest span
    freq_masks: int = 0  # removed frequency bands per item (SpecAugment's frequency masks); 0 = off
    freq_mask_fraction: float = 0.15  # widest band, as a share of the mel range up to 8 kHz
    # --- model ----------------------------------------------------------------------------------
    width: int = 64  # backbone width (64 = the paper's ResNet-18)
    embed_dim: int | None = None  # None = the teacher target's size (512 for CLIP ViT-B/32)
    head_dropout: float = 0.1  # dropout in both projection heads (paper: 0.1)
    norm: str = "clip"  # front-end standardisation: clip (per clip) or batch (the reference's)
    # --- loss -----------------------------------------------------------------------------------
    loss: str = "clip_x"  # clip_x (cross-projection, the paper's) | clip_i | clip
    max_logit_scale: float | None = 100.0  # clamp exp(s) at this after each step (CLIP); None = off
    # --- optimisation ---------------------------------------------------------------------------
    batch_size: int = 128  # clips per process per step = the in-batch negatives of the loss
    optimizer: str = "adam"  # adam (paper) | adamw
    lr: float = 1e-3  # peak learning rate
    weight_decay: float = 0.0  # applied to weight matrices/kernels only (not norms, biases, scales)
    schedule: str = "plateau"  # plateau (on val loss, per epoch) | cosine (per step) | constant
    plateau_factor: float = 0.1  # ReduceLROnPlateau factor (paper: 0.1)
    plateau_patience: int = 5  # epochs without improvement before the lr drops (paper: 5)
    min_lr: float = 1e-6  # lower bound of the lr for plateau, end point of cosine
    warmup_steps: int = 0  # linear warm-up from 0 (cosine and constant schedules)
    grad_clip_norm: float | None = None  # clip the global gradient norm; None = off (paper)
    max_epochs: int = 100  # epochs at most (paper: 100)
    max_steps: int | None = None  # optimiser steps at most (the CPU profiles' budget); None = no cap
    early_stopping_patience: int | None = 10  # stop after this many epochs without val improvement
    seed: int = 2021  # seeds weights, data order, crops, augmentation and dropout (paper: 2021)
    # --- runtime --------------------------------------------------------------------------------
    device: str = "auto"  # auto (cuda:LOCAL_RANK if available, else cpu) | cpu | cuda | cuda:N
    precision: str = "auto"  # auto (bf16 autocast on CUDA, fp32 on CPU) | fp32 | bf16 | fp16
    channels_last: bool = True  # NHWC convolutions: faster on CUDA and, measured, ~1.3x on x86 CPUs
    num_threads: int | None = None  # torch CPU threads per process; None = torch's default (one per core).
    #   A fixed number keeps CPU runs bitwise identical on machines with other core counts (threaded
    #   reductions sum in another order) and avoids oversubscription on a busy machine
    nproc_per_node: int | None = None  # run_pretrain/notebook 03: None = train in-process; N = torchrun, N processes
    compile: bool = False  # torch.compile the step (fuses BN/ReLU/adds; minutes of compile time)
    num_workers: int = 4  # DataLoader worker processes per training process
    prefetch_batches: int = 2  # batches each worker prepares ahead
    checkpoint_every_steps: int | None = None  # also checkpoint mid-epoch every N steps; None = epochs only
    log_every_steps: int = 1  # write a metrics.csv row every N steps
    progress: bool = True  # tqdm progress bar (rank 0)
    final_weights: str = "best"  # exported at the end: best (lowest val loss) | last

    def __post_init__(self) -> None:
        check_loss(self.loss)
        check_norm(self.norm)
        choices = {
            "optimizer": ("adam", "adamw"),
            "schedule": ("plateau", "cosine", "constant"),
            "precision": ("auto", "fp32", "bf16", "fp16"),
            "final_weights": ("best", "last"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"pretrain.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        positive = ("batch_size", "clip_seconds", "lr", "max_epochs", "width", "log_every_steps", "prefetch_batches")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"pretrain.{name} must be positive, got {getattr(self, name)!r}")
        if self.batch_size < 2:
            raise ValueError("pretrain.batch_size must be >= 2: the loss needs in-batch negatives")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"pretrain.max_steps must be >= 1 or null, got {self.max_steps}")
        if not 0 < self.min_clip_seconds <= self.clip_seconds:
            raise ValueError(
                f"pretrain.min_clip_seconds must be in (0, clip_seconds={self.clip_seconds}], got {self.min_clip_seconds}"
            )
        if self.num_threads is not None and (isinstance(self.num_threads, bool) or self.num_threads < 1):
            raise ValueError(f"pretrain.num_threads must be an integer >= 1 or null, got {self.num_threads!r}")
        if self.nproc_per_node is not None and (isinstance(self.nproc_per_node, bool) or self.nproc_per_node < 1):
            raise ValueError(f"pretrain.nproc_per_node must be an integer >= 1 or null, got {self.nproc_per_node!r}")
        if (self.n_valid is not None and self.n_valid < 0) or self.num_workers < 0:
            raise ValueError("pretrain.n_valid and pretrain.num_workers must be >= 0")
        if self.n_valid == 0 and (self.schedule == "plateau" or self.early_stopping_patience is not None):
            raise ValueError(
                "the plateau schedule and early stopping watch the validation loss: set n_valid > 0, "
                "or use schedule: cosine/constant with early_stopping_patience: null"
            )
        if self.n_valid == 0 and self.final_weights == "best":
            raise ValueError("final_weights: best needs validation (n_valid > 0); use final_weights: last")
        self._check_augmentations()
        if self.shift_seconds < 0 or self.eq_db < 0:
            raise ValueError("pretrain.shift_seconds and pretrain.eq_db must be >= 0 (0 = off)")
        if self.noise_snr_db is not None:
            if len(self.noise_snr_db) != 2 or self.noise_snr_db[0] > self.noise_snr_db[1]:
                raise ValueError(f"pretrain.noise_snr_db must be [low, high] in dB or null, got {self.noise_snr_db}")
            self.noise_snr_db = [float(v) for v in self.noise_snr_db]
        if self.checkpoint_every_steps is not None and self.checkpoint_every_steps < 1:
            raise ValueError("pretrain.checkpoint_every_steps must be >= 1 or null")

    def _check_augmentations(self) -> None:
        for name in ("mix_prob", "reverb_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"pretrain.{name} must be a probability in [0, 1], got {getattr(self, name)!r}")
        ranges = {"mix_range": (0.0, 1.0), "reverb_rt60": (1e-3, 10.0), "speed_range": (0.25, 4.0)}
        for name, (low, high) in ranges.items():
            value = getattr(self, name)
            if value is None and name == "speed_range":
                continue
            if not isinstance(value, (list, tuple)) or len(value) != 2 or not low <= value[0] <= value[1] <= high:
                raise ValueError(f"pretrain.{name} must be [low, high] with {low} <= low <= high <= {high}, got {value!r}")
            setattr(self, name, [float(v) for v in value])
        for name in ("time_masks", "freq_masks"):
            if isinstance(getattr(self, name), bool) or not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"pretrain.{name} must be an integer >= 0, got {getattr(self, name)!r}")
        if self.time_mask_seconds < 0 or not 0.0 <= self.freq_mask_fraction <= 1.0:
            raise ValueError("pretrain.time_mask_seconds must be >= 0 and pretrain.freq_mask_fraction in [0, 1]")

    @property
    def clip_samples(self) -> int:
        return round(self.clip_seconds * SAMPLE_RATE)

    @property
    def min_samples(self) -> int:
        return round(self.min_clip_seconds * SAMPLE_RATE)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "pretrain config") -> PretrainConfig:
        return section_config(cls, dict(data), where=where)

    def replace(self, **changes: Any) -> PretrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


# Fields that may change between a run and its resumption without changing what is trained.
RESUME_SAFE_FIELDS = frozenset(
    {"num_workers", "prefetch_batches", "progress", "log_every_steps", "checkpoint_every_steps",
     "max_epochs", "max_steps", "device", "compile", "final_weights", "early_stopping_patience",
     "nproc_per_node"}
)


def changed_fields(saved: dict[str, Any], config: PretrainConfig) -> dict[str, tuple[Any, Any]]:
    """``{field: (saved value, current value)}`` for the fields outside :data:`RESUME_SAFE_FIELDS` in
    which ``config`` differs from a run's saved config (``saved``, a ``to_dict()``; fields added since
    it was written count as their defaults).  Empty: ``config`` may resume that run.

    The one resume check: :func:`w2clib.training.pretrain` refuses to resume when it is not empty,
    :func:`w2clib.training.run.run_pretrain` moves such a run aside instead.
    """
    current = config.to_dict()
    saved = {**PretrainConfig().to_dict(), **saved}
    return {k: (saved.get(k), current.get(k)) for k in sorted(set(saved) | set(current))
            if k not in RESUME_SAFE_FIELDS and saved.get(k) != current.get(k)}


def load_pretrain_config(profile: str | Profile, **overrides: Any) -> PretrainConfig:
    """The ``pretrain:`` section of a profile (name, YAML path or :class:`Profile`) as a config."""
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    section = {**prof.section("pretrain"), **overrides}
    return PretrainConfig.from_dict(section, where=f"profile {prof.path} section 'pretrain'")
