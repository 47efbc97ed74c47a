"""Controllers that steer the running system between days from its own metrics.

They read only what an operator could read (the metrics table of days already closed) and
act on a knob of the deployed policy, so a controlled run is still an honest one.
"""

from __future__ import annotations

from dataclasses import dataclass

from recloop.conf.ranges import UNIT, Between, ranged


@dataclass
class ControllerConfig:
    """Adaptive exploration: raise epsilon while the top 1% of items hog impressions.

    Switching it on needs an explorer (epsilon > 0) on every serving arm; ``sim/cross_checks.py``
    holds that rule because it reads the policies' configs.
    """

    adaptive_epsilon: bool = False
    target_top1_share: float = ranged(0.5, UNIT)
    # multiply (share above target) or divide (below) epsilon by this
    step: float = ranged(1.5, Between(1, 100, strict=True))
    min_epsilon: float = ranged(0.01, UNIT)
    max_epsilon: float = ranged(0.5, UNIT)


def concentrated(top1_share: float, threshold: float) -> bool:
    """Do the top 1% of items take more than ``threshold`` of the day's impressions?

    The controller and the concentration monitor (``sim/monitors.py``) ask this of the same
    number, a serving arm's ``last_top1_share``; a day without impressions (NaN) is not.
    """
    return bool(top1_share > threshold)


def next_epsilon(epsilon: float, top1_share: float, cfg: ControllerConfig) -> float:
    """Multiplicative step: more exploration while the top 1% of items take too much exposure."""
    if concentrated(top1_share, cfg.target_top1_share):
        return min(cfg.max_epsilon, epsilon * cfg.step)
    return max(cfg.min_epsilon, epsilon / cfg.step)
