"""The most-popular fallback serves each user the first popular titles they have not
watched, whether the head of the popular list fills their slate or not."""

from __future__ import annotations

import numpy as np
import pytest

from recloop.policies.types import ServeContext
from recloop.policies.watched import WatchLists
from recloop.sim.serving import POPULAR_HEAD, Server, ServingLists

N_USERS, N_ITEMS, K = 6, 5_000, 5


def first_unwatched(pool: np.ndarray, watched: np.ndarray, n: int) -> list[int]:
    """The reference: walk the popular list and keep what the user has not watched."""
    kept = [int(i) for i in pool if not watched[i]][:n]
    return kept + [-1] * (n - len(kept))


@pytest.mark.parametrize("n", [None, 2 * K])
def test_popular_slates_are_the_first_unwatched_titles_head_or_not(n: int | None) -> None:
    rng = np.random.default_rng(11)
    popular = rng.permutation(N_ITEMS).astype(np.int32)
    available = rng.random(N_ITEMS) < 0.9
    pool = popular[available[popular]]
    watched = np.zeros((N_USERS, N_ITEMS), dtype=bool)
    watched[1, pool[: POPULAR_HEAD * 2 * K + 3]] = True  # the head alone cannot fill
    watched[2, pool[::2]] = True
    watched[3, rng.integers(0, N_ITEMS, 40)] = True
    watched[4, pool[: pool.size - 2]] = True  # two titles left in the whole catalog
    server = Server("batch", K, 0, 0, ServingLists(popular=popular))
    ctx = ServeContext(day=3, hour=1.0, available=available,
                       seen=WatchLists.from_dense(watched))
    users = np.arange(N_USERS)
    got = server._popular(users, ctx, n)
    want = [first_unwatched(pool, watched[u], n or K) for u in users]
    np.testing.assert_array_equal(got.items, want)
    np.testing.assert_array_equal(got.propensity, np.where(got.items >= 0, 1.0, 0.0))
