"""The oracle: ranks by users' true utility.

This is the one policy allowed to read ground truth from ``agents/``. It is an upper
reference for what a perfect recommender could achieve, not a recommender one could build.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recloop.agents.choice import utility_for_all_items
from recloop.agents.truth import GroundTruth
from recloop.policies.base import ScoringPolicy
from recloop.policies.config import PolicyConfig
from recloop.policies.types import ItemMetadata, ServeContext, TrainingWindow


@dataclass
class OracleConfig(PolicyConfig):
    """No parameters: the truth has none to tune."""

    name: str = "oracle"


class OraclePolicy(ScoringPolicy):
    """Serve the items with the highest true utility for each user."""

    name = "oracle"

    def __init__(
        self, items: ItemMetadata, rng: np.random.Generator, cfg: OracleConfig, truth: GroundTruth
    ) -> None:
        super().__init__(items, rng, cfg)
        self.truth = truth

    def fit(self, window: TrainingWindow) -> None:
        """The oracle needs no data."""

    def score(self, users: np.ndarray, ctx: ServeContext) -> np.ndarray:
        taste = self.truth.tastes(users)
        return utility_for_all_items(taste, self.truth.catalog, self.truth.choice)
