"""Arrivals: the diurnal tick profile, Poisson session draws and per-tick session rounds.

Statistical checks state their tolerance in standard errors next to the assertion
(two-sided normal tails: 4 SE -> 6.3e-5, 4.5 SE -> 6.8e-6 per check).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import integrate

from recloop.sim.traffic import (
    TrafficConfig,
    draw_sessions,
    round_offsets,
    session_rounds,
    tick_shares,
)

# tick lengths the config allows: divisors of a day's 1,440 minutes
DIVISOR_MINUTES = [m for m in range(1, 1441) if 1440 % m == 0]
ticks = st.sampled_from(DIVISOR_MINUTES).map(lambda m: m / 60)
amplitudes = st.floats(0.0, 1.0)
peaks = st.floats(0.0, 24.0, exclude_max=True)


def rate(hour: float, cfg: TrafficConfig) -> float:
    """Share of a day's sessions per hour at ``hour`` (module docstring)."""
    return (1 + cfg.diurnal_amplitude * math.cos(2 * math.pi * (hour - cfg.peak_hour) / 24)) / 24


# ---------------------------------------------------------------------------- tick_shares


@given(tick=ticks, amplitude=amplitudes, peak=peaks)
@settings(max_examples=200, deadline=None)
def test_tick_shares_sum_to_one(tick: float, amplitude: float, peak: float) -> None:
    shares = tick_shares(tick, TrafficConfig(diurnal_amplitude=amplitude, peak_hour=peak))
    assert shares.size == round(24 / tick)
    assert abs(shares.sum() - 1.0) < 1e-12
    assert np.all(shares >= 0)


@pytest.mark.parametrize("minutes", [15, 60, 90, 180])
def test_tick_shares_integrate_the_rate(minutes: int) -> None:
    # independent check by numerical quadrature of rate(h) over each tick
    cfg = TrafficConfig(diurnal_amplitude=0.6, peak_hour=20.0)
    tick = minutes / 60
    shares = tick_shares(tick, cfg)
    for i, share in enumerate(shares):
        expected, _ = integrate.quad(rate, i * tick, (i + 1) * tick, args=(cfg,))
        assert share == pytest.approx(expected, abs=1e-12)


@given(tick=ticks.filter(lambda h: h <= 6), amplitude=st.floats(0.05, 1.0), peak=peaks)
@settings(max_examples=100, deadline=None)
def test_tick_shares_peak_at_the_tick_holding_peak_hour(
    tick: float, amplitude: float, peak: float
) -> None:
    shares = tick_shares(tick, TrafficConfig(diurnal_amplitude=amplitude, peak_hour=peak))
    n = shares.size
    i = int(peak // tick) % n
    # a maximum (a peak exactly on a tick edge ties the two neighbouring ticks)
    assert shares[i] >= shares.max() - 1e-12
    # and the tick opposite the peak holds no more than any other
    opposite = int(((peak + 12) % 24) // tick) % n
    assert shares[opposite] <= shares.min() + 1e-12


def test_tick_shares_peak_hand_case() -> None:
    shares = tick_shares(1.0, TrafficConfig(diurnal_amplitude=0.6, peak_hour=20.5))
    assert int(np.argmax(shares)) == 20  # the hour 20:00-21:00
    assert int(np.argmin(shares)) == 8  # 12 hours away


@pytest.mark.parametrize("minutes", [1, 15, 60, 1440])
def test_tick_shares_flat_without_amplitude(minutes: int) -> None:
    shares = tick_shares(minutes / 60, TrafficConfig(diurnal_amplitude=0.0, peak_hour=7.0))
    n = 1440 // minutes
    assert shares == pytest.approx(np.full(n, 1 / n), abs=1e-12)


# ---------------------------------------------------------------------------- draw_sessions


def test_sessions_per_day_match_activity() -> None:
    rng = np.random.default_rng(31)
    n_users, days = 1_000, 200
    activity = rng.lognormal(-0.5, 1.0, size=n_users)
    active = np.ones(n_users, dtype=bool)
    cfg = TrafficConfig(diurnal_amplitude=0.6, peak_hour=20.0)
    shares = tick_shares(1.0, cfg)
    per_user = np.zeros(n_users, dtype=np.int64)
    per_tick = np.zeros(shares.size, dtype=np.int64)
    for _ in range(days):
        for t, share in enumerate(shares):
            counts = draw_sessions(activity, active, share, rng)
            per_user += counts
            per_tick[t] += counts.sum()

    # total arrivals ~ Poisson(days * sum(activity)): 4 SE = 4 sqrt(mean), false failure < 1e-4
    expected = days * activity.sum()
    assert abs(per_user.sum() - expected) < 4 * math.sqrt(expected)
    # heavy and light users separately (each a Poisson total): 4 SE each
    heavy = activity > np.median(activity)
    for group in (heavy, ~heavy):
        expected = days * activity[group].sum()
        assert abs(per_user[group].sum() - expected) < 4 * math.sqrt(expected)
    # the diurnal profile: 24 Poisson tick totals at 4.5 SE -> family-wise < 2e-4
    expected = days * activity.sum() * shares
    assert np.all(np.abs(per_tick - expected) < 4.5 * np.sqrt(expected))


def test_churned_users_never_arrive() -> None:
    rng = np.random.default_rng(32)
    activity = np.full(500, 50.0)  # so busy that an active user almost surely arrives
    active = np.arange(500) % 3 != 0
    for _ in range(20):
        counts = draw_sessions(activity, active, 0.5, rng)
        assert np.all(counts[~active] == 0)
        assert counts.dtype.kind == "i" and np.all(counts >= 0)
    # P(an active user at rate 25 draws 0) = e^-25: every active user arrived
    assert np.all(counts[active] > 0)


def test_nobody_active_means_no_sessions() -> None:
    counts = draw_sessions(np.ones(10), np.zeros(10, bool), 1.0, np.random.default_rng(33))
    assert np.array_equal(counts, np.zeros(10))


# ---------------------------------------------------------------------------- session_rounds


@given(arrays(np.int64, st.integers(0, 50), elements=st.integers(0, 6)))
@settings(max_examples=150, deadline=None)
def test_session_rounds_partition_the_counts(counts: np.ndarray) -> None:
    rounds = session_rounds(counts)
    assert len(rounds) == (int(counts.max()) if counts.size else 0)
    for r, users in enumerate(rounds):
        # round r holds exactly the users with more than r sessions, each once
        assert np.array_equal(users, np.flatnonzero(counts > r))
        assert np.unique(users).size == users.size
    # every session is in exactly one round
    served = np.zeros(counts.size, dtype=np.int64)
    for users in rounds:
        served[users] += 1
    assert np.array_equal(served, counts)
    # rounds shrink: a user's k-th session is only served after their (k-1)-th
    for earlier, later in itertools.pairwise(rounds):
        assert np.isin(later, earlier).all()


def test_session_rounds_hand_case() -> None:
    rounds = session_rounds(np.array([0, 2, 1, 0, 3]))
    assert [r.tolist() for r in rounds] == [[1, 2, 4], [1, 4], [4]]
    assert session_rounds(np.zeros(4, dtype=np.int64)) == []


@given(st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=40))
def test_round_offsets_are_in_order_per_user(counts_list: list[int]) -> None:
    """Round r's offset for a user is never before round r-1's: sessions stay in order."""
    counts = np.array(counts_list)
    offsets = round_offsets(counts, np.random.default_rng(0))
    rounds = session_rounds(counts)
    assert [o.size for o in offsets] == [r.size for r in rounds]
    latest = np.full(counts.size, -1.0)
    for users, off in zip(rounds, offsets, strict=True):
        assert ((off >= 0) & (off < 1)).all()
        assert (off >= latest[users]).all()
        latest[users] = off
