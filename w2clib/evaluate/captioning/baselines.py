"""Captioning baselines that need no decoder; they make the captioners' numbers interpretable.

* :func:`retrieval_captions` -- caption retrieval through the teacher's text tower: each clip gets
  the training caption whose teacher text embedding is nearest (cosine) to the clip's audio
  embedding.  Possible only because Wav2CLIP embeddings live in the teacher's space.
* :func:`best_constant_caption` -- the single training caption with the best mean CIDEr-D against
  the training clips' references; every test clip gets it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...metrics import l2_normalize

from .metrics import cider_d
from .vocab import tokenize

__all__ = ["distinct_captions", "retrieval_captions", "best_constant_caption"]


def distinct_captions(references: Sequence[Sequence[str]]) -> list[str]:
    """Every caption of ``references`` once (the first spelling of each token sequence), in order."""
    seen: dict[tuple[str, ...], str] = {}
    for refs in references:
        for ref in refs:
            key = tuple(tokenize(ref))
            if key and key not in seen:
                seen[key] = ref
    return list(seen.values())


def retrieval_captions(audio: np.ndarray, captions: Sequence[str], caption_embeddings: np.ndarray) -> list[str]:
    """For each audio embedding (n, D), the caption whose text embedding (m, D) has the highest cosine.

    Ties go to the earlier caption.

    Raises:
        ValueError: shapes disagree or there are no captions.
    """
    a = np.asarray(audio, dtype=np.float64)
    t = np.asarray(caption_embeddings, dtype=np.float64)
    if a.ndim != 2 or t.ndim != 2 or a.shape[1] != t.shape[1] or len(t) != len(captions) or not len(t):
        raise ValueError(f"audio {a.shape} and caption embeddings {t.shape} must be (n, D) and (m, D) with "
                         f"m = {len(captions)} captions > 0")
    best = (l2_normalize(a, axis=1, dtype=np.float64) @ l2_normalize(t, axis=1, dtype=np.float64).T).argmax(axis=1)
    return [captions[i] for i in best]


def best_constant_caption(
    references: Sequence[Sequence[str]],
    *,
    max_candidates: int = 24,
    max_clips: int = 200,
    seed: int = 0,
) -> tuple[str, float]:
    """The training caption with the best mean CIDEr-D against the training clips' references.

    Every candidate is scored against the same clips in one ``pycocoevalcap`` call (the clips repeated
    once per candidate: CIDEr-D's document frequencies scale with the number of clips, so the scores
    are those of separate calls).  To stay in seconds the candidates are the ``max_candidates`` most
    frequent distinct captions (ties: order of appearance) scored on a seeded sample of ``max_clips``
    clips.

    Returns:
        ``(caption, mean CIDEr-D on the sampled clips)``.
    """
    refs = [list(r) for r in references if len(r)]
    if not refs:
        raise ValueError("no clip has a reference caption")
    counts: dict[tuple[str, ...], int] = {}
    spelling: dict[tuple[str, ...], str] = {}
    for clip in refs:
        for ref in clip:
            key = tuple(tokenize(ref))
            if key:
                counts[key] = counts.get(key, 0) + 1
                spelling.setdefault(key, ref)
    order = sorted(counts, key=lambda k: -counts[k])[:max_candidates]  # stable: first seen wins ties
    rng = np.random.default_rng(seed)
    clips = [refs[i] for i in sorted(rng.choice(len(refs), size=min(max_clips, len(refs)), replace=False))]
    candidates, gts = {}, {}
    for c, key in enumerate(order):
        for j, clip in enumerate(clips):
            candidates[f"{c}:{j}"] = spelling[key]
            gts[f"{c}:{j}"] = clip
    _, per = cider_d(candidates, gts)
    keys = sorted(candidates)  # cider_d returns scores in sorted-key order
    totals = np.zeros(len(order))
    for key, value in zip(keys, per):
        totals[int(key.split(":")[0])] += value
    best = int(totals.argmax())
    return spelling[order[best]], float(totals[best] / len(clips))
