"""The decision that closes the indirect loop: users the churn model flags get a retention slot.

Off by default (``churn_model.decision=none``). With ``retention_slot``, each midnight the
users whose predicted risk for tomorrow exceeds ``churn_model.at_risk`` are flagged
(``RunState.at_risk``); tomorrow every production slate of a flagged user has its last
slot replaced by the most played title so far (``RunState.plays``: clicks and organic
plays, what the service logged) that is released, not in the slate and not yet watched
by the user. A popular title is what a retention team reaches for first; whether it helps
or deepens the loop (niche users flagged and then served more of the head) is what the
switch is there to show. The holdout never gets it: its slates stay random.

The slot is chosen by a fixed rule, so its propensity is 1; the decision reads only the
model's scores and what the service logged, never the users' hidden state.
"""

from __future__ import annotations

import numpy as np

from recloop.policies.types import Slates
from recloop.sim.churn_dashboard import ChurnDashboard
from recloop.sim.serving import Served

CANDIDATES = 64  # most played titles looked through for a user's slot


def retention_slot(served: Served, users: np.ndarray, flagged: np.ndarray, plays: np.ndarray,
                   available: np.ndarray, seen: np.ndarray) -> Served:
    """``served`` (a row per user of ``users``) with the last slot of each flagged user's
    row replaced; a row with no eligible title keeps its slate. ``seen``: bool[users, items]
    of everyone, watched so far."""
    rows = np.flatnonzero(flagged[users])
    if rows.size == 0:
        return served
    order = np.flatnonzero(available)[np.argsort(-plays[available], kind="stable")]
    top = order[:CANDIDATES]
    items = served.slates.items.copy()
    ok = ~seen[np.ix_(users[rows], top)] & ~(items[rows][:, :, None] == top[None, None, :]).any(axis=1)
    has = ok.any(axis=1)
    rows, pick = rows[has], top[np.argmax(ok[has], axis=1)]
    items[rows, -1] = pick
    prop = served.slates.propensity
    if prop is not None:
        prop = prop.copy()
        prop[rows, -1] = 1.0
    return Served(Slates(items, prop), served.path, served.ranked)


class RetentionDecision:
    """At midnight, after the dashboard: flag tomorrow's at-risk users in the run state."""

    name = ""  # writes no row

    def __init__(self, dashboard: ChurnDashboard, at_risk: np.ndarray, threshold: float) -> None:
        """``at_risk``: the run state's flags, changed in place."""
        self.dashboard, self.at_risk, self.threshold = dashboard, at_risk, threshold

    def close_day(self, day: int) -> dict[str, float]:
        self.at_risk[:] = False
        scored = self.dashboard.scored
        if scored is not None:
            self.at_risk[scored.users[scored.predicted > self.threshold]] = True
        return {}
