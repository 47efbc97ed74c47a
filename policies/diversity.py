"""Diversity re-ranking (MMR with an optional genre cap) and the slate diversity metric.

Feedback loops narrow what users are shown; the standard counter is maximal marginal
relevance (Carbonell & Goldstein 1998): fill the slate greedily, each time taking the
candidate with the best relevance minus a penalty for resembling what is already in it.
"""

from __future__ import annotations

import numpy as np

from recloop.policies.base import SCORE_CHUNK, Policy, shown_once
from recloop.policies.types import ServeContext, Slates
from recloop.policies.wrappers import Wrapper


class Diversify(Wrapper):
    """Re-rank the base's top ``candidates`` items by MMR, optionally capping genres.

    Slot by slot (a loop over the k slots, vectorised over users), pick the candidate that
    maximises ``rel - diversity * max_sim_to_selected``, where ``rel`` is the base's score
    min-max normalised to [0, 1] per user, so ``diversity`` means the same for every model.

    ``similarity`` is ``"genre"`` (1 for the same genre, else 0) or ``"embedding"`` (cosine of
    the base's ``item_vectors()``; a base without vectors, or not yet fitted, falls back to
    genre). With ``genre_cap > 0`` an item whose genre already fills ``genre_cap`` slots is
    skipped, unless nothing else is left: then the best remaining item is taken regardless,
    so a slate is never shorter than the allowed items permit.
    """

    def __init__(
        self, base: Policy, diversity: float, similarity: str, genre_cap: int, candidates: int
    ) -> None:
        """Store the knobs; relevance comes from ``base.candidates``."""
        super().__init__(base)
        self.diversity = diversity
        self.similarity = similarity
        self.genre_cap = genre_cap
        self.n_candidates = candidates

    def recommend(self, users: np.ndarray, k: int, ctx: ServeContext) -> Slates:
        users = np.asarray(users, dtype=np.int64)
        pool, scores = self.base.candidates(users, max(self.n_candidates, k), ctx)
        vectors = self._unit_vectors()
        items = np.empty((users.size, k), dtype=np.int32)
        for start in range(0, users.size, SCORE_CHUNK):
            rows = slice(start, start + SCORE_CHUNK)
            items[rows] = self._select(pool[rows], scores[rows], k, vectors)
        return Slates(items, shown_once(items) if self.deterministic else None)

    def _unit_vectors(self) -> np.ndarray | None:
        """Row-normalised item vectors for cosine similarity, or None for genre similarity."""
        vectors = self.base.item_vectors() if self.similarity == "embedding" else None
        if vectors is None:
            return None
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

    def _select(
        self, pool: np.ndarray, scores: np.ndarray, k: int, vectors: np.ndarray | None
    ) -> np.ndarray:
        """Greedy MMR over one chunk of users' candidate pools."""
        n = pool.shape[0]
        left = pool >= 0
        rel = normalise(scores, left)
        genre = self.items.genre[np.maximum(pool, 0)].astype(np.int64)
        per_genre = np.zeros((n, int(self.items.genre.max(initial=0)) + 1), dtype=np.int64)
        redundancy = np.zeros(pool.shape, dtype=np.float32)
        out = np.full((n, k), -1, dtype=np.int32)
        rows = np.arange(n)
        embedded = None if vectors is None else vectors[np.maximum(pool, 0)]
        for slot in range(min(k, pool.shape[1])):
            gain = np.where(left, rel - self.diversity * redundancy, -np.inf)
            if self.genre_cap > 0:
                full = np.take_along_axis(per_genre, genre, axis=1) >= self.genre_cap
                capped = np.where(full, -np.inf, gain)
                gain = np.where(np.isfinite(capped).any(axis=1, keepdims=True), capped, gain)
            best = np.argmax(gain, axis=1)
            ok = left[rows, best]
            out[ok, slot] = pool[rows[ok], best[ok]]
            left[rows, best] = False
            per_genre[rows[ok], genre[rows[ok], best[ok]]] += 1
            np.maximum(redundancy, similar_to(best, genre, embedded), out=redundancy)
        return out


def similar_to(best: np.ndarray, genre: np.ndarray, embedded: np.ndarray | None) -> np.ndarray:
    """Similarity of every candidate to the one just picked (column ``best``) in its row.

    Same genre (0/1) when ``embedded`` is None, else the cosine of the unit item vectors
    ``embedded[n, candidates, d]``.
    """
    rows = np.arange(genre.shape[0])
    if embedded is None:
        return (genre == genre[rows, best][:, None]).astype(np.float32)
    return np.einsum("ncd,nd->nc", embedded, embedded[rows, best])


def normalise(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Min-max scale each row's valid scores to [0, 1] (all 1 when a row's scores are equal)."""
    low = np.where(valid, scores, np.inf).min(axis=1, keepdims=True)
    high = np.where(valid, scores, -np.inf).max(axis=1, keepdims=True)
    span = high - low
    safe = np.where(valid, scores, low)
    with np.errstate(invalid="ignore"):
        scaled = np.where(span > 0, (safe - low) / np.where(span > 0, span, 1.0), 1.0)
    return np.where(valid, scaled, 0.0).astype(np.float32)


def intra_list_diversity(items: np.ndarray, genre: np.ndarray) -> float:
    """Mean over slates of the share of item pairs with different genres.

    ``items`` is int[n, k] with ``-1`` padding; slates with fewer than two items have no
    pairs and are left out (NaN when no slate has two). 0 = one genre per slate.
    """
    real = items >= 0
    sizes = real.sum(axis=1)
    keep = sizes >= 2
    if not keep.any():
        return float("nan")
    n_genres = int(genre.max(initial=0)) + 1
    rows = np.broadcast_to(np.arange(items.shape[0])[:, None], items.shape)[real]
    codes = rows * n_genres + genre[items[real]].astype(np.int64)
    counts = np.bincount(codes, minlength=items.shape[0] * n_genres).reshape(-1, n_genres)
    same = (counts * (counts - 1)).sum(axis=1) / 2
    pairs = sizes * (sizes - 1) / 2
    return float(np.mean(1.0 - same[keep] / pairs[keep]))
