"""One day's tally of what happened, and the tidy metric rows computed from it.

The engine adds to a ``DayTally`` as sessions run; at midnight ``day_metrics`` turns it
into rows of the metrics table (``day, arm, metric, value``). Ground-truth quantities
(true utility, churn by hidden segment) are tallied here by the simulator, never logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agents.population import SEGMENT_NAMES
from sim.metrics import concentration as conc


@dataclass
class DayTally:
    """Running counts for one simulated day."""

    n_items: int
    active_at_start: np.ndarray  # users per segment not churned when the day began
    impressions: np.ndarray = field(init=False)  # per item
    sessions: int = 0
    clicks: int = 0
    completed: int = 0
    watched_utility: float = 0.0
    churned: np.ndarray = field(init=False)  # users per segment who churned today

    def __post_init__(self) -> None:
        self.impressions = np.zeros(self.n_items, dtype=np.int64)
        self.churned = np.zeros(len(SEGMENT_NAMES), dtype=np.int64)

    def add_sessions(
        self, shown: np.ndarray, clicked: np.ndarray, completed: np.ndarray, utility: np.ndarray
    ) -> None:
        """Count one batch: ``shown`` item ids, per-session click/complete flags, utilities."""
        self.impressions += np.bincount(shown, minlength=self.n_items)
        self.sessions += int(clicked.size)
        self.clicks += int(clicked.sum())
        self.completed += int(completed.sum())
        self.watched_utility += float(utility[clicked].sum())

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
    total = int(tally.impressions.sum())
    metrics = {
        "gini": conc.gini(counts),
        "top1_share": conc.top_share(counts, 0.01),
        "coverage": conc.coverage(counts),
        "exposure_entropy": conc.exposure_entropy(counts),
        "graveyard": conc.graveyard(counts, value),
        "graveyard_never_shown": conc.graveyard(np.where(never_shown[available], 0, 1), value),
        "impressions": float(total),
        "sessions": float(tally.sessions),
        "ctr": ratio(tally.clicks, total),
        "completion_rate": ratio(tally.completed, tally.clicks),
        "mean_true_utility": ratio(tally.watched_utility, tally.clicks),
        "active_users": float(tally.active_at_start.sum() - tally.churned.sum()),
    }
    for seg, name in enumerate(SEGMENT_NAMES):
        metrics[f"churn_rate_{name}"] = ratio(tally.churned[seg], tally.active_at_start[seg])
    return {k: float(v) for k, v in metrics.items()}
