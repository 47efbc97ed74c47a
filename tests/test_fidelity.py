"""Fidelity metrics: rank agreement against scipy, and the welfare gap's two ends.

The oracle closes the whole random→oracle gap by construction (it ranks by the same true
utility); a uniformly random policy closes none of it in expectation, which checks that
``random_welfare`` is the right expectation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr

from recloop.agents.catalog import CatalogConfig, generate_catalog
from recloop.agents.choice import ChoiceConfig, examination, utility_for_all_items
from recloop.agents.population import PopulationConfig, generate_population
from recloop.policies.allowed import allowed_items
from recloop.policies.oracle import OracleConfig, OraclePolicy
from recloop.policies.seen import SeenRows
from recloop.policies.simple import RandomConfig, RandomPolicy
from recloop.policies.types import ServeContext
from recloop.sim.fidelity import (
    AGREEMENT_ROWS,
    agreement_in_chunks,
    measure,
    measure_later,
    random_welfare,
    slate_welfare,
)
from recloop.sim.metrics.fidelity import gap_recovered, rank_agreement
from recloop.sim.world import World


@given(st.integers(0, 10_000), st.integers(3, 25))
@settings(max_examples=60, deadline=None)
def test_rank_agreement_is_spearmans_rho(seed: int, m: int) -> None:
    rng = np.random.default_rng(seed)
    value = rng.normal(size=(1, 40))
    ranked = np.full((1, 30), -1)
    ranked[0, :m] = rng.choice(40, m, replace=False)
    expected = spearmanr(-np.arange(m), value[0, ranked[0, :m]]).statistic
    assert rank_agreement(ranked, value)[0] == pytest.approx(expected, abs=1e-12)


def test_rank_agreement_extremes_and_too_few_items() -> None:
    value = np.arange(10.0)[None, :].repeat(3, axis=0)
    ranked = np.array([[9, 8, 7, 6], [6, 7, 8, 9], [3, 2, -1, -1]])
    assert rank_agreement(ranked, value)[:2].tolist() == [1.0, -1.0]
    assert math.isnan(rank_agreement(ranked, value)[2])


def test_agreement_in_chunks_is_the_agreement_of_the_whole_batch() -> None:
    """Chunks on several threads, the last one short: each row's rho, bit for bit."""
    rng = np.random.default_rng(3)
    n, n_items = 3 * AGREEMENT_ROWS + 7, 60
    value = rng.normal(size=(n, n_items))
    ranked = np.argsort(rng.random((n, n_items)), axis=1)[:, :45]
    ranked[rng.random(n) < 0.2, 30:] = -1  # some rows padded
    ranked[0, 2:] = -1  # too few to rank: NaN
    whole = rank_agreement(ranked, value)
    np.testing.assert_array_equal(agreement_in_chunks(ranked, value), whole)
    assert math.isnan(whole[0]) and np.isfinite(whole[1:]).all()


def test_gap_recovered_ends() -> None:
    assert gap_recovered(5.0, 1.0, 5.0) == 1.0
    assert gap_recovered(1.0, 1.0, 5.0) == 0.0
    assert math.isnan(gap_recovered(1.0, 1.0, 1.0))


@pytest.fixture(scope="module")
def world() -> World:
    rng = np.random.default_rng(77)
    catalog = generate_catalog(CatalogConfig(n_items=120, n_genres=6), rng)
    population = generate_population(PopulationConfig(n_users=400), catalog, rng)
    return World(catalog, population, ChoiceConfig())


def context(world: World) -> ServeContext:
    seen = np.random.default_rng(3).random((400, 120)) < 0.2
    return ServeContext(0, 0.0, np.ones(120, dtype=bool), seen)


def test_the_oracle_recovers_the_whole_gap(world: World) -> None:
    oracle = OraclePolicy(world.metadata(), np.random.default_rng(1), OracleConfig(),
                          world.truth())
    users = np.arange(400)
    fid = measure(oracle, users, world.population.taste, context(world), world,
                  world.mean_item_utility(), 10)
    assert gap_recovered(fid.served, fid.random, fid.oracle) == pytest.approx(1.0, abs=1e-6)
    assert np.nanmean(fid.agreement) > 0.3  # its order tracks each user's own part too


def test_random_slates_recover_nothing_in_expectation(world: World) -> None:
    """Per user, a random slate's welfare minus its expectation: mean 0 within 4 SE."""
    policy = RandomPolicy(world.metadata(), np.random.default_rng(2), RandomConfig())
    users, ctx, k = np.arange(400), context(world), 10
    utility = utility_for_all_items(world.population.taste, world.catalog, world.choice)
    exam = examination(k, world.choice)
    allowed = allowed_items(users, ctx)
    diffs = []
    for _ in range(20):
        items = policy.recommend(users, k, ctx).items
        served = [slate_welfare(items[[u]], utility[[u]], exam) for u in users]
        expected = [random_welfare(utility[[u]], allowed[[u]], exam) for u in users]
        diffs.append(np.subtract(served, expected))
    d = np.concatenate(diffs)
    assert abs(d.mean()) < 4 * d.std(ddof=1) / math.sqrt(d.size)


def test_measuring_leaves_the_models_stream_alone(world: World) -> None:
    policy = RandomPolicy(world.metadata(), np.random.default_rng(5), RandomConfig())
    twin = RandomPolicy(world.metadata(), np.random.default_rng(5), RandomConfig())
    measure(policy, np.arange(50), world.population.taste[:50], context(world), world,
            world.mean_item_utility(), 10)
    ctx = context(world)
    assert np.array_equal(policy.recommend(np.arange(9), 5, ctx).items,
                          twin.recommend(np.arange(9), 5, ctx).items)


def test_a_measurement_on_a_worker_is_the_measurement_as_it_was_started(world: World) -> None:
    """The model is copied and the watched rows are a snapshot: whatever happens after the
    start (the model serves, everyone watches everything) leaves the result alone."""
    policy = RandomPolicy(world.metadata(), np.random.default_rng(6), RandomConfig())
    twin = RandomPolicy(world.metadata(), np.random.default_rng(6), RandomConfig())
    users, ctx = np.arange(0, 400, 3), context(world)
    rows = ServeContext(0, 0.0, ctx.available, SeenRows(users, ctx.seen[users], 400))
    taste = world.population.taste[users]
    later = measure_later(policy, users, taste, rows, world, world.mean_item_utility(), 10)
    policy.recommend(np.arange(50), 10, ctx)
    ctx.seen[:] = True
    now = measure(twin, users, taste, context(world), world, world.mean_item_utility(), 10)
    got = later.result()
    np.testing.assert_array_equal(got.agreement, now.agreement)
    assert (got.served, got.random, got.oracle) == (now.served, now.random, now.oracle)
