"""The churn-risk model, its dashboard against the truth, and the persistent holdout.

Features are checked on planted logs (what day d may read), the model on a planted log
whose leavers are separable, the true risk against a Monte Carlo of the same process, the
holdout's assignment on its share and stability, the honesty wall by a twin run, and the
dashboard rows by one small end-to-end run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from test_honesty import forbidden_imports, leaks

from recloop.experiments.preflight import check_job
from recloop.sim.alarms import AlarmState
from recloop.sim.assemble import build_engine, initial_state
from recloop.sim.assignment import HOLDOUT, arm_plan, assign_treatment
from recloop.sim.churn_dashboard import ChurnDashboard, true_inactive_probability
from recloop.sim.churn_features import FEATURES, ActivityReader
from recloop.sim.churn_model import ChurnLearner, ChurnModelConfig, judge
from recloop.sim.config import ConfigError, RunConfig
from recloop.sim.eventlog import ORGANIC, EventLog
from recloop.sim.faults import Outages
from recloop.sim.holdout import HoldoutReadout
from recloop.sim.metrics.catalogue import CATALOGUE
from recloop.sim.metrics.churn import CHURN_ROWS, HOLDOUT_ROWS, MONITOR_ROWS, retention_gap
from recloop.sim.metrics.monitor_metrics import CHURN_AUC, CHURN_PREDICTED
from recloop.sim.metrics.sections import CHURN_SECTION
from recloop.sim.seeding import Streams
from recloop.sim.story import simulate
from recloop.sim.world import build_world

ROOT = Path(__file__).resolve().parent.parent
N_ITEMS, GENRES = 20, np.arange(20) % 4


def seal_day(log: EventLog, day: int, users: list[int], items: list[int],
             clicked: list[bool], organic: list[bool] | None = None) -> None:
    """One planted partition: a row per (user, item), every slate a single position."""
    n = len(users)
    organic = organic or [False] * n
    log.append({"arm": "main", "policy": "planted"}, day=np.full(n, day),
               time=np.full(n, 24.0 * day + 1), user=np.asarray(users),
               session=np.arange(n) + 1000 * day, position=np.zeros(n, dtype=np.int16),
               item=np.asarray(items), model_version=np.ones(n, dtype=np.int32),
               serving_path=np.where(organic, ORGANIC, 0).astype(np.int8),
               propensity=np.full(n, np.nan), clicked=np.asarray(clicked) | np.asarray(organic),
               completion=np.where(np.asarray(clicked) | np.asarray(organic), 0.9, 0.0))
    log.seal(day)


def reader(log: EventLog, n_users: int = 6) -> ActivityReader:
    return ActivityReader(log, GENRES, n_users, complete_at=0.8, popular_share=0.1)


# ---------------------------------------------------------------- features: point in time


def planted(root: Path, future: bool) -> EventLog:
    """Days 0-2 the same; with ``future``, days 3-5 full of other activity."""
    log = EventLog(root)
    seal_day(log, 0, [0, 0, 1, 2], [1, 2, 3, 4], [True, False, True, False])
    seal_day(log, 1, [0, 1, 1], [5, 6, 7], [True, True, False], organic=[False, False, True])
    seal_day(log, 2, [0, 3], [8, 9], [False, True])
    for day in range(3, 6) if future else ():
        seal_day(log, day, [0, 1, 2, 3, 4, 5], [1, 1, 1, 1, 1, 1], [True] * 6)
    return log


def test_features_for_day_d_never_read_day_d_or_later(tmp_path: Path) -> None:
    past = reader(planted(tmp_path / "past", future=False))
    full = reader(planted(tmp_path / "full", future=True))
    full.churned(np.arange(6), 3, horizon=3)  # read the label days first: nothing may leak
    users_past, x_past = past.features(3, lookback=3)
    users_full, x_full = full.features(3, lookback=3)
    np.testing.assert_array_equal(users_full, users_past)
    np.testing.assert_allclose(x_full, x_past)
    assert users_past.tolist() == [0, 1, 2, 3]  # 4 and 5 appear only from day 3


def test_features_count_what_was_planted(tmp_path: Path) -> None:
    users, x = reader(planted(tmp_path, future=True)).features(3, lookback=3)
    f = {name: x[:, i] for i, name in enumerate(FEATURES)}
    # user 1: day 0 a click on item 3; day 1 a click on 6 and an organic play of 7
    row = users.tolist().index(1)
    assert np.expm1(f["impressions"][row]) == pytest.approx(2)  # organic rows are not shown
    assert np.expm1(f["plays"][row]) == pytest.approx(3)
    assert f["ctr"][row] == pytest.approx(1.0)
    assert f["recency"][row] == pytest.approx(2 / 3)  # last active on day 1, as of day 3
    assert f["active_days"][row] == pytest.approx(2 / 3)
    assert np.expm1(f["tenure"][row]) == pytest.approx(3)
    assert f["genre_concentration"][row] == pytest.approx((2 / 3) ** 2 + (1 / 3) ** 2)  # genres 3, 2, 3
    # user 2: one impression, no play at all
    row = users.tolist().index(2)
    assert (f["plays"][row], f["popular_share"][row], f["genre_concentration"][row]) == (0, 0, 0)


def test_label_is_activity_in_the_next_n_days(tmp_path: Path) -> None:
    log = reader(planted(tmp_path, future=False))
    # as of day 1, horizon 2 (days 1-2): users 0, 1, 3 come back; user 2 does not
    assert log.churned(np.arange(4), 1, horizon=2).tolist() == [False, False, True, False]


# ---------------------------------------------------------------- the model


def separable_log(root: Path, n_users: int, rng: np.random.Generator) -> EventLog:
    """Loyal users (even ids) play every day; leavers (odd ids) stop on a day of their own."""
    log = EventLog(root)
    stop = rng.integers(2, 14, size=n_users)
    for day in range(16):
        here = [u for u in range(n_users) if u % 2 == 0 or day < stop[u]]
        busy = [u for u in here for _ in range(3 if u % 2 == 0 else 1)]
        items = rng.integers(N_ITEMS, size=len(busy)).tolist()
        seal_day(log, day, busy, items, (rng.random(len(busy)) < 0.5).tolist())
    return log


def test_model_separates_planted_leavers(tmp_path: Path, rng: np.random.Generator) -> None:
    cfg = ChurnModelConfig(enabled=True, label_days=2, lookback_days=4, train_dates=6,
                           min_train_dates=3)
    log = separable_log(tmp_path, 300, rng)
    learner = ChurnLearner(cfg, ActivityReader(log, GENRES, 300, 0.8, 0.1), log)
    records = [rec for day in range(16) if (rec := learner.night(day)) is not None]
    assert records[0].night == cfg.label_days + cfg.min_train_dates - 1 + 1  # first possible
    assert records[-1].status == "deployed" and records[-1].auc > 0.9
    assert records[-1].brier < 0.15
    users, risk = learner.score(16)
    assert risk[users % 2 == 1].mean() > risk[users % 2 == 0].mean() + 0.3


def test_judge_on_hand_cases() -> None:
    auc, brier, calibration = judge(np.array([True, False, True, False]),
                                    np.array([0.9, 0.1, 0.6, 0.4]))
    assert auc == 1.0
    assert brier == pytest.approx((0.01 + 0.01 + 0.16 + 0.16) / 4)
    assert calibration == pytest.approx(0.5 - 0.5)
    assert np.isnan(judge(np.array([False, False]), np.array([0.2, 0.3]))[0])


# ---------------------------------------------------------------- the truth beside it


def test_true_inactive_probability_matches_a_monte_carlo(rng: np.random.Generator) -> None:
    """Poisson visits each day, then churn at midnight: P(no visit in N days)."""
    rate, hazard, days, n = np.array([0.3, 1.0]), np.array([0.05, 0.2]), 5, 200_000
    formula = true_inactive_probability(rate, hazard, days, per_session=False)
    for i in range(2):
        present = np.ones(n, dtype=bool)
        visited = np.zeros(n, dtype=bool)
        for _ in range(days):
            visited |= present & (rng.poisson(rate[i], n) > 0)
            present &= rng.random(n) >= hazard[i]
        assert 1 - visited.mean() == pytest.approx(formula[i], abs=4 * np.sqrt(0.25 / n))
    per_session = true_inactive_probability(rate, hazard, days, per_session=True)
    np.testing.assert_allclose(per_session, np.exp(-rate * days))


def test_retention_gap_on_hand_counts() -> None:
    gap, se = retention_gap(np.array([90, 49]), np.array([100, 50]))
    p, q = 91 / 102, 50 / 52
    assert gap == pytest.approx(p - q)
    assert se == pytest.approx(np.sqrt(p * (1 - p) / 102 + q * (1 - q) / 52))
    assert np.isnan(retention_gap(np.array([5, 0]), np.array([5, 0]))[0])


# ---------------------------------------------------------------- the holdout's assignment


def test_holdout_is_the_stated_share_stable_and_its_own_split() -> None:
    n, share = 200_000, 0.02
    held = assign_treatment(n, share, "holdout", entropy=7)
    assert abs(held.mean() - share) < 4 * np.sqrt(share * (1 - share) / n)
    np.testing.assert_array_equal(assign_treatment(5000, share, "holdout", 7), held[:5000])
    assert (held & assign_treatment(n, share, "ab", 7)).sum() < 4 * share * share * n
    assert not np.array_equal(assign_treatment(n, share, "holdout", 8), held)


def test_holdout_plan_gives_production_the_rest() -> None:
    cfg = RunConfig()
    cfg.churn_model.holdout_share = 0.02
    plan = arm_plan(cfg, 50_000, entropy=3)
    assert list(plan) == [cfg.arm, HOLDOUT]
    assert (plan[cfg.arm] ^ plan[HOLDOUT]).all()
    np.testing.assert_array_equal(plan[HOLDOUT], assign_treatment(50_000, 0.02, "holdout", 3))


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize(("override", "field"), [
    (["churn_model.label_days=0"], "churn_model.label_days"),
    (["churn_model.holdout_share=0.7"], "churn_model.holdout_share"),
    (["churn_model.alarm_z=0"], "churn_model.alarm_z"),
    (["churn_model.popular_share=0"], "churn_model.popular_share"),
    (["churn_model.holdout_share=0.02", "policy@ab.treatment=popular", "ab.share=0.5"],
     "churn_model.holdout_share"),
    (["churn_model.enabled=true", "days=10"], "churn_model.min_train_dates"),
])
def test_config_is_range_checked(override: list[str], field: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{field}=\S+ is out of range: allowed"):
        check_job(override)


def test_defaults_are_off_and_valid() -> None:
    cfg = check_job([])
    assert not cfg.churn_model.enabled and cfg.churn_model.holdout_share == 0
    check_job(["churn_model.enabled=true", "days=11"])  # 7 + 3 + 1: the first fit fits


# ---------------------------------------------------------------- the honesty wall


@pytest.mark.parametrize("module", ["churn_model.py", "churn_features.py", "retention.py"])
def test_the_churn_learner_imports_no_ground_truth(module: str) -> None:
    assert forbidden_imports((ROOT / "sim" / module).read_text()) == []


def test_the_churn_learner_holds_nothing_hidden(small_config: Callable[..., RunConfig],
                                                 tmp_path: Path) -> None:
    cfg = small_config("churn_model.enabled=true", "days=4", "churn_model.label_days=1",
                       "churn_model.min_train_dates=1")
    streams = Streams(cfg.seed)
    world = build_world(cfg, streams)
    eng = build_engine(cfg, world, streams, initial_state(cfg, world, streams), tmp_path,
                       Outages(np.zeros(0), np.zeros(0)))
    dashboard = next(c for c in eng.closers if isinstance(c, ChurnDashboard))
    assert leaks(dashboard.learner, world) == []


def test_the_recommender_never_sees_the_dashboard(small_config: Callable[..., RunConfig],
                                                  tmp_path: Path) -> None:
    """Same seed with the churn model off and on: the same log, the same arm rows."""
    base = ["days=5", "churn_model.label_days=1", "churn_model.min_train_dates=1"]
    off = simulate(small_config(*base), tmp_path / "off")
    on = simulate(small_config(*base, "churn_model.enabled=true"), tmp_path / "on")
    assert off.log.digests == on.log.digests
    arm = on.metrics[~on.metrics.arm.isin([CHURN_ROWS, MONITOR_ROWS])].reset_index(drop=True)
    pd.testing.assert_frame_equal(off.metrics, arm)
    assert (on.metrics.arm == CHURN_ROWS).any() and (on.metrics.arm == MONITOR_ROWS).any()


# ---------------------------------------------------------------- end to end


def test_a_small_run_writes_the_dashboard_and_the_monitor(
        small_config: Callable[..., RunConfig], tmp_path: Path) -> None:
    cfg = small_config("days=8", "churn_model.enabled=true", "churn_model.label_days=2",
                       "churn_model.min_train_dates=2", "churn_model.holdout_share=0.1")
    result = simulate(cfg, tmp_path)
    m = result.metrics
    wide = m[m.arm == CHURN_ROWS].pivot(index="day", columns="metric", values="value")
    assert set(wide.columns) == {x.name for x in CATALOGUE.metrics.values()
                                 if x.section == CHURN_SECTION}
    first_fit = 2 + 2  # label_days + min_train_dates: the first midnight with a fit
    assert wide.loc[: first_fit - 1, CHURN_PREDICTED["all"]].isna().all()
    fitted = wide.loc[first_fit:]
    assert fitted[CHURN_PREDICTED["all"]].between(0, 1).all()
    assert fitted[CHURN_AUC].between(0.5, 1).all()
    active = m[(m.metric == "active_users") & m.arm.isin([cfg.arm, HOLDOUT])]
    sizes = wide["segment_size_mainstream"] + wide["segment_size_niche"]
    np.testing.assert_array_equal(sizes.to_numpy(), active.groupby("day").value.sum().to_numpy())
    monitor = m[m.arm == HOLDOUT_ROWS].pivot(index="day", columns="metric", values="value")
    assert len(monitor) == 8 and monitor["holdout_alarm"].isin([0, 1]).all()
    registry = pd.read_parquet(tmp_path / "churn_registry.parquet")
    assert registry.night.tolist() == list(range(first_fit, 8))
    assert registry.auc.to_numpy() == pytest.approx(fitted[CHURN_AUC].to_numpy())
    assert registry.data_version.nunique() == len(registry)  # every night read new data
    share = result.state.arms[HOLDOUT].members.mean()  # type: ignore[union-attr]
    assert abs(share - 0.1) < 4 * np.sqrt(0.09 / result.state.shape[0])


def test_holdout_alarm_needs_k_days_running_below_and_then_stays(rng: np.random.Generator) -> None:
    """A planted world: 4,000 niche users, a tenth held out; production's users leave."""
    n = 4000
    held = rng.random(n) < 0.1
    users = SimpleNamespace(joined=np.ones(n, dtype=bool), churned=np.zeros(n, dtype=bool))
    service = SimpleNamespace(state=SimpleNamespace(users=users),
                              world=SimpleNamespace(population=SimpleNamespace(
                                  segment=np.ones(n, dtype=np.int8))))
    cfg = ChurnModelConfig(alarm_days=3)
    readout = HoldoutReadout(SimpleNamespace(members=~held), SimpleNamespace(members=held),
                             service, cfg, AlarmState())  # type: ignore[arg-type]
    leave = [0.0, 0.3, 0.3, 0.0, 0.3, 0.3, 0.3, 0.0]  # share of production's users lost
    alarms = []
    for day, share in enumerate(leave):
        users.churned = ~held & (rng.random(n) < share)  # a fresh draw: retention each day
        alarms.append(readout.close_day(day)["holdout_alarm"])
    assert alarms == [0, 0, 0, 0, 0, 0, 1, 1]
    assert readout.alarm_day == 6
