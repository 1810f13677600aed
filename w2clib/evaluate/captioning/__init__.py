"""Audio captioning on frozen embeddings: caption sets, a prefix captioner, baselines and metrics.

    from w2clib.evaluate.captioning import captioning_table, load_captioner
    out = captioning_table(load_context("mini"))       # notebook 09
    load_captioner("runs/mini/captioner").generate(x)  # x: (n, D) Wav2CLIP embeddings

Modules: ``vocab`` (word vocabulary), ``dataset`` (embedded / Clotho caption sets, caption CSVs),
``decoder`` (the ClipCap-style prefix captioner: training, greedy / beam decoding, save / load),
``attributes`` (instrument / register / dynamics / pattern named right, on templated clips),
``baselines`` (caption retrieval, best constant caption), ``metrics`` (pycocoevalcap wrapper),
``gpt2`` (the optional GPT-2 decoder's download check), ``config`` and ``run`` (notebook 09).
"""

from .attributes import attribute_accuracy, attribute_probes, attribute_table
from .config import CaptioningConfig, captioning_config
from .dataset import CaptionSet, clotho_caption_set, embedded_caption_set, read_caption_table
from .decoder import Captioner, DecoderConfig, load_captioner, train_captioner
from .metrics import METRICS, caption_metrics, score_runs
from .run import CaptioningOutput, captioning_table
from .vocab import Vocabulary, tokenize

__all__ = [
    "attribute_accuracy",
    "attribute_probes",
    "attribute_table",
    "CaptioningConfig",
    "captioning_config",
    "CaptionSet",
    "clotho_caption_set",
    "embedded_caption_set",
    "read_caption_table",
    "Captioner",
    "DecoderConfig",
    "load_captioner",
    "train_captioner",
    "METRICS",
    "caption_metrics",
    "score_runs",
    "CaptioningOutput",
    "captioning_table",
    "Vocabulary",
    "tokenize",
]
