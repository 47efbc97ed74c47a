"""The persistent holdout monitor: a small share of users served random slates, for good.

Why the A/B machinery: a holdout *is* an A/B split whose treatment never ships. The seeded
hash of ``sim/assignment.py`` picks ``churn_model.holdout_share`` of users (its own salt,
so it never coincides with an A/B test's split, and a user's group depends only on the
seed and their id); the holdout becomes a serving arm with a random policy and its own
pipeline, tally and metrics row (``arm=holdout``), which also prices it (its CTR and true
utility against production's). Each arm trains on its own rows: a holdout whose random
slates fed production's training would be a small exploration policy, softening the loop
it is there to catch.

Each midnight this readout compares, per hidden segment, the retention (the share of the
group's joined users not churned) of production with the holdout's; the two groups hold
disjoint users, so the difference's standard error is the root sum of the two binomial
variances. The alarm goes up on the first day when production's niche retention has been
below the holdout's with the interval (± ``alarm_z`` SE) excluding 0 for ``alarm_days``
days running, and stays up; its state is the run's (``RunState.monitors``,
``sim/alarms.py``). The simulator hands the monitor the true segment and the true churn; a
deployed monitor would estimate both from what it observes, so this measures the design
(does a small holdout have the power?) with the measurement noise left out.
"""

from __future__ import annotations

import numpy as np

from recloop.agents.population import NICHE, SEGMENT_NAMES
from recloop.sim.alarms import AlarmState, step_alarm
from recloop.sim.churn_model import ChurnModelConfig
from recloop.sim.metrics.churn import HOLDOUT_ROWS, HoldoutDay
from recloop.sim.metrics.monitor_metrics import holdout_values
from recloop.sim.service import Service
from recloop.sim.state import ServingState


class HoldoutReadout:
    """Production against the holdout, read at midnight after the arms have closed."""

    name = HOLDOUT_ROWS

    def __init__(self, production: ServingState, holdout: ServingState, service: Service,
                 cfg: ChurnModelConfig, alarm: AlarmState) -> None:
        """``alarm``: the run state's entry for this monitor."""
        self.groups, self.service, self.cfg, self.alarm = (production, holdout), service, cfg, alarm

    @property
    def alarm_day(self) -> int | None:
        return self.alarm.first_day

    def close_day(self, day: int) -> dict[str, float]:
        """The day's retention per segment and group, their gaps, and the alarm."""
        users, segment = self.service.state.users, self.service.world.population.segment
        joined = np.zeros((len(SEGMENT_NAMES), 2), dtype=np.int64)
        retained = np.zeros_like(joined)
        for g, group in enumerate(self.groups):
            mine = group.members & users.joined
            joined[:, g] = np.bincount(segment[mine], minlength=len(SEGMENT_NAMES))
            retained[:, g] = np.bincount(segment[mine & ~users.churned],
                                         minlength=len(SEGMENT_NAMES))
        today = HoldoutDay(retained, joined, alarm=False)
        gap, se = today.gap(NICHE)
        below = bool(np.isfinite(gap) and gap + self.cfg.alarm_z * se < 0)
        step_alarm(self.alarm, below, day, self.cfg.alarm_days, latch=True)
        return holdout_values(HoldoutDay(retained, joined, alarm=self.alarm.up))
