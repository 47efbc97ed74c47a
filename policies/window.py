"""What every policy trained on the logged window shares: the window's matrix, and a
popularity prior that orders near-ties and is the whole ranking for users the window has
not seen, as a production service would fall back for them."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recloop.policies.base import ScoringPolicy, largest_magnitude
from recloop.policies.simple import item_counts
from recloop.policies.types import TrainingWindow

PRIOR_WEIGHT = 1e-3  # popularity prior relative to a user's own top score: orders only near-ties


class WindowPolicy(ScoringPolicy):
    """Shared plumbing: keep the window's matrix and a popularity prior for cold users."""

    interactions_: sp.csr_matrix | None = None
    popularity_: np.ndarray | None = None  # window counts scaled to [0, 1]

    def _remember(self, window: TrainingWindow) -> bool:
        """Store the window; False when it holds no positives (nothing to fit on)."""
        self.interactions_ = window.interactions.astype(np.float32).tocsr()
        counts = item_counts(window, self.items.n_items)
        self.popularity_ = (counts / max(counts.max(initial=0.0), 1.0)).astype(np.float32)
        return self.interactions_.nnz > 0

    def _with_prior(self, scores: np.ndarray) -> np.ndarray:
        """Add popularity as a per-user tie-breaker; it is the whole ranking for cold users.
        In place: ``scores`` is the caller's fresh block."""
        pop = self.popularity_ if self.popularity_ is not None else np.zeros(self.items.n_items)
        scale = largest_magnitude(scores)
        scale[scale == 0] = 1.0
        scale *= PRIOR_WEIGHT
        scores += (scale * pop).astype(scores.dtype, copy=False)  # no float64 block
        return scores
