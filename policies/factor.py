"""Collaborative filtering from ``implicit``: item-kNN (cosine) and ALS.

Both refit from scratch every night (a full refit, not an incremental update) and fall back
to popularity for users the window has not seen, as a production service would.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.nearest_neighbours import CosineRecommender
from implicit.utils import ParameterWarning
from threadpoolctl import threadpool_limits

from policies.base import ScoringPolicy
from policies.simple import item_counts
from policies.types import ServeContext, TrainingWindow

PRIOR_WEIGHT = 1e-3  # popularity prior relative to a user's own top score: orders only near-ties


@dataclass
class ItemKNNConfig:
    """Item-item cosine neighbourhoods over the window's positive labels."""

    name: str = "item_knn"
    neighbours: int = 50


@dataclass
class ALSConfig:
    """Implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008)."""

    name: str = "als"
    factors: int = 32
    regularization: float = 0.05
    alpha: float = 2.0  # confidence = 1 + alpha * count
    iterations: int = 10
    threads: int = 2


class _WindowPolicy(ScoringPolicy):
    """Shared plumbing: keep the window's matrix and a popularity prior for cold users."""

    interactions_: sp.csr_matrix | None = None
    popularity_: np.ndarray | None = None  # window counts scaled to [0, 1]

    def _remember(self, window: TrainingWindow) -> bool:
        """Store the window; False when it holds no positives (nothing to fit on)."""
        self.interactions_ = window.interactions.astype(np.float32).tocsr()
        counts = item_counts(window, self.items.n_items)
        self.popularity_ = counts / max(counts.max(initial=0.0), 1.0)
        return self.interactions_.nnz > 0

    def _with_prior(self, scores: np.ndarray) -> np.ndarray:
        """Add popularity as a per-user tie-breaker; it is the whole ranking for cold users."""
        pop = self.popularity_ if self.popularity_ is not None else np.zeros(self.items.n_items)
        scale = np.abs(scores).max(axis=1, keepdims=True)
        scale[scale == 0] = 1.0
        return scores + PRIOR_WEIGHT * scale * pop


class ItemKNNPolicy(_WindowPolicy):
    """Score = sum of cosine similarities to the items the user engaged with."""

    name = "item_knn"
    similarity_: sp.csr_matrix | None = None

    def fit(self, window: TrainingWindow) -> None:
        self.similarity_ = None
        if not self._remember(window):
            return
        model = CosineRecommender(K=self.cfg.neighbours, num_threads=1)
        with warnings.catch_warnings():  # implicit transposes to CSC itself and then warns
            warnings.simplefilter("ignore", ParameterWarning)
            model.fit(self.interactions_, show_progress=False)
        self.similarity_ = model.similarity.tocsr()

    def score(self, users: np.ndarray, ctx: ServeContext) -> np.ndarray:
        if self.similarity_ is None or self.interactions_ is None:
            return self._with_prior(np.zeros((users.size, self.items.n_items), np.float32))
        history = self.interactions_[users]
        return self._with_prior((history @ self.similarity_).toarray())


class ALSPolicy(_WindowPolicy):
    """Score = user factors · item factors, refit nightly."""

    name = "als"
    user_factors_: np.ndarray | None = None
    item_factors_: np.ndarray | None = None

    def fit(self, window: TrainingWindow) -> None:
        self.user_factors_ = self.item_factors_ = None
        if not self._remember(window):
            return
        # implicit's solver parallelises over users itself; a BLAS pool on top only thrashes
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.cfg.factors,
                regularization=self.cfg.regularization,
                alpha=self.cfg.alpha,
                iterations=self.cfg.iterations,
                num_threads=self.cfg.threads,
                random_state=int(self.rng.integers(2**31 - 1)),
            )
            model.fit(self.interactions_, show_progress=False)
        self.user_factors_, self.item_factors_ = model.user_factors, model.item_factors

    def score(self, users: np.ndarray, ctx: ServeContext) -> np.ndarray:
        if self.user_factors_ is None or self.item_factors_ is None:
            return self._with_prior(np.zeros((users.size, self.items.n_items), np.float32))
        return self._with_prior(self.user_factors_[users] @ self.item_factors_.T)
