"""Synthetic users: hidden tastes, segments, activity, satisfaction and churn.

A user's taste is a unit vector near a mixture of favourite genres' centres. Mainstream
users favour big genres, niche users small ones, so a policy that chases aggregate
popularity serves the two segments differently. Satisfaction is an exponential moving
average of how sessions went; low satisfaction raises the per-session churn hazard.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.catalog import Catalog, unit_rows

MAINSTREAM, NICHE = 0, 1
SEGMENT_NAMES = ("mainstream", "niche")


@dataclass
class PopulationConfig:
    """How the hidden population is generated and how its state moves."""

    n_users: int = 10000
    niche_fraction: float = 0.2
    favourite_genres: int = 2
    taste_noise: float = 0.5  # scatter of a taste around its genre mixture (relative)
    sessions_per_day: float = 1.0  # mean of the heavy-tailed activity distribution
    activity_sigma: float = 1.0  # log-normal sigma of activity: larger = heavier tail
    satisfaction_init: float = 0.7
    satisfaction_rate: float = 0.1  # weight of the latest session in the moving average
    idle_value: float = 0.4  # what a session without a click is worth to satisfaction
    churn_base: float = 0.001  # per-session churn hazard of a fully satisfied user
    churn_sensitivity: float = 4.0  # hazard multiplies by e^sensitivity as satisfaction -> 0


@dataclass
class Population:
    """Users' hidden traits (fixed) and state (satisfaction, churn) as arrays."""

    taste: np.ndarray  # float32[n, d], unit rows
    segment: np.ndarray  # int8[n]: MAINSTREAM or NICHE
    activity: np.ndarray  # float64[n], expected sessions per day
    satisfaction: np.ndarray  # float64[n] in [0, 1]
    churned: np.ndarray  # bool[n]

    @property
    def n_users(self) -> int:
        return int(self.taste.shape[0])

    def active_ids(self) -> np.ndarray:
        """Users who have not churned."""
        return np.flatnonzero(~self.churned)


def generate_population(
    cfg: PopulationConfig, catalog: Catalog, rng: np.random.Generator
) -> Population:
    """Draw users: segment, favourite genres, taste vector and activity."""
    n = cfg.n_users
    segment = (rng.random(n) < cfg.niche_fraction).astype(np.int8)
    taste = _draw_tastes(cfg, catalog, segment, rng)
    # log-normal with the requested mean: E[exp(N(mu, s^2))] = exp(mu + s^2/2)
    mu = np.log(cfg.sessions_per_day) - cfg.activity_sigma**2 / 2
    activity = rng.lognormal(mu, cfg.activity_sigma, size=n)
    return Population(
        taste=taste,
        segment=segment,
        activity=activity,
        satisfaction=np.full(n, cfg.satisfaction_init),
        churned=np.zeros(n, dtype=bool),
    )


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


def next_satisfaction(
    satisfaction: np.ndarray, clicked: np.ndarray, completion: np.ndarray, cfg: PopulationConfig
) -> np.ndarray:
    """Move satisfaction toward how the session went: completion if clicked, else idle_value."""
    outcome = np.where(clicked, completion, cfg.idle_value)
    return satisfaction + cfg.satisfaction_rate * (outcome - satisfaction)


def churn_probability(satisfaction: np.ndarray, cfg: PopulationConfig) -> np.ndarray:
    """Per-session hazard: churn_base * exp(sensitivity * (1 - satisfaction)), capped at 1."""
    return np.minimum(1.0, cfg.churn_base * np.exp(cfg.churn_sensitivity * (1 - satisfaction)))
