"""Metrics that training and evaluation share (a leaf module: numpy and the standard library only).

* :func:`l2_normalize` -- embeddings onto the unit sphere (every teacher, probe and retrieval uses it);
* cross-modal retrieval metrics with exact chance levels: the held-out hook that runs after each
  training epoch and the evaluation notebooks score rankings with the same functions.

A query ranks all items by similarity (highest first; ties broken by item index, so results are
deterministic).  A query may have several relevant items (a clip and its five captions): it counts
as a hit at k when *any* relevant item is in the top k.

Metrics, each averaged over queries and reported in [0, 1]:

* ``R@k``  -- recall at k: share of queries with a relevant item among the first k;
* ``MRR``  -- mean reciprocal rank of the first relevant item;
* ``mAP@10`` -- mean over queries of AP@10 = (1 / min(r, 10)) * sum_{i<=10} P@i * rel_i, where r is
  the query's number of relevant items and P@i the precision of the first i results.

:func:`chance_levels` gives the exact expectation of every metric under a uniformly random ranking,
from the number of items and the number of relevant items of each query.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

import numpy as np
from numpy.typing import DTypeLike

__all__ = [
    "l2_normalize",
    "relevance_from_groups",
    "ranks_of_relevant",
    "retrieval_metrics",
    "chance_levels",
    "DEFAULT_KS",
]

DEFAULT_KS = (1, 5, 10)
EPS = 1e-12  # a norm below this divides by EPS instead: zero vectors stay zero


def l2_normalize(x: np.ndarray, axis: int = -1, *, dtype: DTypeLike = np.float32) -> np.ndarray:
    """``x`` divided by its L2 norm along ``axis`` (zero vectors stay zero).

    Computed in float64 whatever the input, returned as ``dtype`` (float32 for embeddings that are
    stored or multiplied in float32; float64 where scores are compared in float64).
    """
    x = np.asarray(x, dtype=np.float64)
    return (x / np.maximum(np.linalg.norm(x, axis=axis, keepdims=True), EPS)).astype(dtype, copy=False)


def relevance_from_groups(
    query_groups: Sequence[object], item_groups: Sequence[object]
) -> np.ndarray:
    """(n_queries, n_items) bool: item j is relevant to query i when their group labels are equal."""
    q = np.asarray(query_groups, dtype=object)[:, None]
    it = np.asarray(item_groups, dtype=object)[None, :]
    return q == it


def _check(similarity: np.ndarray, relevant: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    similarity = np.asarray(similarity, dtype=np.float64)
    relevant = np.asarray(relevant, dtype=bool)
    if similarity.ndim != 2 or similarity.shape != relevant.shape:
        raise ValueError(
            f"similarity {similarity.shape} and relevance {relevant.shape} must both be (n_queries, n_items)"
        )
    empty = np.flatnonzero(~relevant.any(axis=1))
    if len(empty):
        raise ValueError(
            f"queries {empty[:10].tolist()} have no relevant item; drop them or fix the pairing"
        )
    if not np.isfinite(similarity).all():
        raise ValueError("similarity contains NaN/inf (a zero embedding?)")
    return similarity, relevant


def ranks_of_relevant(similarity: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """(n_queries, n_items) bool: ``out[i, r]`` says whether the item at rank r+1 of query i is relevant."""
    similarity, relevant = _check(similarity, relevant)
    order = np.argsort(
        -similarity, axis=1, kind="stable"
    )  # stable: ties go to the lower item index
    return np.take_along_axis(relevant, order, axis=1)


def _ap_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    top = hits[:, :k].astype(np.float64)
    precision = np.cumsum(top, axis=1) / np.arange(1, top.shape[1] + 1)
    return (precision * top).sum(axis=1) / np.minimum(n_relevant, k)


def retrieval_metrics(
    similarity: np.ndarray, relevant: np.ndarray, ks: Sequence[int] = DEFAULT_KS, map_k: int = 10
) -> dict[str, float]:
    """R@k for each k, ``MRR`` and ``mAP@{map_k}`` of a (n_queries, n_items) similarity matrix.

    Args:
        similarity: higher means more similar (e.g. cosine).
        relevant: same shape, bool; every query needs at least one relevant item.
    """
    hits = ranks_of_relevant(similarity, relevant)
    n_relevant = hits.sum(axis=1)
    first = hits.argmax(axis=1) + 1  # rank of the first relevant item (1-based)
    out = {f"R@{k}": float((first <= k).mean()) for k in ks}
    out["MRR"] = float((1.0 / first).mean())
    out[f"mAP@{map_k}"] = float(_ap_at_k(hits, n_relevant, map_k).mean())
    return out


def _chance_one(n: int, r: int, ks: Sequence[int], map_k: int) -> dict[str, float]:
    """Exact expectations for one query with ``r`` relevant among ``n`` items, random order."""
    total = comb(n, r)
    out = {f"R@{k}": 1.0 - comb(n - min(k, n), r) / total for k in ks}
    # P(first relevant at rank i) = C(n - i, r - 1) / C(n, r)
    out["MRR"] = sum(comb(n - i, r - 1) / i for i in range(1, n - r + 2)) / total
    # E[rel_i * P@i] = (1/i) * (r/n + (i - 1) * r (r - 1) / (n (n - 1)))
    pair = r * (r - 1) / (n * (n - 1)) if n > 1 else 0.0
    expected = sum((r / n + (i - 1) * pair) / i for i in range(1, min(map_k, n) + 1))
    out[f"mAP@{map_k}"] = expected / min(r, map_k)
    return out


def chance_levels(
    relevant: np.ndarray, ks: Sequence[int] = DEFAULT_KS, map_k: int = 10
) -> dict[str, float]:
    """Exact expected value of each metric of :func:`retrieval_metrics` under a random ranking.

    Depends only on the number of items and each query's number of relevant items.
    """
    relevant = np.asarray(relevant, dtype=bool)
    n_items = relevant.shape[1]
    counts = relevant.sum(axis=1)
    if (counts == 0).any():
        raise ValueError("every query needs at least one relevant item")
    per_count = {int(r): _chance_one(n_items, int(r), ks, map_k) for r in np.unique(counts)}
    keys = list(next(iter(per_count.values())))
    return {key: float(np.mean([per_count[int(r)][key] for r in counts])) for key in keys}
