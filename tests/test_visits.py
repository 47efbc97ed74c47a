"""Visits that react to experience, churn per day, sign-ups: limiting cases and effects.

Statistical checks state their tolerance next to the assertion.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from recloop.agents.visits import VisitsConfig, cohort, visit_rate
from recloop.sim.config import RunConfig
from recloop.sim.story import simulate

MakeConfig = Callable[..., RunConfig]


def test_visit_rate_follows_satisfaction_and_is_fixed_without_elasticity() -> None:
    activity, satisfaction = np.array([1.0, 2.0]), np.array([0.7, 0.2])
    assert visit_rate(activity, satisfaction, 0.7,
                      VisitsConfig(satisfaction_elasticity=0.0)) is activity
    rate = visit_rate(activity, satisfaction, 0.7, VisitsConfig(satisfaction_elasticity=2.0))
    assert rate.tolist() == [1.0, 2.0 * math.exp(2.0 * (0.2 - 0.7))]


def test_cohorts_join_from_day_one_in_blocks() -> None:
    cfg = VisitsConfig(signups_per_day=5)
    assert cohort(0, 100, cfg).size == 0
    assert cohort(1, 100, cfg).tolist() == [100, 101, 102, 103, 104]
    assert cohort(3, 100, cfg).tolist() == [110, 111, 112, 113, 114]


def churned_by_activity(small_config: MakeConfig, tmp_path: Path, per: str) -> tuple[float, ...]:
    """Churned share among the lightest and the heaviest quarter of users after 4 days."""
    cfg = small_config("days=4", "policy=popular", "users.churn_sensitivity=0",
                       "users.churn_base=0.05", f"users.visits.churn_per={per}",
                       "users.n_users=4000")
    result = simulate(cfg, tmp_path)
    activity = result.world.population.activity
    churned = result.state.users.churned
    light, heavy = activity < np.quantile(activity, 0.25), activity > np.quantile(activity, 0.75)
    return float(churned[light].mean()), float(churned[heavy].mean()), heavy.sum()


def test_daily_churn_does_not_pick_on_heavy_users(small_config: MakeConfig,
                                                  tmp_path: Path) -> None:
    light, heavy, n = churned_by_activity(small_config, tmp_path / "day", "day")
    expected = 1 - 0.95**4  # four midnights at hazard 0.05
    for share in (light, heavy):  # 4.5 SE of a binomial share
        assert abs(share - expected) < 4.5 * math.sqrt(expected * (1 - expected) / n)
    light_s, heavy_s, _ = churned_by_activity(small_config, tmp_path / "session", "session")
    assert heavy_s > light_s + 0.1  # per visit, the heaviest users leave far faster


def test_signups_arrive_only_after_they_join(small_config: MakeConfig, tmp_path: Path) -> None:
    cfg = small_config("days=4", "policy=popular", "users.visits.signups_per_day=50")
    result = simulate(cfg, tmp_path)
    assert result.world.population.n_users == 1000 + 4 * 50
    log = pd.read_parquet(tmp_path / "log", columns=["day", "user"])
    first_day = log.groupby("user").day.min()
    newcomers = first_day[first_day.index >= 1000]
    join_day = 1 + (newcomers.index - 1000) // 50
    assert len(newcomers) > 0 and (newcomers.to_numpy() >= join_day).all()
    assert not result.state.users.joined[1000 + 3 * 50:].any()  # day 4's cohort never came
