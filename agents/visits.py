"""When users come, whether they stay, and who joins: visits that react to experience.

* ``satisfaction_elasticity`` (ε): a user's visit rate is their activity times
  ``exp(ε (satisfaction - satisfaction_init))``: served well, they come back more often.
  The default 1 lets a user at full satisfaction come about 35% more often than at the
  start; 0 keeps the rate fixed.
* ``churn_per``: ``day`` (the default) draws the churn hazard once per active user at each
  midnight, as services measure it; ``session`` draws it at the end of every visit, so the
  heaviest users face it most often.
* ``signups_per_day``: new users, with no history, join at each night from day 1 on (30 by
  default; 0 for a closed population). The population is drawn up front (``n_users`` +
  days × signups) and the newcomers wait.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recloop.conf.ranges import Between, one_of, ranged


@dataclass
class VisitsConfig:
    """How experience moves visits and churn, and how the population grows."""

    # visit rate multiplies by exp(elasticity * (satisfaction - satisfaction_init))
    satisfaction_elasticity: float = ranged(1.0, Between(0.0, 20.0))
    # draw the churn hazard once per visit ("session") or once per active user-day ("day")
    churn_per: str = ranged("day", one_of("session", "day"))
    # users joining at each night from day 1 on
    signups_per_day: int = ranged(30, Between(0, 100_000, integer=True))


def visit_rate(activity: np.ndarray, satisfaction: np.ndarray, initial: float,
               cfg: VisitsConfig) -> np.ndarray:
    """Expected visits per day of each user, given how satisfied they are."""
    if cfg.satisfaction_elasticity == 0:
        return activity
    return activity * np.exp(cfg.satisfaction_elasticity * (satisfaction - initial))


def cohort(day: int, n_initial: int, cfg: VisitsConfig) -> np.ndarray:
    """Ids of the users who join at the night before ``day``."""
    if day < 1 or cfg.signups_per_day == 0:
        return np.zeros(0, dtype=np.int64)
    start = n_initial + (day - 1) * cfg.signups_per_day
    return np.arange(start, start + cfg.signups_per_day)
