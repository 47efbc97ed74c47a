"""Injected failures: model-server outages, failed nightly jobs, lost log data.

Faults are drawn up front from their own random stream, so the same seed gives the same
outages whatever the policy does, and runs with and without a fix face the same failures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recloop.conf.ranges import UNIT, Between, ranged


@dataclass
class FaultConfig:
    """What goes wrong and how often. Defaults: nothing does.

    ``failed_nights`` and ``log_loss_days`` must fall inside the run; ``sim/cross_checks.py``
    holds those rules because they read ``days``.
    """

    outage_rate: float = ranged(0.0, Between(0, 100))  # model-server outages per day (Poisson)
    outage_hours: float = ranged(1.0, Between(0, 240, strict=True))  # mean duration (exponential)
    nightly_failure_rate: float = ranged(0.0, UNIT)  # probability that a nightly job crashes
    failed_nights: list[int] = field(default_factory=list)  # nights (before day d) that crash
    log_loss_days: list[int] = field(default_factory=list)  # days whose log loses rows
    log_loss_fraction: float = ranged(0.7, UNIT)  # share of rows a lossy day drops


@dataclass(frozen=True)
class Outages:
    """Disjoint [start, end) intervals in run hours when the model server is down."""

    start: np.ndarray
    end: np.ndarray

    def down(self, times: np.ndarray) -> np.ndarray:
        """bool per time: inside an outage."""
        idx = np.searchsorted(self.start, times, side="right") - 1
        inside = idx >= 0
        inside[inside] = times[inside] < self.end[idx[inside]]
        return inside

    def hours_down(self, lo: float, hi: float) -> float:
        """Outage hours overlapping [lo, hi)."""
        return float(np.clip(np.minimum(self.end, hi) - np.maximum(self.start, lo), 0, None).sum())


def draw_outages(cfg: FaultConfig, days: int, rng: np.random.Generator) -> Outages:
    """Poisson starts over the run, exponential lengths; overlapping outages are merged."""
    count = rng.poisson(cfg.outage_rate * days)
    start = np.sort(rng.uniform(0.0, 24.0 * days, size=count))
    end = start + rng.exponential(cfg.outage_hours, size=count)
    return merge(start, np.minimum(end, 24.0 * days))


def merge(start: np.ndarray, end: np.ndarray) -> Outages:
    """Union of sorted intervals."""
    if start.size == 0:
        return Outages(start, end)
    reach = np.maximum.accumulate(end)
    new = np.r_[True, start[1:] > reach[:-1]]
    groups = np.cumsum(new) - 1
    return Outages(start[new], np.maximum.reduceat(end, np.flatnonzero(new))[: groups[-1] + 1])


def draw_failed_nights(cfg: FaultConfig, days: int, rng: np.random.Generator) -> set[int]:
    """Nights whose job crashes: the listed ones plus random ones at the configured rate."""
    random = np.flatnonzero(rng.random(days) < cfg.nightly_failure_rate)
    return set(cfg.failed_nights) | {int(d) for d in random if d > 0}  # night 0 must deploy


@dataclass(frozen=True)
class FaultPlan:
    """Every scheduled failure of the run."""

    outages: Outages
    failed_nights: set[int]
    lossy_days: frozenset[int]
    loss_fraction: float


def plan_faults(cfg: FaultConfig, days: int, rng: np.random.Generator) -> FaultPlan:
    """Draw outages, then crashed nights, from the faults stream (which lossy days reuse)."""
    return FaultPlan(draw_outages(cfg, days, rng),
                     draw_failed_nights(cfg, days, rng),
                     frozenset(cfg.log_loss_days), cfg.log_loss_fraction)
