"""Off-policy estimates against the truth the simulator can produce: deploy the target.

Logging policy: ε-greedy (ε = 0.3) over the most-popular ranking a short run trained.
Target: the same ranking with ε = 0.05, a different policy with a higher CTR. Both serve
the same users in the same state (seen items, catalog day), so the target's realised CTR
is the quantity the estimate from the logging policy's sessions must recover.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from experiments.preflight import check_job

from agents.choice import respond
from policies.wrappers import EpsilonGreedy
from sim.metrics.offpolicy import cascade_ips, ips
from sim.story import simulate
from tests.conftest import SMALL

LOGGING_EPS, TARGET_EPS = 0.3, 0.05
REPEATS = 40  # sessions per active user for the logging policy (4x that for the target)


@dataclass
class Sessions:
    """Served slates, their propensities and the click matrix (n × k)."""

    items: np.ndarray
    propensity: np.ndarray
    clicks: np.ndarray

    def ctr(self) -> tuple[float, float]:
        """Clicks per impression and its standard error (sessions are the units)."""
        per_session = self.clicks.mean(axis=1)
        return float(per_session.mean()), float(per_session.std(ddof=1) / np.sqrt(per_session.size))


def serve(policy, users, ctx, world, rng) -> Sessions:
    slates = policy.recommend(users, 10, ctx)
    resp = respond(world.population.taste[users], slates.items, world.catalog,
                   world.choice, rng)
    clicks = np.zeros(slates.items.shape, dtype=bool)
    rows = np.flatnonzero(resp.clicked)
    clicks[rows, resp.click_position[rows]] = True
    return Sessions(slates.items, slates.propensity, clicks)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    cfg = check_job(SMALL + ["policy=popular", f"policy.epsilon={LOGGING_EPS}", "days=4"])
    eng = simulate(cfg, tmp_path_factory.mktemp("ips")).engine
    logging = eng.policy
    target = EpsilonGreedy(logging.base, TARGET_EPS, np.random.default_rng(5))
    ctx = eng.context(cfg.days, 0.0)
    users = eng.world.population.active_ids()
    rng = np.random.default_rng(2026)
    logged = serve(logging, np.tile(users, REPEATS), ctx, eng.world, rng)
    realised = serve(target, np.tile(users, 4 * REPEATS), ctx, eng.world, rng)
    target_prob = target.probabilities(np.tile(users, REPEATS), logged.items, ctx)
    return logged, realised, target_prob


def test_cascade_ips_recovers_the_deployed_targets_ctr(deployed) -> None:
    """The target's realised CTR lies in the estimate's 95% interval, and the two policies'
    CTRs differ by more than 4 combined SE, so an estimator that just echoed the logged
    CTR would fail."""
    logged, realised, target_prob = deployed
    estimate = cascade_ips(logged.clicks, target_prob, logged.propensity)
    truth, truth_se = realised.ctr()
    low, high = estimate.interval()
    assert low <= truth <= high, (estimate, truth)
    on_policy, on_policy_se = logged.ctr()
    assert abs(truth - on_policy) > 4 * np.hypot(truth_se, on_policy_se), (truth, on_policy)


def test_item_position_ips_is_biased_by_the_one_click_cap(deployed) -> None:
    """Item-position IPS ignores that an earlier click pre-empts later ones: it misses the
    target's CTR by more than 4 SE here, where the prefix-weighted estimate does not."""
    logged, realised, target_prob = deployed
    naive = ips(logged.clicks.ravel(), target_prob.ravel(), logged.propensity.ravel())
    truth, truth_se = realised.ctr()
    assert abs(naive.value - truth) > 4 * np.hypot(naive.se, truth_se), (naive, truth)
