"""The ``evaluate:`` section of a profile, as a dataclass (one config per stage)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Profile, section_config
from .probes import ProbeConfig
from .supervised import SupervisedConfig

__all__ = ["EvaluateConfig", "evaluate_config"]


@dataclass
class EvaluateConfig:
    """What the evaluation notebooks run; every field is a key of ``evaluate:`` in profiles/*.yaml."""

    checkpoint: str = "pretrain"  # evaluated encoder: "pretrain" (<run_dir>/pretrain), a name or a path
    # more encoders evaluated beside it, {model name: checkpoint} (e.g. {wav2clip_ours: pretrain} next to
    # the official release); list a name in `baselines` / `fraction_models` to put it in those tables too
    other_checkpoints: dict[str, str] = field(default_factory=dict)
    seeds: list[int] = field(
        default_factory=lambda: [0, 1, 2]
    )  # probe seeds (init, validation draw)
    probes: list[str] = field(default_factory=lambda: ["mlp", "linear"])  # probe kinds reported
    probe: dict[str, Any] = field(
        default_factory=dict
    )  # overrides of ProbeConfig fields (grids, epochs)
    templates: list[str] = field(
        default_factory=lambda: ["sound", "clip_ensemble"]
    )  # zero-shot template sets
    retrieval_ks: list[int] = field(default_factory=lambda: [1, 5, 10])  # R@k cut-offs
    fractions: list[float] = field(
        default_factory=lambda: [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
    )  # Figure 2
    fraction_seeds: list[int] = field(
        default_factory=lambda: [0, 1, 2]
    )  # subsets drawn per fraction
    fraction_dataset: str = "vggsound"  # the set Figure 2 is drawn on
    fraction_probe: str = "mlp"  # probe kind of Figure 2's frozen-feature lines ("mlp" or "linear")
    fraction_supervised_fractions: list[float] | None = None  # supervised line's x values; None = fractions
    fraction_supervised_seeds: list[int] | None = None  # supervised line's seeds; None = fraction_seeds
    fraction_models: list[str] = field(
        default_factory=lambda: ["wav2clip", "supervised", "openl3", "yamnet"]
    )  # Fig. 2 lines
    confusion_dataset: str = "esc50"  # the set Figure 3 is drawn on
    confusion_baseline: str = (
        "yamnet"  # the baseline of Figure 3 (falls back to the first available)
    )
    datasets: list[str] = field(
        default_factory=lambda: ["esc50", "urbansound8k", "vggsound", "tau2020", "fsd50k"]
    )
    zero_shot_datasets: list[str] = field(
        default_factory=lambda: ["esc50", "urbansound8k", "vggsound"]
    )
    zero_shot_split: str | None = None  # None: all clips (the paper); "test": only the test side
    retrieval_datasets: list[str] = field(
        default_factory=lambda: ["vggsound", "clotho"]
    )  # audio->image where clips have pictures/frames, text<->audio where they have captions
    supervised_datasets: list[str] | None = None  # sets the supervised baseline trains on; None = datasets
    supervised_seeds: list[int] | None = None  # seeds of the supervised baseline's table row; None = seeds
    baselines: list[str] = field(
        default_factory=lambda: [
            "logmel_stats",
            "mfcc_stats",
            "random_init",
            "supervised",
            "openl3",
            "yamnet",
        ]
    )
    supervised: dict[str, Any] = field(default_factory=dict)  # overrides of SupervisedConfig fields
    max_clips: int | None = (
        None  # cap per evaluation set (stratified), for quick profiles; None = all
    )
    embed_batch_size: int = 32  # clips per encoder forward pass (memory only)
    embed_precision: str = "fp32"  # "fp32" or "bf16"
    embed_chunk: int = 256  # clips per resumable cache chunk
    num_threads: int = 1  # torch CPU threads while embedding (1: measured 5x faster than 2 on a busy
    #                       2-core machine, ~1.6x slower on an idle one; 0 = torch default)
    cache_dir: str = "cache/embeddings"  # relative to the profile's run_dir

    def __post_init__(self) -> None:
        if self.fraction_probe not in ("mlp", "linear"):
            raise ValueError(f"evaluate.fraction_probe must be 'mlp' or 'linear', got {self.fraction_probe!r}")
        if self.zero_shot_split not in (None, "test"):
            raise ValueError(f"evaluate.zero_shot_split must be null or 'test', got {self.zero_shot_split!r}")
        # a null entry removes one inherited from the profile this one extends
        self.other_checkpoints = {k: v for k, v in (self.other_checkpoints or {}).items() if v is not None}
        clash = {"wav2clip", "random_init", "supervised", *self.baselines} & set(self.other_checkpoints)
        if clash:
            raise ValueError(f"evaluate.other_checkpoints: {sorted(clash)} already name a model; choose other names")

    @property
    def encoders(self) -> list[str]:
        """The model names of the evaluated encoders: ``wav2clip`` then ``other_checkpoints``."""
        return ["wav2clip", *self.other_checkpoints]

    def probe_config(self) -> ProbeConfig:
        return section_config(ProbeConfig, self.probe, where="profile evaluate.probe")

    def supervised_config(self) -> SupervisedConfig:
        return section_config(
            SupervisedConfig, self.supervised, where="profile evaluate.supervised"
        )

    def cache_path(self, profile: Profile) -> Path:
        return profile.run_dir / self.cache_dir


def evaluate_config(profile: Profile) -> EvaluateConfig:
    """``EvaluateConfig`` of ``profile`` (unknown keys fail loudly, nested ones included)."""
    cfg = section_config(
        EvaluateConfig, profile.section("evaluate"), where=f"profile {profile.path} evaluate"
    )
    cfg.probe_config()  # validate the nested sections now, not in the middle of a run
    cfg.supervised_config()
    return cfg
