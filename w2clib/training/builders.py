"""Data builders for real data: a manifest + teacher targets, or a shard set.

``pretrain.data: manifest`` with ``data_options``:
    ``manifest``: CSV/Parquet path, or ``dataset``: a name for :func:`w2clib.data.load_manifest`;
    ``split`` (default ``train``): the manifest rows to use (validation is cut from them);
    ``targets``: ``.npz`` teacher targets (``clip_ids``, ``embeddings``; see
    :func:`~w2clib.training.sources.load_target_table`); ``group_column`` (optional).

``pretrain.data: shards`` with ``data_options``: either ``dir`` (a shard set, :mod:`w2clib.training.shards`;
validation cut with the paper's rule, the last ``n_valid`` sorted train clip ids) or ``dataset`` (+
``split``, ``valid_split``): the shard sets the training-input stage wrote from that dataset's manifest
(:mod:`w2clib.training.inputs`), whose validation set is the dataset's own valid split -- carved once,
by the dataset, so ``pretrain.n_valid`` must be ``null``.  ``verify`` re-hashes the shard files first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..config import project_root
from .config import PretrainConfig
from .loader import BatchPart, PairData
from .sources import ManifestSource, PairSource, load_target_table, split_last_sorted

__all__ = ["build_manifest", "build_shards", "pair_data_from_source"]


def _path(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else project_root() / path


def _check_options(options: dict[str, Any], allowed: set[str], builder: str) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(f"pretrain.data_options: unknown keys {unknown} for data '{builder}'; known: {sorted(allowed)}")


def pair_data_from_source(source: PairSource, config: PretrainConfig) -> PairData:
    """One source: train on all but the last ``n_valid`` sorted ids, validate on those."""
    if config.n_valid is None:
        raise ValueError("pretrain.n_valid is null (use the data's own validation set), but this data has none: "
                         "set n_valid to the number of clips to keep aside (the paper: 500)")
    train, valid = split_last_sorted(source, config.n_valid)
    valid_parts = [] if valid is None else [BatchPart(valid, min(config.batch_size, len(valid)))]
    return PairData([BatchPart(train, config.batch_size)], valid_parts, teacher=source.teacher)


def build_manifest(config: PretrainConfig, options: dict[str, Any]) -> PairData:
    _check_options(options, {"manifest", "dataset", "split", "targets", "group_column", "name"}, "manifest")
    if ("manifest" in options) == ("dataset" in options):
        raise ValueError("pretrain.data_options needs exactly one of 'manifest' (a CSV/Parquet path) or 'dataset'")
    if "targets" not in options:
        raise ValueError("pretrain.data_options.targets: the .npz of teacher targets is required")
    if "dataset" in options:
        from ..data import load_manifest

        manifest = load_manifest(options["dataset"])
    else:
        path = _path(options["manifest"])
        if not path.exists():
            raise FileNotFoundError(f"pretrain.data_options.manifest: {path} does not exist")
        manifest = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    split = options.get("split", "train")
    if split is not None and "split" in manifest.columns:
        manifest = manifest[manifest["split"] == split]
    targets, ids, teacher = load_target_table(_path(options["targets"]))
    source = ManifestSource(manifest, targets, ids, name=options.get("name", options.get("dataset", "manifest")),
                            group_column=options.get("group_column"), teacher=teacher)
    return pair_data_from_source(source, config)


def build_shards(config: PretrainConfig, options: dict[str, Any], profile: Any = None) -> PairData:
    if "dataset" in options:
        return _shards_of_dataset(config, options, profile)
    _check_options(options, {"dir", "verify", "name"}, "shards")
    if "dir" not in options:
        raise ValueError(
            "pretrain.data_options.dir: the shard set folder is required; write one with "
            "`python -m w2clib.training.shards write --manifest ... --targets ... --out DIR`"
        )
    from .shards import ShardSource

    source = ShardSource(_path(options["dir"]), name=options.get("name"), verify=bool(options.get("verify", False)))
    return pair_data_from_source(source, config)


def _shards_of_dataset(config: PretrainConfig, options: dict[str, Any], profile: Any) -> PairData:
    from .shards import INDEX, ShardSource
    from .inputs import ShardInputOptions, input_dirs

    opts = ShardInputOptions(options)
    if profile is None:
        raise ValueError("pretrain.data_options.dataset: the shard sets live in the profile's run folder; call "
                         "pretrain(profile, ...) or give data_options.dir instead")
    if config.n_valid is not None:
        raise ValueError(f"pretrain.n_valid={config.n_valid}, but validation is the {opts.dataset} manifest's "
                         f"{opts.valid_split!r} split (carved once, when the dataset is prepared): set n_valid: null")
    train_dir, valid_dir = input_dirs(profile)
    for folder in (train_dir, valid_dir):
        if folder is not None and not (folder / INDEX).is_file():
            raise FileNotFoundError(f"{folder} is not written yet: run the training-input stage (notebook 03, or "
                                    f"`w2clib shards --profile {profile.path}`)")
    verify = bool(options.get("verify", False))
    train = ShardSource(train_dir, name=options.get("name", opts.dataset), verify=verify)
    parts = [BatchPart(train, config.batch_size)]
    valid_parts = []
    if valid_dir is not None:
        valid = ShardSource(valid_dir, name=f"{options.get('name', opts.dataset)}-{opts.valid_split}", verify=verify)
        valid_parts = [BatchPart(valid, min(config.batch_size, len(valid)))]
    return PairData(parts, valid_parts, teacher=train.teacher)
