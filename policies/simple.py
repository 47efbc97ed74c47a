"""Policies that need no model: uniform random and most-popular."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recloop.policies.allowed import allowed_items
from recloop.policies.base import ScoringPolicy
from recloop.policies.config import PolicyConfig
from recloop.policies.types import ServeContext, TrainingWindow


@dataclass
class RandomConfig(PolicyConfig):
    """Uniform random slates: the no-feedback baseline."""

    name: str = "random"


@dataclass
class PopularConfig(PolicyConfig):
    """Most positive labels over the training window, ties broken at random."""

    name: str = "popular"


class RandomPolicy(ScoringPolicy):
    """Every allowed item equally likely at every position."""

    name = "random"
    deterministic = False

    def fit(self, window: TrainingWindow) -> None:
        """Nothing to learn."""

    def score(self, users: np.ndarray, ctx: ServeContext) -> np.ndarray:
        return self.rng.random((users.size, self.items.n_items))

    def _propensity(self, items: np.ndarray, users: np.ndarray, ctx: ServeContext) -> np.ndarray:
        """A uniform draw puts a given allowed item at a given position w.p. 1/#allowed."""
        allowed = allowed_items(users, ctx).sum(axis=1)
        prop = 1.0 / np.maximum(allowed, 1)
        return np.where(items >= 0, prop[:, None], 0.0).astype(np.float32)


class PopularPolicy(ScoringPolicy):
    """Rank by how many positive labels each item got in the training window.

    In real-time serving, today's positives so far (``ctx.recent``) count too, so a title
    taking off this morning climbs before tonight's refit.
    """

    name = "popular"
    counts_: np.ndarray | None = None

    def fit(self, window: TrainingWindow) -> None:
        self.counts_ = item_counts(window, self.items.n_items)

    def score(self, users: np.ndarray, ctx: ServeContext) -> np.ndarray:
        counts = self.counts_ if self.counts_ is not None else np.zeros(self.items.n_items)
        if ctx.recent is not None:
            counts = counts + np.asarray(ctx.recent.sum(axis=0)).ravel()
        return np.broadcast_to(counts, (users.size, counts.size))


def item_counts(window: TrainingWindow, n_items: int) -> np.ndarray:
    """Positive labels per item in the window (float, length n_items)."""
    counts = np.asarray(window.interactions.sum(axis=0)).ravel()
    out = np.zeros(n_items)
    out[: counts.size] = counts
    return out
