"""Evaluation of frozen audio embeddings: probes, zero-shot, retrieval, data fraction, confusion.

Modules, by the path results take::

    manifest ─► embeddings.extract_embeddings (cached by weights + manifest + settings)
             ─► protocols.make_splits ─► probes.run_probe (MLP / linear)      ─► results.result_row
             ─► zeroshot.zero_shot_evaluate (teacher's text tower)           ─►      "
             ─► retrieval.paired_retrieval / caption_retrieval               ─►      "
             ─► data_fraction.data_fraction_curve ─► plots.plot_data_fraction
             ─► confusion.confusion_matrix        ─► plots.plot_confusions
    supervised: the from-scratch baseline (run_supervised, supervised_fit_score)
    embedded_heldout / real_heldout: held-out sounds of the embedded default (TimGM, Tux Paint) and
        real recordings of packages never trained on, scored by source (python -m ...real_heldout)

What the evaluation notebooks (04-09, 11) call: ``suite`` (load_context: the evaluated encoder, failing
early; evaluation_sets; features cached per model and pool of clips; the supervised baseline cached
per training rows and seed), ``steps`` (one call per notebook: classification_table,
zero_shot_table, retrieval_table, data_fraction_table, confusion_matrices) looping over sets and
models, and ``scoring`` (one model's embeddings of one set: results and summary rows).
``results`` holds summary.csv and the paper's values; ``plots`` every figure; ``baselines`` the
models Wav2CLIP is compared with.
"""

from .embeddings import Embedder, Embeddings, extract_embeddings, model_embedder
from .probes import ProbeConfig, ProbeResult, run_probe
from .protocols import PROTOCOLS, Split, class_order, encode_labels, make_splits

__all__ = [
    "Embedder",
    "Embeddings",
    "extract_embeddings",
    "model_embedder",
    "ProbeConfig",
    "ProbeResult",
    "run_probe",
    "PROTOCOLS",
    "Split",
    "class_order",
    "encode_labels",
    "make_splits",
]
