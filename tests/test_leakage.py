"""The leakage switch: offline metrics flatter a leaky pipeline, users do not.

Small world (1,000 users, 300 items), seeded. Measured when written: the window leak
lifted offline NDCG@10 from 0.63 to 0.96 (12 days, seed 0) with byte-identical online
metrics; the feature leak cut two_stage's CTR over the last 4 of 12 days by 17-18% on
seeds 0 and 1 while its mean offline NDCG rose from 0.47 to 0.57.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import MEMORYLESS

from recloop.sim.config import RunConfig
from recloop.sim.story import simulate

MakeConfig = Callable[..., RunConfig]
ONLINE = ["ctr", "completion_rate", "mean_true_utility", "active_users", "top1_share"]


def daily(make: MakeConfig, path: Path, *overrides: str) -> pd.DataFrame:
    metrics = simulate(make(*overrides), path).metrics
    return metrics.pivot(index="day", columns="metric", values="value")


def test_window_leak_inflates_offline_ndcg_and_changes_nothing_online(
    small_config: MakeConfig, tmp_path: Path
) -> None:
    """Training the gate's candidate on its own held-out day: every judged night scores
    at least 0.1 higher, the most-popular baseline does not move, the registry records the
    leaked day, yet the deployed models (refit from scratch on the same days either way:
    a warm refit would carry the leaky candidate's factors over) and so everything users
    experience are identical."""
    als = ("policy=als", "policy.refit_iterations=0")
    honest_run = simulate(small_config("days=8", *als), tmp_path / "honest")
    leaky_run = simulate(small_config("days=8", *als, "train.leakage=window"),
                         tmp_path / "leaky")
    honest, leaky = (r.metrics.pivot(index="day", columns="metric", values="value")
                     for r in (honest_run, leaky_run))
    judged = honest["offline_ndcg_candidate"].notna()
    assert judged.sum() >= 5
    lift = leaky["offline_ndcg_candidate"][judged] - honest["offline_ndcg_candidate"][judged]
    assert (lift > 0.1).all(), lift
    pd.testing.assert_frame_equal(leaky[ONLINE], honest[ONLINE])
    baseline = [r.registry.popular_offline for r in (honest_run, leaky_run)]
    pd.testing.assert_series_equal(*baseline)
    reg = leaky_run.registry
    for night, days in zip(reg.night, reg.judged_train_days, strict=True):
        assert night < 2 or (night - 1) in days  # the held-out day itself


@pytest.mark.slow
def test_feature_leak_hurts_users_while_offline_ndcg_does_not_fall(
    small_config: MakeConfig, tmp_path: Path
) -> None:
    """two_stage's ranker trained on features that include its labels' day learns to trust
    them; at serving they hold no future, and CTR falls on every seed (by more than 5%)
    while the seeds' mean offline NDCG of its candidates does not fall. Memoryless users:
    with organic plays in the log the honest ranker itself collapses (see the next test)."""
    offline = {"none": [], "features": []}
    for seed in (0, 1):
        runs = {leak: daily(small_config, tmp_path / f"{leak}{seed}", "days=12",
                            "policy=two_stage", f"seed={seed}", f"train.leakage={leak}",
                            *MEMORYLESS)
                for leak in offline}
        ctr = {leak: m["ctr"].iloc[-4:].mean() for leak, m in runs.items()}
        assert ctr["features"] < 0.95 * ctr["none"], (seed, ctr)
        for leak, m in runs.items():
            offline[leak].append(m["offline_ndcg_candidate"].mean())
    assert sum(offline["features"]) >= sum(offline["none"]), offline


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="two_stage's ranker collapses once organic plays are "
                   "in the log (README, offline versus online); not yet understood")
def test_two_stage_keeps_up_with_its_retriever_when_users_find_plays_themselves(
    small_config: MakeConfig, tmp_path: Path
) -> None:
    """The ranker reorders ALS's candidates: it should not lose a tenth of ALS's CTR."""
    ctr = {policy: daily(small_config, tmp_path / policy, "days=12", f"policy={policy}")
           ["ctr"].iloc[-4:].mean() for policy in ("als", "two_stage")}
    assert ctr["two_stage"] > 0.9 * ctr["als"], ctr
