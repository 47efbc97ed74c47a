"""One day's tally of what happened, and the tidy metric rows computed from it.

The engine adds to a ``DayTally`` as sessions run; at midnight ``day_metrics`` turns it
into rows of the metrics table (``day, arm, metric, value``). Ground-truth quantities
(true utility, churn by hidden segment) are tallied here by the simulator, never logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agents.population import SEGMENT_NAMES
from sim.eventlog import SERVING_PATHS
from sim.metrics import concentration as conc
from sim.metrics.offline import RANKING_METRICS
from sim.metrics.slates import intra_list_diversity
from sim.pipeline.registry import ModelRecord


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
            completed: np.ndarray, utility: np.ndarray, watched: np.ndarray) -> None:
        """Users within one call are distinct (one round), so plain indexing adds correctly."""
        self.sessions[users] += 1
        self.impressions[users] += impressions
        self.clicks[users] += clicked
        self.completed[users] += completed
        self.utility[users] += utility
        self.watched[users] += watched

    def ratio(self, metric: str) -> tuple[float, float]:
        """A ratio metric and its standard error over users (see ``ratio_with_se``)."""
        num, den = RATIO_PARTS[metric]
        return ratio_with_se(getattr(self, num), getattr(self, den))


RATIO_PARTS = {  # ratio metric -> (numerator, denominator) per user
    "ctr": ("clicks", "impressions"),
    "completion_rate": ("completed", "clicks"),
    "mean_true_utility": ("utility", "clicks"),
    "watch_per_session": ("watched", "sessions"),  # watch time, in titles per session
}


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

    def __post_init__(self) -> None:
        self.per_user = UserSums(self.n_users)
        self.impressions = np.zeros(self.n_items, dtype=np.int64)
        self.churned = np.zeros(len(SEGMENT_NAMES), dtype=np.int64)
        self.paths = np.zeros(len(SERVING_PATHS), dtype=np.int64)

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
    ) -> None:
        """Count one batch of sessions: their users, slates (int[n, k], -1 empty), serving
        path codes, click/complete flags, the true utility at the clicked position and the
        fraction of the clicked title watched (0 without a click)."""
        self.per_user.add(users, (items >= 0).sum(axis=1), clicked, completed,
                          np.where(clicked, utility, 0.0), np.where(clicked, watched, 0.0))
        self.impressions += np.bincount(items[items >= 0], minlength=self.n_items)
        self.paths += np.bincount(path, minlength=len(SERVING_PATHS))
        diversity = intra_list_diversity(items, genre)
        self.diversity_sum += float(np.nansum(diversity))
        self.diversity_slates += int(np.isfinite(diversity).sum())

    def add_churn(self, segments: np.ndarray) -> None:
        self.churned += np.bincount(segments, minlength=len(SEGMENT_NAMES))


def ratio(num: float, den: float) -> float:
    """num / den, NaN when there is nothing to divide by (shown as a gap, not a zero)."""
    return float(num / den) if den else float("nan")


def day_metrics(
    tally: DayTally, available: np.ndarray, item_value: np.ndarray, never_shown: np.ndarray
) -> dict[str, float]:
    """All metrics of one day; exposure metrics are over released items only."""
    counts, value = tally.impressions[available], item_value[available]
    sessions = float(tally.per_user.sessions.sum())
    rates = {name: tally.per_user.ratio(name) for name in RATIO_PARTS}  # (value, se)
    metrics = {
        "gini": conc.gini(counts),
        "top1_share": conc.top_share(counts, 0.01),
        "coverage": conc.coverage(counts),
        "exposure_entropy": conc.exposure_entropy(counts),
        "graveyard": conc.graveyard(counts, value),
        "graveyard_never_shown": conc.graveyard(np.where(never_shown[available], 0, 1), value),
        "impressions": float(tally.impressions.sum()),
        "sessions": sessions,
        **{name: value for name, (value, _) in rates.items()},
        "active_users": float(tally.active_at_start.sum() - tally.churned.sum()),
        "intra_list_diversity": ratio(tally.diversity_sum, tally.diversity_slates),
        "users_served": float((tally.per_user.sessions > 0).sum()),
    }
    metrics |= {f"{name}_se": se for name, (_, se) in rates.items()}
    for code, name in enumerate(SERVING_PATHS):
        metrics[f"served_{name}_share"] = ratio(tally.paths[code], sessions)
    for seg, name in enumerate(SEGMENT_NAMES):
        metrics[f"churn_rate_{name}"] = ratio(tally.churned[seg], tally.active_at_start[seg])
    return {k: float(v) for k, v in metrics.items()}


def night_metrics(record: ModelRecord, production: int | None) -> dict[str, float]:
    """What the night before the day decided, as numbers for the metrics table."""
    nan = float("nan")
    gate = nan if record.gate_passed is None else float(record.gate_passed)
    out = {
        "model_version": float(production or 0),
        "deployed": float(record.status in ("deployed", "rolled_back")),
        "validation_failed": float(record.status == "validation_failed"),
        "nightly_failed": float(record.status == "job_failed"),
        "gate_passed": gate,
        "rolled_back": float(record.status == "rolled_back"),
    }
    for name in ("ips", "snips", "cascade_ips"):  # the candidate's CTR, estimated off-policy
        out[f"{name}_ctr_candidate"] = record.offpolicy.get(name, nan)
        out[f"{name}_ctr_candidate_se"] = record.offpolicy.get(f"{name}_se", nan)
    for name in RANKING_METRICS:
        out[f"offline_{name}_candidate"] = record.offline.get(name, nan)
        out[f"offline_{name}_production"] = record.production_offline.get(name, nan)
    return out
