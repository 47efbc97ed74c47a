"""How well the monitors catch the indirect loop: delay, false alarms, and the holdout's cost.

Everything is read from runs' metrics tables (the alarms are rows there, recorded as the
run went; nothing is re-derived from the log). Per run:

- **Divergence start**, from the truth: the first day of the first stretch of ``days``
  days running on which the churn model under-predicts the niche segment's true risk by
  more than ``margin`` (dashboard rows: the true risk of the users it scored, minus its
  mean prediction for them). It measures the blind spot the issue describes, the model
  saying "fine" about niche users who are leaving; the defaults take the yardstick of the
  calibration monitor (``MonitorConfig``: 0.05 for 3 days), chosen before any sweep.
  None when it never happens.
- **First alarm** of each monitor (holdout, calibration, concentration), and the
  **detection delay**: first alarm day minus divergence start (negative: the alarm came
  first; undefined when either is missing).
- **False alarms**: under a policy without a loop (``NO_LOOP``: random slates or the
  oracle, which learns nothing from the log), any alarm is one; their rate is the share
  of such seeds with an alarm.
- **Cost of the holdout**: production's CTR and true utility of what was watched minus
  the holdout arm's, each the mean over the run's days.
- **Niche gap**: mean over the days with a fitted model of true − predicted niche risk
  (and the mainstream's, to see whether the blind spot is the niche's own), the share of
  those days on which it exceeded ``margin`` ("blind days"), and the mean held-out AUC.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from recloop.experiments.runs import Run
from recloop.sim.alarms import CALIBRATION, CONCENTRATION, HOLDOUT_ALARM, MONITOR_NAMES
from recloop.sim.assignment import HOLDOUT
from recloop.sim.metrics.catalogue import CTR, UTILITY
from recloop.sim.metrics.churn import CHURN_ROWS, HOLDOUT_ROWS, MONITOR_ROWS
from recloop.sim.metrics.monitor_metrics import ALARM, CHURN_AUC, CHURN_PREDICTED, CHURN_TRUE

NO_LOOP = ("random", "oracle")  # policies whose slates do not feed on the log
MARGIN, DAYS = 0.05, 3  # the divergence's yardstick: the calibration monitor's defaults
ROWS_OF = {HOLDOUT_ALARM: HOLDOUT_ROWS, CALIBRATION: MONITOR_ROWS, CONCENTRATION: MONITOR_ROWS}


def wide(metrics: pd.DataFrame, arm: str) -> pd.DataFrame:
    """One arm's rows as days × metrics."""
    rows = metrics[metrics["arm"].astype(str) == arm]
    return rows.pivot_table(index="day", columns="metric", values="value", aggfunc="mean",
                            dropna=False).sort_index()


def niche_blind_spot(metrics: pd.DataFrame, segment: str = "niche") -> pd.Series:
    """Per day, true − predicted risk of the segment's scored users (NaN before a fit)."""
    churn = wide(metrics, CHURN_ROWS)
    if CHURN_TRUE[segment] not in churn:
        return pd.Series(dtype=float)
    return churn[CHURN_TRUE[segment]] - churn[CHURN_PREDICTED[segment]]


def first_run_of(flags: pd.Series, days: int) -> int | None:
    """The first day of the first stretch of ``days`` consecutive True days."""
    streak = 0
    for day, flag in flags.items():
        streak = streak + 1 if flag else 0
        if streak >= days:
            return int(day) - days + 1
    return None


def divergence_start(metrics: pd.DataFrame, margin: float = MARGIN,
                     days: int = DAYS) -> int | None:
    """The day the niche blind spot opened (module docstring), or None."""
    return first_run_of(niche_blind_spot(metrics) > margin, days)


def first_alarm(metrics: pd.DataFrame, monitor: str) -> int | None:
    """The first day ``monitor``'s alarm was up; None if never (or not monitored)."""
    rows = wide(metrics, ROWS_OF[monitor])
    flag = ALARM[monitor]
    if flag not in rows:
        return None
    up = rows.index[rows[flag] == 1]
    return int(up[0]) if len(up) else None


def holdout_cost(metrics: pd.DataFrame, production: str) -> dict[str, float]:
    """Production − holdout, mean over the run's days, of CTR and true utility watched."""
    out = {}
    for metric in (CTR, UTILITY):
        rows = metrics[metrics["metric"] == metric].groupby("arm", observed=True)["value"]
        means = rows.mean()
        out[f"cost_{metric}"] = float(means.get(production, np.nan) - means.get(HOLDOUT, np.nan))
    return out


def run_row(metrics: pd.DataFrame, production: str, margin: float = MARGIN,
            days: int = DAYS) -> dict[str, float]:
    """Every per-run number of the module docstring, NaN where undefined."""
    start = divergence_start(metrics, margin, days)
    gap = niche_blind_spot(metrics).dropna()
    row = {"divergence_start": _num(start),
           "niche_gap": float(gap.mean()),
           "blind_days": float((gap > margin).mean()) if len(gap) else np.nan,
           "mainstream_gap": float(niche_blind_spot(metrics, "mainstream").mean()),
           "auc": float(wide(metrics, CHURN_ROWS).get(CHURN_AUC, pd.Series(np.nan)).mean())}
    for monitor in MONITOR_NAMES:
        alarm = first_alarm(metrics, monitor)
        row[f"alarm_{monitor}"] = _num(alarm)
        row[f"delay_{monitor}"] = _num(alarm - start if alarm is not None and start is not None
                                       else None)
    return row | holdout_cost(metrics, production)


def _num(value: int | None) -> float:
    return float("nan") if value is None else float(value)


def monitor_table(runs: Sequence[tuple[str, str, int, pd.DataFrame, str]],
                  margin: float = MARGIN, days: int = DAYS) -> pd.DataFrame:
    """One row per run from ``(variant, policy, seed, metrics, production arm)``."""
    rows = [{"variant": variant, "policy": policy, "seed": seed,
             "no_loop": policy in NO_LOOP, **run_row(metrics, arm, margin, days)}
            for variant, policy, seed, metrics, arm in runs]
    return pd.DataFrame(rows)


def run_inputs(runs: Sequence[Run]) -> list[tuple[str, str, int, pd.DataFrame, str]]:
    """What ``monitor_table`` reads of each run that has a churn dashboard."""
    return [(run.variant, str((run.config.get("policy") or {}).get("name", "?")),
             int(run.config.get("seed", -1)), run.metrics, str(run.config.get("arm", "main")))
            for run in runs if has_dashboard(run.metrics)]


def has_dashboard(metrics: pd.DataFrame) -> bool:
    """The run had ``churn_model.enabled=true``."""
    return bool((metrics["arm"].astype(str) == CHURN_ROWS).any())


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per variant: seeds, mean ± s.e. over seeds of the gaps, AUC and holdout cost, and per
    monitor the share of seeds with an alarm (a false-alarm rate for ``NO_LOOP`` policies),
    the mean first alarm day and the mean detection delay over seeds where it is defined."""
    out = []
    for variant, runs in table.groupby("variant", sort=False):
        row: dict[str, object] = {"variant": variant, "no_loop": bool(runs["no_loop"].all()),
                                  "seeds": len(runs),
                                  "diverged": float(runs["divergence_start"].notna().mean())}
        for col in ("niche_gap", "mainstream_gap", "blind_days", "auc", f"cost_{CTR}",
                    f"cost_{UTILITY}"):
            values = runs[col].dropna()
            row[col] = float(values.mean()) if len(values) else np.nan
            row[f"{col}_se"] = float(values.std() / np.sqrt(len(values))) if len(values) > 1 \
                else np.nan
        for monitor in MONITOR_NAMES:
            alarms = runs[f"alarm_{monitor}"]
            row[f"alarmed_{monitor}"] = float(alarms.notna().mean())
            row[f"first_{monitor}"] = float(alarms.mean()) if alarms.notna().any() else np.nan
            delays = runs[f"delay_{monitor}"].dropna()
            row[f"delay_{monitor}"] = float(delays.mean()) if len(delays) else np.nan
        out.append(row)
    return pd.DataFrame(out)
