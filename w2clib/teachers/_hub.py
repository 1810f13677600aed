"""Network helpers for teachers: detect a missing internet connection quickly, force hub-offline mode.

Without a connection the Hugging Face hub client retries for about a minute before it gives up;
checking DNS first and switching the client to offline mode turns that into an immediate, clear
error (and still finds weights that are already in the local hub cache).  The hub probed is the one
the client uses: ``$HF_ENDPOINT`` (a hub mirror) when set, else huggingface.co.
"""

from __future__ import annotations

import contextlib
import os
import socket
import urllib.parse
from collections.abc import Iterator

__all__ = ["hub_endpoint", "hub_offline", "hub_reachable"]


def hub_endpoint() -> tuple[str, int]:
    """(host, port) of the hub the client talks to: ``$HF_ENDPOINT`` (a mirror) or huggingface.co:443."""
    endpoint = os.environ.get("HF_ENDPOINT", "").strip() or "https://huggingface.co"
    parsed = urllib.parse.urlparse(endpoint)
    if not parsed.hostname:
        raise ValueError(f"HF_ENDPOINT={endpoint!r} is not a URL; e.g. https://hf-mirror.example.org")
    return parsed.hostname, parsed.port or (80 if parsed.scheme == "http" else 443)


def hub_reachable(host: str | None = None, port: int | None = None, timeout_s: float = 3.0) -> bool:
    """Whether a TCP connection to the hub (default: :func:`hub_endpoint`) opens within ``timeout_s`` s.

    ``HF_HUB_OFFLINE=1`` means no; with an HTTPS proxy configured the answer is yes (unchecked).
    """
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # behind a proxy a direct connection says nothing: let the hub client try
    default_host, default_port = hub_endpoint()
    try:
        with socket.create_connection((host or default_host, port or default_port), timeout=timeout_s):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def hub_offline(enabled: bool = True) -> Iterator[None]:
    """Inside the block the Hugging Face hub client reads only its local cache (when ``enabled``).

    Sets ``HF_HUB_OFFLINE=1`` and the already-imported client's constant (the client reads the
    variable once, at import), restoring both afterwards.
    """
    if not enabled:
        yield
        return
    previous_env = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants = None
    try:
        from huggingface_hub import constants  # type: ignore[no-redef]

        previous_const = constants.HF_HUB_OFFLINE
        constants.HF_HUB_OFFLINE = True
    except (ImportError, AttributeError):
        constants = None
    try:
        yield
    finally:
        if constants is not None:
            constants.HF_HUB_OFFLINE = previous_const
        if previous_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous_env
