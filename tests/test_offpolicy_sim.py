"""Off-policy estimates against the truth the simulator can produce: deploy the target.

Logging policy: ε-greedy (ε = 0.3) over the most-popular ranking a short run trained.
Target: the same ranking with ε = 0.05, a different policy with a higher CTR. Both serve
the same users in the same state (seen items, catalog day), so the target's realised CTR
is the quantity the estimate from the logging policy's sessions must recover: once served
per request, once from nightly lists that the users' watches since have worn down.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SMALL

from recloop.agents.choice import respond
from recloop.experiments.preflight import check_job
from recloop.policies.shifted import ExploredLists
from recloop.policies.simple import PopularPolicy
from recloop.policies.types import ItemMetadata, ServeContext, Slates
from recloop.policies.wrappers import EpsilonGreedy
from recloop.sim.metrics.offpolicy import cascade_ips, ips, logged_slates, slate_estimates
from recloop.sim.pipeline.judge import session_probabilities
from recloop.sim.serving import BATCH, Server, ServingLists, drop_seen
from recloop.sim.story import simulate

LOGGING_EPS, TARGET_EPS = 0.3, 0.05
REPEATS = 40  # sessions per active user for the logging policy (2-4x that for the target)
K, SPARE = 10, 10
# what these tests rely on, pinned rather than left to the defaults: batch lists of k + spare,
# and users whose behaviours beyond the choice model are switched off
PINNED = ["serving=batch", f"serving.k={K}", f"serving.spare={SPARE}",
          "users.choice.position_bias=log", "users.organic.per_session=0",
          "users.rewatch.per_session=0", "users.continuation.after_watch=0",
          "users.continuation.after_pass=0", "users.fatigue.decay=1",
          "users.satiation.weight=0", "users.drift.rate=0",
          "users.visits.satisfaction_elasticity=0", "users.visits.signups_per_day=0"]


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


def clicks_on(items: np.ndarray, users: np.ndarray, world, rng) -> np.ndarray:
    """Clicks (n × k) of the users on given slates, by the world's choice model."""
    resp = respond(world.population.taste[users], items, world.catalog, world.choice, rng)
    clicks = np.zeros(items.shape, dtype=bool)
    rows = np.flatnonzero(resp.clicked)
    clicks[rows, resp.click_position[rows]] = True
    return clicks


def serve(policy, users, ctx, world, rng) -> Sessions:
    slates = policy.recommend(users, K, ctx)
    return Sessions(slates.items, slates.propensity, clicks_on(slates.items, users, world, rng))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cfg = check_job(SMALL + ["policy=popular", f"policy.epsilon={LOGGING_EPS}", "days=4", *PINNED])
    return cfg, simulate(cfg, tmp_path_factory.mktemp("ips"))


@pytest.fixture(scope="module")
def deployed(run):
    cfg, result = run
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


# --- batch serving: nightly lists worn down by the day's watches ---------------------------


@dataclass
class BatchLogs:
    """The logging policy's batch-served sessions, both sets of propensities (restated for
    the slots shown, and the night's), the target's probabilities of them, and its own."""

    logged: Sessions  # propensity: as served, restated
    nightly: np.ndarray  # the same slates' propensities at their items' nightly positions
    target_prob: np.ndarray  # restated, under the target
    target_nightly: np.ndarray
    moved: float  # share of served slates that differ from their list's first k
    realised: Sessions


def watched_since_night(result, night: ServeContext, users: np.ndarray,
                        rng: np.random.Generator) -> np.ndarray:
    """The seen matrix after a morning: two sessions on the greedy lists (their clicks wear
    down the top of every list) and, for half the users, a play found elsewhere (it may be
    in the exploration pool). Independent of any list drawn at night."""
    world, seen = result.world, night.seen.copy()
    greedy = result.policy().base.recommend(users, K + SPARE, night)
    for _ in range(2):
        shown = drop_seen(greedy, users, seen, K).items
        clicked = clicks_on(shown, users, world, rng)
        rows, pos = np.nonzero(clicked)
        seen[users[rows], shown[rows, pos]] = True
    allowed = night.available[None, :] & ~seen[users]
    found = np.where(allowed, rng.random(allowed.shape), -1.0).argmax(axis=1)
    finder = rng.random(users.size) < 0.5
    seen[users[finder], found[finder]] = True
    return seen


def batch_sessions(policy, users, night, now, world, rng,
                   repeats: int) -> tuple[Sessions, np.ndarray, np.ndarray]:
    """``repeats`` nights' lists, each served once to every user in the state ``now``:
    the sessions, the night's propensities of what was shown, and which slates moved."""
    server = Server("batch", K, SPARE, K + SPARE, ServingLists())
    parts: list[tuple[np.ndarray, ...]] = []
    for _ in range(repeats):
        server.prepare(policy, users, night, np.zeros(night.available.size))
        served = server.serve(policy, users, now, np.zeros(users.size, dtype=bool))
        assert (served.path == BATCH).all() and (served.slates.items >= 0).all()  # no top-up
        table = server.lists.table
        assert table is not None
        nightly = drop_seen(table.take(users), users, now.seen, K).propensity
        moved = (served.slates.items != table.items[users, :K]).any(axis=1)
        clicks = clicks_on(served.slates.items, users, world, rng)
        parts.append((served.slates.items, served.slates.propensity, clicks, nightly, moved))
    items, prop, clicks, nightly, moved = (np.concatenate(p) for p in zip(*parts, strict=True))
    return Sessions(items, prop, clicks), nightly, moved


def nightly_values(record: ExploredLists, items: np.ndarray) -> np.ndarray:
    """The ε-greedy propensities of items at their nightly positions: 1 − ε for a base item,
    ε/m for a pool item (exact while the pool outlasts the list, m ≥ k + spare)."""
    assert (record.pool >= record.base.shape[1]).all()
    from_pool = ~(items[:, :, None] == record.base[:, None, :]).any(axis=2)
    eps = record.epsilon
    return np.where(from_pool, eps / record.pool[:, None], 1.0 - eps).astype(np.float32)


@pytest.fixture(scope="module")
def batch_served(run) -> BatchLogs:
    cfg, result = run
    world, logging = result.world, result.policy()
    target = EpsilonGreedy(logging.base, TARGET_EPS, np.random.default_rng(5))
    night = ServeContext(cfg.days, 0.0, world.catalog.available(cfg.days), result.state.seen)
    users = result.state.users.active_ids()
    rng = np.random.default_rng(2027)
    now = replace(night, seen=watched_since_night(result, night, users, rng))
    logged, nightly, moved = batch_sessions(logging, users, night, now, world, rng, REPEATS)
    realised, _, _ = batch_sessions(target, users, night, now, world, rng, 2 * REPEATS)
    _, record = target.rank_ahead(users, K + SPARE, night)  # the draw's base list and pool
    assert record is not None
    record = record.take(np.tile(np.arange(users.size), REPEATS))
    target_nightly = nightly_values(record, logged.items)
    restated = record.restate(Slates(logged.items, target_nightly), np.tile(users, REPEATS),
                              now.seen).propensity
    assert restated is not None
    return BatchLogs(logged, nightly, restated, target_nightly, float(moved.mean()), realised)


def test_cascade_ips_on_batch_lists_recovers_the_deployed_targets_ctr(batch_served) -> None:
    """With propensities restated for the slots shown, the prefix-weighted estimate from the
    logging policy's batch sessions lies within 3 combined SE (estimate and realised CTR;
    a false alarm below 0.3% under any seed) of the target's realised CTR, when a quarter or
    more of the slates had items move up; the two policies' CTRs differ by more than 4 SE."""
    b = batch_served
    assert b.moved > 0.25, b.moved
    estimate = cascade_ips(b.logged.clicks, b.target_prob, b.logged.propensity)
    truth, truth_se = b.realised.ctr()
    assert abs(estimate.value - truth) <= 3 * np.hypot(estimate.se, truth_se), (estimate, truth)
    on_policy, on_policy_se = b.logged.ctr()
    assert abs(truth - on_policy) > 4 * np.hypot(truth_se, on_policy_se), (truth, on_policy)


def test_the_nights_propensities_bias_cascade_ips_on_batch_lists(batch_served) -> None:
    """The same estimate with both policies' propensities taken at the items' nightly
    positions (what batch logs held before they were restated) misses the realised CTR by
    more than 10 combined SE."""
    b = batch_served
    stale = cascade_ips(b.logged.clicks, b.target_nightly, b.nightly)
    truth, truth_se = b.realised.ctr()
    assert abs(stale.value - truth) > 10 * np.hypot(stale.se, truth_se), (stale, truth)


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
