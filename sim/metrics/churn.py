"""What the churn dashboard and the holdout monitor are computed from, as plain data.

The dashboard sets the churn model's view (mean predicted risk over the users it scores)
beside the truth only the simulator knows: the same users' true probability of staying
away for the label's N days, the day's true churn and the true segment sizes, split by
the users' hidden segment. The holdout monitor compares the retention of users served
random slates with production's, per segment, with a normal-approximation interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recloop.agents.population import SEGMENT_NAMES

CHURN_ROWS = "churn"  # the arm label of the dashboard's rows in the metrics table
HOLDOUT_ROWS = "holdout_monitor"  # the arm label of the holdout monitor's rows
NAN = float("nan")


@dataclass(frozen=True)
class ChurnDay:
    """One midnight of the churn dashboard."""

    segment: np.ndarray  # int[n]: the scored users' true segments
    predicted: np.ndarray  # float[n]: the model's risk (empty before its first fit)
    true_risk: np.ndarray  # float[n]: the same users' true P(no activity in N days)
    churned: np.ndarray  # int[segments]: users who left at this midnight (all arms)
    active_at_start: np.ndarray  # int[segments]: users active as the day began
    sizes: np.ndarray  # int[segments]: users active after this midnight
    auc: float = NAN  # tonight's fit on its held-out date (NaN: no fit tonight)
    brier: float = NAN
    calibration: float = NAN

    def mean(self, values: np.ndarray, segment: int | None) -> float:
        """Mean of ``values`` over scored users of ``segment`` (all users: None)."""
        rows = np.ones(self.segment.size, dtype=bool) if segment is None else \
            self.segment == segment
        return float(values[rows].mean()) if rows.any() and values.size else NAN


def retention_gap(retained: np.ndarray, joined: np.ndarray) -> tuple[float, float]:
    """Production minus holdout retention and its standard error, Agresti–Caffo style.

    ``retained`` and ``joined`` hold (production, holdout) counts for one segment; the two
    groups hold disjoint users, so the variances of the two proportions add. One retained
    and one lost user are added to each group first (Agresti & Caffo, 2000): a small
    holdout that has lost nobody yet would otherwise have zero variance, and a plain Wald
    interval would call any production loss significant.
    """
    if joined.min() == 0:
        return NAN, NAN
    share = (retained + 1) / (joined + 2)
    se = np.sqrt((share * (1 - share) / (joined + 2)).sum())
    return float(share[0] - share[1]), float(se)


@dataclass(frozen=True)
class HoldoutDay:
    """One midnight of the holdout monitor: per segment, per group (production, holdout)."""

    retained: np.ndarray  # int[segments, 2]: joined users not churned
    joined: np.ndarray  # int[segments, 2]: users who had joined by today
    alarm: bool  # the niche gap's interval has excluded 0 for alarm_days days running

    def retention(self, segment: int, group: int) -> float:
        n = self.joined[segment, group]
        return float(self.retained[segment, group] / n) if n else NAN

    def gap(self, segment: int) -> tuple[float, float]:
        return retention_gap(self.retained[segment], self.joined[segment])


SEGMENTS = tuple(enumerate(SEGMENT_NAMES))
