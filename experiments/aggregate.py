"""Many runs' metrics as one frame, and the per-run and per-variant numbers reports read.

Loading is ``experiments/runs.py``; this module only reshapes and summarises what it
loaded: the tidy frame with runs relabelled to their variants, seed bands, each run's
late-day means, and means with standard errors over seeds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from recloop.experiments.runs import Run, variant_label
from recloop.sim.metrics.abtest import AB_ROWS
from recloop.sim.metrics.catalogue import COVERAGE, CTR, GINI, GRAVEYARD, TOP1_SHARE, UTILITY
from recloop.sim.metrics.churn import CHURN_ROWS, HOLDOUT_ROWS, MONITOR_ROWS
from recloop.sim.shadow import SHADOW

HEADLINE_METRICS: tuple[str, ...] = (GINI, TOP1_SHARE, COVERAGE, CTR, UTILITY, GRAVEYARD)
FINAL_DAYS = 10  # headline numbers average the last days: single days are noisy
# metric-table arms that serve nobody: tests, shadows, the monitors, the churn dashboard
NOT_SERVING = (AB_ROWS, SHADOW, HOLDOUT_ROWS, CHURN_ROWS, MONITOR_ROWS)


def combined_metrics(runs: Sequence[Run]) -> pd.DataFrame:
    """All runs' metrics in one tidy frame, ``arm`` relabelled to the run's variant.

    Columns: ``run, variant, arm, arm_name, day, metric, value``. A run with several arms
    keeps them apart as ``"variant · arm"``; ``arm_name`` is the run's own arm label.
    """
    frames = []
    multi_arm = any(r.metrics["arm"].nunique() > 1 for r in runs)
    for run in runs:
        frame = run.metrics.loc[:, ["day", "arm", "metric", "value"]].copy()
        arm = frame["arm"].astype(str)
        frame["arm"] = run.variant + " · " + arm if multi_arm else run.variant
        frames.append(frame.assign(run=str(run.path), variant=run.variant, arm_name=arm))
    out = pd.concat(frames, ignore_index=True)
    out["value"] = pd.to_numeric(out["value"], errors="coerce").astype(float)
    return out


def seed_bands(combined: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per ``(arm, metric, day)``, with the min–max band as ``lo``/``hi``."""
    grouped = combined.groupby(["arm", "metric", "day"], sort=False)["value"]
    out = grouped.agg(value="mean", lo="min", hi="max").reset_index()
    return out.loc[:, ["day", "arm", "metric", "value", "lo", "hi"]]


def final_means(combined: pd.DataFrame, metrics: Sequence[str] = HEADLINE_METRICS,
                days: int = FINAL_DAYS) -> pd.DataFrame:
    """Each run's (each arm's) mean of each metric over its last ``days`` days.

    Returns one row per run, arm and metric: ``run, variant, arm_name, metric, value``,
    where ``variant`` is the arm's label (the run's variant when it has one arm).
    """
    frame = combined[combined["metric"].isin(metrics)]
    last = frame.groupby("run")["day"].transform("max")
    recent = frame[frame["day"] > last - days]
    means = recent.groupby(["run", "arm", "arm_name", "metric"], sort=False)["value"].mean()
    return means.reset_index().rename(columns={"arm": "variant"})


def label_order(combined: pd.DataFrame, order: Sequence[str]) -> list[str]:
    """Variant order expanded to the serving arms' labels (one per variant without A/B)."""
    serving = combined[~combined["arm_name"].isin(NOT_SERVING)]
    labels = serving.drop_duplicates("arm").groupby("variant", sort=False)["arm"].agg(list)
    return [label for v in order if v in labels.index for label in labels[v]]


def with_parameter(per_run: pd.DataFrame, runs: Sequence[Run], key: str,
                   others: Sequence[str]) -> pd.DataFrame:
    """Per-run rows plus the run's value of ``key`` and a ``line`` label of the other keys."""
    by_path = {str(r.path): r.overrides for r in runs}
    frame = per_run.copy()
    frame[key] = [by_path[p].get(key, "default") for p in frame["run"]]
    frame["line"] = [variant_label(by_path[p], others, "mean over seeds") for p in frame["run"]]
    if frame.groupby("run")["arm_name"].nunique().max() > 1:  # A/B runs: a line per arm
        frame["line"] = frame["line"] + " · " + frame["arm_name"]
    return frame


def seed_stats(per_run: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Mean, standard error (s.d. / √n, NaN for one seed) and n over runs, per ``by`` + metric."""
    grouped = per_run.groupby([*by, "metric"], sort=False)["value"]
    out = grouped.agg(mean="mean", sd="std", n="count").reset_index()
    out["se"] = out["sd"] / np.sqrt(out["n"])
    return out.drop(columns="sd")
