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
    cache_dir: str = "cache/embeddings"  # relative to the profile's run_dir

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
