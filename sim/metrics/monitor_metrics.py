"""The monitors' metrics: the churn dashboard (the model's risk with the truth beside it),
the holdout (random slates against production) and the other monitors (calibration,
concentration, alarms). Declared into the one catalogue (``sim/metrics/sections.py``) like
the arms' metrics, on rows of their own kinds.
"""

from __future__ import annotations

from recloop.sim import alarms
from recloop.sim.metrics.churn import BANDS, GROUPS, SEGMENTS, ChurnDay, HoldoutDay, MonitorDay
from recloop.sim.metrics.daily import ratio
from recloop.sim.metrics.metric import CHURN, HOLDOUT, MONITOR
from recloop.sim.metrics.sections import (
    CATALOGUE,
    CHURN_SECTION,
    HOLDOUT_SECTION,
    MONITOR_SECTION,
    SE,
    declare,
)

# ---------------------------------------------------------------- churn dashboard (truth beside)
CHURN_PREDICTED: dict[str, str] = {}  # segment ("all", ...) -> mean predicted risk
CHURN_TRUE: dict[str, str] = {}  # segment -> the same users' true risk
for _seg, _segment in ((None, "all"), *SEGMENTS):
    CHURN_PREDICTED[_segment] = declare(
        f"churn_predicted_{_segment}", f"Predicted churn risk, mean over scored ({_segment})",
        CHURN_SECTION, lambda d, s=_seg: d.mean(d.predicted, s), unit="share", rows=(CHURN,))
    CHURN_TRUE[_segment] = declare(
        f"churn_true_{_segment}", f"True risk of the same users ({_segment})",
        CHURN_SECTION, lambda d, s=_seg: d.mean(d.true_risk, s), unit="share", rows=(CHURN,))
    declare(f"churn_scored_{_segment}", f"Users the churn model scores ({_segment})",
            CHURN_SECTION, lambda d, s=_seg: (d.segment == s).sum() if s is not None
            else d.segment.size, unit="count", rows=(CHURN,))
for _band, _name in BANDS:
    CHURN_PREDICTED[_name] = declare(
        f"churn_predicted_{_name}", f"Predicted churn risk, tenure {_name}", CHURN_SECTION,
        lambda d, b=_band: d.band_mean(d.predicted, b), unit="share", rows=(CHURN,))
    CHURN_TRUE[_name] = declare(
        f"churn_true_{_name}", f"True risk of the same users, tenure {_name}", CHURN_SECTION,
        lambda d, b=_band: d.band_mean(d.true_risk, b), unit="share", rows=(CHURN,))
for _seg, _segment in SEGMENTS:
    declare(f"churn_daily_true_{_segment}", f"True churn today, all arms ({_segment})",
            CHURN_SECTION, lambda d, s=_seg: ratio(d.churned[s], d.active_at_start[s]),
            unit="rate", rows=(CHURN,))
    declare(f"segment_size_{_segment}", f"True segment size: active users ({_segment})",
            CHURN_SECTION, lambda d, s=_seg: d.sizes[s], unit="count", rows=(CHURN,))
CHURN_AUC = declare("churn_auc", "Churn model AUC (held-out date)", CHURN_SECTION,
                    lambda d: d.auc, rows=(CHURN,))
CHURN_BRIER = declare("churn_brier", "Churn model Brier score (held-out date)", CHURN_SECTION,
                      lambda d: d.brier, rows=(CHURN,))
CHURN_CALIBRATION = declare(
    "churn_calibration", "Churn model: mean predicted − observed churn (held-out date)",
    CHURN_SECTION, lambda d: d.calibration, unit="share", rows=(CHURN,))

# ---------------------------------------------------------------- holdout monitor
HOLDOUT_GAP: dict[str, str] = {}  # segment -> production − holdout retention
for _seg, _segment in SEGMENTS:
    for _group, _who in enumerate(("production", "holdout")):
        declare(f"retention_{_segment}_{_who}", f"Retention, {_who} ({_segment})",
                HOLDOUT_SECTION, lambda d, s=_seg, g=_group: d.retention(s, g), unit="share",
                rows=(HOLDOUT,))
    HOLDOUT_GAP[_segment] = declare(
        f"retention_gap_{_segment}", f"Retention: production − holdout ({_segment})",
        HOLDOUT_SECTION, lambda d, s=_seg: d.gap(s)[0], unit="share", rows=(HOLDOUT,))
    declare(HOLDOUT_GAP[_segment] + SE, f"Retention gap ({_segment}): standard error",
            HOLDOUT_SECTION, lambda d, s=_seg: d.gap(s)[1], unit="share", rows=(HOLDOUT,),
            se_of=HOLDOUT_GAP[_segment])
HOLDOUT_ALARM_FLAG = declare("holdout_alarm", "Holdout alarm: niche retention below holdout's",
                        HOLDOUT_SECTION, lambda d: float(d.alarm), unit="flag",
                        rows=(HOLDOUT,))

# ---------------------------------------------------------------- the other monitors
CALIBRATION_GAP: dict[str, str] = {}  # group (segment or tenure band) -> predicted − observed
for _g, _group in enumerate(GROUPS):
    CALIBRATION_GAP[_group] = declare(
        f"calibration_gap_{_group}", f"Churn predicted − observed, matured date ({_group})",
        MONITOR_SECTION, lambda d, g=_g: d.gap(g), unit="share", rows=(MONITOR,))
ALARM: dict[str, str] = {alarms.HOLDOUT_ALARM: HOLDOUT_ALARM_FLAG}  # monitor -> 0/1 metric
for _monitor in (alarms.CALIBRATION, alarms.CONCENTRATION):
    ALARM[_monitor] = declare(f"{_monitor}_alarm", f"{_monitor.capitalize()} alarm (1 = up)",
                              MONITOR_SECTION, lambda d, m=_monitor: d.up(m), unit="flag",
                              rows=(MONITOR,))
    declare(f"{_monitor}_alarms_raised", f"{_monitor.capitalize()} alarms raised so far",
            MONITOR_SECTION, lambda d, m=_monitor: d.raised(m), unit="count", rows=(MONITOR,))
ALARMS_RAISED = declare("alarms_raised", "Alarms raised so far, every monitor", MONITOR_SECTION,
                        lambda d: d.raised(), unit="count", rows=(MONITOR,))


def churn_values(day: ChurnDay) -> dict[str, float]:
    """The churn dashboard's row for the day."""
    return CATALOGUE.values(CHURN, day)


def holdout_values(day: HoldoutDay) -> dict[str, float]:
    """The holdout monitor's row for the day."""
    return CATALOGUE.values(HOLDOUT, day)


def monitor_values(day: MonitorDay) -> dict[str, float]:
    """The other monitors' row for the day."""
    return CATALOGUE.values(MONITOR, day)
