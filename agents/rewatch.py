"""Re-watching: users go back, on their own, to titles they loved.

A title watched to at least ``loved_at`` of its length joins the user's loved list (the
last ``memory`` such titles). With probability ``per_session`` a session also brings a
replay of one of them, picked uniformly; it is watched like any play (the Beta watch
model at its true utility) and reaches the log like an organic play: found outside the
recommender, which never shows a watched title again. The default ``per_session = 0.05`` is
small: replays feed the log, not the recommender; 0 switches re-watching off and keeps no
list.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recloop.agents.catalog import Catalog
from recloop.agents.choice import ChoiceConfig, true_utility, watch
from recloop.agents.draws import Draws, as_draws
from recloop.agents.organic import OrganicPlays
from recloop.agents.per_user import PerUser
from recloop.conf.ranges import UNIT, Between, ranged


@dataclass
class RewatchConfig:
    """How often users replay what they loved, and what counts as loved."""

    # probability that a session also brings a replay of a loved title
    per_session: float = ranged(0.05, UNIT)
    # share of a title watched that makes it loved
    loved_at: float = ranged(0.9, Between(0.0, 1.0))
    # loved titles remembered per user (the most recent)
    memory: int = ranged(16, Between(1, 1000, integer=True))

    @property
    def enabled(self) -> bool:
        return self.per_session > 0


@dataclass
class LovedMemory(PerUser):
    """Per user: the most recently loved titles, oldest first (-1: empty slot)."""

    items: np.ndarray  # int32[n, memory]

    @classmethod
    def empty(cls, n_users: int, cfg: RewatchConfig) -> LovedMemory:
        return cls(np.full((n_users, cfg.memory if cfg.enabled else 0), -1, dtype=np.int32))


def love(memory: LovedMemory, watched: np.ndarray, completion: np.ndarray,
         cfg: RewatchConfig) -> LovedMemory:
    """The list after each row watched ``watched`` (-1: nothing) this far: loved titles
    are appended, the oldest dropped when the list is full."""
    loved = (watched >= 0) & (completion >= cfg.loved_at)
    loved &= ~(memory.items == watched[:, None]).any(axis=1)  # already on the list
    items = memory.items.copy()
    rows = np.flatnonzero(loved)
    items[rows] = np.concatenate([items[rows, 1:], watched[rows, None]], axis=1)
    return LovedMemory(items)


def replay(taste: np.ndarray, memory: LovedMemory, catalog: Catalog, choice: ChoiceConfig,
           cfg: RewatchConfig, draws: Draws | np.random.Generator) -> OrganicPlays:
    """Replays for a batch: ``taste`` and ``memory`` rows per session."""
    draws = as_draws(draws, taste.shape[0])
    wants = draws.uniform(1, tag=7)[:, 0] < cfg.per_session
    rows = np.flatnonzero(wants & (memory.items >= 0).any(axis=1))
    players = draws.take(rows)
    slot = players.categorical(np.where(memory.items[rows] >= 0, 0.0, -np.inf), tag=8)
    items = memory.items[rows, slot]
    utility = true_utility(taste[rows], items[:, None], catalog, choice)[:, 0].astype(np.float32)
    completion = watch(utility, choice, players, tag=9).astype(np.float32)
    return OrganicPlays(rows, items.astype(np.int32), completion, utility)
