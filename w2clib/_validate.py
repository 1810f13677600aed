"""Checks for numeric arguments at the public boundary (one message style for every function).

Each check names the argument, says what was expected and returns the value in its canonical type,
so callers never reach a raw ``range()``/``int()`` error or a huge allocation from a bad number.
``bool`` is rejected everywhere a number is expected (``True`` is an ``int`` in Python, and
``sample_rate=True`` once meant a 1 Hz input resampled 16000-fold).
"""

from __future__ import annotations

import math
import numbers

__all__ = ["MIN_SAMPLE_RATE", "MAX_SAMPLE_RATE", "check_int", "check_number", "check_sample_rate"]

MIN_SAMPLE_RATE = 1_000
"""Lowest accepted input rate in Hz (resampling to 16 kHz multiplies the length by at most 16)."""

MAX_SAMPLE_RATE = 384_000
"""Highest accepted input rate in Hz (the highest rate common audio hardware records at)."""


def check_int(name: str, value: object, *, low: int = 1, high: int | None = None) -> int:
    """``value`` as an ``int`` in ``[low, high]``; integral floats (``16000.0``) are accepted.

    Raises:
        TypeError: ``value`` is a bool or not a real number.
        ValueError: not a whole number, or outside the range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if not math.isfinite(float(value)) or float(value) != int(value):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    number = int(value)
    if number < low or (high is not None and number > high):
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {bounds}, got {value!r}")
    return number


def check_number(name: str, value: object, *, low: float = 0.0, high: float | None = None,
                 low_inclusive: bool = False) -> float:
    """``value`` as a finite ``float`` above ``low`` (or at it when ``low_inclusive``) and <= ``high``.

    Raises:
        TypeError: ``value`` is a bool or not a real number.
        ValueError: NaN, infinite or outside the range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    number = float(value)
    above = number >= low if low_inclusive else number > low
    if not math.isfinite(number) or not above or (high is not None and number > high):
        bounds = f"{'>=' if low_inclusive else '>'} {low:g}" + ("" if high is None else f" and <= {high:g}")
        raise ValueError(f"{name} must be a finite number {bounds}, got {value!r}")
    return number


def check_sample_rate(value: object, name: str = "sample_rate") -> int:
    """A sample rate in Hz: a whole number between 1 kHz and 384 kHz."""
    return check_int(name, value, low=MIN_SAMPLE_RATE, high=MAX_SAMPLE_RATE)
