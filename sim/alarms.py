"""Alarms: when a monitor's daily breach becomes an alarm, and what it remembers.

A monitor sees one breach or none per midnight; ``alarm_days`` breaches running raise its
alarm. A latched alarm stays up once raised (the holdout's: a retention gap that opened
does not close by itself); an unlatched one falls as soon as a day passes without a breach
(calibration and concentration track a level that can recover, e.g. once the adaptive
controller explores more). The state lives in ``RunState.monitors``, one entry per
monitor, so an alarm is part of the run, not something a report recomputes.
"""

from __future__ import annotations

from dataclasses import dataclass

from recloop.conf.ranges import UNIT, Between, ranged

CALIBRATION, CONCENTRATION, HOLDOUT_ALARM = "calibration", "concentration", "holdout"
MONITOR_NAMES = (CALIBRATION, CONCENTRATION, HOLDOUT_ALARM)


@dataclass
class MonitorConfig:
    """Thresholds of the monitors beside the holdout (active with ``churn_model.enabled``).

    Calibration: the churn model's mean predicted risk against the churn observed once a
    scored date's label period is over, per hidden segment and per tenure band; a group
    breaches when it holds ``min_group_users`` scored users and the two differ by more
    than ``calibration_threshold``. Concentration: the production arm's top-1% share of
    impressions, the number the adaptive controller reads, above ``top1_threshold``.
    """

    calibration_threshold: float = ranged(0.05, Between(0.0, 1.0, strict=True))
    min_group_users: int = ranged(50, Between(1, 1_000_000, integer=True))
    top1_threshold: float = ranged(0.5, UNIT)
    alarm_days: int = ranged(3, Between(1, 365, integer=True))  # breaches running to alarm


@dataclass
class AlarmState:
    """One monitor's alarm as of the last midnight."""

    streak: int = 0  # days running with a breach
    up: bool = False
    raised: int = 0  # times it went up so far
    first_day: int | None = None  # the day it first went up


def step_alarm(alarm: AlarmState, breach: bool, day: int, alarm_days: int,
               latch: bool = False) -> AlarmState:
    """The alarm after ``day``'s reading; changes ``alarm`` in place and returns it."""
    alarm.streak = alarm.streak + 1 if breach else 0
    up = alarm.streak >= alarm_days or (latch and alarm.up)
    if up and not alarm.up:
        alarm.raised += 1
        alarm.first_day = day if alarm.first_day is None else alarm.first_day
    alarm.up = up
    return alarm
