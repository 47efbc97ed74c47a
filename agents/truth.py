"""The hidden world in one handle, for the one consumer allowed to hold it: the oracle."""

from __future__ import annotations

from dataclasses import dataclass

from agents.catalog import Catalog
from agents.choice import ChoiceConfig
from agents.population import Population


@dataclass(frozen=True)
class GroundTruth:
    """Tastes, item vectors, quality and the choice model: what no learning policy may read."""

    catalog: Catalog
    population: Population
    choice: ChoiceConfig
