"""The catalog as the world knows it: genres, latent item vectors, quality and click appeal.

Only ``genre`` and ``release_day`` are public; vectors, quality and appeal are ground truth
that shapes users' behaviour but is never shown to a policy (except the oracle).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from recloop.conf.ranges import MAX_DAYS, UNIT, Between, one_of, ranged


@dataclass
class CatalogConfig:
    """How the hidden catalog is generated."""

    n_items: int = ranged(2000, Between(1, 1_000_000, integer=True))
    n_genres: int = ranged(20, Between(1, "catalog.n_items", integer=True))
    # Zipf exponent of genre sizes: 0 equal sizes, larger = a few big genres
    genre_skew: float = ranged(1.0, Between(0, 10))
    latent_dim: int = ranged(16, Between(2, 512, integer=True))
    # item scatter around its genre centre (relative to the centre)
    genre_spread: float = ranged(0.6, Between(0, 100))
    quality_sd: float = ranged(1.0, Between(0, 10))
    clickbait_fraction: float = ranged(0.05, UNIT)  # items with high click appeal, low quality
    # share of items released before day 0; the rest arrive daily
    initial_fraction: float = ranged(0.9, Between(0.001, 1.0))
    # later items are released uniformly over days 1..release_days
    release_days: int = ranged(30, Between(1, MAX_DAYS, integer=True))
    # "synthetic": drawn as above; "movielens": fitted to a rating log (agents/calibrate.py)
    source: str = ranged("synthetic", one_of("synthetic", "movielens"))
    # the rating data's folder for source=movielens; empty: the fetched MovieLens-100K
    path: str = ""


@dataclass(frozen=True)
class Catalog:
    """Items with hidden attributes. Vectors are unit length so affinities are cosines."""

    genre: np.ndarray  # int16[n]
    genre_centres: np.ndarray  # float32[n_genres, d], unit rows
    vectors: np.ndarray  # float32[n, d], unit rows
    quality: np.ndarray  # float32[n], standard-normal scale
    appeal: np.ndarray  # float32[n], standard-normal scale
    clickbait: np.ndarray  # bool[n]
    release_day: np.ndarray  # int16[n]

    @property
    def n_items(self) -> int:
        return int(self.genre.shape[0])

    @property
    def n_genres(self) -> int:
        return int(self.genre_centres.shape[0])

    @functools.cached_property
    def vector_norms(self) -> np.ndarray:
        """float64[n]: each vector's length (1 up to rounding), for bounds on affinities."""
        return np.linalg.norm(self.vectors.astype(np.float64), axis=1)

    @functools.cached_property
    def vectors_wide(self) -> np.ndarray:
        """float64[d, n]: the vectors transposed and widened once, as ``rowwise_product``
        would widen them on every organic search (same layout, so the same bits)."""
        return self.vectors.T.astype(np.float64)

    def genre_shares(self) -> np.ndarray:
        """Fraction of the catalog in each genre."""
        return np.bincount(self.genre, minlength=self.n_genres) / self.n_items

    def available(self, day: int) -> np.ndarray:
        """Items released on or before ``day``."""
        return self.release_day <= day


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Scale each row to unit Euclidean length."""
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def zipf_weights(n: int, exponent: float) -> np.ndarray:
    """Normalised weights 1/r^s for ranks 1..n."""
    w = 1.0 / np.arange(1, n + 1) ** exponent
    return w / w.sum()


def generate_catalog(cfg: CatalogConfig, rng: np.random.Generator) -> Catalog:
    """Draw a catalog: skewed genre sizes, clustered vectors, clickbait with low quality."""
    n, d = cfg.n_items, cfg.latent_dim
    centres = unit_rows(rng.standard_normal((cfg.n_genres, d)))
    genre = rng.choice(cfg.n_genres, size=n, p=zipf_weights(cfg.n_genres, cfg.genre_skew))
    scatter = rng.standard_normal((n, d)) * (cfg.genre_spread / np.sqrt(d))
    vectors = unit_rows(centres[genre] + scatter)
    quality = rng.normal(0.0, cfg.quality_sd, size=n)
    appeal = rng.normal(0.0, 1.0, size=n)
    clickbait = rng.random(n) < cfg.clickbait_fraction
    appeal[clickbait] = np.abs(appeal[clickbait]) + 2.0
    quality[clickbait] = -np.abs(quality[clickbait]) - 1.0
    return Catalog(
        genre=genre.astype(np.int16),
        genre_centres=centres.astype(np.float32),
        vectors=vectors.astype(np.float32),
        quality=quality.astype(np.float32),
        appeal=appeal.astype(np.float32),
        clickbait=clickbait,
        release_day=_release_days(cfg, rng),
    )


def _release_days(cfg: CatalogConfig, rng: np.random.Generator) -> np.ndarray:
    """Day 0 for the initial share of items, uniform over 1..release_days for the rest."""
    later = rng.random(cfg.n_items) >= cfg.initial_fraction
    days = np.zeros(cfg.n_items, dtype=np.int16)
    days[later] = rng.integers(1, cfg.release_days + 1, size=int(later.sum()))
    return days
