"""Distillation pre-training: config, pair sources, batching, the training loop.

Public API::

    pretrain(profile_or_config, out_dir, resume=False, *, data=None, evaluate=None, on_step=None)
    PretrainConfig, load_pretrain_config(profile)
    PairData, BatchPart, register_data_builder(name, builder)
    PairSource, ArraySource, ManifestSource   (w2clib.training.shards.ShardSource for shard sets)

See :mod:`w2clib.training.loop` for the run folder layout and :mod:`w2clib.training.losses` for the losses.
"""

from .config import PretrainConfig, load_pretrain_config
from .loader import BatchPart, PairData, register_data_builder
from .loop import pretrain
from .sources import PROBLEMS, ArraySource, ItemProblem, ManifestSource, PairSource

__all__ = [
    "PROBLEMS",
    "ArraySource",
    "BatchPart",
    "ItemProblem",
    "ManifestSource",
    "PairData",
    "PairSource",
    "PretrainConfig",
    "load_pretrain_config",
    "pretrain",
    "register_data_builder",
]
