"""Off-policy estimates against the truth the simulator can produce: deploy the target.

Logging policy: ε-greedy (ε = 0.3) over the most-popular ranking a short run trained.
Target: the same ranking with ε = 0.05, a different policy with a higher CTR. Both serve
the same users in the same state (seen items, catalog day), so the target's realised CTR
is the quantity the estimate from the logging policy's sessions must recover.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SMALL

from recloop.agents.choice import respond
from recloop.experiments.preflight import check_job
from recloop.policies.simple import PopularPolicy
from recloop.policies.types import ItemMetadata, ServeContext
from recloop.policies.wrappers import EpsilonGreedy
from recloop.sim.metrics.offpolicy import cascade_ips, ips, logged_slates, slate_estimates
from recloop.sim.pipeline.judge import session_probabilities
from recloop.sim.story import simulate

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
    result = simulate(cfg, tmp_path_factory.mktemp("ips"))
    logging = result.policy()
    target = EpsilonGreedy(logging.base, TARGET_EPS, np.random.default_rng(5))
    world = result.world
    ctx = ServeContext(cfg.days, 0.0, world.catalog.available(cfg.days), result.state.seen)
    users = result.state.users.active_ids()
    rng = np.random.default_rng(2026)
    logged = serve(logging, np.tile(users, REPEATS), ctx, world, rng)
    realised = serve(target, np.tile(users, 4 * REPEATS), ctx, world, rng)
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


def test_logged_slates_are_rows_per_session_in_position_order() -> None:
    frame = pd.DataFrame({"session": [7, 7, 3, 3, 3], "user": [1, 1, 0, 0, 0],
                          "position": [1, 0, 0, 1, 2], "item": [5, 4, 9, 8, 7],
                          "propensity": [0.5, 1.0, 1.0, 1.0, 0.2],
                          "clicked": [True, False, False, False, True]})
    users, items, prop, clicked = logged_slates(frame)
    np.testing.assert_array_equal(users, [0, 1])
    np.testing.assert_array_equal(items, [[9, 8, 7], [4, 5, -1]])
    np.testing.assert_array_equal(prop, [[1.0, 1.0, 0.2], [1.0, 0.5, 1.0]])
    np.testing.assert_array_equal(clicked, [[False, False, True], [False, True, False]])


def test_each_session_is_judged_in_its_own_state() -> None:
    """A user's second session comes after a click: the deterministic target would no
    longer show the clicked item, so only the second session's slate without it matches."""
    items = ItemMetadata(genre=np.zeros(4, np.int16), release_day=np.zeros(4, np.int16))
    policy = PopularPolicy(items, np.random.default_rng(0))
    policy.counts_ = np.array([4.0, 3.0, 2.0, 1.0])
    start = ServeContext(1, 0.0, np.ones(4, bool), np.zeros((1, 4), bool))
    logged = np.array([[0, 1], [1, 2]])
    clicked = np.array([[True, False], [False, False]])
    prob = session_probabilities(policy, np.array([0, 0]), logged, clicked, start)
    np.testing.assert_array_equal(prob, [[1.0, 1.0], [1.0, 1.0]])
    assert not start.seen.any()  # the caller's context is left as it was


def test_estimates_say_why_they_are_missing() -> None:
    items = np.array([[0, 1], [2, 3]])
    clicked = np.array([[True, False], [False, False]])
    never = slate_estimates(items, np.ones((2, 2)), clicked, np.ones((2, 2)))
    assert np.isnan(never["ips"].value) and "never explored" in never["cascade_ips"].note
    unknown = slate_estimates(items, np.full((2, 2), 0.5), clicked, None)
    assert np.isnan(unknown["snips"].value) and "states no probabilities" in unknown["ips"].note
    fine = slate_estimates(items, np.full((2, 2), 0.5), clicked, np.ones((2, 2)))
    assert fine["ips"].value == pytest.approx(0.5)  # 1 click in 4 impressions, weight 2


def test_nightly_candidates_get_off_policy_estimates_only_from_exploring_logs(
    tmp_path: Path,
) -> None:
    explored = simulate(check_job([*SMALL, "days=4", "policy=popular", "policy.epsilon=0.2"]),
                        tmp_path / "explored")
    m = explored.metrics.pivot(index="day", columns="metric", values="value")
    assert m.loc[2:, ["ips_ctr_candidate", "snips_ctr_candidate"]].notna().all().all()
    greedy = simulate(check_job([*SMALL, "days=4", "policy=popular"]), tmp_path / "greedy")
    m = greedy.metrics.pivot(index="day", columns="metric", values="value")
    assert m["ips_ctr_candidate"].isna().all()
    notes = greedy.registry.offpolicy_note
    assert notes.str.contains("never explored").any()
