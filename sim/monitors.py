"""The monitors beside the holdout: the churn model's calibration, and concentration.

Each midnight, after the arms, the holdout readout and the churn dashboard have closed:

- **Calibration drift.** The scores the dashboard made for date ``d`` wait until ``d``'s
  label period (``d .. d+N-1``) is sealed, at midnight ``d+N-1``; then the share of those
  users who stayed away is set beside their mean predicted risk, per hidden segment and
  per tenure band (``metrics/churn.py``). This is what a product team can check, N days
  late, except that the segment is handed over by the simulator (as to the holdout). A
  group breaches when it has ``min_group_users`` scored users and the two differ by more
  than ``calibration_threshold``. Users the model no longer scores (gone from the log for
  a whole lookback) are not in any group: survivorship is what this monitor cannot see.
- **Concentration.** The production arm's top-1% share of the day's impressions, the very
  value the adaptive controller reads (``ServingState.last_top1_share``), judged by the
  controller's own test (``controllers.concentrated``) against ``top1_threshold``.

``alarm_days`` breaches running raise an alarm (``sim/alarms.py``); both fall when a day
passes without one. Alarm states live in ``RunState.monitors``, the holdout's too, and
each day's row carries every alarm and the count raised so far.
"""

from __future__ import annotations

import numpy as np

from recloop.sim.alarms import CALIBRATION, CONCENTRATION, AlarmState, MonitorConfig, step_alarm
from recloop.sim.churn_dashboard import ChurnDashboard, Scored
from recloop.sim.churn_features import ActivityReader
from recloop.sim.controllers import concentrated
from recloop.sim.metrics.churn import (
    GROUPS,
    MONITOR_ROWS,
    TENURE_BANDS,
    CalibrationDay,
    MonitorDay,
)
from recloop.sim.metrics.monitor_metrics import monitor_values
from recloop.sim.state import ServingState


def calibration_day(scored: Scored, stayed_away: np.ndarray) -> CalibrationDay:
    """Mean predicted risk and observed churn per group of ``GROUPS``."""
    group = np.concatenate([scored.segment, len(GROUPS) - len(TENURE_BANDS) + scored.band])
    rows = np.tile(np.arange(scored.users.size), 2)
    users = np.bincount(group, minlength=len(GROUPS))
    predicted = np.bincount(group, weights=scored.predicted[rows], minlength=len(GROUPS))
    observed = np.bincount(group, weights=stayed_away[rows].astype(np.float64),
                           minlength=len(GROUPS))
    with np.errstate(invalid="ignore", divide="ignore"):
        return CalibrationDay(scored.date, predicted / users, observed / users, users)


class CalibrationMonitor:
    """Scores waiting for their label period to end, and the calibration read from them."""

    def __init__(self, reader: ActivityReader, label_days: int) -> None:
        self.reader, self.label_days = reader, label_days
        self.waiting: dict[int, Scored] = {}  # scored date -> its scores

    def record(self, scored: Scored | None) -> None:
        if scored is not None and scored.users.size:
            self.waiting[scored.date] = scored

    def matured(self, day: int) -> CalibrationDay | None:
        """After ``day`` is sealed: the date whose label period ended with it, if scored."""
        date = day - self.label_days + 1
        for old in [d for d in self.waiting if d < date]:
            del self.waiting[old]
        scored = self.waiting.pop(date, None)
        if scored is None:
            return None
        return calibration_day(scored, self.reader.churned(scored.users, date,
                                                           self.label_days))


class Monitors:
    """The monitors' row at each midnight; reads the dashboard's scores and production."""

    name = MONITOR_ROWS

    def __init__(self, dashboard: ChurnDashboard, production: ServingState,
                 alarms: dict[str, AlarmState], cfg: MonitorConfig) -> None:
        """``alarms``: the run state's alarm states (the holdout's too, when it runs)."""
        self.dashboard, self.production, self.cfg = dashboard, production, cfg
        self.calibration = CalibrationMonitor(dashboard.learner.reader,
                                              dashboard.learner.cfg.label_days)
        self.alarms = alarms
        for monitor in (CALIBRATION, CONCENTRATION):
            alarms.setdefault(monitor, AlarmState())

    def close_day(self, day: int) -> dict[str, float]:
        """Read both monitors, move their alarms on, report every alarm."""
        cfg = self.cfg
        calibration = self.calibration.matured(day)
        self.calibration.record(self.dashboard.scored)
        off = calibration is not None and calibration.breach(cfg.calibration_threshold,
                                                             cfg.min_group_users)
        step_alarm(self.alarms[CALIBRATION], off, day, cfg.alarm_days)
        heavy = concentrated(self.production.last_top1_share, cfg.top1_threshold)
        step_alarm(self.alarms[CONCENTRATION], heavy, day, cfg.alarm_days)
        return monitor_values(MonitorDay(calibration, {
            name: (alarm.up, alarm.raised) for name, alarm in self.alarms.items()}))
