"""The A/B test's own row each day: effects of treatment over control and the SRM check.

It reads the two serving arms' states (their per-user sums and who was ever served) and
nothing else; it has no night and serves nobody, so it only takes part in the close of day.
"""

from __future__ import annotations

from recloop.sim.metrics.abtest import AB_ROWS
from recloop.sim.metrics.catalogue import ab_values
from recloop.sim.metrics.inputs import ABDay
from recloop.sim.state import ServingState


class ABReadout:
    """Treatment − control, read at midnight after the arms have closed their day."""

    name = AB_ROWS

    def __init__(self, control: ServingState, treatment: ServingState, share: float) -> None:
        self.control, self.treatment, self.share = control, treatment, share

    def close_day(self, day: int) -> dict[str, float]:
        """The day's effects with their errors, and the sample-ratio p-value."""
        exposed = (float(self.control.ever_served.sum()), float(self.treatment.ever_served.sum()))
        return ab_values(ABDay(self.control.tally.per_user, self.treatment.tally.per_user,
                               exposed, self.share))
