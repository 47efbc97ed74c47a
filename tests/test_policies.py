"""Every policy against the shared contract, plus behaviour with known right answers."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np
import pytest
import scipy.sparse as sp
from contracts import (
    ITEMS_PER_BLOCK,
    N_ITEMS,
    N_USERS,
    PolicyContract,
    check_slates,
    context,
    planted,
    qualifying,
    seeded_rng,
)
from implicit.cpu.als import AlternatingLeastSquares
from scipy.stats import chisquare
from threadpoolctl import threadpool_limits

from recloop.agents.catalog import CatalogConfig, generate_catalog
from recloop.agents.choice import ChoiceConfig, utility_for_all_items
from recloop.agents.population import PopulationConfig, generate_population
from recloop.agents.truth import GroundTruth
from recloop.policies.base import Policy
from recloop.policies.factor import (
    ALSConfig,
    ALSPolicy,
    BPRConfig,
    BPRPolicy,
)
from recloop.policies.foldin import fold_in
from recloop.policies.knn import ItemKNNConfig, ItemKNNPolicy
from recloop.policies.oracle import OracleConfig, OraclePolicy
from recloop.policies.ranking import top_k
from recloop.policies.simple import PopularConfig, PopularPolicy, RandomConfig, RandomPolicy
from recloop.policies.types import ItemMetadata, Slates
from recloop.sim.serving import drop_seen

K = 5
# regularization 1.0 rather than the default 0.05: with 8 factors and ~430 positives the
# default overfits the toy window (in-block share at k=5 dips to ~0.88 on some seeds)
SMALL_ALS = ALSConfig(factors=8, iterations=5, regularization=1.0)
SMALL_BPR = BPRConfig(factors=8, iterations=100)


@lru_cache(maxsize=1)
def small_truth() -> GroundTruth:
    """A hidden world the size of the planted dataset, for the oracle."""
    rng = np.random.default_rng(123)
    catalog = generate_catalog(CatalogConfig(n_items=N_ITEMS, n_genres=2, latent_dim=8), rng)
    population = generate_population(PopulationConfig(n_users=N_USERS), catalog, rng)
    return GroundTruth(catalog, population, ChoiceConfig())


# --- the contract, once per policy -------------------------------------------------------


class TestRandomContract(PolicyContract):
    def make_policy(self, items: ItemMetadata, rng: np.random.Generator) -> Policy:
        return RandomPolicy(items, rng, RandomConfig())


class TestPopularContract(PolicyContract):
    def make_policy(self, items: ItemMetadata, rng: np.random.Generator) -> Policy:
        return PopularPolicy(items, rng, PopularConfig())


class TestItemKNNContract(PolicyContract):
    def make_policy(self, items: ItemMetadata, rng: np.random.Generator) -> Policy:
        return ItemKNNPolicy(items, rng, ItemKNNConfig(neighbours=10))


class TestALSContract(PolicyContract):
    def make_policy(self, items: ItemMetadata, rng: np.random.Generator) -> Policy:
        return ALSPolicy(items, rng, SMALL_ALS)


class TestBPRContract(PolicyContract):
    def make_policy(self, items: ItemMetadata, rng: np.random.Generator) -> Policy:
        return BPRPolicy(items, rng, SMALL_BPR)


class TestOracleContract(PolicyContract):
    def make_policy(self, items: ItemMetadata, rng: np.random.Generator) -> Policy:
        return OraclePolicy(items, rng, OracleConfig(), small_truth())


# --- behaviour with known answers ----------------------------------------------------------


def fitted(policy_cls: type[Policy], cfg: object, offset: int = 0) -> Policy:
    data = planted()
    policy = policy_cls(data.items, seeded_rng(offset), cfg)
    policy.fit(data.window)
    return policy


COLLABORATIVE = pytest.mark.parametrize(
    ("policy_cls", "cfg"),
    [
        (ItemKNNPolicy, ItemKNNConfig(neighbours=10)),
        (ALSPolicy, SMALL_ALS),
        (BPRPolicy, SMALL_BPR),
    ],
    ids=["item_knn", "als", "bpr"],
)


def test_planted_popularity_has_no_ties_at_the_top() -> None:
    """The behaviour tests below assume a unique popularity order for the top K + 1 items."""
    top = np.sort(planted().counts)[::-1][: K + 2]
    assert (np.diff(top) < 0).all(), top


@COLLABORATIVE
@pytest.mark.parametrize("offset", [0, 1, 2])
def test_collaborative_filtering_finds_the_planted_blocks(
    policy_cls: type[Policy], cfg: object, offset: int
) -> None:
    """Warm users get at least 90 % of their slate from their own block (chance: 50 %)."""
    data = planted()
    policy = fitted(policy_cls, cfg, offset)
    warm = data.warm
    slates = policy.recommend(warm, K, context(seen=data.seen))
    assert (slates.items >= 0).all()
    in_block = data.item_block[slates.items] == data.user_block[warm][:, None]
    assert in_block.mean() >= 0.9, in_block.mean()


def test_popular_ranks_by_window_counts() -> None:
    data = planted()
    ctx = context(seen=data.seen)
    users = np.arange(N_USERS)
    slates = fitted(PopularPolicy, PopularConfig()).recommend(users, K, ctx)
    allowed = qualifying(users, ctx)
    best_unseen = np.argmax(np.where(allowed, data.counts, -1.0), axis=1)
    np.testing.assert_array_equal(slates.items[:, 0], best_unseen)
    shown_counts = data.counts[slates.items]
    assert (np.diff(shown_counts, axis=1) <= 0).all(), "slate not in count order"
    np.testing.assert_array_equal(slates.propensity, np.ones((N_USERS, K), dtype=np.float32))


@COLLABORATIVE
def test_cold_users_get_the_most_popular_items(policy_cls: type[Policy], cfg: object) -> None:
    data = planted()
    cold = data.cold
    assert cold.size == 6
    available = np.ones(N_ITEMS, dtype=bool)
    available[int(np.argmax(data.counts))] = False  # the fallback must respect availability too
    ctx = context(seen=data.seen, available=available)
    slates = fitted(policy_cls, cfg).recommend(cold, K, ctx)
    expected = np.argsort(-np.where(available, data.counts, -np.inf), kind="stable")[:K]
    np.testing.assert_array_equal(slates.items, np.tile(expected, (cold.size, 1)))


@COLLABORATIVE
def test_cold_users_get_popular_items_when_batched_with_warm_users(
    policy_cls: type[Policy], cfg: object
) -> None:
    """Batch serving ranks every active user in one call: cold rows must still be popular."""
    data = planted()
    users = np.arange(N_USERS)  # warm and cold together, as BatchServing.prepare does
    slates = fitted(policy_cls, cfg).recommend(users, K, context(seen=data.seen))
    expected = np.argsort(-data.counts, kind="stable")[:K]
    np.testing.assert_array_equal(slates.items[data.cold], np.tile(expected, (data.cold.size, 1)))


def test_random_propensity_is_one_over_allowed() -> None:
    data = planted()
    available = np.ones(N_ITEMS, dtype=bool)
    available[[0, 1, ITEMS_PER_BLOCK]] = False
    ctx = context(seen=data.seen, available=available)
    users = np.arange(N_USERS)
    slates = fitted(RandomPolicy, RandomConfig()).recommend(users, K, ctx)
    allowed = qualifying(users, ctx).sum(axis=1)
    assert slates.propensity is not None
    expected = np.repeat((1.0 / allowed)[:, None], K, axis=1)
    np.testing.assert_allclose(slates.propensity, expected, rtol=1e-6)


def test_random_propensity_is_zero_on_padding() -> None:
    available = np.zeros(N_ITEMS, dtype=bool)
    available[:3] = True
    ctx = context(available=available)
    slates = fitted(RandomPolicy, RandomConfig()).recommend(np.arange(4), K, ctx)
    assert slates.propensity is not None
    np.testing.assert_allclose(slates.propensity[:, :3], 1 / 3, rtol=1e-6)
    np.testing.assert_array_equal(slates.propensity[:, 3:], 0.0)


def test_random_slates_are_uniform_over_allowed_items() -> None:
    """6000 slates for one user with 28 allowed items: chi-square p > 1e-4 (seeded).

    Counts pooled over all K positions (expected 6000·5/28 ≈ 1071 per item; items within a
    slate are drawn without replacement, which only makes the test conservative) and at
    position 0 alone (expected ≈ 214 per item). Disallowed items must never appear.
    """
    n = 6000
    data = planted()
    available = np.ones(N_ITEMS, dtype=bool)
    available[[5, 25]] = False
    ctx = context(seen=data.seen, available=available)
    user = int(data.warm[0])
    allowed = np.flatnonzero(qualifying(np.array([user]), ctx)[0])
    assert allowed.size == N_ITEMS - 2 - 8 + int(data.seen[user, [5, 25]].sum())
    slates = fitted(RandomPolicy, RandomConfig()).recommend(np.full(n, user), K, ctx)
    pooled = np.bincount(slates.items.ravel(), minlength=N_ITEMS)
    first = np.bincount(slates.items[:, 0], minlength=N_ITEMS)
    assert pooled.sum() == pooled[allowed].sum() == n * K
    assert chisquare(pooled[allowed]).pvalue > 1e-4
    assert chisquare(first[allowed]).pvalue > 1e-4


def test_random_depends_on_seed() -> None:
    ctx = context()
    users = np.arange(N_USERS)
    a = fitted(RandomPolicy, RandomConfig(), offset=1).recommend(users, K, ctx)
    b = fitted(RandomPolicy, RandomConfig(), offset=2).recommend(users, K, ctx)
    assert (a.items != b.items).any()


def test_oracle_serves_true_top_k_among_allowed_items() -> None:
    truth = small_truth()
    data = planted()
    available = np.ones(N_ITEMS, dtype=bool)
    available[[2, 17, 31]] = False
    ctx = context(seen=data.seen, available=available)
    users = np.arange(N_USERS)
    policy = OraclePolicy(data.items, seeded_rng(), OracleConfig(), truth)
    slates = policy.recommend(users, K, ctx)
    utility = utility_for_all_items(truth.population.taste, truth.catalog, truth.choice)
    utility = np.where(qualifying(users, ctx), utility.astype(np.float64), -np.inf)
    expected = np.argsort(-utility, axis=1, kind="stable")[:, :K]
    np.testing.assert_array_equal(slates.items, expected)


# --- shared machinery: top_k and drop_seen -------------------------------------------------

INF = np.inf


@pytest.mark.parametrize(
    ("scores", "k", "expected"),
    [
        ([[3.0, 1.0, 2.0, 0.5]], 2, [[0, 2]]),
        ([[3.0, 1.0, 2.0, -INF]], 4, [[0, 2, 1, -1]]),  # -inf never shown
        ([[-INF, 5.0, -INF, 1.0]], 3, [[1, 3, -1]]),  # k > number of finite scores
        ([[2.0, 1.0]], 4, [[0, 1, -1, -1]]),  # k > number of items
        ([[-INF, -INF, -INF]], 2, [[-1, -1]]),  # nothing qualifies
        ([[0.1, 0.9, 0.5], [-INF, 0.2, 0.3]], 3, [[1, 2, 0], [2, 1, -1]]),  # rows independent
        ([[-1.0, -3.0, -2.0]], 2, [[0, 2]]),  # negative finite scores still rank
    ],
)
def test_top_k_hand_cases(scores: list[list[float]], k: int, expected: list[list[int]]) -> None:
    out = top_k(np.array(scores), k)  # a fresh array: top_k may overwrite its argument
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, np.array(expected))


def test_top_k_matches_full_sort() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random((50, 30))
    scores[rng.random(scores.shape) < 0.3] = -INF
    out = top_k(scores.copy(), 10)  # top_k may overwrite its argument
    for row in range(scores.shape[0]):
        finite = np.flatnonzero(np.isfinite(scores[row]))
        best = finite[np.argsort(-scores[row, finite])][:10]
        np.testing.assert_array_equal(out[row, : best.size], best)
        assert (out[row, best.size :] == -1).all()


def test_drop_seen_keeps_order_drops_seen_and_pads() -> None:
    seen = np.zeros((4, 8), dtype=bool)
    seen[2, [1]] = True
    seen[0, [0, 2]] = True
    seen[3, [4, 5, 6, 7]] = True
    users = np.array([2, 0, 3])
    items = np.array(
        [
            [3, 1, 4, -1, 2],  # user 2 watched 1; a -1 hole in the middle is skipped
            [0, 5, 2, 3, 1],  # user 0 watched 0 and 2
            [4, 5, 6, 7, -1],  # user 3 watched all four: nothing left
        ],
        dtype=np.int32,
    )
    prop = np.arange(15, dtype=np.float32).reshape(3, 5) / 100 + 0.01
    out = drop_seen(Slates(items, prop), users, seen, k=3)
    np.testing.assert_array_equal(out.items, [[3, 4, 2], [5, 3, 1], [-1, -1, -1]])
    assert out.items.dtype == np.int32
    assert out.propensity is not None
    np.testing.assert_allclose(out.propensity, [[0.01, 0.03, 0.05], [0.07, 0.09, 0.10], [0, 0, 0]])


def test_drop_seen_without_propensity_and_partial_padding() -> None:
    seen = np.zeros((1, 6), dtype=bool)
    seen[0, [1, 2]] = True
    out = drop_seen(Slates(np.array([[1, 5, 2, 0]], dtype=np.int32)), np.array([0]), seen, k=3)
    np.testing.assert_array_equal(out.items, [[5, 0, -1]])
    assert out.propensity is None


def test_drop_seen_output_passes_the_slate_contract() -> None:
    data = planted()
    policy = fitted(PopularPolicy, PopularConfig())
    users = np.arange(N_USERS)
    night = policy.recommend(users, K + 10, context())  # ranked before anything was watched
    ctx = context(seen=data.seen)
    check_slates(drop_seen(night, users, ctx.seen, K), users, K, ctx)


# --- real-time fold-in of today's positives (ctx.recent) ------------------------------------


def recent_rows(rows: dict[int, list[int]]) -> sp.csr_matrix:
    """Today's positives: user -> items, as the users × items matrix serving hands over."""
    users = [u for u, items in rows.items() for _ in items]
    items = [i for its in rows.values() for i in its]
    ones = np.ones(len(users), dtype=np.float32)
    return sp.csr_matrix((ones, (users, items)), shape=(N_USERS, N_ITEMS))


def test_fold_in_matches_implicits_own_user_solve() -> None:
    """Our batched normal equations give what implicit's recalculate_user gives (1e-4)."""
    data = planted()
    with threadpool_limits(1, "blas"):  # implicit warns about a BLAS pool at construction
        model = AlternatingLeastSquares(
            factors=8, regularization=0.1, alpha=2.0, iterations=3, random_state=0, num_threads=1
        )
        model.fit(data.window.interactions, show_progress=False)
    rows = data.window.interactions[:12] + recent_rows({0: [25, 30], 5: [1]})[:12]
    ours = fold_in(model.item_factors, rows, 2.0, 0.1)
    theirs = model.recalculate_user(np.arange(12), rows)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_lists_ranked_on_several_threads_are_the_lists_of_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Chunks of 7 users ranked on 1, 2 and 3 threads: the same items and scores."""
    monkeypatch.setattr("recloop.policies.base.score_chunk", lambda n_items: 7)
    data = planted()
    users = np.arange(N_USERS)[::-1]  # out of order, as a round's users are
    ctx = context(seen=data.seen)
    lists = [
        fitted(ALSPolicy, replace(SMALL_ALS, threads=t)).candidates(users, 2 * K, ctx)
        for t in (1, 2, 3)
    ]
    assert users.size > 3 * 7
    for items, scores in lists[1:]:
        np.testing.assert_array_equal(items, lists[0][0])
        np.testing.assert_array_equal(scores, lists[0][1])


@pytest.mark.parametrize(("policy_cls", "cfg"), [(ALSPolicy, SMALL_ALS), (BPRPolicy, SMALL_BPR)],
                         ids=["als", "bpr"])
@pytest.mark.parametrize("fit", [True, False], ids=["fitted", "unfitted"])
def test_handed_over_scores_are_new_blocks(policy_cls: type[Policy], cfg: object,
                                           fit: bool) -> None:
    """Ranking overwrites the block ``score`` returns without copying it (``fresh_scores``):
    each call must give a new float32 block, so ranking never touches the model."""
    data = planted()
    policy = fitted(policy_cls, cfg) if fit else policy_cls(data.items, seeded_rng(0), cfg)
    users, ctx = np.arange(N_USERS), context(seen=data.seen)
    first, second = policy.score(users, ctx), policy.score(users, ctx)
    assert policy.fresh_scores and first.dtype == np.float32
    assert not np.shares_memory(first, second)
    policy.candidates(users, K, ctx)
    np.testing.assert_array_equal(policy.score(users, ctx), second)


def test_als_factors_do_not_depend_on_the_thread_count() -> None:
    """``policy.threads`` defaults to every core because it changes only the time: each
    OpenMP thread solves whole rows from the other side's fixed factors."""
    factors = [
        (p.user_factors_, p.item_factors_)
        for p in (fitted(ALSPolicy, replace(SMALL_ALS, threads=t)) for t in (1, 2, 3, 0))
    ]
    for users, items in factors[1:]:
        np.testing.assert_array_equal(users, factors[0][0])
        np.testing.assert_array_equal(items, factors[0][1])


@pytest.mark.parametrize(
    ("policy_cls", "cfg"),
    [(ALSPolicy, SMALL_ALS), (ItemKNNPolicy, ItemKNNConfig(neighbours=10))],
    ids=["als", "item_knn"],
)
def test_recent_positives_pull_the_slate_toward_their_block(
    policy_cls: type[Policy], cfg: object
) -> None:
    """Block-0 users who clicked four block-1 items today: +10 points of block-1 items or more.

    Without ``recent`` these users' slates hold no block-1 items; with it ALS gives ~16 %.
    """
    data = planted()
    users = data.warm[data.user_block[data.warm] == 0][:10]
    clicked = [ITEMS_PER_BLOCK + i for i in (0, 2, 4, 6)]
    recent = recent_rows({int(u): clicked for u in users})
    seen = data.seen | (recent.toarray() > 0)
    ctx = context(seen=seen)
    policy = fitted(policy_cls, cfg)
    before = policy.recommend(users, K, ctx).items
    after = policy.recommend(users, K, replace(ctx, recent=recent)).items
    check_slates(policy.recommend(users, K, replace(ctx, recent=recent)), users, K, ctx)
    in_b = lambda items: (data.item_block[items] == 1).mean()
    assert in_b(after) >= in_b(before) + 0.1, (in_b(before), in_b(after))


def test_popular_counts_todays_positives_in_realtime() -> None:
    data = planted()
    rare = int(np.argmin(data.counts))
    recent = recent_rows({u: [rare] for u in range(N_USERS)})  # everyone clicked it today
    ctx = context()
    slates = fitted(PopularPolicy, PopularConfig()).recommend(np.arange(3), K, ctx)
    assert rare not in slates.items
    boosted = fitted(PopularPolicy, PopularConfig()).recommend(
        np.arange(3), K, replace(ctx, recent=recent)
    )
    assert (boosted.items[:, 0] == rare).all()


def test_bpr_ignores_recent_positives() -> None:
    data = planted()
    recent = recent_rows({0: [ITEMS_PER_BLOCK, ITEMS_PER_BLOCK + 1]})
    ctx = context(seen=data.seen)
    a = fitted(BPRPolicy, SMALL_BPR, offset=4).recommend(np.arange(N_USERS), K, ctx)
    b = fitted(BPRPolicy, SMALL_BPR, offset=4).recommend(
        np.arange(N_USERS), K, replace(ctx, recent=recent)
    )
    np.testing.assert_array_equal(a.items, b.items)


def test_top_up_fills_trailing_slots_without_duplicates() -> None:
    from recloop.sim.serving import top_up

    items = np.array([[5, 6, -1, -1], [7, -1, -1, -1], [1, 2, 3, 4]], dtype=np.int32)
    prop = np.where(items >= 0, 0.5, 0.0).astype(np.float32)
    extra = Slates(np.array([[6, 8, 9, 10], [7, 8, -1, -1], [9, 9, 9, 9]], dtype=np.int32))
    out, out_prop = top_up(items, prop, extra)
    assert out.tolist() == [[5, 6, 8, 9], [7, 8, -1, -1], [1, 2, 3, 4]]
    assert out_prop.tolist() == [[0.5, 0.5, 1.0, 1.0], [0.5, 1.0, 0.0, 0.0], [0.5] * 4]
    assert items[0, 2] == -1  # inputs untouched


def test_a_warm_started_candidate_continues_from_the_deployed_factors() -> None:
    """warm_iterations=0 is the fresh fit; warm sweeps start where the deployed model is,
    so one sweep on the same window stays near its factors and far from a fresh fit."""
    data = planted()
    deployed = fitted(ALSPolicy, replace(SMALL_ALS, iterations=30))
    cold = ALSPolicy(data.items, seeded_rng(5), SMALL_ALS)
    cold.fit_from(deployed, data.window)
    fresh = fitted(ALSPolicy, SMALL_ALS, offset=5)
    np.testing.assert_array_equal(cold.item_factors_, fresh.item_factors_)
    warm = ALSPolicy(data.items, seeded_rng(5), replace(SMALL_ALS, warm_iterations=1))
    warm.fit_from(deployed, data.window)
    to_deployed = np.abs(warm.item_factors_ - deployed.item_factors_).max()
    to_fresh = np.abs(warm.item_factors_ - fresh.item_factors_).max()
    assert to_deployed < 0.1 * to_fresh
    first = ALSPolicy(data.items, seeded_rng(5), replace(SMALL_ALS, warm_iterations=1))
    first.fit_from(None, data.window)  # the first night: nothing to start from
    np.testing.assert_array_equal(first.item_factors_, fresh.item_factors_)
