"""Controllers that steer the running system between days from its own metrics.

They read only what an operator could read (the metrics table of days already closed) and
act on a knob of the deployed policy, so a controlled run is still an honest one.
"""

from __future__ import annotations

from sim.config import ControllerConfig


def next_epsilon(epsilon: float, top1_share: float, cfg: ControllerConfig) -> float:
    """Multiplicative step: more exploration while the top 1% of items take too much exposure."""
    if top1_share > cfg.target_top1_share:
        return min(cfg.max_epsilon, epsilon * cfg.step)
    return max(cfg.min_epsilon, epsilon / cfg.step)
