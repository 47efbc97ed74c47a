"""Batch lists ranked at a user's first request of the day equal lists ranked at night.

``sim/serving.py`` ranks a user's batch list when they first ask for a slate, not for every
active user at night: their own watched row cannot change before their first session, and
a deterministic policy's list reads nothing else that moves. For every policy in the
contract suites, a day served from lists ranked lazily is compared with one whose lists
were all ranked at night (one request for every active user before the day begins),
users arriving in shuffled rounds and watching between them. Stochastic policies draw
their lists in arrival order instead of user order, so they are compared only for being
served at all.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import test_policies
import test_two_stage
import test_wrappers
from contracts import N_ITEMS, N_USERS, PolicyContract, assert_same, planted

from recloop.policies.base import Policy
from recloop.sim.serving import BATCH, POPULAR, Server, ServingLists

K, SPARE = 5, 3
CONTRACTS = [getattr(module, name) for module in (test_policies, test_wrappers, test_two_stage)
             for name in dir(module) if name.endswith("Contract") and name.startswith("Test")]


def serve_a_day(contract: PolicyContract, policy: Policy, eager: bool) -> list:
    """The day's served slates and paths; every server sees the same arrivals and watches."""
    ctx = contract.planted_context()
    seen = ctx.seen.copy()  # the live matrix: the day's watches land in it
    ctx = type(ctx)(ctx.day, ctx.hour, ctx.available, seen)
    server = Server("batch", K, SPARE, 1, ServingLists())
    active = np.flatnonzero(np.arange(N_USERS) % 7 != 3)
    server.prepare(policy, active, ctx, planted().counts)
    if eager:
        server.serve(policy, active, ctx, np.zeros(active.size, dtype=bool))
    rng = np.random.default_rng(5)
    out = []
    for _ in range(4):
        users = np.sort(rng.choice(active, 15, replace=False))[::-1].copy()
        served = server.serve(policy, users, ctx, np.zeros(users.size, dtype=bool))
        out.append(served)
        # each user watches their top slot and one other title of their choosing
        top = served.slates.items[:, 0]
        seen[users[top >= 0], top[top >= 0]] = True
        seen[users, rng.integers(0, N_ITEMS, users.size)] = True
    return out


@pytest.mark.parametrize("contract_cls", CONTRACTS, ids=lambda c: c.__name__[4:-8])
def test_lists_at_first_request_equal_lists_at_night(contract_cls: type[PolicyContract]) -> None:
    contract = contract_cls()
    policy = contract.fitted()
    twin = pickle.loads(pickle.dumps(policy))  # same state, same random stream position
    lazy, eager = serve_a_day(contract, policy, False), serve_a_day(contract, twin, True)
    for a, b in zip(lazy, eager, strict=True):
        assert (a.slates.items >= 0).all(), "every request gets k items"
        if policy.deterministic:
            assert_same(a.slates, b.slates)
            np.testing.assert_array_equal(a.path, b.path)


def test_the_comparison_sees_a_row_that_moved_before_the_first_request() -> None:
    """The check has teeth: had users watched their whole night list before their first
    request, lists ranked then would differ from the night's (which run dry and fall back
    to most popular), so equal slates above are not a matter of course."""
    contract = test_policies.TestALSContract()
    policy = contract.fitted()
    ctx = contract.planted_context()
    seen = ctx.seen.copy()
    ctx = type(ctx)(ctx.day, ctx.hour, ctx.available, seen)
    users = np.arange(N_USERS)
    up = np.zeros(N_USERS, dtype=bool)
    lazy, eager = (Server("batch", K, SPARE, 1, ServingLists()) for _ in range(2))
    for server in (lazy, eager):
        server.prepare(policy, users, ctx, planted().counts)
    night = eager.serve(policy, users, ctx, up)
    listed = eager.lists.table.items  # type: ignore[union-attr]
    seen[users[:, None], listed] = True
    a, b = lazy.serve(policy, users, ctx, up), eager.serve(policy, users, ctx, up)
    assert (night.path == BATCH).all() and (a.path == BATCH).all() and (b.path == POPULAR).all()
