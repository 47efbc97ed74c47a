"""The monitors beside the holdout: alarms, calibration per group, concentration.

The alarm rule on hand-made breach sequences; calibration on planted scores and a planted
log whose leavers are known; tenure bands on hand values; one small run in which the
concentration alarm must follow the production arm's own top-1% rows day by day; and the
decision switch's retention slot, by hand and in a run where everyone is flagged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from test_churn import reader, seal_day

from recloop.experiments.preflight import check_job
from recloop.policies.types import Slates
from recloop.sim.alarms import CALIBRATION, CONCENTRATION, HOLDOUT_ALARM, AlarmState, step_alarm
from recloop.sim.assignment import HOLDOUT
from recloop.sim.churn_dashboard import Scored
from recloop.sim.config import ConfigError, RunConfig
from recloop.sim.controllers import ControllerConfig, concentrated, next_epsilon
from recloop.sim.eventlog import EventLog
from recloop.sim.metrics.catalogue import TOP1_SHARE
from recloop.sim.metrics.churn import GROUPS, MONITOR_ROWS, tenure_band
from recloop.sim.metrics.monitor_metrics import ALARM, ALARMS_RAISED, CALIBRATION_GAP
from recloop.sim.monitors import CalibrationMonitor, calibration_day
from recloop.sim.retention import retention_slot
from recloop.sim.serving import Served
from recloop.sim.story import RunResult, simulate


def run_alarm(breaches: list[bool], k: int, latch: bool) -> tuple[list[bool], AlarmState]:
    alarm = AlarmState()
    ups = [step_alarm(alarm, b, day, k, latch).up for day, b in enumerate(breaches)]
    return ups, alarm


def test_an_alarm_needs_k_breaches_running_and_falls_unless_latched() -> None:
    breaches = [True, True, False, True, True, True, False, True, True, True, True]
    ups, alarm = run_alarm(breaches, k=3, latch=False)
    assert ups == [False] * 5 + [True, False, False, False, True, True]
    assert (alarm.raised, alarm.first_day) == (2, 5)
    latched, alarm = run_alarm(breaches, k=3, latch=True)
    assert latched == [False] * 5 + [True] * 6
    assert (alarm.raised, alarm.first_day) == (1, 5)
    assert run_alarm([True], k=1, latch=False)[0] == [True]


def test_tenure_bands_cut_at_the_label_period_and_the_lookback() -> None:
    tenure = np.array([0, 6, 7, 13, 14, 40])
    assert tenure_band(tenure, 7, 14).tolist() == [0, 0, 1, 1, 2, 2]
    assert tenure_band(tenure, 7, 3).tolist() == [0, 0, 2, 2, 2, 2]  # no settled band


def scored(date: int, predicted: list[float], segment: list[int], band: list[int]) -> Scored:
    n = len(predicted)
    return Scored(date, np.arange(n), np.array(predicted), np.array(segment, dtype=np.int8),
                  np.array(band, dtype=np.int8))


def test_calibration_per_group_on_hand_numbers() -> None:
    s = scored(5, [0.1, 0.3, 0.5, 0.2], segment=[0, 0, 1, 1], band=[0, 2, 2, 2])
    day = calibration_day(s, np.array([False, True, True, True]))
    g = {name: i for i, name in enumerate(GROUPS)}
    assert day.users.tolist() == [2, 2, 1, 0, 3]
    assert day.gap(g["mainstream"]) == pytest.approx(0.2 - 0.5)
    assert day.gap(g["niche"]) == pytest.approx(0.35 - 1.0)
    assert day.gap(g["new"]) == pytest.approx(0.1)
    assert np.isnan(day.gap(g["settled"]))
    assert day.gap(g["loyal"]) == pytest.approx(1 / 3 - 1)
    assert day.breach(0.64, min_users=2)  # niche, off by 0.65, has two users
    assert not day.breach(0.7, min_users=1)  # nobody is off by more than 2/3
    assert day.breach(0.66, min_users=3)  # loyal, off by 2/3, has three users
    assert not day.breach(0.66, min_users=4)


def test_calibration_waits_for_the_label_period_and_reads_the_log(tmp_path: Path) -> None:
    """Users 0-3 scored for day 2; 1 and 3 never come back, 0 on day 3, 2 on day 4."""
    log = EventLog(tmp_path)
    for day, users in enumerate([[0, 1, 2, 3], [0, 1, 2, 3], [], [0], [2]]):
        seal_day(log, day, users or [5], [1] * max(len(users), 1), [True] * max(len(users), 1))
    monitor = CalibrationMonitor(reader(log), label_days=3)
    monitor.record(scored(2, [0.5, 0.5, 0.5, 0.5], [0, 0, 1, 1], [0, 0, 0, 0]))
    assert monitor.matured(3) is None  # day 2's label period is days 2-4
    day = monitor.matured(4)
    assert day is not None and day.date == 2
    assert day.observed[:3].tolist() == [0.5, 0.5, 0.5]
    assert monitor.waiting == {} and monitor.matured(5) is None


def test_the_controller_asks_the_monitors_question() -> None:
    cfg = ControllerConfig(target_top1_share=0.4, step=2.0, min_epsilon=0.01, max_epsilon=0.5)
    for share in (0.3, 0.4, 0.41, float("nan")):
        up = next_epsilon(0.1, share, cfg) > 0.1
        assert up == concentrated(share, 0.4)


@pytest.mark.parametrize("field", ["calibration_threshold", "top1_threshold", "alarm_days",
                                   "min_group_users"])
def test_monitor_fields_are_range_checked(field: str) -> None:
    bad = {"calibration_threshold": "0", "top1_threshold": "1.5", "alarm_days": "0",
           "min_group_users": "0"}[field]
    with pytest.raises(ConfigError, match=rf"^churn_model.monitors.{field}=\S+ is out of range"):
        check_job([f"churn_model.monitors.{field}={bad}"])


def test_a_small_run_keeps_its_alarms_in_state_and_rows(
        small_config: Callable[..., RunConfig], tmp_path: Path) -> None:
    cfg = small_config("days=9", "policy=popular", "churn_model.enabled=true",
                       "churn_model.label_days=2", "churn_model.min_train_dates=2",
                       "churn_model.holdout_share=0.1", "churn_model.monitors.top1_threshold=0.1",
                       "churn_model.monitors.alarm_days=2")
    result = simulate(cfg, tmp_path)
    m = result.metrics
    rows = m[m.arm == MONITOR_ROWS].pivot(index="day", columns="metric", values="value")
    top1 = m[(m.arm == cfg.arm) & (m.metric == TOP1_SHARE)].set_index("day").value
    expected, alarm = run_alarm([t > 0.1 for t in top1], k=2, latch=False)
    assert rows[ALARM[CONCENTRATION]].tolist() == [float(e) for e in expected]
    assert any(expected)  # popular's head takes more than a tenth of a small catalogue
    states = result.state.monitors
    assert states[CONCENTRATION] == alarm
    assert set(states) == {CALIBRATION, CONCENTRATION, HOLDOUT_ALARM}
    raised = sum(a.raised for a in states.values())
    assert rows[ALARMS_RAISED].iloc[-1] == raised and rows[ALARMS_RAISED].is_monotonic_increasing
    first_read = 2 + 2 + 2  # first fit (label + min dates), scored for the next day, matured
    gaps = rows[[CALIBRATION_GAP[g] for g in GROUPS]]
    assert gaps.loc[: first_read - 1].isna().all().all()
    assert gaps.loc[first_read:, CALIBRATION_GAP["mainstream"]].between(-1, 1).all()


# ---------------------------------------------------------------- the decision switch


def test_a_retention_slot_is_the_most_played_title_new_to_the_user() -> None:
    items = np.array([[0, 1, 2], [3, 4, 5], [0, 4, 6]], dtype=np.int32)
    served = Served(Slates(items, np.full((3, 3), 0.5, np.float32)), np.zeros(3, np.int8))
    plays = np.array([9, 1, 8, 0, 0, 7, 0, 6])  # by plays: 0, 2, 5, 7, then the rest
    available = np.ones(8, dtype=bool)
    available[2] = False  # not released yet
    seen = np.zeros((10, 8), dtype=bool)
    seen[7, 5] = True
    users = np.array([4, 7, 9])
    flagged = np.zeros(10, dtype=bool)
    flagged[[7, 9]] = True
    out = retention_slot(served, users, flagged, plays, available, seen)
    assert out.slates.items.tolist() == [[0, 1, 2], [3, 4, 0], [0, 4, 5]]
    assert out.slates.propensity[:, -1].tolist() == [0.5, 1.0, 1.0]
    assert items[1, 2] == 5  # the served slates are left as they were
    assert retention_slot(served, users, np.zeros(10, dtype=bool), plays, available,
                          seen) is served


def test_the_decision_changes_only_production_slates_of_flagged_users(
        small_config: Callable[..., RunConfig], tmp_path: Path) -> None:
    base = ["days=6", "policy=random", "churn_model.enabled=true", "churn_model.label_days=1",
            "churn_model.min_train_dates=1", "churn_model.holdout_share=0.2"]
    off = simulate(small_config(*base), tmp_path / "off")
    on = simulate(small_config(*base, "churn_model.decision=retention_slot",
                               "churn_model.at_risk=0"), tmp_path / "on")
    first_fit = 1 + 1  # label days + min dates: flags serve from the day after
    before = list(range(first_fit + 1))
    assert [off.log.digests[d] for d in before] == [on.log.digests[d] for d in before]
    popular = np.argsort(-on.state.plays, kind="stable")[:64]  # of 300 titles

    def popular_last_slot(result: RunResult, holdout: bool) -> float:
        log = result.log.read([first_fit + 1], ["arm", "position", "item"])
        last = log[(log.position == log.position.max())
                   & ((log.arm.astype(str) == HOLDOUT) == holdout)]
        return float(np.isin(last.item, popular).mean())

    # flagged (everyone scored: risk > 0) get a popular title; random slates rarely do.
    # Bounds, not exact shares: plays move during the day and new sign-ups are not scored.
    assert popular_last_slot(on, holdout=False) > 0.85
    assert popular_last_slot(off, holdout=False) < 0.5
    assert popular_last_slot(on, holdout=True) < 0.5
