"""Common random numbers: keyed draws are uniform, reproducible and per user, and two runs
that differ only in the policy share every user's arrivals.

Statistical checks state their tolerance next to the assertion.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kstest

from recloop.agents import draws as draws_module
from recloop.agents.draws import KeyedDraws, keyed_uniform
from recloop.sim.config import RunConfig
from recloop.sim.story import simulate

MakeConfig = Callable[..., RunConfig]
KEY = np.uint64(12345)


def test_keyed_uniforms_are_uniform_and_reproducible() -> None:
    users = np.arange(20_000)
    u = keyed_uniform(KEY, users, 3, np.zeros(users.size, np.int64), 2)
    assert np.array_equal(u, keyed_uniform(KEY, users, 3, np.zeros(users.size, np.int64), 2))
    assert kstest(u[:, 0], "uniform").pvalue > 1e-4  # false alarm < 1e-4
    assert kstest(u[:, 1], "uniform").pvalue > 1e-4
    assert abs(np.corrcoef(u[:, 0], u[:, 1])[0, 1]) < 4.5 / np.sqrt(users.size)


def test_each_key_part_changes_the_numbers_and_other_users_do_not() -> None:
    base = keyed_uniform(KEY, np.array([7]), 3, np.array([0]), 1)
    for other in (keyed_uniform(KEY + np.uint64(1), np.array([7]), 3, np.array([0]), 1),
                  keyed_uniform(KEY, np.array([8]), 3, np.array([0]), 1),
                  keyed_uniform(KEY, np.array([7]), 4, np.array([0]), 1),
                  keyed_uniform(KEY, np.array([7]), 3, np.array([1]), 1)):
        assert other[0, 0] != base[0, 0]
    # user 7's number is the same whoever else is in the batch
    batch = keyed_uniform(KEY, np.array([3, 7, 11]), 3, np.array([0, 0, 5]), 1)
    assert batch[1, 0] == base[0, 0]


def test_keyed_categorical_follows_the_softmax() -> None:
    logits = np.log(np.array([[0.2, 0.5, 0.3, 1.0]]).repeat(30_000, axis=0))
    logits[:, 3] = -np.inf  # never
    draws = KeyedDraws(KEY, np.arange(30_000), 0, np.zeros(30_000, np.int64))
    counts = np.bincount(draws.categorical(logits), minlength=4)
    expected = 30_000 * np.array([0.2, 0.5, 0.3, 0.0])
    assert counts[3] == 0
    assert np.all(np.abs(counts - expected)[:3] < 4.5 * np.sqrt(expected[:3]))


def test_a_pick_is_the_same_whatever_block_the_row_falls_in(monkeypatch) -> None:
    """Blocked picking is exact: every block size gives the picks of one whole-matrix CDF."""
    rng = np.random.default_rng(20261201)
    logits = rng.standard_normal((50, 301)).astype(np.float32)
    logits[rng.random(logits.shape) < 0.3] = -np.inf
    u = rng.random((50, 1))
    whole = np.cumsum(np.exp(logits - logits.max(axis=1, keepdims=True)), axis=1,
                      dtype=np.float64)
    expected = np.minimum((whole <= u * whole[:, -1:]).sum(axis=1), 300)
    for block in (1, 301, 7 * 301, 10**6):  # a row, a row, seven rows, all rows at once
        monkeypatch.setattr(draws_module, "PICK_BLOCK", block)
        np.testing.assert_array_equal(draws_module.softmax_pick(logits, u), expected)


def arrivals(small_config: MakeConfig, path: Path, policy: str,
             *overrides: str) -> tuple[pd.DataFrame, set]:
    result = simulate(small_config("days=3", f"policy={policy}", "common_random_numbers=true",
                                   *overrides), path)
    log = pd.read_parquet(path / "log", columns=["user", "session", "time", "serving_path"])
    requests = log[log.serving_path != "organic"].drop_duplicates("session")
    return requests[["user", "time"]], set(np.flatnonzero(result.state.users.churned))


# Visits that neither react to satisfaction nor continue: arrivals depend on the user alone.
FIXED_VISITS = ("users.visits.satisfaction_elasticity=0", "users.continuation.after_watch=0",
                "users.continuation.after_pass=0")


def test_two_policies_share_the_arrivals_of_users_who_stay(small_config: MakeConfig,
                                                           tmp_path: Path) -> None:
    a, churned_a = arrivals(small_config, tmp_path / "random", "random", *FIXED_VISITS)
    b, churned_b = arrivals(small_config, tmp_path / "oracle", "oracle", *FIXED_VISITS)
    stayed = ~a.user.isin(churned_a | churned_b)
    kept = a[stayed].sort_values(["user", "time"]).reset_index(drop=True)
    other = b[~b.user.isin(churned_a | churned_b)].sort_values(["user", "time"])
    assert len(kept) > 2000
    assert kept.equals(other.reset_index(drop=True))


def test_two_policies_share_every_users_first_visit(small_config: MakeConfig,
                                                    tmp_path: Path) -> None:
    """Default users: visits react to how the policy served them, so only each user's first
    request of day 0 is sure to be shared, and it is, for every user."""
    a, _ = arrivals(small_config, tmp_path / "random", "random")
    b, _ = arrivals(small_config, tmp_path / "oracle", "oracle")
    first_a, first_b = (r[r.time < 24].groupby("user").time.min() for r in (a, b))
    assert len(first_a) > 500
    pd.testing.assert_series_equal(first_a, first_b)
