"""Pre-training entry point: ``pretrain(...)`` from Python, ``python -m w2clib.train`` from a shell.

    python -m w2clib.train --profile smoke --out runs/smoke/pretrain [--resume]
    torchrun --nproc_per_node 4 -m w2clib.train --profile paper --out runs/paper/pretrain

The same command trains with DistributedDataParallel under ``torchrun``.  ``--set key=value``
overrides a field of the profile's ``pretrain:`` section (YAML syntax for the value), and ``--config``
reads a whole config from a JSON/YAML file instead of a profile.  The implementation lives in
:mod:`w2clib.training`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .training import PretrainConfig, load_pretrain_config, pretrain

__all__ = ["PretrainConfig", "load_pretrain_config", "main", "parse_overrides", "pretrain"]


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["max_steps=10", "lr=3e-4"]`` -> ``{"max_steps": 10, "lr": 0.0003}`` (values parsed as YAML)."""
    import yaml

    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects key=value, got {pair!r}")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m w2clib.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--profile", default=None, help="profile name or YAML path (default: mini)")
    source.add_argument("--config", default=None, help="a JSON/YAML file holding a pretrain config")
    parser.add_argument("--out", required=True, help="run folder (checkpoint, metrics, state)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a field")
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.set)
    if args.config:
        import yaml

        data = yaml.safe_load(Path(args.config).read_text()) or {}
        config = PretrainConfig.from_dict({**data, **overrides}, where=args.config)
        pretrain(config, args.out, resume=args.resume)
        return 0
    from .config import load_profile
    from .training.run import train_in_process

    profile = load_profile(args.profile or "mini")
    config = load_pretrain_config(profile, **overrides)
    train_in_process(profile, Path(args.out), config, resume=args.resume)  # + the profile's held-out hook
    return 0


if __name__ == "__main__":
    sys.exit(main())
