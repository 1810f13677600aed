"""Data builders for real data: a manifest + teacher targets, or a shard set.

``pretrain.data: manifest`` with ``data_options``:
    ``manifest``: CSV/Parquet path, or ``dataset``: a name for :func:`w2clib.data.load_manifest`;
    ``split`` (default ``train``): the manifest rows to use (validation is cut from them);
    ``targets``: ``.npz`` teacher targets (``clip_ids``, ``embeddings``; see
    :func:`~w2clib.training.sources.load_target_table`); ``group_column`` (optional).

``pretrain.data: shards`` with ``data_options``: ``dir`` (a shard set, :mod:`w2clib.shards`),
``verify`` (re-hash the shard files first, default false).

Both cut validation with the paper's rule: the last ``n_valid`` sorted train clip ids.
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


def build_shards(config: PretrainConfig, options: dict[str, Any]) -> PairData:
    _check_options(options, {"dir", "verify", "name"}, "shards")
    if "dir" not in options:
        raise ValueError(
            "pretrain.data_options.dir: the shard set folder is required; write one with "
            "`python -m w2clib.shards write --manifest ... --targets ... --out DIR`"
        )
    from ..shards import ShardSource

    source = ShardSource(_path(options["dir"]), name=options.get("name"), verify=bool(options.get("verify", False)))
    return pair_data_from_source(source, config)
