"""What the churn dashboard and the holdout monitor are computed from, as plain data.

The dashboard sets the churn model's view (mean predicted risk over the users it scores)
beside the truth only the simulator knows: the same users' true probability of staying
away for the label's N days, the day's true churn and the true segment sizes, split by
the users' hidden segment and by tenure band. The holdout monitor compares the retention
of users served random slates with production's, per segment, with a normal-approximation
interval. The other monitors (``sim/monitors.py``) hand over the churn model's calibration
per group on the last date whose label period is over, and their alarms.

Tenure bands, by days since a user's first logged activity (what the log shows, not the
hidden sign-up day), cut where the model's features change in kind: *new* users have less
history than one label period (``label_days``), *settled* ones less than the features'
lookback (``lookback_days``, so their windows are partly empty), *loyal* ones a full
lookback. Fixed day counts (7 / 30) would leave a 30-day run without loyal users.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recloop.agents.population import SEGMENT_NAMES

CHURN_ROWS = "churn"  # the arm label of the dashboard's rows in the metrics table
HOLDOUT_ROWS = "holdout_monitor"  # the arm label of the holdout monitor's rows
MONITOR_ROWS = "monitors"  # the arm label of the other monitors' rows
TENURE_BANDS = ("new", "settled", "loyal")
NAN = float("nan")


@dataclass(frozen=True)
class ChurnDay:
    """One midnight of the churn dashboard."""

    segment: np.ndarray  # int[n]: the scored users' true segments
    band: np.ndarray  # int[n]: the scored users' tenure bands (``TENURE_BANDS``)
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

    def band_mean(self, values: np.ndarray, band: int) -> float:
        """Mean of ``values`` over scored users of tenure band ``band``."""
        rows = self.band == band
        return float(values[rows].mean()) if rows.any() and values.size else NAN


def tenure_band(tenure: np.ndarray, label_days: int, lookback_days: int) -> np.ndarray:
    """int per user: 0 new (< label_days), 1 settled (< lookback_days), 2 loyal."""
    return (tenure >= label_days).astype(np.int8) + (tenure >= max(label_days, lookback_days))


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
BANDS = tuple(enumerate(TENURE_BANDS))
GROUPS = (*SEGMENT_NAMES, *TENURE_BANDS)  # the calibration monitor's groups, in row order


@dataclass(frozen=True)
class CalibrationDay:
    """The churn model on one matured date, per group of ``GROUPS``: mean predicted risk
    of the users it scored for that date, and the share of them who then stayed away."""

    date: int  # the scored date, whose label period ended tonight
    predicted: np.ndarray  # float[groups]
    observed: np.ndarray  # float[groups]
    users: np.ndarray  # int[groups]: scored users in the group

    def gap(self, group: int) -> float:
        """Predicted − observed churn (negative: the model says "fine" while they leave)."""
        return float(self.predicted[group] - self.observed[group]) if self.users[group] \
            else NAN

    def breach(self, threshold: float, min_users: int) -> bool:
        """Some group with ``min_users`` scored users is off by more than ``threshold``."""
        gaps = np.abs(self.predicted - self.observed)
        return bool(((self.users >= min_users) & (gaps > threshold)).any())


@dataclass(frozen=True)
class MonitorDay:
    """One midnight of the monitors: the calibration read (None before the first matured
    date) and every monitor's alarm as (up today, times raised so far)."""

    calibration: CalibrationDay | None
    alarms: dict[str, tuple[bool, int]]

    def gap(self, group: int) -> float:
        return NAN if self.calibration is None else self.calibration.gap(group)

    def up(self, monitor: str) -> float:
        return float(self.alarms[monitor][0]) if monitor in self.alarms else NAN

    def raised(self, monitor: str | None = None) -> float:
        """Times ``monitor`` (every monitor: None) went up so far."""
        if monitor is None:
            return float(sum(raised for _, raised in self.alarms.values()))
        return float(self.alarms[monitor][1]) if monitor in self.alarms else NAN
