"""Small numeric helpers shared by the teachers and the evaluations (a leaf module: numpy only)."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

__all__ = ["l2_normalize"]

EPS = 1e-12  # a norm below this divides by EPS instead: zero vectors stay zero


def l2_normalize(x: np.ndarray, axis: int = -1, *, dtype: DTypeLike = np.float32) -> np.ndarray:
    """``x`` divided by its L2 norm along ``axis`` (zero vectors stay zero).

    Computed in float64 whatever the input, returned as ``dtype`` (float32 for embeddings that are
    stored or multiplied in float32; float64 where scores are compared in float64).
    """
    x = np.asarray(x, dtype=np.float64)
    return (x / np.maximum(np.linalg.norm(x, axis=axis, keepdims=True), EPS)).astype(dtype, copy=False)
