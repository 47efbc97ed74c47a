"""Point-in-time features for the two-stage ranker, and the leakage-free training split.

A ranking feature must be computable at serving time from what was logged before; when the
ranker is trained on day d's impressions, every feature of a day-d row must therefore come
from days strictly before d. ``split_last_day`` produces exactly that history, and
``pair_features`` turns a history plus retrieval output into the feature matrix, so the
training and serving paths share one definition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recloop.policies.types import TrainingWindow

FEATURES = ("genre_affinity", "item_popularity", "item_age", "retrieval_score", "retrieval_rank")


@dataclass(frozen=True)
class History:
    """Aggregates of the positives a model may know about."""

    genre_share: np.ndarray  # float32[n_users, n_genres]: share of the user's positives
    popularity: np.ndarray  # float32[n_items]: log1p(positives)


@dataclass(frozen=True)
class LastDay:
    """The newest day of a window as labelled pairs, plus the positives before it."""

    day: int
    users: np.ndarray  # int64[pairs]: distinct (user, item) pairs impressed that day
    items: np.ndarray  # int64[pairs]
    labels: np.ndarray  # bool[pairs]: the pair is a positive in the window
    before: sp.csr_matrix  # users × items positives from earlier days only


def history(positives: sp.csr_matrix, genre: np.ndarray) -> History:
    """Per-user genre shares and per-item log popularity from a positives matrix."""
    n_genres = int(genre.max(initial=0)) + 1
    one_hot = sp.csr_matrix(
        (np.ones(genre.size, np.float32), (np.arange(genre.size), genre.astype(np.int64))),
        shape=(genre.size, n_genres),
    )
    per_genre = np.asarray((positives @ one_hot).todense(), dtype=np.float32)
    totals = per_genre.sum(axis=1, keepdims=True)
    share = np.divide(per_genre, totals, out=np.zeros_like(per_genre), where=totals > 0)
    counts = np.asarray(positives.sum(axis=0), dtype=np.float32).ravel()
    return History(share, np.log1p(counts))


def split_last_day(window: TrainingWindow) -> LastDay | None:
    """The window's last logged day as labelled pairs, and the positives of the days before.

    Positives before day d are the window's positives minus every pair impressed on day d.
    That removes all of day d's positives (a positive needs an impression), and nothing
    else: a watched item is never shown to that user again, so a pair impressed on day d has
    no earlier positive. Removing can only lose information, so this cannot leak day d.
    None when the window has no impressions.
    """
    log = window.impressions
    if len(log) == 0:
        return None
    day = int(log["day"].max())
    pairs = log.loc[log["day"] == day, ["user", "item"]].drop_duplicates()
    users = pairs["user"].to_numpy(np.int64)
    items = pairs["item"].to_numpy(np.int64)
    positives = window.interactions.tocsr()
    labels = np.asarray(positives[users, items]).ravel() > 0
    shown = sp.csr_matrix((np.ones(users.size, bool), (users, items)), shape=positives.shape)
    before = positives - positives.multiply(shown)
    before.eliminate_zeros()
    return LastDay(day, users, items, labels, before.tocsr())


def pair_features(
    hist: History,
    genre: np.ndarray,
    release_day: np.ndarray,
    day: int,
    pairs: tuple[np.ndarray, np.ndarray],
    retrieval: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """float32[..., 5] features (order: ``FEATURES``) for (user, item) pairs.

    ``pairs`` are same-shaped user and item arrays; ``retrieval`` the candidate generator's
    score and 0-based rank for each pair. ``day`` is the day the pairs are (to be) shown.
    """
    users, items = pairs
    out = np.empty((*items.shape, len(FEATURES)), dtype=np.float32)
    out[..., 0] = hist.genre_share[users, genre[items]]
    out[..., 1] = hist.popularity[items]
    out[..., 2] = day - release_day[items].astype(np.float32)
    out[..., 3], out[..., 4] = retrieval
    return out
