"""Does this machine run bf16 natively?  Decides what ``precision="bf16"`` actually does.

Autocast to bfloat16 is fast only where the hardware computes in bf16: CUDA GPUs that report
``torch.cuda.is_bf16_supported()``, x86 CPUs with AVX512-BF16 or AMX-BF16, ARM CPUs with the BF16
extension.  Elsewhere (e.g. an AVX2-only x86 CPU) PyTorch emulates bf16 arithmetic, measured at about
0.2x the fp32 speed.  :func:`resolve_precision` therefore turns ``"bf16"`` into ``"fp32"`` on such a
device, with one :class:`PrecisionFallbackWarning` per device type and process; results are then the
exact fp32 ones.

The CPU's flags come from ``torch.cpu.get_capabilities()`` (cpuinfo, queried by PyTorch itself) and,
where that API is missing, from the ``flags``/``Features`` lines of ``/proc/cpuinfo``.
"""

from __future__ import annotations

import platform
import warnings
from functools import lru_cache
from pathlib import Path

import torch

__all__ = [
    "BF16_CPU_FLAGS",
    "PrecisionFallbackWarning",
    "cpu_flags",
    "cpu_name",
    "native_bf16",
    "resolve_precision",
]

# Any one of these means the CPU has bf16 arithmetic in hardware (x86: AVX512-BF16 dot products, AMX
# tiles; ARM: the BF16 extension, alone or for SVE).
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "bf16", "sve_bf16")
# Reported alongside, so a benchmark says what kind of vector unit it ran on.
_REPORTED = ("avx2", "avx512_f", "avx512_bw", "avx512_vnni", "amx_tile", "neon", "sve")
# /proc/cpuinfo spells some flags differently from cpuinfo/torch.
_PROC_ALIASES = {"avx512f": "avx512_f", "avx512bw": "avx512_bw", "asimd": "neon", "svebf16": "sve_bf16"}


class PrecisionFallbackWarning(UserWarning):
    """``precision="bf16"`` was asked for on a device without native bf16; fp32 was used."""


def _proc_cpuinfo_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(_PROC_ALIASES.get(f, f) for f in value.split())
    return flags


@lru_cache(maxsize=1)
def cpu_flags() -> dict[str, bool]:
    """The bf16-relevant capability flags of this CPU, e.g. ``{"avx2": True, "avx512_bf16": False, ...}``."""
    query = getattr(torch.cpu, "get_capabilities", None)
    if query is not None:
        caps = dict(query())
        return {name: bool(caps.get(name, False)) for name in (*_REPORTED, *BF16_CPU_FLAGS)}
    found = _proc_cpuinfo_flags()
    return {name: name in found for name in (*_REPORTED, *BF16_CPU_FLAGS)}


@lru_cache(maxsize=1)
def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``, else cpuinfo via torch, else the platform)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    query = getattr(torch.cpu, "get_capabilities", None)
    name = str(query().get("cpu_name", "")) if query is not None else ""
    return name or platform.processor() or platform.machine()


def native_bf16(device: torch.device | str = "cpu") -> bool:
    """True when ``device`` computes bf16 in hardware (see the module docstring)."""
    device = torch.device(device)
    if device.type == "cpu":
        flags = cpu_flags()
        return any(flags[name] for name in BF16_CPU_FLAGS)
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return True  # other accelerators: leave the choice to autocast


_warned: set[str] = set()


def resolve_precision(precision: str, device: torch.device | str = "cpu") -> str:
    """``precision`` as it will run on ``device``: ``"bf16"`` becomes ``"fp32"`` without native bf16.

    Warns once per device type and process when it falls back.
    """
    device = torch.device(device)
    if precision != "bf16" or native_bf16(device):
        return precision
    if device.type not in _warned:
        _warned.add(device.type)
        what = f"this CPU ({cpu_name()}) lacks {' / '.join(BF16_CPU_FLAGS[:2])}" if device.type == "cpu" \
            else f"{device} does not support bf16"
        warnings.warn(
            f'precision="bf16": {what}, so bf16 would be emulated and slower than fp32; using fp32 '
            '(exact results). Pass precision="fp32" to silence this warning.',
            PrecisionFallbackWarning, stacklevel=2,
        )
    return "fp32"
