"""The Wav2CLIP audio encoder: ResNet-18 on a log spectrogram plus a projection head.

Parameter names follow the official checkpoint exactly, so ``state_dict()`` of :class:`Wav2CLIP`
loads ``Wav2CLIP.pt`` as released:

* ``audio_encoder.*`` -- the backbone, torchvision-style ResNet names (``conv1``, ``bn1``,
  ``layer1.0.conv1``, ..., plus the front end's ``spectrogram.window`` buffer);
* ``audio_transform.sequential.{0,3}.*`` -- Linear(512, 512) -> ReLU -> Dropout(0.1) -> Linear(512, 512).

``width`` scales the backbone (64 = the paper's ResNet-18 with widths 64/128/256/512).  A narrower
backbone ends in ``audio_encoder.proj`` (a linear layer to ``embed_dim``); every other line is shared
with the paper model, which is what lets the CPU profiles train the same code in minutes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from . import frontend
from .frontend import Norm

__all__ = ["ModelConfig", "AudioBackbone", "ProjectionHead", "Wav2CLIP", "build_model"]


@dataclass
class ModelConfig:
    """Architecture of an encoder; saved as ``config.json`` beside every checkpoint."""

    width: int = 64  # channels of the first ResNet stage (64 = the paper's ResNet-18)
    embed_dim: int = 512  # embedding size = the teacher's embedding size (512 for CLIP ViT-B/32)
    head_dropout: float = 0.1  # dropout inside the projection heads (paper: 0.1)
    n_fft: int = frontend.N_FFT  # front end STFT size (257 bins)
    hop_length: int = frontend.HOP_LENGTH  # front end hop in samples (353 as released)
    sample_rate: int = 16000  # the rate the model expects, Hz
    image_head: bool = False  # also hold the image-side head of the cross-projection loss
    teacher: dict[str, Any] = field(default_factory=dict)  # the teacher it was distilled from

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown model config keys {unknown}; known keys are {sorted(known)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet-18/34 block)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv3x3(cin, cout, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class AudioBackbone(nn.Module):
    """Waveform (batch, samples) at 16 kHz -> (batch, embed_dim) ResNet features."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        w = config.width
        self.spectrogram = frontend.make_spectrogram(config.n_fft, config.hop_length)
        self.conv1 = nn.Conv2d(1, w, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        widths = [w, 2 * w, 4 * w, 8 * w]
        self.layer1 = nn.Sequential(BasicBlock(w, widths[0]), BasicBlock(widths[0], widths[0]))
        self.layer2 = nn.Sequential(BasicBlock(widths[0], widths[1], 2), BasicBlock(widths[1], widths[1]))
        self.layer3 = nn.Sequential(BasicBlock(widths[1], widths[2], 2), BasicBlock(widths[2], widths[2]))
        self.layer4 = nn.Sequential(BasicBlock(widths[2], widths[3], 2), BasicBlock(widths[3], widths[3]))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        # Only narrower/wider backbones need a map to the embedding size; the paper model has none.
        self.proj = nn.Linear(widths[3], config.embed_dim) if widths[3] != config.embed_dim else None
        self._init_weights()

    def _init_weights(self) -> None:
        # Same initialisation as the reference: He (fan_out) convs, BN scale ~ N(1, 0.02).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, mean=1.0, std=0.02)
                nn.init.zeros_(m.bias)

    def spectrogram_input(
        self, wave: torch.Tensor, norm: Norm = "clip", stats: tuple[float, float] | None = None
    ) -> torch.Tensor:
        """(batch, samples) -> standardised (batch, 1, 257, frames) float32 log spectrogram."""
        return frontend.standardize(frontend.log_power(self.spectrogram, wave.float()), norm, stats)

    def trunk(self, spec: torch.Tensor) -> torch.Tensor:
        """Standardised spectrogram (batch, 1, freq, time) -> (batch, embed_dim)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(spec))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return x if self.proj is None else self.proj(x)

    def forward(
        self, wave: torch.Tensor, norm: Norm = "clip", stats: tuple[float, float] | None = None
    ) -> torch.Tensor:
        return self.trunk(self.spectrogram_input(wave, norm, stats))


class ProjectionHead(nn.Module):
    """Linear -> ReLU -> Dropout -> Linear, keys ``sequential.0`` and ``sequential.3`` as released."""

    def __init__(self, dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.sequential = nn.Sequential(
            nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dim, dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sequential(x)


class Wav2CLIP(nn.Module):
    """Backbone + audio projection head; the public embedding is ``head(backbone(wave))``.

    The embedding is 512-d (``config.embed_dim``) and *not* L2-normalised, as released.
    ``image_transform`` exists only when ``config.image_head`` is set (a model trained here with the
    cross-projection loss keeps its image-side head beside the audio one).

    ``frame_length``/``hop_length`` are defaults for frame mode used by :func:`w2clib.embed_audio`
    (set by the migration helper :func:`w2clib.get_model`); ``None`` means clip mode.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        self.audio_encoder = AudioBackbone(self.config)
        self.audio_transform = ProjectionHead(self.config.embed_dim, self.config.head_dropout)
        self.image_transform = (
            ProjectionHead(self.config.embed_dim, self.config.head_dropout) if self.config.image_head else None
        )
        self.frame_length: int | None = None
        self.hop_length: int | None = None
        self.checkpoint_sha256: str | None = None  # set by the loader: which weights these are

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    def forward(
        self, wave: torch.Tensor, norm: Norm = "clip", stats: tuple[float, float] | None = None
    ) -> torch.Tensor:
        """(batch, samples) float32 at 16 kHz -> (batch, embed_dim) embeddings."""
        return self.audio_transform(self.audio_encoder(wave, norm, stats))


def build_model(config: ModelConfig | None = None, *, seed: int | None = None) -> Wav2CLIP:
    """A randomly initialised encoder (eval mode); ``seed`` makes the weights reproducible."""
    if seed is None:
        model = Wav2CLIP(config)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = Wav2CLIP(config)
    return model.eval()
