"""Detection delay, false alarms and the holdout's cost, on planted metrics tables; the
report section on them and, end to end, on a tiny sweep of the indirect_loop preset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import entry_point, recloop

from recloop.experiments import monitor_eval as me
from recloop.experiments.churn_report import churn_blocks, evaluation_table, run_blocks
from recloop.sim.alarms import CALIBRATION, CONCENTRATION, HOLDOUT_ALARM
from recloop.sim.metrics import catalogue as cat
from recloop.sim.metrics import monitor_metrics as mon
from recloop.sim.metrics.churn import CHURN_ROWS, HOLDOUT_ROWS, MONITOR_ROWS

DAYS = 12


PREDICTED, TRUE, CTR, UTILITY = mon.CHURN_PREDICTED, mon.CHURN_TRUE, cat.CTR, cat.UTILITY


def planted(gap: list[float], alarms: dict[str, int | None], ctr: tuple[float, float] = (0.08, 0.05)
            ) -> pd.DataFrame:
    """A run's table: the niche gap per day (mainstream's 0.01), each monitor's first alarm
    (it stays up from then on), production's and the holdout's CTR and utility."""
    rows = []
    for day in range(DAYS):
        rows += [(day, CHURN_ROWS, PREDICTED["niche"], 0.1),
                 (day, CHURN_ROWS, TRUE["niche"], 0.1 + gap[day]),
                 (day, CHURN_ROWS, PREDICTED["mainstream"], 0.1),
                 (day, CHURN_ROWS, TRUE["mainstream"], 0.11),
                 (day, CHURN_ROWS, mon.CHURN_AUC, 0.8 if day > 3 else np.nan),
                 (day, "main", CTR, ctr[0]), (day, "holdout", CTR, ctr[1]),
                 (day, "main", UTILITY, 1.0), (day, "holdout", UTILITY, 0.4)]
        for monitor, first in alarms.items():
            up = float(first is not None and day >= first)
            rows.append((day, me.ROWS_OF[monitor], mon.ALARM[monitor], up))
    return pd.DataFrame(rows, columns=["day", "arm", "metric", "value"])


OPENS_ON_4 = [0.0, 0.06, 0.0, 0.0, 0.06, 0.07, 0.08, 0.09, 0.1, 0.1, 0.1, 0.1]


def test_divergence_starts_on_the_first_day_of_k_days_above_the_margin() -> None:
    metrics = planted(OPENS_ON_4, {})
    assert me.divergence_start(metrics) == 4  # day 1 is one day only
    assert me.divergence_start(metrics, margin=0.075) == 6
    assert me.divergence_start(metrics, days=9) is None
    assert me.first_run_of(pd.Series([True, True]), 3) is None


def test_a_run_row_has_first_alarms_delays_and_cost() -> None:
    alarms = {HOLDOUT_ALARM: 9, CALIBRATION: 2, CONCENTRATION: None}
    row = me.run_row(planted(OPENS_ON_4, alarms), "main")
    assert (row["alarm_holdout"], row["delay_holdout"]) == (9, 5)
    assert (row["alarm_calibration"], row["delay_calibration"]) == (2, -2)
    assert np.isnan(row["alarm_concentration"]) and np.isnan(row["delay_concentration"])
    assert row["niche_gap"] == pytest.approx(np.mean(OPENS_ON_4))
    assert row["blind_days"] == pytest.approx(9 / 12)  # 0.06 on day 1 counts too
    assert row["mainstream_gap"] == pytest.approx(0.01)
    assert row["auc"] == pytest.approx(0.8)
    assert row[f"cost_{CTR}"] == pytest.approx(0.03)
    assert row[f"cost_{UTILITY}"] == pytest.approx(0.6)


def test_false_alarms_are_the_share_of_no_loop_seeds_with_an_alarm() -> None:
    flat = [0.0] * DAYS
    runs = [("policy=oracle", "oracle", s, planted(flat, {HOLDOUT_ALARM: a}), "main")
            for s, a in enumerate([None, 5, None, None])]
    runs += [("policy=popular", "popular", s, planted(OPENS_ON_4, {HOLDOUT_ALARM: a}), "main")
             for s, a in enumerate([6, 8])]
    stats = me.summary(me.monitor_table(runs)).set_index("variant")
    oracle, popular = stats.loc["policy=oracle"], stats.loc["policy=popular"]
    assert oracle["no_loop"] and not popular["no_loop"]
    assert oracle["alarmed_holdout"] == 0.25 and oracle["diverged"] == 0
    assert np.isnan(oracle["delay_holdout"])  # nothing diverged: no delay to measure
    assert popular["alarmed_holdout"] == 1 and popular["delay_holdout"] == pytest.approx(3)
    assert popular["niche_gap_se"] == 0  # two identical seeds
    page = evaluation_table(me.summary(me.monitor_table(runs)))
    assert "25% false alarms" in page and "100% alarmed, first day 7.0, delay +3.0 d" in page


def test_the_run_section_draws_the_truth_beside_the_model_and_the_alarms() -> None:
    metrics = planted(OPENS_ON_4, {HOLDOUT_ALARM: 9, CALIBRATION: 2, CONCENTRATION: None})
    blocks = run_blocks(metrics, "popular")
    assert [b[0] for b in blocks] == ["Churn dashboard against the truth",
                                     "Monitors' alarms on a timeline"]
    dashboard, timeline = blocks[0][2], blocks[1][2]
    names = {t.name for t in dashboard.data}
    assert {"popular · niche, true", "popular · niche, predicted"} <= names
    assert dashboard.layout.shapes[0].x0 == 4  # the day the blind spot opened
    alarms = {t.xaxis: list(t.y) for t in timeline.data}  # calibration, concentration, holdout
    assert alarms["x"] == [0.0] * 2 + [1.0] * 10
    assert alarms["x2"] == [0.0] * 12 and alarms["x3"] == [0.0] * 9 + [1.0] * 3
    assert run_blocks(metrics[metrics.arm != CHURN_ROWS], "popular") == []
    frame = metrics.assign(variant="v", run="0", arm_name=metrics["arm"])
    assert len(churn_blocks(frame, ["v"], me.monitor_table([("v", "als", 0, metrics, "main")]))
               ) == 3


@pytest.mark.slow
def test_a_tiny_indirect_loop_sweep_reports_its_monitors(tmp_path: Path) -> None:
    """Two probes, one seed, six days of the small world, through both command lines."""
    done = recloop(["-m", "experiment=indirect_loop", "probe=random,popular", "seed=0",
                    "users=small", "catalog=small", "days=6", "progress=false",
                    "churn_model.label_days=1", "churn_model.min_train_dates=1",
                    "churn_model.holdout_share=0.1", "hydra.sweep.dir=sweep"], tmp_path)
    assert done.returncode == 0, done.stderr
    run_page = next((tmp_path / "sweep").glob("*probe=popular*/report.html")).read_text()
    assert "Churn dashboard against the truth" in run_page
    assert "Monitors&#x27; alarms on a timeline" in run_page
    report = entry_point("recloop.experiments.report_cli:main", ["sweep"], tmp_path)
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "sweep" / "report.html").read_text()
    assert "Monitors: detection delay, false alarms, cost" in page
    assert "probe=random" in page and "false alarms" in page
    metrics = pd.read_parquet(next((tmp_path / "sweep").glob("*probe=popular*/metrics.parquet")))
    assert set(metrics.arm) >= {CHURN_ROWS, HOLDOUT_ROWS, MONITOR_ROWS}
