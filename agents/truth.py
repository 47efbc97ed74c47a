"""The hidden world in one handle, for the one consumer allowed to hold it: the oracle."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recloop.agents.catalog import Catalog
from recloop.agents.choice import ChoiceConfig
from recloop.agents.population import Population


@dataclass(frozen=True)
class GroundTruth:
    """Tastes, item vectors, quality and the choice model: what no learning policy may read."""

    catalog: Catalog
    population: Population
    choice: ChoiceConfig
    taste: np.ndarray | None = None  # the users' tastes now (they drift); None: as drawn

    def tastes(self, users: np.ndarray) -> np.ndarray:
        """The users' current tastes."""
        source = self.population.taste if self.taste is None else self.taste
        return source[users]
