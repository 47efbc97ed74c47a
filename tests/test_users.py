"""The users' side: the agent contract, and satisfaction and churn against hand cases.

Statistical checks state their tolerance next to the assertion.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from agent_contract import AgentContract, small_catalog
from hypothesis import given, settings
from hypothesis import strategies as st

from recloop.agents.drift import DriftConfig
from recloop.agents.fatigue import FatigueConfig
from recloop.agents.population import PopulationConfig, generate_population
from recloop.agents.rewatch import RewatchConfig
from recloop.agents.satiation import SatiationConfig
from recloop.agents.users import (
    Users,
    UsersConfig,
    UserState,
    churn_probability,
    next_satisfaction,
    next_state,
    respond,
)
from recloop.agents.visits import VisitsConfig

N = 2_000


def users_with(cfg: UsersConfig) -> Users:
    catalog = small_catalog()
    population = generate_population(cfg, catalog, np.random.default_rng(8))
    return Users(population, catalog, cfg.choice, cfg)


class TestDefaultUsers(AgentContract):
    """Today's behaviour (satisfaction and churn) under the contract."""

    def make_users(self) -> Users:
        return users_with(UsersConfig(n_users=N, churn_base=0.05))

    def make_state(self, users: Users) -> UserState:
        state = UserState.initial(users.population, users.cfg, users.catalog.n_genres)
        state.satisfaction[:] = np.random.default_rng(4).random(state.satisfaction.size)
        return state


class TestFatiguedUsers(TestDefaultUsers):
    """With impression fatigue on."""

    def make_users(self) -> Users:
        return users_with(UsersConfig(n_users=N, churn_base=0.05,
                                      fatigue=FatigueConfig(decay=0.5, memory=8)))


class TestRewatchingUsers(TestDefaultUsers):
    """With loved titles remembered for replays."""

    def make_users(self) -> Users:
        return users_with(UsersConfig(n_users=N, churn_base=0.05,
                                      rewatch=RewatchConfig(per_session=0.5, loved_at=0.3)))


class TestDriftingUsers(TestDefaultUsers):
    """With tastes that drift toward what was watched."""

    def make_users(self) -> Users:
        return users_with(UsersConfig(n_users=N, churn_base=0.05, drift=DriftConfig(rate=0.2)))


class TestSatiatedUsers(TestDefaultUsers):
    """With satiation on."""

    def make_users(self) -> Users:
        return users_with(UsersConfig(n_users=N, churn_base=0.05,
                                      satiation=SatiationConfig(weight=1.0)))

    def make_state(self, users: Users) -> UserState:
        state = super().make_state(users)
        state.satiation.level[:] = np.random.default_rng(6).random(state.satiation.level.shape)
        return state


def test_initial_state_is_everyone_active_at_the_configured_satisfaction() -> None:
    cfg = UsersConfig(n_users=50, satisfaction_init=0.3)
    state = UserState.initial(users_with(cfg).population, cfg, 6)
    assert np.all(state.satisfaction == 0.3) and not state.churned.any()
    assert np.array_equal(state.active_ids(), np.arange(50))


def test_rows_round_trip_through_put() -> None:
    cfg = UsersConfig(n_users=10)
    state = UserState.initial(users_with(cfg).population, cfg, 6)
    rows = state.rows(np.array([2, 5]))
    rows.satisfaction[:] = [0.1, 0.2]
    assert state.satisfaction[2] == 0.7, "rows are a copy, not a view"
    state.put(np.array([2, 5]), rows)
    assert state.satisfaction[[2, 5]].tolist() == [0.1, 0.2]


def test_no_hazard_means_no_churn_and_rate_zero_keeps_satisfaction() -> None:
    """The limiting case: churn_base 0 and satisfaction_rate 0 leave every row as it was."""
    users = users_with(UsersConfig(n_users=N, churn_base=0.0, satisfaction_rate=0.0))
    ids, times = np.arange(N), np.zeros(N)
    items = np.tile(np.arange(5, dtype=np.int32), (N, 1))
    before = UserState.initial(users.population, users.cfg, users.catalog.n_genres)
    rng = np.random.default_rng(1)
    resp = respond(users, before, ids, items, times, rng)
    after = next_state(users, before, items, times, resp, rng)
    assert not after.churned.any()
    assert np.array_equal(after.satisfaction, before.satisfaction)


def test_churn_rate_matches_the_hazard() -> None:
    """Everyone at satisfaction s: the share leaving is the hazard, within 4.5 SE."""
    cfg = UsersConfig(n_users=N, churn_base=0.02, churn_sensitivity=2.0, satisfaction_rate=0.0,
                      visits=VisitsConfig(churn_per="session"))
    users = users_with(cfg)
    state = UserState.initial(users.population, cfg, users.catalog.n_genres)
    state.satisfaction[:] = 0.5
    items = np.full((N, 3), -1, dtype=np.int32)  # nothing to click: satisfaction stays put
    rng, times = np.random.default_rng(2), np.zeros(N)
    resp = respond(users, state, np.arange(N), items, times, rng)
    after = next_state(users, state, items, times, resp, rng)
    p = 0.02 * math.exp(2.0 * 0.5)
    assert abs(after.churned.mean() - p) < 4.5 * math.sqrt(p * (1 - p) / N)
# ---------------------------------------------------------------------------- satisfaction, churn


def test_next_satisfaction_hand_case() -> None:
    cfg = PopulationConfig(satisfaction_rate=0.1, idle_value=0.4)
    s = np.array([0.5, 0.5, 0.9, 0.0])
    clicked = np.array([True, False, True, False])
    completion = np.array([0.9, 0.0, 0.2, 0.0])
    # clicked: s + 0.1 (f - s); not clicked: s + 0.1 (0.4 - s)
    expected = [0.5 + 0.04, 0.5 - 0.01, 0.9 - 0.07, 0.04]
    assert next_satisfaction(s, clicked, completion, cfg) == pytest.approx(expected, abs=1e-12)


@given(
    s=st.floats(0, 1),
    f=st.floats(0, 1),
    clicked=st.booleans(),
    rate=st.floats(0, 1),
    idle=st.floats(0, 1),
)
@settings(max_examples=150, deadline=None)
def test_next_satisfaction_moves_toward_the_session_outcome(
    s: float, f: float, clicked: bool, rate: float, idle: float
) -> None:
    cfg = PopulationConfig(satisfaction_rate=rate, idle_value=idle)
    new = float(next_satisfaction(np.array([s]), np.array([clicked]), np.array([f]), cfg)[0])
    target = f if clicked else idle
    assert new == pytest.approx(s + rate * (target - s), abs=1e-12)
    # a convex combination: between the old value and the target, so stays in [0, 1]
    assert min(s, target) - 1e-12 <= new <= max(s, target) + 1e-12


def test_churn_probability_shape() -> None:
    cfg = PopulationConfig(churn_base=0.002, churn_sensitivity=4.0)
    s = np.linspace(0, 1, 101)
    p = churn_probability(s, cfg)
    assert np.all(np.diff(p) < 0)  # strictly decreasing while below the cap
    assert p[-1] == pytest.approx(0.002, rel=1e-12)  # fully satisfied: the base hazard
    assert p[0] == pytest.approx(0.002 * math.exp(4.0), rel=1e-12)


@given(
    a=st.floats(0, 1),
    b=st.floats(0, 1),
    base=st.floats(0, 1),
    sensitivity=st.floats(0, 20),
)
@settings(max_examples=150, deadline=None)
def test_churn_probability_is_monotone_and_capped(
    a: float, b: float, base: float, sensitivity: float
) -> None:
    cfg = PopulationConfig(churn_base=base, churn_sensitivity=sensitivity)
    lo, hi = sorted((a, b))
    p_lo, p_hi = churn_probability(np.array([lo, hi]), cfg)
    assert p_lo >= p_hi  # more satisfied -> no more likely to churn
    assert 0 <= p_hi <= p_lo <= 1
    assert churn_probability(np.array([1.0]), cfg)[0] == pytest.approx(base, rel=1e-12)


