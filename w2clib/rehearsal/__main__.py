"""``python -m w2clib.rehearsal build DIR`` / ``serve DIR --port P``: build and serve the stand-in mirror."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from pathlib import Path

from .._io import atomic_write_text


def _build(args: argparse.Namespace) -> int:
    from .build import build_mirror

    results = build_mirror(args.dir, clip=not args.no_clip, seed=args.seed)
    for name, expected in results.items():
        print(f"{name}: {len(expected.clip_ids)} clips ({len(expected.missing)} missing, "
              f"{len(expected.corrupt)} corrupt, {len(expected.too_short)} too short)")
    print(f"mirror written to {Path(args.dir).resolve()}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ..mirrors import mirror_environment
    from .build import CHECKSUMS_NAME
    from .server import serve_directory

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with serve_directory(args.dir, port=args.port, cut_after=args.cut_after) as server:
        port = server.server_address[1]
        if args.port_file:
            atomic_write_text(args.port_file, f"{port}\n")
        if args.env_file:
            checksums = Path(args.dir) / CHECKSUMS_NAME
            env = mirror_environment(server.url, checksums if checksums.is_file() else None)
            atomic_write_text(args.env_file, "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()))
        print(server.url, flush=True)
        stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m w2clib.rehearsal", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="write the stand-in mirror into DIR")
    build.add_argument("dir", type=Path)
    build.add_argument("--no-clip", action="store_true", help="skip the random CLIP ViT-B-32 weights (~300 MB)")
    build.add_argument("--seed", type=int, default=0)
    serve = sub.add_parser("serve", help="serve DIR on 127.0.0.1 until interrupted; prints the base URL")
    serve.add_argument("dir", type=Path)
    serve.add_argument("--port", type=int, default=0, help="TCP port (0: a free one, see --port-file)")
    serve.add_argument("--port-file", type=Path, help="write the port number to this file once listening")
    serve.add_argument("--env-file", type=Path,
                       help="write `export W2C_MIRROR=… W2C_MIRROR_CHECKSUMS=…` lines to this file (to source)")
    serve.add_argument("--cut-after", type=int, default=None,
                       help="drop the first response after this many bytes (exercises resuming)")
    args = parser.parse_args(argv)
    return _build(args) if args.command == "build" else _serve(args)


if __name__ == "__main__":
    sys.exit(main())
