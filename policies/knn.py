"""Item-kNN from ``implicit``: cosine neighbourhoods over the window's positives, refit from
scratch every night. Served in real time (``ctx.recent``), today's positives join the user's
history before scoring."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from implicit.nearest_neighbours import CosineRecommender
from implicit.utils import ParameterWarning

from recloop.conf.ranges import Between, ranged
from recloop.policies.config import PolicyConfig
from recloop.policies.types import ServeContext, TrainingWindow
from recloop.policies.window import WindowPolicy


@dataclass
class ItemKNNConfig(PolicyConfig):
    """Item-item cosine neighbourhoods over the window's positive labels."""

    name: str = "item_knn"
    neighbours: int = ranged(50, Between(1, 10_000, integer=True))


class ItemKNNPolicy(WindowPolicy):
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
        if ctx.recent is not None:
            history = history + ctx.recent[users]
        return self._with_prior((history @ self.similarity_).toarray())
