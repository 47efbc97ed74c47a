"""The organic channel: plays users find outside the recommender (search, browse, friends).

With probability ``per_session`` a session also brings one organic play. The user picks,
among released items not yet watched, item i with probability proportional to
``exp(taste_weight * U_ui + popularity_weight * log(1 + plays_i))``: their own true
utility and how often the whole service has played the item so far (word of mouth). The
play is watched like a clicked recommendation. The service logs it with serving path
``organic`` and no propensity, and the nightly job trains on it like any other play: the
one signal of the users' tastes that the recommender did not choose. The default
``per_session = 0.5``: without this channel the recommender only ever learns from its own
choices, and in the default world ALS learned no taste at all (personalisation about 0);
0 switches the channel off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recloop.agents.catalog import Catalog
from recloop.agents.choice import ChoiceConfig, utility_for_all_items, watch
from recloop.agents.draws import Draws, as_draws
from recloop.conf.ranges import UNIT, Between, ranged


@dataclass
class OrganicConfig:
    """How often users find plays on their own, and what steers them."""

    # probability that a session also brings one play found outside the recommender
    per_session: float = ranged(0.5, UNIT)
    # weight of the user's own true utility in what they find
    taste_weight: float = ranged(1.0, Between(0, 100))
    # weight of log(1 + plays so far) in what they find
    popularity_weight: float = ranged(0.5, Between(0, 100))

    @property
    def enabled(self) -> bool:
        return self.per_session > 0


@dataclass(frozen=True)
class OrganicPlays:
    """The organic plays of one batch of sessions."""

    rows: np.ndarray  # index into the batch: whose session brought one
    items: np.ndarray  # int32, what each played
    completion: np.ndarray  # float32, how much of it they watched
    utility: np.ndarray  # float32, its true utility for them

    @classmethod
    def concat(cls, parts: list[OrganicPlays]) -> OrganicPlays:
        """Plays of several kinds for one batch, one after the other."""
        return cls(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("rows", "items", "completion", "utility")))


def find(taste: np.ndarray, allowed: np.ndarray, plays: np.ndarray, catalog: Catalog,
         choice: ChoiceConfig, cfg: OrganicConfig,
         draws: Draws | np.random.Generator) -> OrganicPlays:
    """Organic plays for a batch: ``taste`` and ``allowed`` (bool[n, n_items]) per session."""
    draws = as_draws(draws, taste.shape[0])
    found = draws.uniform(1, tag=2)[:, 0] < cfg.per_session
    rows = np.flatnonzero(found & allowed.any(axis=1))
    utility = utility_for_all_items(taste[rows], catalog, choice)
    score = cfg.taste_weight * utility + cfg.popularity_weight * np.log1p(plays, dtype=np.float32)
    players = draws.take(rows)
    pick = players.categorical(np.where(allowed[rows], score, -np.inf), tag=3)
    value = utility[np.arange(rows.size), pick].astype(np.float32)
    completion = watch(value, choice, players).astype(np.float32) if rows.size else value
    return OrganicPlays(rows, pick.astype(np.int32), completion, value)
