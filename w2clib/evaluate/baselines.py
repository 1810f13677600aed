"""Baselines by name: what Wav2CLIP is compared against.

Offline (run everywhere, CI included):

* ``logmel_stats`` -- mean and std over time of a 64-band log-mel spectrogram (25 ms / 10 ms), 128-d;
* ``mfcc_stats``   -- mean and std over time of 20 MFCCs and their deltas, 80-d;
* ``random_init``  -- the evaluated encoder's architecture with random weights (seeded);
* ``supervised``   -- the same backbone trained from scratch on the labels
  (:mod:`w2clib.evaluate.supervised`; per-split scores come from ``run_supervised``).

Pretrained extras (``pip install 'w2clib[baselines]'``; their weights download on first use, so they
run on a user's machine and raise :class:`BaselineUnavailable` with a clear message offline):
``openl3`` (torchopenl3, env/mel256/512), ``panns`` (panns_inference Cnn14, 2048-d),
``clap`` (laion_clap, 512-d), ``yamnet`` (torch_vggish_yamnet PyTorch port, 1024-d).
Every baseline is an :class:`w2clib.evaluate.embeddings.Embedder`: clip-level features from audio files.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..audio import SAMPLE_RATE, load_audio
from .embeddings import Embedder, model_embedder

__all__ = [
    "BaselineUnavailable",
    "BaselineSpec",
    "BASELINES",
    "available_baselines",
    "get_baseline",
    "logmel_stats",
    "mfcc_stats",
]


class BaselineUnavailable(RuntimeError):
    """A baseline that cannot run here (package or weights missing); the message says how to get it."""


@dataclass(frozen=True)
class BaselineSpec:
    """A registered baseline."""

    name: str
    description: str
    kind: str  # "features" | "encoder" | "trained" | "pretrained"
    modules: tuple[str, ...]  # Python modules it needs
    install: str  # how to get them
    factory: Callable[..., Embedder]


# ------------------------------------------------------------------------------------------------
# Hand-crafted features

_STFT = {"n_fft": 1024, "win_length": 400, "hop_length": 160}  # 25 ms windows, 10 ms hop at 16 kHz


def _as_batch(wave: np.ndarray | torch.Tensor) -> torch.Tensor:
    w = torch.as_tensor(wave, dtype=torch.float32)
    w = w[None] if w.ndim == 1 else w
    short = _STFT["n_fft"] - w.shape[-1]
    return torch.nn.functional.pad(w, (0, short)) if short > 0 else w


def logmel_stats(wave: np.ndarray | torch.Tensor, n_mels: int = 64) -> np.ndarray:
    """(n, samples) or (samples,) at 16 kHz -> (n, 2 * n_mels) float32: mean and std over time of
    ``log(mel power + 1e-6)``."""
    import torchaudio

    mel = torchaudio.transforms.MelSpectrogram(sample_rate=SAMPLE_RATE, n_mels=n_mels, **_STFT)
    logmel = torch.log(mel(_as_batch(wave)) + 1e-6)  # (n, n_mels, frames)
    return torch.cat([logmel.mean(-1), logmel.std(-1, unbiased=False)], dim=1).numpy()


def mfcc_stats(wave: np.ndarray | torch.Tensor, n_mfcc: int = 20) -> np.ndarray:
    """(n, samples) or (samples,) at 16 kHz -> (n, 4 * n_mfcc) float32: mean and std over time of
    MFCCs and their deltas."""
    import torchaudio

    mfcc = torchaudio.transforms.MFCC(
        sample_rate=SAMPLE_RATE, n_mfcc=n_mfcc, melkwargs=dict(n_mels=64, **_STFT)
    )
    coeffs = mfcc(_as_batch(wave))  # (n, n_mfcc, frames)
    feats = torch.cat([coeffs, torchaudio.functional.compute_deltas(coeffs)], dim=1)
    return torch.cat([feats.mean(-1), feats.std(-1, unbiased=False)], dim=1).numpy()


def _feature_embedder(
    name: str, fn: Callable[[np.ndarray], np.ndarray], settings: dict[str, Any]
) -> Embedder:
    def embed(paths: Sequence[str]) -> np.ndarray:
        return np.concatenate([fn(load_audio(p)) for p in paths]).astype(np.float32)

    return Embedder(name, f"{name}-v1", embed, dict(settings, sample_rate=SAMPLE_RATE, **_STFT))


def _logmel_factory(n_mels: int = 64) -> Embedder:
    return _feature_embedder("logmel_stats", lambda w: logmel_stats(w, n_mels), {"n_mels": n_mels})


def _mfcc_factory(n_mfcc: int = 20) -> Embedder:
    return _feature_embedder("mfcc_stats", lambda w: mfcc_stats(w, n_mfcc), {"n_mfcc": n_mfcc})


# ------------------------------------------------------------------------------------------------
# The same encoder with random weights; the supervised encoder


def _random_init_factory(
    like: torch.nn.Module | None = None,
    config: Any = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    **settings: Any,
) -> Embedder:
    """``like``: the evaluated model (its architecture is copied) or ``config``: a ModelConfig.

    ``device``: where the random model runs (default: ``like``'s device, else the CPU); the weights
    are drawn on the CPU, so they do not depend on it.
    """
    from ..model import ModelConfig, build_model

    if like is not None:
        config = like.config
        if device is None:
            device = next(like.parameters()).device
    model = build_model(
        ModelConfig.from_dict(config.to_dict()) if config is not None else ModelConfig(), seed=seed
    )
    return model_embedder(model.to(device or "cpu").eval(), name="random_init", **settings)


def _supervised_factory(
    waves: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    config: Any = None,
    seed: int = 0,
) -> Embedder:
    """Trains on ``waves``/``labels`` (the *training* side only) and returns its trunk features."""
    from .supervised import supervised_embedder, train_supervised

    if waves is None or labels is None:
        raise ValueError(
            "the 'supervised' baseline is trained on labelled clips: pass waves=(n, samples) and labels=(n,) "
            "of the training side, or use w2clib.evaluate.supervised.run_supervised for per-fold scores"
        )
    model, _ = train_supervised(waves, labels, config, seed=seed)
    return supervised_embedder(model)


# ------------------------------------------------------------------------------------------------
# Pretrained extras (weights from the internet on first use)


def _device(device: str | None) -> str:
    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def _load_or_explain(name: str, loader: Callable[[], Any]) -> Any:
    try:
        return loader()
    except Exception as err:  # network errors, missing files, incompatible versions
        raise BaselineUnavailable(
            f"baseline {name!r}: could not load its pretrained weights ({type(err).__name__}: {err}). They "
            "download on first use: run once on a machine with internet access, or skip this baseline"
        ) from err


def _per_file(
    rate: int, fn: Callable[[np.ndarray], np.ndarray]
) -> Callable[[Sequence[str]], np.ndarray]:
    def embed(paths: Sequence[str]) -> np.ndarray:
        return np.stack(
            [np.asarray(fn(load_audio(p, rate)), dtype=np.float32).reshape(-1) for p in paths]
        )

    return embed


def _openl3_factory(
    content_type: str = "env",
    input_repr: str = "mel256",
    embedding_size: int = 512,
    hop_size: float = 0.1,
    device: str | None = None,
) -> Embedder:
    import torchopenl3

    model = _load_or_explain(
        "openl3",
        lambda: torchopenl3.models.load_audio_embedding_model(
            input_repr=input_repr, content_type=content_type, embedding_size=embedding_size
        ),
    )
    dev = _device(device)

    def one(wave: np.ndarray) -> np.ndarray:
        emb, _ = torchopenl3.get_audio_embedding(
            wave, 48000, model=model.to(dev), hop_size=hop_size, center=True, verbose=False
        )
        return (
            np.asarray(emb.cpu() if torch.is_tensor(emb) else emb)
            .reshape(-1, embedding_size)
            .mean(axis=0)
        )

    settings = {
        "content_type": content_type,
        "input_repr": input_repr,
        "embedding_size": embedding_size,
        "hop_size": hop_size,
    }
    return Embedder(
        "openl3", f"torchopenl3-{_version('torchopenl3')}", _per_file(48000, one), settings
    )


def _panns_factory(device: str | None = None) -> Embedder:
    from panns_inference import AudioTagging

    tagger = _load_or_explain(
        "panns", lambda: AudioTagging(checkpoint_path=None, device=_device(device))
    )

    def one(wave: np.ndarray) -> np.ndarray:
        _, embedding = tagger.inference(wave[None, :])
        return embedding[0]

    return Embedder(
        "panns",
        f"panns_inference-{_version('panns_inference')}-Cnn14",
        _per_file(32000, one),
        {"model": "Cnn14"},
    )


def _clap_factory(enable_fusion: bool = False, device: str | None = None) -> Embedder:
    import laion_clap

    def load() -> Any:
        model = laion_clap.CLAP_Module(enable_fusion=enable_fusion, device=_device(device))
        model.load_ckpt()
        return model

    model = _load_or_explain("clap", load)

    def one(wave: np.ndarray) -> np.ndarray:
        return model.get_audio_embedding_from_data(x=wave[None, :], use_tensor=False)[0]

    return Embedder(
        "clap",
        f"laion_clap-{_version('laion_clap')}",
        _per_file(48000, one),
        {"enable_fusion": enable_fusion},
    )


def _yamnet_factory(device: str | None = None) -> Embedder:
    from torch_vggish_yamnet import yamnet
    from torch_vggish_yamnet.input_proc import WaveformToInput

    model = _load_or_explain("yamnet", lambda: yamnet.yamnet(pretrained=True)).eval()
    converter = WaveformToInput()

    def one(wave: np.ndarray) -> np.ndarray:
        wave = np.pad(wave, (0, max(0, 16000 - len(wave))))  # at least one 0.96 s patch
        with torch.inference_mode():
            patches = converter(torch.from_numpy(wave)[None].float(), SAMPLE_RATE)
            emb, _ = model(patches)
        return emb.reshape(len(patches), -1).mean(0).numpy()

    return Embedder(
        "yamnet",
        f"torch_vggish_yamnet-{_version('torch_vggish_yamnet')}",
        _per_file(SAMPLE_RATE, one),
        {},
    )


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    for dist in (module, module.replace("_", "-")):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return "unknown"


_EXTRAS = "pip install 'w2clib[baselines]'"
BASELINES: dict[str, BaselineSpec] = {
    s.name: s
    for s in [
        BaselineSpec(
            "logmel_stats",
            "log-mel (64 bands) mean+std over time",
            "features",
            ("torchaudio",),
            "core",
            _logmel_factory,
        ),
        BaselineSpec(
            "mfcc_stats",
            "20 MFCC + deltas, mean+std over time",
            "features",
            ("torchaudio",),
            "core",
            _mfcc_factory,
        ),
        BaselineSpec(
            "random_init",
            "the evaluated encoder with random weights",
            "encoder",
            ("torch",),
            "core",
            _random_init_factory,
        ),
        BaselineSpec(
            "supervised",
            "the backbone trained from scratch on the labels",
            "trained",
            ("torch",),
            "core",
            _supervised_factory,
        ),
        BaselineSpec(
            "openl3",
            "OpenL3 env/mel256/512 (torchopenl3)",
            "pretrained",
            ("torchopenl3",),
            _EXTRAS,
            _openl3_factory,
        ),
        BaselineSpec(
            "panns",
            "PANNs Cnn14 AudioSet tagger (panns_inference)",
            "pretrained",
            ("panns_inference",),
            _EXTRAS,
            _panns_factory,
        ),
        BaselineSpec(
            "clap",
            "LAION-CLAP audio tower (laion_clap)",
            "pretrained",
            ("laion_clap",),
            _EXTRAS,
            _clap_factory,
        ),
        BaselineSpec(
            "yamnet",
            "YAMNet, PyTorch port (torch_vggish_yamnet)",
            "pretrained",
            ("torch_vggish_yamnet",),
            "pip install torch-vggish-yamnet",
            _yamnet_factory,
        ),
    ]
}


def _missing_modules(spec: BaselineSpec) -> list[str]:
    return [m for m in spec.modules if importlib.util.find_spec(m) is None]


def available_baselines() -> dict[str, str | None]:
    """``{name: None}`` for baselines whose packages are importable, else ``{name: reason}``.

    Weights of pretrained baselines are checked only when the baseline is built (:func:`get_baseline`).
    """
    out: dict[str, str | None] = {}
    for name, spec in BASELINES.items():
        missing = _missing_modules(spec)
        out[name] = f"missing package(s) {missing}: {spec.install}" if missing else None
    return out


def get_baseline(name: str, **options: Any) -> Embedder:
    """Build baseline ``name`` as an :class:`Embedder` (options go to its factory).

    Raises:
        ValueError: unknown name.
        BaselineUnavailable: its package or pretrained weights are not available here; the message
            says how to get them.  Notebooks catch it and skip the baseline.
    """
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    spec = BASELINES[name]
    missing = _missing_modules(spec)
    if missing:
        raise BaselineUnavailable(
            f"baseline {name!r} needs {missing}, which is not installed: {spec.install}"
        )
    try:
        return spec.factory(**options)
    except ImportError as err:  # a dependency of the package itself is broken or missing
        raise BaselineUnavailable(
            f"baseline {name!r}: importing its package failed ({err}); {spec.install}"
        ) from err
