"""Offline ranking metrics: how well ranked lists recover held-out positives.

All take ``ranked`` int[n, k] (item ids, best first, -1 for empty slots) and ``relevant``,
a boolean users × items CSR of held-out positives for the same rows. Rows without any
relevant item carry no signal and are skipped (the usual convention), so every function
averages over rows with at least one positive.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def hits(ranked: np.ndarray, relevant: sp.csr_matrix) -> np.ndarray:
    """bool[n, k]: whether each ranked item is a held-out positive of its row."""
    rows = np.repeat(np.arange(ranked.shape[0]), ranked.shape[1])
    items = ranked.ravel()
    out = np.zeros(items.size, dtype=bool)
    valid = items >= 0
    if valid.any():
        out[valid] = np.asarray(relevant[rows[valid], items[valid]]).ravel() > 0
    return out.reshape(ranked.shape)


def _per_row(ranked: np.ndarray, relevant: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Hits and positive counts for rows that have at least one positive."""
    n_relevant = np.diff(relevant.indptr)
    keep = n_relevant > 0
    return hits(ranked[keep], relevant[keep]), n_relevant[keep]


def precision_at_k(ranked: np.ndarray, relevant: sp.csr_matrix) -> float:
    """Share of the k slots holding a positive."""
    h, _ = _per_row(ranked, relevant)
    return float(h.mean()) if h.size else float("nan")


def recall_at_k(ranked: np.ndarray, relevant: sp.csr_matrix) -> float:
    """Share of each row's positives found in its top k, averaged over rows."""
    h, n = _per_row(ranked, relevant)
    return float((h.sum(axis=1) / n).mean()) if h.size else float("nan")


def hit_rate_at_k(ranked: np.ndarray, relevant: sp.csr_matrix) -> float:
    """Share of rows with at least one positive in the top k."""
    h, _ = _per_row(ranked, relevant)
    return float(h.any(axis=1).mean()) if h.size else float("nan")


def mrr_at_k(ranked: np.ndarray, relevant: sp.csr_matrix) -> float:
    """Mean reciprocal rank of the first positive (0 when none in the top k)."""
    h, _ = _per_row(ranked, relevant)
    if not h.size:
        return float("nan")
    first = np.where(h.any(axis=1), h.argmax(axis=1) + 1, np.inf)
    return float((1.0 / first).mean())


def ndcg_at_k(ranked: np.ndarray, relevant: sp.csr_matrix) -> float:
    """Binary-relevance NDCG@k: DCG / ideal DCG, with gain 1/log2(rank + 1)."""
    h, n = _per_row(ranked, relevant)
    if not h.size:
        return float("nan")
    k = ranked.shape[1]
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discount)[np.minimum(n, k) - 1]
    return float(((h * discount).sum(axis=1) / ideal).mean())


RANKING_METRICS = {
    "precision": precision_at_k,
    "recall": recall_at_k,
    "ndcg": ndcg_at_k,
    "hit_rate": hit_rate_at_k,
    "mrr": mrr_at_k,
}


def ranking_metrics(ranked: np.ndarray, relevant: sp.csr_matrix) -> dict[str, float]:
    """All of the above, keyed by name."""
    return {name: metric(ranked, relevant) for name, metric in RANKING_METRICS.items()}
