"""Retrieval metrics against hand-computed examples; chance levels against exhaustive enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from w2clib.evaluate.retrieval import (
    caption_retrieval,
    chance_levels,
    paired_retrieval,
    retrieval_metrics,
)


def test_metrics_match_a_hand_computed_example():
    # Query 0: relevant item 2 ranked 1st.  Query 1: relevant item 0 ranked 3rd (order 3, 1, 0, 2).
    # Query 2: relevant items {1, 3}; order 0, 3, 2, 1 -> relevant at ranks 2 and 4.
    sim = np.array([[0.1, 0.2, 0.9, 0.0], [0.5, 0.6, 0.1, 0.8], [0.9, 0.1, 0.3, 0.7]])
    rel = np.array([[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 1]], dtype=bool)
    m = retrieval_metrics(sim, rel, ks=(1, 2, 3))
    assert m["R@1"] == pytest.approx(1 / 3)
    assert m["R@2"] == pytest.approx(2 / 3)  # query 2's first relevant item is at rank 2
    assert m["R@3"] == pytest.approx(1.0)
    assert m["MRR"] == pytest.approx((1 + 1 / 3 + 1 / 2) / 3)
    # AP@10: q0 = 1; q1 = (1/3)/1; q2 = (1/2 + 2/4) / 2 = 0.5
    assert m["mAP@10"] == pytest.approx((1 + 1 / 3 + 0.5) / 3)


def test_a_query_with_several_relevant_items_hits_if_any_is_retrieved():
    sim = np.array([[0.1, 0.9, 0.5]])
    assert retrieval_metrics(sim, np.array([[1, 0, 1]], dtype=bool), ks=(1, 2))["R@2"] == 1.0
    assert retrieval_metrics(sim, np.array([[1, 0, 1]], dtype=bool), ks=(1, 2))["R@1"] == 0.0


def test_ties_are_broken_by_item_index():
    sim = np.zeros((1, 3))
    assert retrieval_metrics(sim, np.array([[1, 0, 0]], dtype=bool), ks=(1,))["R@1"] == 1.0
    assert retrieval_metrics(sim, np.array([[0, 0, 1]], dtype=bool), ks=(1,))[
        "MRR"
    ] == pytest.approx(1 / 3)


def test_chance_levels_match_hand_values():
    one = chance_levels(np.eye(4, dtype=bool), ks=(1, 2))
    assert one["R@1"] == pytest.approx(0.25)
    assert one["R@2"] == pytest.approx(0.5)
    assert one["MRR"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
    two = chance_levels(np.array([[1, 1, 0, 0]], dtype=bool), ks=(1,))
    assert two["R@1"] == pytest.approx(0.5)
    assert two["MRR"] == pytest.approx(3 / 6 + (2 / 6) / 2 + (1 / 6) / 3)


@pytest.mark.parametrize("n, r", [(5, 1), (5, 2), (6, 3), (7, 7)])
def test_chance_levels_equal_the_mean_over_every_ranking(n, r):
    relevant = np.zeros((1, n), dtype=bool)
    relevant[0, :r] = True
    values = []
    for perm in itertools.permutations(range(n)):
        sim = np.empty((1, n))
        sim[0, list(perm)] = -np.arange(n)  # item perm[i] at rank i
        values.append(retrieval_metrics(sim, relevant, ks=(1, 3), map_k=4))
    exact = chance_levels(relevant, ks=(1, 3), map_k=4)
    for key in exact:
        assert exact[key] == pytest.approx(np.mean([v[key] for v in values]), abs=1e-12)


def test_paired_retrieval_is_perfect_for_identical_embeddings_and_reports_chance():
    x = np.random.default_rng(0).normal(size=(20, 8))
    out = paired_retrieval(x, x * 3.0)  # cosine: scale does not matter
    assert out["metrics"]["R@1"] == 1.0 and out["metrics"]["MRR"] == 1.0
    assert out["chance"]["R@1"] == pytest.approx(1 / 20)
    assert out["chance"]["R@10"] == pytest.approx(10 / 20)


def test_grouped_retrieval_counts_any_item_of_the_group():
    queries = np.array([[1.0, 0.0], [0.0, 1.0]])
    items = np.array([[0.9, 0.1], [0.1, 0.9], [0.8, 0.2]])
    out = paired_retrieval(
        queries, items, query_groups=["cat", "dog"], item_groups=["cat", "dog", "cat"]
    )
    assert out["metrics"]["R@1"] == 1.0
    assert out["chance"]["R@1"] == pytest.approx((2 / 3 + 1 / 3) / 2)


def test_caption_retrieval_in_both_directions():
    audio = np.array([[1.0, 0.0], [0.0, 1.0]])
    # Clip 0 owns captions 0 and 1 (caption 1 points the wrong way); clip 1 owns caption 2.
    captions = np.array([[1.0, 0.1], [0.1, 1.0], [0.0, 1.0]])
    out = caption_retrieval(audio, captions, [0, 0, 1])
    t2a, a2t = out["text_to_audio"]["metrics"], out["audio_to_text"]["metrics"]
    assert t2a["R@1"] == pytest.approx(2 / 3)  # caption 1 retrieves clip 1 first
    assert a2t["R@1"] == pytest.approx(1.0)  # clip 0's best caption is one of its own
    assert out["audio_to_text"]["chance"]["R@1"] == pytest.approx((2 / 3 + 1 / 3) / 2)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="no relevant item"):
        retrieval_metrics(np.zeros((2, 2)), np.array([[1, 0], [0, 0]], dtype=bool))
    with pytest.raises(ValueError, match="paired one to one"):
        paired_retrieval(np.ones((2, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="caption_owner"):
        caption_retrieval(np.ones((2, 3)), np.ones((2, 3)), [0, 5])
