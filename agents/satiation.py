"""Satiation: a genre a user has just been watching is worth less to them for a while.

Watching a title of genre g to completion fraction f adds f to the user's satiation level
for g; every level halves each ``half_life_days``. An item of genre g is then worth
``U - weight * level_g`` to the user: less attractive, watched less far, and the utility
the user experiences. The default ``weight = 0.3`` costs a genre binge of three full
watches about 0.9 of utility (a third of the taste term's range); ``weight = 0`` switches
satiation off and keeps no memory. The state is users × genres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recloop.agents.per_user import PerUser
from recloop.conf.ranges import MAX_DAYS, Between, ranged

HOURS_PER_DAY = 24.0


@dataclass
class SatiationConfig:
    """How watching a genre dulls it."""

    # utility lost per unit of satiation in the item's genre; 0 switches satiation off
    weight: float = ranged(0.3, Between(0, 100))
    # days for a satiation level to halve
    half_life_days: float = ranged(2.0, Between(0, MAX_DAYS, strict=True))

    @property
    def enabled(self) -> bool:
        return self.weight > 0


@dataclass
class SatiationMemory(PerUser):
    """Per user: satiation level per genre, as of the user's last update."""

    level: np.ndarray  # float32[n, genres]
    time: np.ndarray  # float32[n], run hours

    @classmethod
    def empty(cls, n_users: int, n_genres: int, cfg: SatiationConfig) -> SatiationMemory:
        width = n_genres if cfg.enabled else 0
        return cls(np.zeros((n_users, width), np.float32), np.zeros(n_users, np.float32))

    def current(self, now: np.ndarray, cfg: SatiationConfig) -> np.ndarray:
        """float[n, genres]: every level decayed to ``now``."""
        elapsed = np.maximum(now - self.time, 0.0)[:, None]
        return self.level * np.exp2(-elapsed / (HOURS_PER_DAY * cfg.half_life_days))


def utility_loss(memory: SatiationMemory, items: np.ndarray, genre: np.ndarray,
                 now: np.ndarray, cfg: SatiationConfig) -> np.ndarray:
    """float[n, k]: what satiation takes off each slate item's utility (0 on empty slots)."""
    level = memory.current(now, cfg)
    loss = np.take_along_axis(level, genre[np.maximum(items, 0)], axis=1)
    return np.where(items >= 0, cfg.weight * loss, 0.0)


def consume(memory: SatiationMemory, genres: np.ndarray, completion: np.ndarray,
            now: np.ndarray, cfg: SatiationConfig) -> SatiationMemory:
    """The memory after each row watched ``completion`` of a title of ``genres`` (-1: none)."""
    level = memory.current(now, cfg).astype(np.float32)
    watched = np.flatnonzero(genres >= 0)
    level[watched, genres[watched]] += completion[watched]
    return SatiationMemory(level, np.asarray(now, np.float32).copy())
