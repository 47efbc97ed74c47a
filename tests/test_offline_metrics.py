"""Offline ranking metrics against hand-computed cases and known expectations."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recloop.sim.metrics.offline import (
    hit_rate_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
)


def relevant(rows: list[list[int]], n_items: int) -> sp.csr_matrix:
    data = [(r, i) for r, items in enumerate(rows) for i in items]
    r, i = zip(*data, strict=True) if data else ((), ())
    return sp.csr_matrix((np.ones(len(r)), (r, i)), shape=(len(rows), n_items))


def test_hand_computed_case() -> None:
    ranked = np.array([[3, 1, 4], [0, 2, -1]])
    rel = relevant([[1, 5], [2]], 6)
    # row 0: hit at rank 2 of 3, 2 positives; row 1: hit at rank 2, 1 positive
    assert precision_at_k(ranked, rel) == pytest.approx((1 / 3 + 1 / 3) / 2)
    assert recall_at_k(ranked, rel) == pytest.approx((1 / 2 + 1) / 2)
    assert hit_rate_at_k(ranked, rel) == 1.0
    assert mrr_at_k(ranked, rel) == pytest.approx(0.5)
    dcg = 1 / np.log2(3)
    ndcg0 = dcg / (1 + 1 / np.log2(3))  # ideal: both positives at ranks 1 and 2
    ndcg1 = dcg / 1.0
    assert ndcg_at_k(ranked, rel) == pytest.approx((ndcg0 + ndcg1) / 2)


def test_perfect_ranking_scores_one() -> None:
    rng = np.random.default_rng(3)
    rows = [list(rng.choice(50, size=rng.integers(1, 8), replace=False)) for _ in range(200)]
    rel = relevant(rows, 50)
    k = 10
    ranked = np.full((200, k), -1)
    for r, items in enumerate(rows):
        ranked[r, : len(items)] = items  # positives first, then nothing
    m = ranking_metrics(ranked, rel)
    assert m["ndcg"] == pytest.approx(1.0)
    assert m["recall"] == pytest.approx(1.0) and m["hit_rate"] == 1.0 and m["mrr"] == 1.0


def test_random_ranking_precision_is_r_over_n() -> None:
    """E[precision@k] = R / N for a uniformly random ranking; tolerance 4 standard errors."""
    rng = np.random.default_rng(4)
    n_users, n_items, r, k = 4000, 200, 20, 10
    rows = [list(rng.choice(n_items, r, replace=False)) for _ in range(n_users)]
    ranked = np.argsort(rng.random((n_users, n_items)), axis=1)[:, :k]
    hits_per_row = np.array([len(set(ranked[u]) & set(rows[u])) for u in range(n_users)])
    se = hits_per_row.std(ddof=1) / k / np.sqrt(n_users)
    assert abs(precision_at_k(ranked, relevant(rows, n_items)) - r / n_items) < 4 * se


def test_rows_without_positives_are_skipped_and_all_empty_is_nan() -> None:
    ranked = np.array([[0, 1], [2, 3]])
    rel = relevant([[0], []], 4)
    assert precision_at_k(ranked, rel) == 0.5
    assert np.isnan(ndcg_at_k(ranked, relevant([[], []], 4)))
