"""Synthetic users: hidden tastes, segments and activity, drawn once per run.

A user's taste is a unit vector near a mixture of favourite genres' centres. Mainstream
users favour big genres, niche users small ones, so a policy that chases aggregate
popularity serves the two segments differently. These traits are fixed for the run; what
changes (satisfaction, churn) is ``agents/users.py``'s state and transitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recloop.agents.catalog import Catalog, unit_rows
from recloop.conf.ranges import MAX_USERS, UNIT, Between, one_of, ranged

MAINSTREAM, NICHE = 0, 1
SEGMENT_NAMES = ("mainstream", "niche")


@dataclass
class PopulationConfig:
    """How the hidden population is generated and how its state moves."""

    n_users: int = ranged(10000, Between(1, MAX_USERS, integer=True))
    # "synthetic": drawn around genre centres; "movielens": the rating log's users, fitted
    # (agents/calibrate.py; needs catalog.source=movielens)
    source: str = ranged("synthetic", one_of("synthetic", "movielens"))
    niche_fraction: float = ranged(0.2, UNIT)
    favourite_genres: int = ranged(2, Between(1, "catalog.n_genres", integer=True))
    # scatter of a taste around its genre mixture (relative)
    taste_noise: float = ranged(0.5, Between(0, 100))
    # mean of the heavy-tailed activity distribution
    sessions_per_day: float = ranged(1.0, Between(1e-6, 100.0))
    # log-normal sigma of activity: larger = heavier tail
    activity_sigma: float = ranged(1.0, Between(0, 3))
    satisfaction_init: float = ranged(0.7, UNIT)
    # weight of the latest session in the moving average
    satisfaction_rate: float = ranged(0.1, UNIT)
    # what a session without a click is worth to satisfaction
    idle_value: float = ranged(0.4, UNIT)
    # per-session churn hazard of a fully satisfied user
    churn_base: float = ranged(0.001, UNIT)
    # hazard multiplies by e^sensitivity as satisfaction -> 0
    churn_sensitivity: float = ranged(4.0, Between(0, 100))


@dataclass
class Population:
    """Users' hidden traits, fixed for the run, as arrays."""

    taste: np.ndarray  # float32[n, d], unit rows
    segment: np.ndarray  # int8[n]: MAINSTREAM or NICHE
    activity: np.ndarray  # float64[n], expected sessions per day

    @property
    def n_users(self) -> int:
        return int(self.taste.shape[0])


def generate_population(
    cfg: PopulationConfig, catalog: Catalog, rng: np.random.Generator, n: int | None = None
) -> Population:
    """Draw users: segment, favourite genres, taste vector and activity (``n`` of them,
    ``cfg.n_users`` by default: later sign-ups are drawn up front too)."""
    n = cfg.n_users if n is None else n
    segment = (rng.random(n) < cfg.niche_fraction).astype(np.int8)
    taste = _draw_tastes(cfg, catalog, segment, rng)
    # log-normal with the requested mean: E[exp(N(mu, s^2))] = exp(mu + s^2/2)
    mu = np.log(cfg.sessions_per_day) - cfg.activity_sigma**2 / 2
    activity = rng.lognormal(mu, cfg.activity_sigma, size=n)
    return Population(taste=taste, segment=segment, activity=activity)


def _draw_tastes(
    cfg: PopulationConfig, catalog: Catalog, segment: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Mix favourite genres' centres: mainstream picks by genre size, niche against it."""
    shares = catalog.genre_shares()
    inverse = np.divide(1.0, shares, out=np.zeros_like(shares), where=shares > 0)
    pick = {MAINSTREAM: shares, NICHE: inverse / inverse.sum()}  # empty genres are never picked
    n, g = segment.shape[0], catalog.n_genres
    favourites = np.empty((n, cfg.favourite_genres), dtype=np.int64)
    for seg, p in pick.items():
        rows = np.flatnonzero(segment == seg)
        # Gumbel top-k: sampling favourites without replacement, vectorised over users
        with np.errstate(divide="ignore"):
            keys = np.log(p)[None, :] - np.log(-np.log(rng.random((rows.size, g))))
        favourites[rows] = np.argsort(-keys, axis=1)[:, : cfg.favourite_genres]
    weights = rng.dirichlet(np.ones(cfg.favourite_genres), size=n)
    mix = np.einsum("uf,ufd->ud", weights, catalog.genre_centres[favourites])
    d = catalog.genre_centres.shape[1]
    noise = rng.standard_normal((n, d)) * (cfg.taste_noise / np.sqrt(d))
    return unit_rows(mix + noise).astype(np.float32)
