"""Cross-modal retrieval between two embedding sets: paired (audio <-> image) and captions.

The metrics themselves (R@k, MRR, mAP@10 and their exact chance levels) live in
:mod:`w2clib.metrics`, shared with the held-out evaluation that runs during training; they are
re-exported here for the evaluation notebooks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..metrics import (
    DEFAULT_KS,
    chance_levels,
    l2_normalize,
    ranks_of_relevant,
    relevance_from_groups,
    retrieval_metrics,
)

__all__ = [
    "relevance_from_groups",
    "ranks_of_relevant",
    "retrieval_metrics",
    "chance_levels",
    "paired_retrieval",
    "caption_retrieval",
]


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be (n, D), got shape {x.shape}")
    return l2_normalize(x, axis=1, dtype=np.float64)


def paired_retrieval(
    queries: np.ndarray,
    items: np.ndarray,
    query_groups: Sequence[object] | None = None,
    item_groups: Sequence[object] | None = None,
    ks: Sequence[int] = DEFAULT_KS,
) -> dict[str, dict[str, float]]:
    """Cosine retrieval of ``items`` (m, D) by ``queries`` (n, D), e.g. audio -> image.

    Without groups, query i's only relevant item is item i (n == m).  With groups (e.g. a class or
    an image id per row), every item of the query's group is relevant.

    Returns:
        ``{"metrics": retrieval_metrics(...), "chance": chance_levels(...)}``.
    """
    q, it = _normalize(queries), _normalize(items)
    if q.shape[1] != it.shape[1]:
        raise ValueError(f"queries {q.shape} and items {it.shape} must share the embedding size")
    if query_groups is None and item_groups is None:
        if len(q) != len(it):
            raise ValueError(
                "without groups, queries and items must be paired one to one (same length)"
            )
        relevant = np.eye(len(q), dtype=bool)
    elif query_groups is not None and item_groups is not None:
        relevant = relevance_from_groups(query_groups, item_groups)
    else:
        raise ValueError("pass both query_groups and item_groups, or neither")
    sim = q @ it.T
    return {"metrics": retrieval_metrics(sim, relevant, ks), "chance": chance_levels(relevant, ks)}


def caption_retrieval(
    audio: np.ndarray,
    captions: np.ndarray,
    caption_owner: Sequence[int],
    ks: Sequence[int] = DEFAULT_KS,
) -> dict[str, dict[str, dict[str, float]]]:
    """Text <-> audio retrieval with several captions per clip (Clotho: five).

    Args:
        audio: (n_clips, D) audio embeddings; captions: (n_captions, D) text embeddings.
        caption_owner: (n_captions,) index of the clip each caption describes.

    Returns:
        ``{"text_to_audio": {...}, "audio_to_text": {...}}``, each with ``metrics`` and ``chance``.
        Text -> audio: each caption retrieves its one clip.  Audio -> text: a clip's query is a hit
        when any of its captions is retrieved.
    """
    owner = np.asarray(caption_owner, dtype=np.int64)
    if (
        owner.shape != (len(captions),)
        or owner.min(initial=0) < 0
        or owner.max(initial=0) >= len(audio)
    ):
        raise ValueError("caption_owner must give, for every caption, the index of an audio clip")
    a, t = _normalize(audio), _normalize(captions)
    relevant_t2a = owner[:, None] == np.arange(len(a))[None, :]
    sim = t @ a.T
    return {
        "text_to_audio": {
            "metrics": retrieval_metrics(sim, relevant_t2a, ks),
            "chance": chance_levels(relevant_t2a, ks),
        },
        "audio_to_text": {
            "metrics": retrieval_metrics(sim.T, relevant_t2a.T, ks),
            "chance": chance_levels(relevant_t2a.T, ks),
        },
    }
