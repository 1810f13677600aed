"""The ``generation:`` section of a profile, as a dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from ..config import Profile, section_config
from .cutouts import CutoutConfig

__all__ = ["GenerationConfig", "generation_config"]


@dataclass
class GenerationConfig:
    """What notebook 10 draws and how; every field is a key of ``generation:`` in profiles/*.yaml."""

    dataset: str = "embedded"  # "embedded" (held-out GM renders + Tux Paint) or "urbansound8k" (prepared)
    classes: list[str] = field(default_factory=lambda: ["violin", "grand piano"])  # Figure 4's columns: labels
    #                  of held-out sounds (embedded: ImageNet class names; urbansound8k: its class names)
    accept: dict[str, list[str]] = field(default_factory=dict)  # label -> ImageNet classes the judge may name
    #                  (default: the label itself, which must then be an ImageNet class name)
    mixtures: list[list[str]] = field(default_factory=list)  # pairs of labels (from classes) summed at equal
    #                  loudness (Figure 5)
    music_dataset: str | None = None  # a prepared MUSDB18 edition ("musdb18_7s" / "musdb18"): Figure 5's music
    #                  tracks, each stem drawn alone and the track's own mix (w2clib.data.musdb18); null = none
    music_tracks: int | list[str] = 2  # track names, or how many tracks of music_split (first by name)
    music_split: str = "test"  # "train" or "test" (the pre-training never heard either)
    music_stems: list[str] = field(default_factory=lambda: ["vocals", "drums", "bass", "other"])  # drawn alone
    music_start_s: float = 0.0  # window of every stem and the mix, seconds into the file
    music_seconds: float | None = None  # window length; null = to the end (the previews are 7 s)
    unrelated: int = 1  # pictures drawn for random directions: the judge's empirical chance level
    text_prompt: str = "a photo of a {}."  # Figure 4's top row: the class name through the text tower
    generator: str = "fourier"  # "fourier" (offline image parameterisation) or "vqgan" (the paper's decoder)
    vqgan_weights: str | None = None  # a local VQGAN file; null = the release, downloaded once
    size: int = 64  # picture side, px (multiple of 16 for vqgan)
    steps: int = 4  # Adam steps per picture (the authors: 500)
    cutouts: int = 2  # augmented views per step (the authors: 32)
    cutout_options: dict[str, Any] = field(default_factory=dict)  # other CutoutConfig fields (e.g. degrees,
    #                  min_fraction); empty = the authors' augmentation (w2clib.generate.cutouts)
    cut_size: int | None = 64  # side of the views the perceptor sees; null = its input size (224)
    lr: float | None = None  # Adam learning rate; null = 0.05 (fourier) / 0.1 (vqgan)
    seed: int = 0  # seeds every picture (and the unrelated directions)
    save_every: int = 50  # steps between saved latents (a killed run resumes there)
    random_seed: int = 0  # seed of the random-weight encoder (the "random weights" condition)
    rank_in_teacher: bool = True  # also rank each judged class among the teacher's 1000 ImageNet class
    #                  prototypes by cosine to the target: where the target points before any drawing
    judges: list[str] = field(default_factory=lambda: ["efficientnet_lite2"])  # + open_clip models (zero-shot)
    judge_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # judge name -> load_teacher kwargs
    num_threads: int = 2  # torch CPU threads while drawing (0 = torch default), per worker
    workers: int = 1  # pictures drawn at once in worker processes (CPU perceptor only; 1 = in the notebook's process)
    out_dir: str = "generation"  # under run_dir: pictures, latents, the plan

    def __post_init__(self) -> None:
        if self.dataset not in ("embedded", "urbansound8k"):
            raise ValueError(f"generation.dataset must be 'embedded' or 'urbansound8k', got {self.dataset!r}")
        if self.generator not in ("fourier", "vqgan"):
            raise ValueError(f"generation.generator must be 'fourier' or 'vqgan', got {self.generator!r}")
        if not self.classes:
            raise ValueError("generation.classes must list at least one label")
        for pair in self.mixtures:
            if len(pair) != 2 or not set(pair) <= set(self.classes):
                raise ValueError(f"generation.mixtures: each entry is two labels from generation.classes, got {pair!r}")
        self._check_music()
        if self.steps < 0 or self.cutouts < 1 or self.size < 16 or self.unrelated < 0 or self.workers < 1:
            raise ValueError("generation: steps >= 0, cutouts >= 1, size >= 16, unrelated >= 0 and workers >= 1 "
                             "are required")
        if self.generator == "vqgan" and self.size % 16:
            raise ValueError(f"generation.size must be a multiple of 16 for vqgan, got {self.size}")
        self.cutout_config()  # unknown or invalid cutout options fail here, before any drawing
        if "{}" not in self.text_prompt:
            raise ValueError(f"generation.text_prompt must contain '{{}}', got {self.text_prompt!r}")

    def _check_music(self) -> None:
        from ..data.musdb18 import STEMS

        if self.music_dataset not in (None, "musdb18_7s", "musdb18"):
            raise ValueError(f"generation.music_dataset must be 'musdb18_7s', 'musdb18' or null, got {self.music_dataset!r}")
        if isinstance(self.music_tracks, bool) or not (
                (isinstance(self.music_tracks, int) and self.music_tracks >= 1)
                or (isinstance(self.music_tracks, list) and self.music_tracks
                    and all(isinstance(t, str) and t for t in self.music_tracks))):
            raise ValueError("generation.music_tracks must be a number of tracks >= 1 or a list of track names, got "
                             f"{self.music_tracks!r}")
        if self.music_split not in ("train", "test"):
            raise ValueError(f"generation.music_split must be 'train' or 'test', got {self.music_split!r}")
        unknown = sorted(set(self.music_stems) - set(STEMS[1:]))
        if unknown or not self.music_stems:
            raise ValueError(f"generation.music_stems: choose one or more of {list(STEMS[1:])}, got {self.music_stems!r}")
        if self.music_start_s < 0 or (self.music_seconds is not None and self.music_seconds <= 0):
            raise ValueError("generation.music_start_s must be >= 0 and music_seconds > 0 (or null)")

    def cutout_config(self) -> CutoutConfig:
        """The views each step scores: ``cutouts`` of them, made as ``cutout_options`` say."""
        known = {f.name for f in fields(CutoutConfig)} - {"n"}
        unknown = sorted(set(self.cutout_options) - known)
        if unknown:
            raise ValueError(f"generation.cutout_options: unknown {unknown}; known: {sorted(known)}")
        options = dict(self.cutout_options)
        if "erase_area" in options:
            options["erase_area"] = tuple(options["erase_area"])
        return CutoutConfig(n=self.cutouts, **options)


def generation_config(profile: Profile) -> GenerationConfig:
    """``GenerationConfig`` of ``profile`` (unknown keys fail loudly)."""
    return section_config(GenerationConfig, profile.section("generation"), where=f"profile {profile.path} generation")
