"""The ``captioning:`` section of a profile, as a dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...config import Profile, section_config
from .decoder import DecoderConfig
from .metrics import METRICS

__all__ = ["CaptioningConfig", "captioning_config"]


@dataclass
class CaptioningConfig:
    """What notebook 09 runs; every field is a key of ``captioning:`` in profiles/*.yaml."""

    dataset: str = "embedded"  # "embedded" (GM renders + Tux Paint, offline) or "clotho" (prepared Clotho v2.1)
    models: list[str] = field(default_factory=lambda: ["wav2clip", "random_init", "logmel_stats"])  # inputs
    #                          of the prefix captioner: the evaluated encoder and the baselines' features
    baselines: list[str] = field(default_factory=lambda: ["retrieval", "constant"])  # decoder-free baselines
    seeds: list[int] = field(default_factory=lambda: [0])  # one captioner per (model, seed)
    decoder_kind: str = "prefix"  # "prefix" (small Transformer from scratch) or "gpt2" (user machines)
    decoder: dict[str, Any] = field(default_factory=dict)  # overrides of DecoderConfig fields
    input_segments: int = 1  # 1: the clip embedding; k > 1: the embeddings of k equal consecutive parts of the
    #                          clip, concatenated in time order (a frame-level sequence as the prefix MLP's input)
    scenes: dict[str, Any] | None = None  # embedded set: also render GM phrases, chords and duets with these
    #                          SceneOptions (w2clib.data.embedded.scenes; {} = its defaults); None: single notes only
    references_per_clip: int = 4  # templated references per GM clip (embedded set; 1-5)
    valid_fraction: float = 0.1  # share of training clips used for model selection (embedded set)
    split_seed: int = 0  # salt of the hash that picks those validation clips
    metrics: list[str] = field(default_factory=lambda: list(METRICS))  # SPICE/SPIDEr skip themselves offline
    constant_candidates: int = 24  # most frequent training captions tried as the constant caption
    constant_clips: int = 200  # training clips the constant caption is scored on (seeded sample)
    n_examples: int = 8  # test clips in the examples table
    num_threads: int = 1  # torch CPU threads while training and decoding (0 = torch default); per worker
    workers: int = 1  # on a CPU: captioners trained at once, and caption metrics and attribute probes computed
    #                   at once, in this many worker processes (w2clib.processes); 1 = all in the notebook's process
    device: str = "auto"  # where captioners train and decode: "auto" (CUDA when available), "cpu", "cuda", ...
    captioner_dir: str = "captioner"  # under run_dir: the Wav2CLIP captioner of the first seed (for the CLI)

    def __post_init__(self) -> None:
        if self.dataset not in ("embedded", "clotho"):
            raise ValueError(f"captioning.dataset must be 'embedded' or 'clotho', got {self.dataset!r}")
        if self.decoder_kind not in ("prefix", "gpt2"):
            raise ValueError(f"captioning.decoder_kind must be 'prefix' or 'gpt2', got {self.decoder_kind!r}")
        bad = sorted(set(self.baselines) - {"retrieval", "constant"})
        if bad:
            raise ValueError(f"captioning.baselines: unknown {bad}; known: retrieval, constant")
        bad = sorted(set(self.metrics) - set(METRICS))
        if bad:
            raise ValueError(f"captioning.metrics: unknown {bad}; known: {list(METRICS)}")
        if self.scenes is not None:
            from ...data.embedded.scenes import SceneOptions

            if self.dataset != "embedded":
                raise ValueError("captioning.scenes adds rendered GM scenes to the embedded caption set; "
                                 f"remove it for dataset {self.dataset!r}")
            SceneOptions.from_options(self.scenes)  # unknown keys and bad values fail here, not mid-notebook
        if int(self.input_segments) < 1:
            raise ValueError(f"captioning.input_segments must be >= 1, got {self.input_segments}")
        if not self.seeds:
            raise ValueError("captioning.seeds must list at least one seed")
        if int(self.workers) < 1:
            raise ValueError(f"captioning.workers must be >= 1, got {self.workers}")
        self.decoder_config()

    def decoder_config(self) -> DecoderConfig:
        return section_config(DecoderConfig, self.decoder, where="profile captioning.decoder")


def captioning_config(profile: Profile) -> CaptioningConfig:
    """``CaptioningConfig`` of ``profile`` (unknown keys fail loudly)."""
    return section_config(CaptioningConfig, profile.section("captioning"),
                          where=f"profile {profile.path} captioning")
