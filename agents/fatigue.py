"""Impression fatigue: an item a user passed on attracts that user less, for a while.

Scanning top-down, a user examines slot j with probability e_j and stops at the first click,
so every slot above the click (every slot, without one) was passed over with probability
e_j. Each pass adds e_j to the (user, item) fatigue weight w, which halves every
``half_life_days``. An examined item attracts with probability c × ``decay`` ** w instead
of c. The default ``decay = 0.5`` halves the attraction of an item passed over once with
certainty; ``decay = 1`` switches fatigue off: no memory is kept and every number is as
without it.

The memory is bounded: each user keeps at most ``memory`` items, and a new one replaces the
item whose weight has decayed the most. The state is users × memory, never users × items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recloop.agents.per_user import PerUser
from recloop.conf.ranges import MAX_DAYS, Between, ranged

HOURS_PER_DAY = 24.0


@dataclass
class FatigueConfig:
    """How passing on an item wears it out for that user."""

    # attraction is multiplied by decay ** weight; 1 switches fatigue off
    decay: float = ranged(0.5, Between(0.0, 1.0))
    # days for a fatigue weight to halve
    half_life_days: float = ranged(3.0, Between(0, MAX_DAYS, strict=True))
    # items remembered per user (the most worn out ones)
    memory: int = ranged(32, Between(1, 1000, integer=True))

    @property
    def enabled(self) -> bool:
        return self.decay < 1.0


@dataclass
class FatigueMemory(PerUser):
    """Per user: remembered items, their weights and when each weight was last updated."""

    items: np.ndarray  # int32[n, m], -1 for an empty slot
    weight: np.ndarray  # float32[n, m], as of ``time``
    time: np.ndarray  # float32[n, m], run hours

    @classmethod
    def empty(cls, n_users: int, cfg: FatigueConfig) -> FatigueMemory:
        width = cfg.memory if cfg.enabled else 0
        return cls(np.full((n_users, width), -1, dtype=np.int32),
                   np.zeros((n_users, width), dtype=np.float32),
                   np.zeros((n_users, width), dtype=np.float32))

    def current(self, now: np.ndarray, cfg: FatigueConfig) -> np.ndarray:
        """float[n, m]: each weight decayed to ``now`` (run hours per row)."""
        elapsed = np.maximum(now[:, None] - self.time, 0.0)
        return self.weight * np.exp2(-elapsed / (HOURS_PER_DAY * cfg.half_life_days))


def attraction_scale(memory: FatigueMemory, items: np.ndarray, now: np.ndarray,
                     cfg: FatigueConfig) -> np.ndarray:
    """float[n, k]: ``decay ** w`` for each shown item (1 for items never passed on)."""
    weight = slate_weights(memory, items, memory.current(now, cfg))
    return np.power(cfg.decay, weight)


def slate_weights(memory: FatigueMemory, items: np.ndarray, current: np.ndarray) -> np.ndarray:
    """float[n, k]: the current weight of each slate item in its user's memory, else 0."""
    match = (items[:, :, None] == memory.items[:, None, :]) & (items[:, :, None] >= 0)
    return (match * current[:, None, :]).sum(axis=2)


def remember(memory: FatigueMemory, items: np.ndarray, click_position: np.ndarray,
             exam: np.ndarray, now: np.ndarray, cfg: FatigueConfig) -> FatigueMemory:
    """The memory after one session per row: passed-over items gain ``e_j`` of weight."""
    k = items.shape[1]
    stop = np.where(click_position < 0, k, click_position)  # the cascade ends at the click
    passed = (items >= 0) & (np.arange(k)[None, :] < stop[:, None])
    gain = np.where(passed, exam[None, :k], 0.0)
    weight = memory.current(now, cfg)
    match = (items[:, :, None] == memory.items[:, None, :]) & passed[:, :, None]
    weight = weight + (match * gain[:, :, None]).sum(axis=1)  # items already remembered
    touched = match.any(axis=1)
    new = passed & ~match.any(axis=2)
    out = FatigueMemory(memory.items.copy(), weight.astype(np.float32),
                        np.where(touched, now[:, None], memory.time).astype(np.float32))
    _insert(out, items, gain, new, touched, now)
    return out


def _insert(memory: FatigueMemory, items: np.ndarray, gain: np.ndarray, new: np.ndarray,
            touched: np.ndarray, now: np.ndarray) -> None:
    """In place: each row's new items take the slots of its least-worn remembered items."""
    rank = np.cumsum(new, axis=1) - 1  # j-th new item of its row
    key = np.where(touched, np.inf, memory.weight)  # never evict what this session updated
    key = np.where(memory.items < 0, -1.0, key)  # empty slots are taken first
    order = np.argsort(key, axis=1, kind="stable")
    free = memory.items.shape[1] - touched.sum(axis=1)
    fits = new & (rank < free[:, None])
    rows, cols = np.nonzero(fits)
    slots = order[rows, rank[rows, cols]]
    memory.items[rows, slots] = items[rows, cols]
    memory.weight[rows, slots] = gain[rows, cols]
    memory.time[rows, slots] = now[rows]
