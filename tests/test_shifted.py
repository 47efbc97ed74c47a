"""Propensities of nightly lists after watched items drop out (``policies/shifted.py``)."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import numpy as np
from contracts import N_ITEMS, N_USERS, context, planted, seeded_rng

from recloop.policies.shifted import ExploredLists
from recloop.policies.simple import PopularConfig, PopularPolicy
from recloop.policies.types import Slates
from recloop.policies.wrappers import EpsilonGreedy
from recloop.sim.serving import Server, ServingLists, drop_seen

BASE, POOL = (0, 1, 2, 3, 4), (5, 6, 7, 8)  # five listed items; a pool of four runs dry
WATCHED = {1, 3, 6, 7}  # since the night: two base items and two pool items


def exact_shown(eps: float, k: int) -> dict[tuple[int, ...], float]:
    """P(first k unwatched items = s) for every s, by enumerating every draw: which
    positions explore (2^5) and the pool's order (4!), each exploring position taking the
    next pool item and keeping its base item once the pool is used up."""
    out: dict[tuple[int, ...], float] = defaultdict(float)
    for wants in itertools.product([False, True], repeat=len(BASE)):
        p_wants = math.prod(eps if w else 1 - eps for w in wants)
        for order in itertools.permutations(POOL):
            turn, nightly = 0, []
            for b, w in zip(BASE, wants, strict=True):
                nightly.append(order[turn] if w and turn < len(POOL) else b)
                turn += w
            shown = tuple(i for i in nightly if i not in WATCHED)[:k]
            out[shown + (-1,) * (k - len(shown))] += p_wants / math.factorial(len(POOL))
    return out


def restated(eps: float, shown: np.ndarray) -> np.ndarray:
    """Restated propensities of rows of ``shown`` for the record of that draw."""
    record = ExploredLists(np.tile(np.array(BASE, np.int32), (len(shown), 1)),
                           np.full(len(shown), len(POOL)), np.ones(9, bool), eps)
    seen = np.zeros((1, 9), dtype=bool)
    seen[0, list(WATCHED)] = True
    users = np.zeros(len(shown), dtype=np.int64)
    slates = Slates(shown.astype(np.int32), np.full(shown.shape, np.nan, np.float32))
    prop = record.restate(slates, users, seen).propensity
    assert prop is not None
    return prop


def test_restated_propensities_multiply_to_the_exact_prefix_probabilities() -> None:
    """Every possible shown slate (k = 3, 5 listed, pool 4 with two items watched, so draws
    run dry and fall on watched items, without replacement): the product of restated propensities over slots
    0..j equals the enumerated P(prefix) times (m − e_t)/m for each pool item shown, to
    float32 precision; and the prefixes' probabilities add up to 1."""
    eps, k = 0.4, 3
    exact = exact_shown(eps, k)
    assert math.isclose(sum(exact.values()), 1.0)
    shown = np.array(list(exact), dtype=np.int64)
    prod = np.cumprod(restated(eps, shown).astype(np.float64), axis=1)
    for row, s in enumerate(exact):
        for j in np.flatnonzero(np.array(s) >= 0):  # -1: the list ran out (topped up)
            prefix = sum(p for t, p in exact.items() if t[: j + 1] == s[: j + 1])
            pools = [i for i in s[: j + 1] if i in POOL]
            factor = math.prod((len(POOL) - e) / len(POOL) for e in range(len(pools)))
            assert math.isclose(prod[row, j], prefix * factor, rel_tol=1e-5), (s, j)


def night(eps: float, n_list: int, users: np.ndarray):
    """An ε-greedy popular policy's lists over the planted data, with their record."""
    data = planted()
    base = PopularPolicy(data.items, seeded_rng(), PopularConfig())
    base.fit(data.window)
    policy = EpsilonGreedy(base, eps, np.random.default_rng(11))
    ctx = context(seen=data.seen)
    slates, record = policy.rank_ahead(users, n_list, ctx)
    return policy, ctx, slates, record


def test_rows_nothing_can_drop_from_keep_the_nights_values_which_are_exact() -> None:
    users = np.arange(N_USERS)
    _, ctx, slates, record = night(0.3, 6, users)
    assert record is not None and (record.pool >= 6).all()  # no pool runs dry
    shown = drop_seen(slates, users, ctx.seen, 4)
    assert record.restate(shown, users, ctx.seen) is shown  # nothing watched since
    gone = np.zeros(record.base.shape, dtype=bool)
    fresh = record.propensity(shown.items, gone, np.zeros(N_USERS, dtype=np.int64))
    np.testing.assert_allclose(fresh, shown.propensity, rtol=1e-6)


def test_restated_slot_frequencies_match_seeded_draws() -> None:
    """20,000 nightly draws for one user who has since watched the list's top two base
    items and two pool items: each (item, slot-0) frequency, and the frequency of the
    all-base prefix of every length, lie within 5 s.e. of the restated probabilities; the
    night's values miss the all-base prefix by far more."""
    n, eps, k = 20_000, 0.3, 4
    user = int(planted().warm[0])
    _, ctx, slates, record = night(eps, 8, np.full(n, user))
    assert record is not None
    seen = ctx.seen.copy()
    pool = np.flatnonzero(ctx.available & ~seen[user] & ~np.isin(np.arange(N_ITEMS),
                                                                record.base[0]))
    seen[user, record.base[0, :2]] = True
    seen[user, pool[:2]] = True
    users = np.full(n, user)
    shown = drop_seen(slates, users, seen, k)
    prop = record.restate(shown, users, seen).propensity
    assert prop is not None
    for item in np.unique(shown.items[:, 0]):
        at = shown.items[:, 0] == item
        stated = prop[at, 0]
        assert np.ptp(stated) == 0
        se = math.sqrt(stated[0] * (1 - stated[0]) / n)
        assert abs(at.mean() - stated[0]) <= 5 * se + 1e-12, (item, at.mean(), stated[0])
    greedy = record.base[0, 2 : 2 + k]
    for j in range(k):
        hit = (shown.items[:, : j + 1] == greedy[: j + 1]).all(axis=1)
        expected = float(np.prod(prop[hit][0, : j + 1], dtype=np.float64))
        se = math.sqrt(expected * (1 - expected) / n)
        assert abs(hit.mean() - expected) <= 5 * se, (j, hit.mean(), expected)
        nightly = float(np.prod(shown.propensity[hit][0, : j + 1], dtype=np.float64))
        assert abs(hit.mean() - nightly) > 10 * se, (j, hit.mean(), nightly)


def test_deterministic_lists_carry_no_record_and_serve_as_before() -> None:
    data = planted()
    ctx = context(seen=data.seen)
    users = np.arange(N_USERS)
    popular = PopularPolicy(data.items, seeded_rng(), PopularConfig())
    popular.fit(data.window)
    for policy in (popular, EpsilonGreedy(popular, 0.0, np.random.default_rng(1))):
        server = Server("batch", 4, 4, 100, ServingLists())
        server.prepare(policy, users, ctx, np.zeros(N_ITEMS))
        assert server.lists.explored is None
        assert server.lists.table is not None
        served = server.serve(policy, users, ctx, np.zeros(N_USERS, dtype=bool))
        plain = drop_seen(server.lists.table.take(users), users, ctx.seen, 4)
        np.testing.assert_array_equal(served.slates.items, plain.items)
        np.testing.assert_array_equal(served.slates.propensity, plain.propensity)
