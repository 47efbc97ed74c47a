"""Off-policy estimators on synthetic logs with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from recloop.sim.metrics.offpolicy import ips, snips

N_ITEMS, K = 30, 3


def logged(n: int, eps: float, rng: np.random.Generator):
    """A slate world with known per-(item, position) CTR; the logger is ε-greedy over a
    fixed ranking (base slate = items 0..K-1), exploring slots uniformly over the rest."""
    ctr = rng.uniform(0.02, 0.3, size=(N_ITEMS, K))
    base = np.arange(K)
    items = np.tile(base, (n, 1))
    explore = rng.random((n, K)) < eps
    pool = N_ITEMS - K
    # each explored slot draws from the pool (with replacement across slots: μ = ε / pool)
    items[explore] = K + rng.integers(0, pool, size=int(explore.sum()))
    prop = np.where(explore, eps / pool, 1 - eps)
    clicks = rng.random((n, K)) < ctr[items, np.arange(K)]
    return ctr, items.ravel(), np.tile(np.arange(K), n), prop.ravel(), clicks.ravel()


def test_ips_recovers_a_different_policys_ctr() -> None:
    """Target: always show items K..2K-1. Truth = their mean CTR at positions 0..K-1.
    Tolerance: 4 standard errors of the estimate."""
    rng = np.random.default_rng(7)
    ctr, items, pos, prop, clicks = logged(200_000, 0.2, rng)
    target = items == K + pos  # the target puts item K+j at position j
    truth = ctr[K + np.arange(K), np.arange(K)].mean()
    for estimate in (ips(clicks, target.astype(float), prop), snips(clicks, target.astype(float), prop)):
        assert abs(estimate.value - truth) < 4 * estimate.se, (estimate, truth)


def test_on_policy_ips_equals_the_logged_ctr() -> None:
    rng = np.random.default_rng(8)
    _, items, _, prop, clicks = logged(5_000, 0.0, rng)
    est = ips(clicks, np.ones(items.size), prop)
    assert est.value == pytest.approx(clicks.mean())


def test_missing_or_zero_propensities_are_reported() -> None:
    clicks = np.array([True, False])
    est = ips(clicks, np.ones(2), np.array([0.5, np.nan]))
    assert np.isnan(est.value) and "lack a logged propensity" in est.note
    est = snips(clicks, np.array([1.0, 1.0]), np.array([0.5, 0.0]))
    assert np.isnan(est.value) and "μ = 0" in est.note
