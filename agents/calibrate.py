r"""A world fitted to a rating log: the fitted model *is* the ground truth (as in RecLab).

A biased matrix factorisation of the observed ratings,
:math:`\hat r_{ui} = \mu + b_u + b_i + p_u \cdot q_i` (alternating ridge regressions,
``fit_ratings``), becomes the hidden world:

* an item's latent vector is its factor direction :math:`q_i / |q_i|`, its quality its
  bias :math:`b_i` in standard units (times ``catalog.quality_sd``), its genre the first of
  its listed genres, its click appeal how often it was rated (log count, standardised),
  its release day from when it was first rated (the last
  ``1 - initial_fraction`` of first ratings arrive over days 1..``release_days``, in order);
* a user's taste is the factor direction :math:`p_u / |p_u|`, their activity proportional
  to how many ratings they gave (mean ``sessions_per_day``), their segment niche when the
  items they rated are among the least popular (the ``niche_fraction`` with the lowest mean
  item popularity).

The choice model reads cosines, so the factors' lengths are dropped: the world keeps each
user's direction of taste and each item's, not how strongly they are held. Scaled beyond
the data's users, the population repeats them in a shuffled order, every copy after the
first with its taste jittered by ``taste_noise`` (relative, then renormalised). Policies
still see only the log and the public item facts (genre, release day).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recloop.agents.catalog import Catalog, CatalogConfig, unit_rows
from recloop.agents.datasets import RatingData
from recloop.agents.population import MAINSTREAM, NICHE, Population, PopulationConfig

FIT_REGULARISATION = 5.0  # ridge penalty per factor: keeps sparse users' factors short
FIT_ITERATIONS = 15


@dataclass(frozen=True)
class FittedRatings:
    """:math:`\\hat r_{ui} = \\mu + b_u + b_i + p_u \\cdot q_i`."""

    mean: float
    user_bias: np.ndarray  # float64[n_users]
    item_bias: np.ndarray  # float64[n_items]
    user_factors: np.ndarray  # float64[n_users, d]
    item_factors: np.ndarray  # float64[n_items, d]

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        dot = np.einsum("nd,nd->n", self.user_factors[users], self.item_factors[items])
        return self.mean + self.user_bias[users] + self.item_bias[items] + dot


def fit_ratings(data: RatingData, dim: int, rng: np.random.Generator,
                reg: float = FIT_REGULARISATION, iterations: int = FIT_ITERATIONS) -> FittedRatings:
    """Alternating ridge regressions of each side's [factors, bias] on the other's."""
    users = data.ratings["user"].to_numpy()
    items = data.ratings["item"].to_numpy()
    rating = data.ratings["rating"].to_numpy(dtype=np.float64)
    mean = float(rating.mean())
    p = rng.normal(0, 0.1, (data.n_users, dim))
    q = rng.normal(0, 0.1, (data.n_items, dim))
    bu, bi = np.zeros(data.n_users), np.zeros(data.n_items)
    for _ in range(iterations):
        p, bu = _solve_side(users, items, rating - mean - bi[items], q, data.n_users, reg)
        q, bi = _solve_side(items, users, rating - mean - bu[users], p, data.n_items, reg)
    return FittedRatings(mean, bu, bi, p, q)


def _solve_side(rows: np.ndarray, cols: np.ndarray, target: np.ndarray, other: np.ndarray,
                n: int, reg: float) -> tuple[np.ndarray, np.ndarray]:
    """For each row r: ridge of ``target`` on ``[other[cols], 1]`` over r's ratings. The
    normal equations of every row at once: sparse (rows × cols) products with the other
    side's outer products and design."""
    design = np.hstack([other, np.ones((other.shape[0], 1))])  # [n_cols, k]
    k = design.shape[1]
    shape = (n, design.shape[0])
    rated = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=shape)
    outer = (design[:, :, None] * design[:, None, :]).reshape(design.shape[0], k * k)
    gram = np.asarray(rated @ outer).reshape(n, k, k) + reg * np.eye(k)[None]
    rhs = np.asarray(sp.csr_matrix((target, (rows, cols)), shape=shape) @ design)
    solved = np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]
    return solved[:, :-1], solved[:, -1]


def calibrated_catalog(data: RatingData, fit: FittedRatings, cfg: CatalogConfig,
                       rng: np.random.Generator) -> Catalog:
    """The data's items with the fitted directions and qualities (see the module docstring)."""
    names = data.genre_names()
    genre = np.array([names.index(g[0]) if g else 0 for g in data.items["genres"]],
                     dtype=np.int16)
    vectors = unit_rows(fit.item_factors).astype(np.float32)
    quality = cfg.quality_sd * (fit.item_bias - fit.item_bias.mean()) / fit.item_bias.std()
    appeal = _awareness(data)
    clickbait = rng.random(data.n_items) < cfg.clickbait_fraction
    appeal[clickbait] = np.abs(appeal[clickbait]) + 2.0
    quality[clickbait] = -np.abs(quality[clickbait]) - 1.0
    return Catalog(genre=genre, genre_centres=_centres(vectors, genre, len(names), rng),
                   vectors=vectors, quality=quality.astype(np.float32),
                   appeal=appeal.astype(np.float32), clickbait=clickbait,
                   release_day=_release_by_first_rating(data, cfg))


def _awareness(data: RatingData) -> np.ndarray:
    """Click appeal from how widely a title was rated: log count, in standard units.

    How many people rated a title says how many knew of it, which its mean rating (its
    quality) does not; random appeal would make the simulated audience spread evenly over
    titles the data's audience mostly never found.
    """
    counts = np.log1p(np.bincount(data.ratings["item"].to_numpy(), minlength=data.n_items))
    return (counts - counts.mean()) / counts.std()


def _centres(vectors: np.ndarray, genre: np.ndarray, n_genres: int,
             rng: np.random.Generator) -> np.ndarray:
    """Each genre's mean direction (a random one for a genre no item leads with)."""
    sums = np.zeros((n_genres, vectors.shape[1]))
    np.add.at(sums, genre, vectors)
    empty = ~sums.any(axis=1)
    sums[empty] = rng.standard_normal((int(empty.sum()), vectors.shape[1]))
    return unit_rows(sums).astype(np.float32)


def _release_by_first_rating(data: RatingData, cfg: CatalogConfig) -> np.ndarray:
    """Day 0 for items first rated early; the latest ``1 - initial_fraction`` spread over
    days 1..release_days in the order they were first rated."""
    first = data.ratings.groupby("item")["timestamp"].min().reindex(range(data.n_items))
    order = first.fillna(first.max()).rank(method="first").to_numpy() - 1  # 0..n-1
    n_late = round((1 - cfg.initial_fraction) * data.n_items)
    days = np.zeros(data.n_items, dtype=np.int16)
    late = order >= data.n_items - n_late
    rank_late = order[late] - (data.n_items - n_late)
    days[late] = 1 + (rank_late * cfg.release_days // max(n_late, 1)).astype(np.int16)
    return days


def calibrated_population(data: RatingData, fit: FittedRatings, cfg: PopulationConfig,
                          n: int, rng: np.random.Generator) -> Population:
    """``n`` users from the data's (see the module docstring for how it scales)."""
    source = np.concatenate([rng.permutation(data.n_users)
                             for _ in range(-(-n // data.n_users))])[:n]
    copy = np.arange(n) >= data.n_users
    taste = unit_rows(fit.user_factors)[source]
    jitter = rng.standard_normal(taste.shape) * (cfg.taste_noise / np.sqrt(taste.shape[1]))
    taste = unit_rows(taste + np.where(copy[:, None], jitter, 0.0))
    counts = np.bincount(data.ratings["user"], minlength=data.n_users).astype(np.float64)
    activity = cfg.sessions_per_day * counts[source] / counts.mean()
    return Population(taste=taste.astype(np.float32),
                      segment=_niche_users(data, cfg.niche_fraction)[source],
                      activity=activity)


def _niche_users(data: RatingData, fraction: float) -> np.ndarray:
    """NICHE for the ``fraction`` of users whose rated items are least popular on average."""
    popularity = np.bincount(data.ratings["item"], minlength=data.n_items)
    taste_for_pop = pd.Series(popularity[data.ratings["item"].to_numpy()]).groupby(
        data.ratings["user"].to_numpy()).mean().reindex(range(data.n_users)).to_numpy()
    cut = np.quantile(taste_for_pop, fraction)
    return np.where(taste_for_pop <= cut, NICHE, MAINSTREAM).astype(np.int8)
