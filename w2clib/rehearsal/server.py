"""A local file server for stand-in downloads: 127.0.0.1 only, HTTP ``Range``, one optional dropped transfer.

    with serve_directory(folder) as server:        # a free port; server.url = "http://127.0.0.1:<port>"
        server.cut_after = 100_000                 # the next response stops after 100 000 bytes, once
        ...
    # stopped (and its port closed) when the block ends

``server.requests`` lists ``(path, Range header or None)`` of every GET, in order.
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["serve_directory", "unused_port_url", "LOCALHOST"]

LOCALHOST = "127.0.0.1"
_CHUNK = 1 << 16


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """GET with ``Range: bytes=N-`` / ``bytes=N-M`` (206) unless ``server.honour_ranges`` is off."""

    def log_message(self, *args) -> None:  # keep test and pipeline output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))  # type: ignore[attr-defined]
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        size = path.stat().st_size
        start, end = 0, size - 1
        header = self.headers.get("Range")
        if header and server.honour_ranges and header.startswith("bytes="):  # type: ignore[attr-defined]
            first, _, last = header[6:].split(",")[0].partition("-")
            try:
                start = int(first)
                end = min(int(last), size - 1) if last.strip() else size - 1
            except ValueError:
                self.send_error(400, "bad Range header")
                return
            if start >= size or start > end:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        length = end - start + 1
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes" if server.honour_ranges else "none")  # type: ignore[attr-defined]
        self.end_headers()
        limit = server.cut_after  # type: ignore[attr-defined]
        if limit is not None:
            server.cut_after = None  # type: ignore[attr-defined]  (one dropped transfer, then normal service)
        with open(path, "rb") as f:
            f.seek(start)
            if limit is None:
                _copy(f, self.wfile, length)
                return
            _copy(f, self.wfile, min(limit, length))
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)  # the client sees the transfer break mid-file
        self.close_connection = True


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up early (yt-dlp probing a URL, a dropped test transfer) is normal."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _copy(src, dst, n: int) -> None:
    while n > 0:
        block = src.read(min(_CHUNK, n))
        if not block:
            break
        dst.write(block)
        n -= len(block)


@contextlib.contextmanager
def serve_directory(folder: str | Path, *, port: int = 0, honour_ranges: bool = True,
                    cut_after: int | None = None) -> Iterator[http.server.ThreadingHTTPServer]:
    """Serve ``folder`` on 127.0.0.1 from a background thread while the block runs.

    Args:
        folder: the files to serve (URL path = path under ``folder``).
        port: the TCP port; 0 picks a free one (read it from ``server.url``).
        honour_ranges: answer ``Range`` requests with 206 (off: always the whole file, 200).
        cut_after: drop the first response after this many body bytes (a broken transfer, to
            exercise resuming); later responses are whole.  Settable later as ``server.cut_after``.

    Yields:
        the server, with ``url`` (base URL, no trailing slash), ``requests`` and ``cut_after``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot serve {folder}: not a folder (build it with `python -m w2clib.rehearsal "
                                "build DIR` first)")

    def handler(*args, **kwargs):
        return _RangeHandler(*args, directory=str(folder), **kwargs)

    server = _Server((LOCALHOST, port), handler)
    server.requests, server.honour_ranges, server.cut_after = [], honour_ranges, cut_after  # type: ignore[attr-defined]
    server.url = f"http://{LOCALHOST}:{server.server_address[1]}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, name=f"w2clib-serve-{folder.name}", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def unused_port_url() -> str:
    """A URL on a local port nobody listens on (a download from it fails like an offline machine)."""
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        port = s.getsockname()[1]
    return f"http://{LOCALHOST}:{port}"


