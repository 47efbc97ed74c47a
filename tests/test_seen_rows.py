"""Offline judging's watched rows: only the evaluated users', rolled back to the day's start."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from recloop.policies.seen import SeenRows
from recloop.sim.config import RunConfig
from recloop.sim.faults import Outages
from recloop.sim.service import Service
from recloop.sim.story import simulate


def rows_of(seen: np.ndarray, users: list[int]) -> SeenRows:
    held = np.array(users)
    return SeenRows(held, seen[held].copy(), seen.shape[0])


def test_indexing_matches_the_whole_matrix() -> None:
    seen = np.random.default_rng(3).random((9, 7)) < 0.4
    rows = rows_of(seen, [1, 4, 8])
    users = np.array([8, 1, 8, 4])
    assert rows.shape == seen.shape
    np.testing.assert_array_equal(rows[users], seen[users])
    cols = np.array([[0, 6, 2]] * users.size)
    np.testing.assert_array_equal(rows[users[:, None], cols], seen[users[:, None], cols])
    np.testing.assert_array_equal(rows[users, np.array([0, 1, 2, 3])],
                                  seen[users, np.array([0, 1, 2, 3])])


def test_a_user_not_held_is_an_error_not_a_false() -> None:
    rows = rows_of(np.zeros((9, 7), dtype=bool), [1, 4])
    np.testing.assert_array_equal(rows.holds(np.array([0, 1, 4, 8])), [False, True, True, False])
    with pytest.raises(KeyError):
        rows[np.array([1, 2])]
    with pytest.raises(KeyError):
        rows[np.array([8]), np.array([0])] = True
    with pytest.raises(ValueError):
        SeenRows(np.array([4, 1]), np.zeros((2, 7), dtype=bool), 9)


def test_copies_do_not_share_writes() -> None:
    rows = rows_of(np.zeros((9, 7), dtype=bool), [2, 5])
    twin = rows.copy()
    twin[np.array([5]), np.array([3])] = True
    assert twin[np.array([5])][0, 3] and not rows[np.array([5])][0, 3]


def test_eval_rows_are_the_whole_matrix_rolled_back(small_config: Callable[..., RunConfig],
                                                     tmp_path: Path) -> None:
    """The evaluated users' rows equal those of ``seen`` with the day's clicks undone (what
    offline judging read before it held only those rows)."""
    cfg = small_config("days=3")
    result = simulate(cfg, tmp_path)
    state, log, day = result.state, result.log, 2
    svc = Service(cfg, result.world, log, state, Outages(np.zeros(0), np.zeros(0)),
                  np.zeros(0, dtype=np.int64), {})
    frame = log.read([day], ["user", "item", "clicked"])
    clicks = frame[frame["clicked"]]
    whole = state.seen.copy()
    whole[clicks["user"].to_numpy(), clicks["item"].to_numpy()] = False
    clickers = np.unique(clicks["user"].to_numpy())
    users = np.concatenate([clickers[::3], np.flatnonzero(~state.seen.to_dense().any(axis=1))[:5]])
    assert clickers[::3].size > 10 and (whole[clickers[::3]] != state.seen[clickers[::3]]).any()
    ctx = svc.eval_context(day, users[::-1])
    np.testing.assert_array_equal(ctx.seen[users], whole[users])
    np.testing.assert_array_equal(ctx.available, result.world.catalog.available(day))
    assert ctx.seen.shape == state.seen.shape
