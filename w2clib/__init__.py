"""w2clib -- the reference companion to Wav2CLIP (Wu et al., ICASSP 2022).

Public API::

    load_model(checkpoint=None, *, pretrained=True, device=None)
    embed_audio(audio, model, *, sample_rate=16000, norm="clip", precision="fp32", batch_size=32,
                frame_length=None, hop_length=None)
    embed_files(paths, model, ...)
    get_model(...)            # call-compatible with wav2clip.get_model
    load_teacher("ViT-B-32", pretrained="openai") | load_teacher("packaged")
"""

__version__ = "0.2.0"

from .api import embed_audio, embed_files, get_model, load_model  # noqa: E402
from .teachers import load_teacher  # noqa: E402

__all__ = ["__version__", "load_model", "embed_audio", "embed_files", "get_model", "load_teacher"]
