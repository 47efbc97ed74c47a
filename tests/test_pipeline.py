"""The nightly pipeline and the fallback chain, end to end on a small world."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import MEMORYLESS

from recloop.sim.config import RunConfig
from recloop.sim.pipeline.registry import load_model
from recloop.sim.story import RunResult, simulate

MakeConfig = Callable[..., RunConfig]


def run(make: MakeConfig, tmp_path: Path, *overrides: str) -> tuple[RunResult, pd.DataFrame]:
    result = simulate(make(*overrides), tmp_path)
    return result, result.metrics.pivot(index="day", columns="metric", values="value")


def registry(result: RunResult) -> pd.DataFrame:
    return result.registry


def test_failed_validation_keeps_the_model_and_quarantines_the_day(
    small_config: MakeConfig, tmp_path: Path
) -> None:
    result, m = run(small_config, tmp_path, "days=6", "faults.log_loss_days=[2]")
    reg = registry(result)
    night3 = reg[reg.night == 3].iloc[0]
    assert night3.status == "validation_failed" and "volume" in night3.problems[0]
    assert m.validation_failed[3] == 1.0 and m.deployed[3] == 0.0
    assert m.model_version[3] == m.model_version[2]
    for days in reg.train_days:
        assert 2 not in days  # the lossy day never trains a model
    served = pd.read_parquet(tmp_path / "log" / "day=0003.parquet").query(
        "serving_path != 'organic'")  # organic plays have no model
    assert set(served.model_version) == {int(m.model_version[2])}  # old model served


def test_a_lossy_first_day_no_longer_freezes_the_loop(
    small_config: MakeConfig, tmp_path: Path
) -> None:
    """Day 0 loses 30% of its rows: it fails against what serving counted, and every later
    day passes (against a lossy day's volume as the trailing mean, all of them failed)."""
    result, _ = run(small_config, tmp_path, "days=6", "faults.log_loss_days=[0]",
                    "faults.log_loss_fraction=0.3")
    reg = registry(result).set_index("night")
    assert reg.status[1] == "validation_failed" and "served" in reg.problems[1][0]
    assert (reg.status[2:] == "deployed").all(), reg.status


def test_an_unreadable_partition_is_set_aside_and_the_loop_goes_on(
    small_config: MakeConfig, tmp_path: Path
) -> None:
    def corrupt(day: int) -> None:
        if day == 2:
            (tmp_path / "log" / "day=0002.parquet").write_bytes(b"not parquet")

    result = simulate(small_config("days=6"), tmp_path, on_day=corrupt)
    reg = registry(result).set_index("night")
    assert reg.status[3] == "validation_failed" and reg.problems[3][0].startswith("unreadable")
    assert (reg.status[4:] == "deployed").all()
    assert all(2 not in days for days in reg.train_days[4:])


def test_a_swapped_partition_fails_its_digest_and_never_trains(
    small_config: MakeConfig, tmp_path: Path
) -> None:
    """Day 1's valid partition copied over day 2's: it reads fine and passes every volume
    and schema check, so only the digest sealed with day 2 can tell."""
    def swap(day: int) -> None:
        if day == 2:
            log = tmp_path / "log"
            (log / "day=0002.parquet").write_bytes((log / "day=0001.parquet").read_bytes())

    result = simulate(small_config("days=6"), tmp_path, on_day=swap)
    reg = registry(result).set_index("night")
    assert reg.status[3] == "validation_failed" and "digest mismatch" in reg.problems[3][0]
    assert (reg.status[4:] == "deployed").all()
    assert all(2 not in days for days in reg.train_days[4:])


def test_crashed_night_keeps_the_model_serving(small_config: MakeConfig, tmp_path: Path) -> None:
    result, m = run(small_config, tmp_path, "days=5", "faults.failed_nights=[2,3]")
    reg = registry(result)
    assert list(reg[reg.night.isin([2, 3])].status) == ["job_failed", "job_failed"]
    assert m.nightly_failed[2] == 1.0 and m.model_version[3] == m.model_version[1]
    assert (m.impressions > 0).all()
    # yesterday's lists keep serving; only users who signed up at a crashed night have none
    crashed = m.nightly_failed == 1.0
    assert (m.served_batch_share[~crashed] == 1.0).all()
    newcomers = m.served_popular_share[crashed]
    assert ((newcomers > 0) & (newcomers < 0.1)).all()


def test_gate_rejection_keeps_production(small_config: MakeConfig, tmp_path: Path) -> None:
    result, m = run(small_config, tmp_path, "days=6", "pipeline.gate_ratio=100")
    reg = registry(result)
    judged = reg[reg.gate_passed.notna()]
    assert len(judged) > 0 and (judged.status == "rejected").all()
    first = int(judged.night.min())  # production had a registered offline score from here on
    assert (m.model_version.loc[first:] == m.model_version[first - 1]).all()
    assert (m.gate_passed.dropna() == 0.0).all()
    assert m.offline_ndcg_candidate.notna().any()


def test_models_are_saved_and_traceable(small_config: MakeConfig, tmp_path: Path) -> None:
    result, _ = run(small_config, tmp_path, "days=4")
    reg = registry(result)
    deployed = reg[reg.status == "deployed"]
    assert all((tmp_path / a).is_file() for a in deployed.artifact)  # relative to the run
    assert deployed.data_version.iloc[-1] == result.log.data_version(
        deployed.train_days.iloc[-1])
    restored = load_model(tmp_path / deployed.artifact.iloc[-1])
    assert type(restored) is type(result.policy())


def test_rollback_returns_to_the_previous_model(small_config: MakeConfig, tmp_path: Path) -> None:
    result, m = run(small_config, tmp_path, "days=10", "pipeline.rollback_ctr_drop=0.0001",
                    "pipeline.gate=false")
    reg = registry(result)
    rolled = reg[reg.status == "rolled_back"]
    assert len(rolled) > 0
    night = int(rolled.night.iloc[0])
    assert m.rolled_back[night] == 1.0
    assert m.model_version[night] == m.model_version[night - 2]  # the one before yesterday's
    assert m.ctr[night - 1] < m.ctr[night - 2]


@pytest.mark.parametrize("serving", ["realtime", "hybrid"])
def test_outages_fall_back_and_match_outage_time(
    small_config: MakeConfig, tmp_path: Path, serving: str
) -> None:
    """Flat traffic, so the share of sessions during outages estimates the outage time share.

    Session times are uniform given the outage schedule: tolerance 4 binomial standard
    errors over all sessions. Memoryless users: one slate per visit, nothing organic.
    """
    _, m = run(small_config, tmp_path, "days=6", f"serving={serving}",
                    "faults.outage_rate=3", "faults.outage_hours=2",
                    "traffic.diurnal_amplitude=0", *MEMORYLESS)
    log = pd.concat(pd.read_parquet(p) for p in sorted((tmp_path / "log").glob("*.parquet")))
    per_session = log.groupby("session")["serving_path"].first().astype(str)
    sessions = int(m.sessions.sum())
    assert per_session.size == sessions  # every request got a slate
    fallback = float((per_session != "realtime").mean())
    down = float(m.outage_time_share.mean())
    assert 0.05 < down < 0.6
    se = np.sqrt(down * (1 - down) / sessions)
    assert abs(fallback - down) < 4 * se, (fallback, down, se)
    shares = m[["served_batch_share", "served_realtime_share", "served_popular_share"]]
    assert np.allclose(shares.sum(axis=1), 1.0)


def test_every_request_gets_a_full_slate_even_when_lists_go_stale(
    small_config: MakeConfig, tmp_path: Path
) -> None:
    """Crashed nights leave batch lists to wear down; top-up keeps slates at k items."""
    _, m = run(small_config, tmp_path, "days=8", "faults.failed_nights=[2,3,4,5,6,7]")
    assert (m.impressions == 10 * m.slates).all()


def test_adaptive_epsilon_rises_while_exposure_is_concentrated(
    small_config: MakeConfig, tmp_path: Path
) -> None:
    _, m = run(small_config, tmp_path, "days=6", "policy=popular", "policy.epsilon=0.02",
               "controller.adaptive_epsilon=true", "controller.target_top1_share=0.01")
    assert (np.diff(m.epsilon.to_numpy()) > 0).all()  # top-1% share far above 1% every day


def test_adaptive_epsilon_falls_to_its_floor_when_exposure_is_spread(
    small_config: MakeConfig, tmp_path: Path
) -> None:
    _, m = run(small_config, tmp_path, "days=8", "policy=popular", "policy.epsilon=0.2",
               "controller.adaptive_epsilon=true", "controller.target_top1_share=0.99",
               "controller.min_epsilon=0.05")
    eps = m.epsilon.to_numpy()
    assert (np.diff(eps) <= 0).all() and eps[-1] == pytest.approx(0.05)


def test_adaptive_epsilon_needs_an_explorer(small_config: MakeConfig) -> None:
    from recloop.sim.config import ConfigError

    with pytest.raises(ConfigError, match="controller.adaptive_epsilon=True is out of range"):
        small_config("controller.adaptive_epsilon=true")


def test_default_gate_keeps_the_loop_retraining(small_config: MakeConfig, tmp_path: Path) -> None:
    """The default baseline (most-popular on the same held-out day) passes a healthy model,
    and the record keeps every reference score for the report."""
    result, m = run(small_config, tmp_path, "days=10")
    reg = registry(result)
    judged = reg[reg.gate_passed.notna()]
    assert len(judged) >= 6 and judged.gate_passed.astype(bool).mean() >= 0.8
    assert all(judged.popular_offline)
    assert m.model_version.iloc[-1] >= 8


def test_exploring_candidates_are_judged_on_their_greedy_ranking(
    small_config: MakeConfig, tmp_path: Path
) -> None:
    """Popular with ε = 0.2 against the most-popular baseline: scoring the random slots
    offline rejected every candidate and froze the model on version 1; judged on the
    greedy ranking, every candidate passes and deploys."""
    _, explorer = run(small_config, tmp_path / "explore", "days=6", "policy=popular",
                      "policy.epsilon=0.2")
    _, plain = run(small_config, tmp_path / "plain", "days=6", "policy=popular")
    assert (explorer.gate_passed.dropna() == 1.0).all()
    assert explorer.model_version.is_monotonic_increasing and explorer.model_version.iloc[-1] == 6
    judged = plain.offline_ndcg_candidate.notna()
    assert explorer.offline_ndcg_candidate[judged].notna().all()


def test_the_popular_baseline_is_each_users_first_allowed_items_by_popularity() -> None:
    """Against the definition, ties by item id, with users barred from the whole head."""
    from types import SimpleNamespace

    from recloop.sim.pipeline.judge import most_popular

    rng = np.random.default_rng(7)
    n_users, n_items, k = 300, 500, 10
    popularity = rng.integers(0, 20, n_items).astype(float)  # many ties
    seen = rng.random((n_users, n_items)) < 0.1
    seen[:5, np.argsort(-popularity, kind="stable")[:100]] = True
    seen[5] = True  # nothing left for this one
    ctx = SimpleNamespace(available=rng.random(n_items) < 0.9, seen=seen, candidates=None)
    got = most_popular(popularity, np.arange(n_users), k, ctx)
    for user in range(n_users):
        allowed = np.flatnonzero(ctx.available & ~seen[user])
        best = allowed[np.lexsort((allowed, -popularity[allowed]))][:k]
        assert list(got[user]) == [*best, *[-1] * (k - best.size)]
