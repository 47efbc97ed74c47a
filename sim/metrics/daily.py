"""One day's tally of what happened, per item and per user.

An arm adds to its ``DayTally`` as sessions run; at midnight the metric catalogue
(``sim/metrics/catalogue.py``) turns it into the arm's row of the metrics table.
Ground-truth quantities (true utility, churn by hidden segment) are tallied here by the
simulator, never logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recloop.agents.population import SEGMENT_NAMES
from recloop.conf.distinct import distinct
from recloop.sim.eventlog import SERVING_PATHS
from recloop.sim.metrics.slates import intra_list_diversity


class UserSums:
    """Per-user totals of one day: users, not sessions, are the independent units."""

    def __init__(self, n_users: int) -> None:
        self.sessions = np.zeros(n_users)
        self.impressions = np.zeros(n_users)
        self.clicks = np.zeros(n_users)
        self.completed = np.zeros(n_users)
        self.utility = np.zeros(n_users)
        self.watched = np.zeros(n_users)  # titles' worth watched (sum of watched fractions)

    def add(self, users: np.ndarray, impressions: np.ndarray, clicked: np.ndarray,
            completed: np.ndarray, utility: np.ndarray, watched: np.ndarray,
            visits: np.ndarray | None = None) -> None:
        """Users within one call are distinct (one round), so plain indexing adds correctly.

        ``visits`` marks the requests that open a session (all, by default): a session that
        goes on to further slates counts once.
        """
        self.sessions[users] += 1 if visits is None else visits
        self.impressions[users] += impressions
        self.clicks[users] += clicked
        self.completed[users] += completed
        self.utility[users] += utility
        self.watched[users] += watched

    def ratio(self, num: str, den: str) -> tuple[float, float]:
        """Σnum / Σden over users, by field name, and its standard error (``ratio_with_se``)."""
        return ratio_with_se(getattr(self, num), getattr(self, den))


def ratio_with_se(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """Σnum / Σden and its delta-method standard error with users as the units.

    A user's sessions within a day are correlated, so treating sessions (or impressions) as
    independent would understate the error; the per-user sums are independent draws.
    """
    units = den > 0
    n, total = int(units.sum()), float(den.sum())
    if total == 0:
        return float("nan"), float("nan")
    value = float(num.sum()) / total
    if n < 2:
        return value, float("nan")  # one user: a value, but no spread to estimate
    residual = num[units] - value * den[units]
    return value, float(np.sqrt((residual**2).sum() * n / (n - 1)) / total)


@dataclass
class DayTally:
    """Running counts for one simulated day."""

    n_items: int
    active_at_start: np.ndarray  # users per segment not churned when the day began
    n_users: int
    impressions: np.ndarray = field(init=False)  # per item
    diversity_sum: float = 0.0  # sum over slates of intra-list diversity
    diversity_slates: int = 0
    churned: np.ndarray = field(init=False)  # users per segment who churned today
    paths: np.ndarray = field(init=False)  # sessions served per serving path
    per_user: UserSums = field(init=False)  # sessions, clicks, ...: totals and their errors
    reach: list[np.ndarray] = field(init=False)  # per batch: user * n_items + item, shown
    organic_plays: int = 0  # plays found outside the recommender
    organic_utility: float = 0.0  # their summed true utility

    def __post_init__(self) -> None:
        self.per_user = UserSums(self.n_users)
        self.impressions = np.zeros(self.n_items, dtype=np.int64)
        self.churned = np.zeros(len(SEGMENT_NAMES), dtype=np.int64)
        self.paths = np.zeros(len(SERVING_PATHS), dtype=np.int64)
        self.reach = []

    def add_sessions(
        self,
        users: np.ndarray,
        items: np.ndarray,
        path: np.ndarray,
        clicked: np.ndarray,
        completed: np.ndarray,
        utility: np.ndarray,
        genre: np.ndarray,
        watched: np.ndarray,
        visits: np.ndarray | None = None,
    ) -> None:
        """Count one batch of sessions: their users, slates (int[n, k], -1 empty), serving
        path codes, click/complete flags, the true utility at the clicked position and the
        fraction of the clicked title watched (0 without a click)."""
        self.per_user.add(users, (items >= 0).sum(axis=1), clicked, completed,
                          np.where(clicked, utility, 0.0), np.where(clicked, watched, 0.0),
                          visits)
        self.impressions += np.bincount(items[items >= 0], minlength=self.n_items)
        rows, slots = np.nonzero(items >= 0)
        self.reach.append(users[rows].astype(np.int64) * self.n_items + items[rows, slots])
        self.paths += np.bincount(path, minlength=len(SERVING_PATHS))
        diversity = intra_list_diversity(items, genre)
        self.diversity_sum += float(np.nansum(diversity))
        self.diversity_slates += int(np.isfinite(diversity).sum())

    def distinct_reach(self) -> np.ndarray:
        """Per item: how many distinct users were shown it today."""
        if not self.reach:
            return np.zeros(self.n_items, dtype=np.int64)
        pairs = distinct(np.concatenate(self.reach))
        return np.bincount(pairs % self.n_items, minlength=self.n_items)

    def add_organic(self, plays: int, utility: float) -> None:
        self.organic_plays += plays
        self.organic_utility += utility

    def add_churn(self, segments: np.ndarray) -> None:
        self.churned += np.bincount(segments, minlength=len(SEGMENT_NAMES))


def ratio(num: float, den: float) -> float:
    """num / den, NaN when there is nothing to divide by (shown as a gap, not a zero)."""
    return float(num / den) if den else float("nan")
