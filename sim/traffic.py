"""Arrivals: a non-homogeneous Poisson process with a diurnal profile.

User u's session rate at hour h is ``activity_u * rate(h)`` with
``rate(h) = (1 + A cos(2π (h - peak) / 24)) / 24``, which integrates to exactly one per
day, so ``activity`` is the expected number of sessions per day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import poisson

from recloop.agents.draws import keyed_uniform
from recloop.conf.ranges import UNIT, Between, ranged


@dataclass
class TrafficConfig:
    """Daily rhythm of arrivals: rate(h) ∝ 1 + amplitude * cos(2π (h - peak_hour) / 24)."""

    diurnal_amplitude: float = ranged(0.6, UNIT)
    peak_hour: float = ranged(20.0, Between(0.0, 24.0))


def tick_shares(tick_hours: float, cfg: TrafficConfig) -> np.ndarray:
    """Expected share of a day's sessions falling in each tick (sums to 1)."""
    if not (24.0 / tick_hours).is_integer():
        raise ValueError(f"a tick of {tick_hours} h does not divide a day")
    edges = np.arange(0.0, 24.0 + tick_hours / 2, tick_hours)
    phase = 2 * np.pi * (edges - cfg.peak_hour) / 24
    integral = edges + cfg.diurnal_amplitude * 24 / (2 * np.pi) * np.sin(phase)
    return np.diff(integral) / 24


def draw_sessions(
    activity: np.ndarray, active: np.ndarray, share: float, rng: np.random.Generator
) -> np.ndarray:
    """Sessions per active user in one tick: Poisson(activity * share); 0 for churned."""
    counts = np.zeros(activity.shape[0], dtype=np.int64)
    counts[active] = rng.poisson(activity[active] * share)
    return counts


def session_rounds(counts: np.ndarray) -> list[np.ndarray]:
    """Users with a 1st, 2nd, ... session this tick: each round holds distinct users.

    Handling rounds in order keeps one user's sessions sequential (the second sees what the
    first watched) while every round is a vectorised batch.
    """
    return [np.flatnonzero(counts > r) for r in range(int(counts.max(initial=0)))]


def round_offsets(counts: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Arrival times within the tick (fractions in [0, 1)) for each round's users.

    A user's sessions get sorted uniform times, so the r-th session (handled in round r)
    never starts before the user's earlier ones. Rows align with ``session_rounds``.
    """
    users = np.flatnonzero(counts)
    per_user = counts[users]
    owner = np.repeat(np.arange(users.size), per_user)
    draws = rng.random(owner.size)
    draws = draws[np.lexsort((draws, owner))]  # ascending within each user
    first = np.cumsum(per_user) - per_user
    return [draws[first[per_user > r] + r] for r in range(int(per_user.max(initial=0)))]


def keyed_sessions(key: np.uint64, rate: np.ndarray, active: np.ndarray, share: float,
                   day: int, tick: int) -> np.ndarray:
    """``draw_sessions`` with each user's count inverted from their own keyed uniform."""
    users = np.flatnonzero(active)
    u = keyed_uniform(key, users, day, np.full(users.size, tick), 1)[:, 0]
    mu = rate[users] * share
    counts = np.zeros(rate.shape[0], dtype=np.int64)
    some = u >= np.exp(-mu)  # P(0) = e^-mu: most users, most ticks, need no inversion
    counts[users[some]] = poisson.ppf(u[some], mu[some]).astype(np.int64)
    return counts


def keyed_offsets(key: np.uint64, counts: np.ndarray, day: int, tick: int) -> list[np.ndarray]:
    """``round_offsets`` from each user's own keyed uniforms, sorted per user."""
    users = np.flatnonzero(counts)
    per_user = counts[users]
    draws = keyed_uniform(key, users, day, np.full(users.size, tick), int(per_user.max(initial=1)))
    draws = np.sort(np.where(np.arange(draws.shape[1])[None, :] < per_user[:, None], draws, 2.0),
                    axis=1)
    return [draws[per_user > r, r] for r in range(int(per_user.max(initial=0)))]
