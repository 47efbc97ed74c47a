"""Sessions that continue: the draw against its probabilities, and what a run then logs.

Statistical checks state their tolerance next to the assertion.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from recloop.agents.choice import Responses
from recloop.agents.continuation import ContinuationConfig, next_requests
from recloop.sim.config import RunConfig
from recloop.sim.story import simulate

MakeConfig = Callable[..., RunConfig]
N = 40_000


def responses(clicked: bool, completion: float) -> Responses:
    position = np.full(N, 0 if clicked else -1, dtype=np.int16)
    watched = np.full(N, completion if clicked else 0.0, dtype=np.float32)
    return Responses(position, watched, np.zeros((N, 3), np.float32))


def test_another_slate_follows_a_watch_in_proportion_to_how_it_went() -> None:
    cfg = ContinuationConfig(after_watch=0.8, after_pass=0.3, title_hours=2.0)
    times = np.full(N, 30.0)  # 06:00 on day 1: far from midnight and the budget
    got = next_requests(responses(True, 0.5), times, times, cfg, np.random.default_rng(1))
    p = 0.8 * 0.5
    assert abs(got.rows.size / N - p) < 4.5 * math.sqrt(p * (1 - p) / N)
    assert np.allclose(got.times, 31.0)  # half a two-hour title later
    passed = next_requests(responses(False, 0.0), times, times, cfg, np.random.default_rng(2))
    assert abs(passed.rows.size / N - 0.3) < 4.5 * math.sqrt(0.3 * 0.7 / N)
    assert np.allclose(passed.times, 30.0 + 2.0 / 60)


def test_no_request_past_the_budget_or_midnight() -> None:
    cfg = ContinuationConfig(after_watch=1.0, after_pass=1.0, title_hours=2.0, budget_hours=1.0)
    times = np.full(N, 30.0)
    assert next_requests(responses(True, 1.0), times, times, cfg,
                         np.random.default_rng(3)).rows.size == 0  # 2 h > 1 h budget
    late = np.full(N, 47.99)
    assert next_requests(responses(False, 0.0), late, late, cfg,
                         np.random.default_rng(4)).rows.size == 0  # past midnight


def test_switched_off_every_visit_is_one_slate() -> None:
    got = next_requests(responses(True, 1.0), np.zeros(N), np.zeros(N),
                        ContinuationConfig(after_watch=0.0, after_pass=0.0),
                        np.random.default_rng(5))
    assert got.rows.size == 0


def test_continuing_visits_are_logged_as_requests_and_counted_once(
    small_config: MakeConfig, tmp_path: Path
) -> None:
    cfg = small_config("days=3", "policy=popular", "users.continuation.after_watch=0.9",
                       "users.continuation.after_pass=0.5", "users.continuation.budget_hours=1")
    result = simulate(cfg, tmp_path)
    log = pd.read_parquet(tmp_path / "log")
    requests = log.groupby("session").agg(user=("user", "first"), time=("time", "first"),
                                          day=("day", "first"))
    sessions = result.metrics[result.metrics.metric == "sessions"].value.sum()
    assert len(requests) > 1.2 * sessions  # further slates were asked for and served
    # every request is a slate of its own with at most one click
    assert log.groupby("session").clicked.sum().max() == 1
    # a user's requests are served (session ids are handed out) in time order
    assert (requests.sort_index().groupby("user").time.diff().dropna() >= 0).all()
