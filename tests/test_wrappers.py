"""Wrappers (exploration, diversity, freshness), their registry wiring and config knobs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from contracts import (
    ITEMS_PER_BLOCK,
    N_ITEMS,
    N_USERS,
    PolicyContract,
    assert_same,
    check_slates,
    context,
    planted,
    qualifying,
    seeded_rng,
)

from recloop.experiments.preflight import CONF_DIR, check_command_line, check_job
from recloop.policies.base import Policy
from recloop.policies.diversity import Diversify, intra_list_diversity, normalise
from recloop.policies.factor import ALSConfig, ALSPolicy
from recloop.policies.registry import POLICIES, make_policy
from recloop.policies.simple import PopularConfig, PopularPolicy, RandomConfig
from recloop.policies.types import ItemMetadata
from recloop.policies.wrappers import EpsilonGreedy, FreshnessQuota, find_wrapper
from recloop.sim.config import ConfigError

K = 5
SMALL_ALS = ALSConfig(factors=8, iterations=5, regularization=1.0)  # as in test_policies.py
FRESH_DAY = 1  # the contract's serving day; items released on it are the fresh ones


def als(items: ItemMetadata, rng: np.random.Generator) -> ALSPolicy:
    return ALSPolicy(items, rng, SMALL_ALS)


def staggered(items: ItemMetadata) -> ItemMetadata:
    """The planted catalog with every third item released on ``FRESH_DAY``."""
    release = np.where(np.arange(items.n_items) % 3 == 0, FRESH_DAY, 0).astype(np.int16)
    return ItemMetadata(genre=items.genre, release_day=release)


# --- the contract, once per wrapper --------------------------------------------------------


class TestEpsilonGreedyContract(PolicyContract):
    def make_policy(self, items: ItemMetadata, rng: np.random.Generator) -> Policy:
        return EpsilonGreedy(als(items, rng), 0.3, rng.spawn(1)[0])


class TestEpsilonGreedyOverRandomContract(PolicyContract):
    def make_policy(self, items: ItemMetadata, rng: np.random.Generator) -> Policy:
        cfg = RandomConfig(epsilon=0.5)
        return make_policy(cfg, items, rng, truth=None)  # type: ignore[arg-type]


class TestDiversifyGenreContract(PolicyContract):
    def make_policy(self, items: ItemMetadata, rng: np.random.Generator) -> Policy:
        return Diversify(als(items, rng), 0.5, "genre", 2, 20)


class TestDiversifyEmbeddingContract(PolicyContract):
    def make_policy(self, items: ItemMetadata, rng: np.random.Generator) -> Policy:
        return Diversify(als(items, rng), 0.5, "embedding", 0, 20)


class TestFreshnessQuotaContract(PolicyContract):
    def make_policy(self, items: ItemMetadata, rng: np.random.Generator) -> Policy:
        return FreshnessQuota(als(staggered(items), rng), 2, 1)


class TestFullStackContract(PolicyContract):
    def make_policy(self, items: ItemMetadata, rng: np.random.Generator) -> Policy:
        cfg = ALSConfig(
            factors=8,
            iterations=5,
            regularization=1.0,
            epsilon=0.2,
            diversity=0.3,
            genre_cap=3,
            fresh_slots=1,
            fresh_days=1,
            candidates=15,
        )
        return make_policy(cfg, staggered(items), rng, truth=None)  # type: ignore[arg-type]


def fitted(policy: Policy) -> Policy:
    policy.fit(planted().window)
    return policy


# --- epsilon-greedy ----------------------------------------------------------------------


def test_registry_stacks_wrappers_in_order_and_keeps_the_base_name() -> None:
    cfg = ALSConfig(epsilon=0.1, diversity=0.2, fresh_slots=1)
    policy = make_policy(cfg, planted().items, seeded_rng(), truth=None)  # type: ignore[arg-type]
    layers = []
    node: Policy = policy
    while hasattr(node, "base"):
        layers.append(type(node).__name__)
        node = node.base  # type: ignore[attr-defined]
    assert layers == ["EpsilonGreedy", "FreshnessQuota", "Diversify"]
    assert isinstance(node, ALSPolicy) and policy.name == "als"
    assert find_wrapper(policy, EpsilonGreedy) is policy
    assert find_wrapper(node, EpsilonGreedy) is None
    plain = make_policy(ALSConfig(), planted().items, seeded_rng(), truth=None)  # type: ignore[arg-type]
    assert isinstance(plain, ALSPolicy)


def test_epsilon_zero_serves_exactly_the_base_slates() -> None:
    data = planted()
    ctx = context(seen=data.seen)
    users = np.arange(N_USERS)
    wrapped = fitted(EpsilonGreedy(als(data.items, seeded_rng(3)), 0.0, seeded_rng(4)))
    alone = fitted(als(data.items, seeded_rng(3)))
    assert_same(wrapped.recommend(users, K, ctx), alone.recommend(users, K, ctx))


def test_epsilon_is_mutable_and_one_replaces_every_slot() -> None:
    data = planted()
    ctx = context(seen=data.seen)
    users = np.arange(N_USERS)
    wrapped = fitted(
        EpsilonGreedy(PopularPolicy(data.items, seeded_rng(), PopularConfig()), 0.0, seeded_rng(1))
    )
    base = wrapped.recommend(users, K, ctx).items
    wrapped.epsilon = 1.0  # what a controller in sim/ does between days
    explored = wrapped.recommend(users, K, ctx)
    check_slates(explored, users, K, ctx)
    overlap = (explored.items[:, :, None] == base[:, None, :]).any(axis=2)
    assert not overlap.any(), "explored items must come from outside the base slate"


def monte_carlo(ctx_available: np.ndarray, epsilon: float, n: int) -> tuple[np.ndarray, ...]:
    """n draws of one user's slate: (empirical item × slot frequencies, stated propensities)."""
    data = planted()
    user = int(data.warm[0])
    seen = np.zeros((N_USERS, N_ITEMS), dtype=bool)
    ctx = context(seen=seen, available=ctx_available)
    base = fitted(PopularPolicy(data.items, seeded_rng(), PopularConfig()))
    policy = EpsilonGreedy(base, epsilon, np.random.default_rng(2024))
    slates = policy.recommend(np.full(n, user), K, ctx)
    check_slates(slates.take(np.arange(500)), np.full(500, user), K, ctx)
    freq = np.zeros((N_ITEMS, K))
    expected = np.zeros((N_ITEMS, K))
    assert slates.propensity is not None
    for slot in range(K):
        freq[:, slot] = np.bincount(slates.items[:, slot], minlength=N_ITEMS) / n
        expected[slates.items[:, slot], slot] = slates.propensity[:, slot]  # one value per item
        for item in np.unique(slates.items[:, slot]):  # the stated value is the same every draw
            stated = slates.propensity[slates.items[:, slot] == item, slot]
            assert np.ptp(stated) == 0
    return freq, expected


@pytest.mark.parametrize(
    ("n_available", "epsilon"),
    [(N_ITEMS, 0.3), (8, 0.5)],  # pool 35 ≥ k; pool 3 < k, so exploration can run dry
    ids=["large-pool", "pool-runs-dry"],
)
def test_epsilon_greedy_propensities_match_monte_carlo(n_available: int, epsilon: float) -> None:
    """40,000 seeded draws: every (item, slot) frequency within 5 s.e. of the stated value.

    With 200 cells a 5 s.e. bound has a family-wise false-alarm rate below 1e-4; an error
    in the formula (e.g. ignoring the dry pool, or ε/m vs ε/(m+k)) moves cells by 10+ s.e.
    """
    n = 40_000
    available = np.zeros(N_ITEMS, dtype=bool)
    available[:n_available] = True
    freq, expected = monte_carlo(available, epsilon, n)
    tolerance = 5 * np.sqrt(expected * (1 - expected) / n) + 1e-12
    assert (np.abs(freq - expected) <= tolerance).all(), np.abs(freq - expected).max()
    np.testing.assert_allclose(expected.sum(axis=0), 1.0, rtol=1e-5)  # each slot is filled
    assert (freq[~available] == 0).all()


# --- diversity ---------------------------------------------------------------------------


def test_intra_list_diversity_hand_cases() -> None:
    genre = np.array([0, 0, 1, 2])
    assert intra_list_diversity(np.array([[0, 1, 2, -1]]), genre) == pytest.approx(2 / 3)
    assert intra_list_diversity(np.array([[0, 1, -1], [2, 3, 0]]), genre) == pytest.approx(0.5)
    assert intra_list_diversity(np.array([[3, -1], [0, 2]]), genre) == pytest.approx(1.0)
    assert np.isnan(intra_list_diversity(np.array([[1, -1]]), genre))


def test_normalise_scales_valid_scores_per_row() -> None:
    scores = np.array([[3.0, 1.0, 2.0], [5.0, 5.0, -np.inf]], dtype=np.float32)
    out = normalise(scores, np.isfinite(scores))
    np.testing.assert_allclose(out, [[1.0, 0.0, 0.5], [1.0, 1.0, 0.0]])


def test_diversify_off_reproduces_the_base_ranking() -> None:
    data = planted()
    ctx = context(seen=data.seen)
    users = np.arange(N_USERS)
    wrapped = fitted(Diversify(als(data.items, seeded_rng(5)), 0.0, "genre", 0, 20))
    alone = fitted(als(data.items, seeded_rng(5)))
    assert_same(wrapped.recommend(users, K, ctx), alone.recommend(users, K, ctx))


@pytest.mark.parametrize("similarity", ["genre", "embedding"])
def test_diversify_raises_intra_list_diversity(similarity: str) -> None:
    """ALS slates stay in the user's block (= genre): ILD ≈ 0.1; MMR at λ=1 must add ≥ 0.2."""
    data = planted()
    ctx = context(seen=data.seen)
    users = data.warm
    base = fitted(als(data.items, seeded_rng())).recommend(users, K, ctx)
    mixed = fitted(Diversify(als(data.items, seeded_rng()), 1.0, similarity, 0, 20))
    slates = mixed.recommend(users, K, ctx)
    check_slates(slates, users, K, ctx)
    before = intra_list_diversity(base.items, data.items.genre)
    after = intra_list_diversity(slates.items, data.items.genre)
    assert after >= before + 0.2, (before, after)


def genre_counts(items: np.ndarray, genre: np.ndarray) -> np.ndarray:
    return np.stack([((genre[items] == g) & (items >= 0)).sum(axis=1) for g in range(2)], 1)


@pytest.mark.parametrize(
    ("cap", "capped_slots"),
    [(3, K), (2, 4)],  # cap 2 with two genres allows only 4: the 5th is the best remaining
    ids=["enough-genres", "genres-run-out"],
)
def test_genre_cap_is_respected_and_slates_stay_full(cap: int, capped_slots: int) -> None:
    data = planted()
    ctx = context(seen=data.seen)
    users = np.arange(N_USERS)
    policy = fitted(Diversify(als(data.items, seeded_rng()), 0.0, "genre", cap, N_ITEMS))
    slates = policy.recommend(users, K, ctx)
    check_slates(slates, users, K, ctx)  # full length: min(k, allowed) items per row
    assert genre_counts(slates.items[:, :capped_slots], data.items.genre).max() <= cap


# --- freshness quota -----------------------------------------------------------------------


def fresh_world() -> tuple[ItemMetadata, np.ndarray]:
    """Planted catalog where items 16..19 and 36..39 came out on day 10; the rest on day 0."""
    data = planted()
    release = np.zeros(N_ITEMS, dtype=np.int16)
    fresh = (np.arange(N_ITEMS) % ITEMS_PER_BLOCK) >= ITEMS_PER_BLOCK - 4
    release[fresh] = 10
    return ItemMetadata(genre=data.items.genre, release_day=release), fresh


def test_freshness_quota_is_met_when_enough_fresh_items_exist() -> None:
    items, fresh = fresh_world()
    data = planted()
    seen = data.seen.copy()
    seen[0, np.flatnonzero(fresh)[1:]] = True  # user 0 has one fresh item left
    ctx = context(seen=seen, day=12)
    users = np.arange(N_USERS)
    base = fitted(PopularPolicy(items, seeded_rng(), PopularConfig()))
    plain = base.recommend(users, K, ctx).items
    quota = fitted(FreshnessQuota(PopularPolicy(items, seeded_rng(), PopularConfig()), 2, 7))
    slates = quota.recommend(users, K, ctx)
    check_slates(slates, users, K, ctx)
    n_fresh = (fresh[slates.items] & (slates.items >= 0)).sum(axis=1)
    allowed_fresh = (qualifying(users, ctx) & fresh).sum(axis=1)
    np.testing.assert_array_equal(
        n_fresh, np.minimum(np.maximum(2, fresh[plain].sum(1)), allowed_fresh)
    )
    kept = K - np.maximum(0, n_fresh - fresh[plain].sum(1))
    for row in range(N_USERS):  # the top of the slate is the base's, untouched
        np.testing.assert_array_equal(slates.items[row, : kept[row]], plain[row, : kept[row]])


def test_freshness_counts_only_releases_within_fresh_days() -> None:
    items, _ = fresh_world()
    users = np.arange(N_USERS)
    policy = fitted(FreshnessQuota(PopularPolicy(items, seeded_rng(), PopularConfig()), 2, 2))
    late = policy.recommend(users, K, context(seen=planted().seen, day=12))  # age 2: stale
    base = fitted(PopularPolicy(items, seeded_rng(), PopularConfig()))
    np.testing.assert_array_equal(
        late.items, base.recommend(users, K, context(seen=planted().seen)).items
    )


def test_freshness_quota_zero_changes_nothing() -> None:
    items, _ = fresh_world()
    ctx = context(seen=planted().seen, day=12)
    users = np.arange(N_USERS)
    quota = fitted(FreshnessQuota(als(items, seeded_rng(7)), 0, 7))
    alone = fitted(als(items, seeded_rng(7)))
    assert_same(quota.recommend(users, K, ctx), alone.recommend(users, K, ctx))


# --- config knobs ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.stem for p in (CONF_DIR / "policy").glob("*.yaml")))
def test_every_policy_yaml_composes_with_wrapper_knobs(name: str) -> None:
    cfg = check_job(
        [
            f"policy={name}",
            "policy.epsilon=0.1",
            "policy.diversity=0.2",
            "users=small",
            "catalog=small",
        ]
    )
    assert cfg.policy.name == name and cfg.policy.epsilon == 0.1


def test_epsilon_sweep_is_checked_job_by_job() -> None:
    check_command_line(["-m", "policy.epsilon=0,0.05,0.1", "catalog=small"])
    with pytest.raises(ConfigError, match=r"^policy\.epsilon=1\.5 is out of range"):
        check_command_line(["-m", "policy.epsilon=0,1.5"])


@pytest.mark.parametrize(
    ("override", "allowed"),
    [
        ("policy.epsilon=1.5", "0.0..1.0"),
        ("policy.diversity=-1", "0..100"),
        ("policy.similarity=cosine", "genre, embedding"),
        ("policy.genre_cap=-2", "0..10000"),
        ("policy.fresh_slots=11", "0..10 (serving.k)"),
        ("policy.fresh_days=0", "1..10000"),
        ("policy.candidates=0", "1..2000 (catalog.n_items)"),
    ],
)
def test_wrapper_knob_out_of_range_is_one_line(override: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as err:
        check_job(["policy=als", override])
    message = str(err.value)
    assert message.startswith(override.split("=")[0]) and allowed in message
    assert "\n" not in message


def test_every_registered_policy_has_a_yaml_and_vice_versa() -> None:
    assert {p.stem for p in Path(CONF_DIR / "policy").glob("*.yaml")} == set(POLICIES)
