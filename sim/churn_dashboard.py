"""The product team's churn dashboard, with the truth only the simulator knows beside it.

Every midnight, after the day's partition is sealed, the churn learner
(``sim/churn_model.py``) fits on the log and scores its base (users with logged activity
in the lookback) as of tomorrow. This closer then looks behind the curtain: it splits the
scored users by their hidden segment and puts next to their mean predicted risk the same
users' *true* risk of no activity in the next N days, and next to that the day's true
churn and the true segment sizes; the same again per tenure band. It keeps tonight's
scores (``scored``) for the calibration monitor, which needs them once their label
period is over. Each fit's record (the dates and data version it read,
its held-out AUC, Brier score and calibration) goes to ``churn_registry.parquet`` in the
run directory. Nothing here flows back: no arm, policy or learner
reads the dashboard (``tests/test_churn.py`` checks that a run's log is the same with it
on or off).

True risk, from the hidden state held as it is tonight: a user already gone never comes
back (1). Otherwise with λ visits a day (Poisson) and churn hazard h:

- churn drawn per day (at each midnight, visit or not): with p = 1 − e^−λ and
  r = (1 − p)(1 − h), P(active within N days) = p (1 − r^N) / (1 − r);
- churn drawn per session (after a visit): the first visit comes before any churn, so
  P(active within N days) = 1 − e^−λN.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recloop.agents.population import SEGMENT_NAMES
from recloop.agents.users import churn_probability
from recloop.agents.visits import visit_rate
from recloop.sim.churn_model import NAN, ChurnLearner, ChurnRecord, write_registry
from recloop.sim.metrics.churn import CHURN_ROWS, ChurnDay, tenure_band
from recloop.sim.metrics.monitor_metrics import churn_values
from recloop.sim.service import Service
from recloop.sim.state import ServingState


def true_inactive_probability(rate: np.ndarray, hazard: np.ndarray, days: int,
                              per_session: bool) -> np.ndarray:
    """P(no visit in the next ``days`` days) for users still present (module docstring)."""
    if per_session:
        return np.exp(-rate * days)
    p = 1 - np.exp(-rate)
    r = (1 - p) * (1 - hazard)
    geometric = np.where(r < 1, (1 - r**days) / np.where(r < 1, 1 - r, 1), days)
    return 1 - p * geometric


@dataclass(frozen=True)
class Scored:
    """The users scored for ``date`` (their base as of it) and what the model said."""

    date: int
    users: np.ndarray
    predicted: np.ndarray
    segment: np.ndarray  # the true segments, for the simulator's eyes only
    band: np.ndarray  # tenure bands as of ``date`` (``metrics/churn.py``)


class ChurnDashboard:
    """Runs the churn learner's night at each midnight and records the dashboard's row."""

    name = CHURN_ROWS

    def __init__(self, learner: ChurnLearner, service: Service, registry: Path) -> None:
        """``registry``: where every fit's record is kept (``churn_registry.parquet``)."""
        self.learner, self.service, self.registry = learner, service, registry
        self.scored: Scored | None = None  # tonight's scores, for tomorrow's date

    def close_day(self, day: int) -> dict[str, float]:
        """Fit and judge on days <= ``day``, score tomorrow's base, set it beside the truth."""
        rec = self.learner.night(day)
        if rec is not None:
            write_registry(self.learner.records, self.registry)
        users, predicted = self.learner.score(day + 1)
        cfg = self.learner.cfg
        band = tenure_band(self.learner.reader.tenure(users, day + 1), cfg.label_days,
                           cfg.lookback_days)
        self.scored = Scored(day + 1, users, predicted,
                             self.service.world.population.segment[users], band)
        return churn_values(self._day(self.scored, rec))

    def _day(self, scored: Scored, rec: ChurnRecord | None) -> ChurnDay:
        svc, state = self.service, self.service.state.users
        segment = svc.world.population.segment
        tallies = [arm.tally for arm in svc.state.arms.values() if isinstance(arm, ServingState)]
        alive = state.joined & ~state.churned
        judged = rec is not None and rec.status == "deployed"
        return ChurnDay(
            segment=scored.segment, band=scored.band, predicted=scored.predicted,
            true_risk=self.true_risk(scored.users),
            churned=sum(t.churned for t in tallies),
            active_at_start=sum(t.active_at_start for t in tallies),
            sizes=np.bincount(segment[alive], minlength=len(SEGMENT_NAMES)),
            auc=rec.auc if judged else NAN, brier=rec.brier if judged else NAN,
            calibration=rec.calibration if judged else NAN)

    def true_risk(self, users: np.ndarray) -> np.ndarray:
        """Each user's true P(no activity in the next N days), from tonight's hidden state."""
        svc, state, cfg = self.service, self.service.state.users, self.service.cfg.users
        satisfaction = state.satisfaction[users]
        rate = visit_rate(svc.world.population.activity[users], satisfaction,
                          cfg.satisfaction_init, cfg.visits)
        away = true_inactive_probability(rate, churn_probability(satisfaction, cfg),
                                         self.learner.cfg.label_days,
                                         cfg.visits.churn_per == "session")
        return np.where(state.churned[users], 1.0, away)
