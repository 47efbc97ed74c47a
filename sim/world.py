"""The hidden world of one run, and the public face a policy may see."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recloop.agents.calibrate import calibrated_catalog, calibrated_population, fit_ratings
from recloop.agents.catalog import Catalog, generate_catalog
from recloop.agents.choice import ChoiceConfig
from recloop.agents.datasets import data_folder, read_ratings
from recloop.agents.population import Population, generate_population
from recloop.agents.truth import GroundTruth
from recloop.policies.types import ItemMetadata
from recloop.sim.config import RunConfig
from recloop.sim.seeding import Streams


@dataclass
class World:
    """Catalog, population and choice model: everything the recommender must not read."""

    catalog: Catalog
    population: Population
    choice: ChoiceConfig

    def metadata(self) -> ItemMetadata:
        """Public catalog facts only: genre and release day."""
        return ItemMetadata(genre=self.catalog.genre.copy(), release_day=self.catalog.release_day.copy())

    def truth(self, taste: np.ndarray | None = None) -> GroundTruth:
        """Ground truth for the oracle policy; nobody else is handed this. ``taste``: the
        users' live tastes (they drift), when the run keeps them as state."""
        return GroundTruth(self.catalog, self.population, self.choice, taste)

    def mean_item_utility(self) -> np.ndarray:
        """Each item's true utility averaged over all users (tastes enter linearly)."""
        mean_taste = self.population.taste.mean(axis=0)
        affinity = self.catalog.vectors @ mean_taste
        return self.choice.affinity_weight * affinity + self.choice.quality_weight * self.catalog.quality


def population_size(cfg: RunConfig) -> int:
    """Everyone the run may see: the first ``n_users`` and every later sign-up."""
    return cfg.users.n_users + cfg.days * cfg.users.visits.signups_per_day


def build_world(cfg: RunConfig, streams: Streams) -> World:
    """Draw catalog then population (later sign-ups included), each from its own stream;
    or fit them to a rating log (``catalog.source=movielens``, ``agents/calibrate.py``)."""
    if cfg.catalog.source == "movielens":
        return _calibrated_world(cfg, streams)
    catalog = generate_catalog(cfg.catalog, streams.rng("catalog"))
    population = generate_population(cfg.users, catalog, streams.rng("population"),
                                     population_size(cfg))
    return World(catalog, population, cfg.users.choice)


def _calibrated_world(cfg: RunConfig, streams: Streams) -> World:
    data = read_ratings(data_folder(cfg.catalog.path))
    rng = streams.rng("catalog")
    fit = fit_ratings(data, cfg.catalog.latent_dim, rng)
    catalog = calibrated_catalog(data, fit, cfg.catalog, rng)
    pop_rng, n = streams.rng("population"), population_size(cfg)
    population = (calibrated_population(data, fit, cfg.users, n, pop_rng)
                  if cfg.users.source == "movielens"
                  else generate_population(cfg.users, catalog, pop_rng, n))
    return World(catalog, population, cfg.users.choice)
