"""Sessions that continue: after a slate, the user may ask for another one.

After watching a title to completion fraction f the user asks for another slate with
probability ``after_watch * f`` once the watch ends (``f * title_hours`` later); after
passing on a slate, with probability ``after_pass``, ``browse_minutes`` later. No request
starts later than ``budget_hours`` after the visit began, nor after midnight. Every extra
slate is a real request: served, logged and answered like the first. Both probabilities
at 0 give one slate per visit; the defaults (0.5 after a watch, 0.2 after a pass) give
about 1.3 slates per visit in the default world.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recloop.agents.choice import Responses
from recloop.agents.draws import Draws, as_draws
from recloop.conf.ranges import UNIT, Between, ranged


@dataclass
class ContinuationConfig:
    """When a visit goes on to another slate."""

    # probability of another slate after watching a whole title (scaled by the share watched)
    after_watch: float = ranged(0.5, UNIT)
    # probability of another slate after passing on one
    after_pass: float = ranged(0.2, UNIT)
    # hours a whole title takes to watch
    title_hours: float = ranged(1.5, Between(0, 24, strict=True))
    # minutes spent passing on a slate
    browse_minutes: float = ranged(2.0, Between(0, 1440, strict=True))
    # no new slate later than this many hours after the visit began
    budget_hours: float = ranged(4.0, Between(0, 24, strict=True))

    @property
    def enabled(self) -> bool:
        return self.after_watch > 0 or self.after_pass > 0


@dataclass(frozen=True)
class NextRequests:
    """Which sessions ask for another slate, and when."""

    rows: np.ndarray  # index into the batch
    times: np.ndarray  # run hours of the next request


def next_requests(responses: Responses, times: np.ndarray, visit_start: np.ndarray,
                  cfg: ContinuationConfig, draws: Draws | np.random.Generator) -> NextRequests:
    """Draw who continues; keep those whose next request fits the budget and the day."""
    clicked = responses.clicked
    p = np.where(clicked, cfg.after_watch * responses.completion, cfg.after_pass)
    later = np.where(clicked, responses.completion * cfg.title_hours, cfg.browse_minutes / 60)
    when = times + later
    midnight = (np.floor(times / 24.0) + 1) * 24.0
    fits = (when <= visit_start + cfg.budget_hours) & (when < midnight)
    coin = as_draws(draws, times.size).uniform(1, tag=4)[:, 0]
    rows = np.flatnonzero((coin < p) & fits)
    return NextRequests(rows, when[rows])
