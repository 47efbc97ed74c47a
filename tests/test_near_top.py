"""Ranking only the columns near the top gives the full ranking's items and scores, ties,
masks, short rows and cold users included."""

from __future__ import annotations

import numpy as np
import pytest

from recloop.policies import base, near_top, ranking
from recloop.policies.base import ScoringPolicy
from recloop.policies.bits import BitMatrix
from recloop.policies.types import ItemMetadata, ServeContext

N_USERS, N_ITEMS, N = 300, 5_000, 20


class Planted(ScoringPolicy):
    """Scores read from a fixed matrix: coarse values, so many tie exactly or nearly."""

    def __init__(self, scores: np.ndarray) -> None:
        items = ItemMetadata(np.zeros(N_ITEMS, np.int16), np.zeros(N_ITEMS, np.int16))
        super().__init__(items, np.random.default_rng(4))
        self.table = scores

    def fit(self, window: object) -> None:
        raise AssertionError("not trained")

    def score(self, users: np.ndarray, ctx: ServeContext) -> np.ndarray:
        return self.table[users]


def world() -> tuple[Planted, ServeContext]:
    rng = np.random.default_rng(20261201)
    scores = np.round(rng.standard_normal((N_USERS, N_ITEMS)), 2)
    scores -= 1e-6 * (rng.random(scores.shape) < 0.5)  # within the jitter of a tie
    scores = scores.astype(np.float32)
    scores[:10] = 0.0  # cold users: the tie order is the whole ranking
    # 15 clear winners over a plateau: 200 items at 0.01 and 300 one float32 step below,
    # which the jitter (up to 5e-6 here) mixes; the threshold lands on the plateau
    low = np.float32(0.01)
    plateau = np.where(rng.random((20, 500)) < 0.4, low, np.nextafter(low, np.float32(0)))
    scores[15:35] = -5.0
    scores[15:35, :15], scores[15:35, 15:515] = 3.0 + 0.01 * np.arange(15), plateau
    seen = rng.random((N_USERS, N_ITEMS)) < 0.05
    seen[10:15, : N_ITEMS - 5] = True  # five allowed items: fewer than N
    available = rng.random(N_ITEMS) < 0.95
    return Planted(scores), ServeContext(3, 0.0, available, BitMatrix.from_dense(seen))


def test_near_top_ranking_equals_the_full_ranking(monkeypatch: pytest.MonkeyPatch) -> None:
    policy, ctx = world()
    users = np.arange(N_USERS)
    assert near_top.worth_it(N, N_ITEMS)
    fast = policy.candidates(users, N, ctx)
    monkeypatch.setattr(base, "worth_it", lambda n, m: False)
    full = policy.candidates(users, N, ctx)
    np.testing.assert_array_equal(fast[0], full[0])
    np.testing.assert_array_equal(fast[1], full[1])
    assert (full[0][10:15, 5:] == -1).all() and (full[0][15:] >= 0).all()


def test_cold_users_are_selected_on_their_jittered_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    policy, ctx = world()
    cold = np.arange(10)  # flat scores: the jitter is the whole order
    widths: list[int] = []
    full_width = ranking.top_k_scored

    def spy(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        widths.append(scores.shape[1])
        return full_width(scores, k)

    monkeypatch.setattr(ranking, "top_k_scored", spy)
    fast = policy.candidates(cold, N, ctx)
    assert max(widths) < N_ITEMS // 10  # no row was ranked over the whole catalog
    monkeypatch.setattr(base, "worth_it", lambda n, m: False)
    full = policy.candidates(cold, N, ctx)
    np.testing.assert_array_equal(fast[0], full[0])
    np.testing.assert_array_equal(fast[1], full[1])


def test_the_threshold_leaves_about_the_aimed_number_of_columns() -> None:
    scores = np.random.default_rng(2).standard_normal((50, 20_000)).astype(np.float32)
    near = near_top.near_top(scores, np.full((50, 1), 1e-6, np.float32), N)
    reached = np.isfinite(near.scores).sum(axis=1)
    aim = near_top.OVERSHOOT * N
    assert not near.unsure.any()
    assert aim / 3 < np.median(reached) < 3 * aim  # a 1,024-column sample: within 3x
    assert near.scores.shape[1] < 20_000 / 20
    scores[:5] = 0.0  # flat rows: everything is near, so they are left to the full ranking
    near = near_top.near_top(scores, np.full((50, 1), 1e-6, np.float32), N)
    assert near.unsure[:5].all() and not near.unsure[5:].any()
    assert near.scores.shape[1] < 20_000 / 20


@pytest.mark.parametrize("rows", [0, 1, 9])
def test_near_columns_are_every_column_within_reach_in_order(rows: int) -> None:
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(rows, 5_000)).astype(np.float32)
    scores[rng.random(scores.shape) < 0.01] = -np.inf
    bound = np.full((rows, 1), 1e-2, np.float32)
    near = near_top.near_top(scores, bound, N)
    sample = near_top.strided_sample(scores)
    reach = near_top.sample_threshold(sample, near_top.OVERSHOOT * N, 5_000) - 2 * bound
    assert near.columns.shape[0] == rows
    for row in range(rows):
        want = np.flatnonzero(scores[row] >= reach[row])
        np.testing.assert_array_equal(near.columns[row, : want.size], want)
        np.testing.assert_array_equal(near.scores[row, : want.size], scores[row, want])
        assert np.isneginf(near.scores[row, want.size:]).all()
