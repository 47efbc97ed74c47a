"""Does the A/B test measure what launching would do? Its estimate against the global effect.

An A/B run (``ab`` share strictly between 0 and 1) estimates treatment − control from its
two arms. The global effect is what launching would change: the same seed run with everyone
on treatment minus everyone on control. When the arms' models learn from one pooled log,
each arm's data is shaped by the other arm's slates, and the estimate is biased; training
per arm removes that channel (and halves each model's data). This module pairs the runs of
a sweep by seed, reports both numbers per training mode, and draws the daily effects with
their 95% intervals.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from experiments import runs as rl
from experiments.report import PALETTE, Z95

AB_METRICS = {
    "ctr": "CTR",
    "top1_share": "top-1% share",
    "mean_true_utility": "mean true utility",
    "completion_rate": "completion rate",
}
ALL_CONTROL, ALL_TREATMENT = "all_control", "all_treatment"
TRAININGS = ("pooled", "per_arm")
Block = tuple[str, str, "go.Figure | str"]


def design(run: rl.Run) -> str | None:
    """all_control, all_treatment, pooled or per_arm; None for runs without a treatment."""
    ab = run.config.get("ab") or {}
    if not ab.get("treatment"):
        return None
    share = float(ab.get("share", 0.0))
    if share <= 0:
        return ALL_CONTROL
    if share >= 1:
        return ALL_TREATMENT
    return str(ab.get("training", "pooled"))


def arm_means(run: rl.Run, days: int = rl.FINAL_DAYS) -> pd.DataFrame:
    """Arms × metrics: each arm's mean over the run's last ``days`` days."""
    m = run.metrics
    recent = m[(m["day"] > m["day"].max() - days) & m["metric"].isin(list(AB_METRICS))]
    return recent.pivot_table(index="arm", columns="metric", values="value", observed=True)


def bias_rows(runs: Sequence[rl.Run]) -> pd.DataFrame:
    """Per seed, training mode and metric: global effect, A/B estimate and their difference."""
    by_seed: dict[object, dict[str, rl.Run]] = {}
    for run in runs:
        kind = design(run)
        if kind is not None:
            by_seed.setdefault(run.config.get("seed"), {})[kind] = run
    rows = []
    for seed, kinds in by_seed.items():
        if ALL_CONTROL not in kinds or ALL_TREATMENT not in kinds:
            continue
        control = arm_means(kinds[ALL_CONTROL]).loc["control"]
        treated = arm_means(kinds[ALL_TREATMENT]).loc["treatment"]
        for training in TRAININGS:
            if training not in kinds:
                continue
            split = arm_means(kinds[training])
            for metric in AB_METRICS:
                truth = treated[metric] - control[metric]
                estimate = split.at["treatment", metric] - split.at["control", metric]
                rows.append((seed, training, metric, truth, estimate, estimate - truth))
    return pd.DataFrame(rows, columns=["seed", "training", "metric", "global_effect",
                                       "ab_estimate", "bias"])


def bias_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard error over seeds per training mode and metric."""
    grouped = rows.groupby(["training", "metric"], sort=False)
    return grouped[["global_effect", "ab_estimate", "bias"]].agg(["mean", "sem"])


def bias_html(summary: pd.DataFrame) -> str:
    """Metric rows; global effect, then estimate and bias for each training mode."""
    trainings = [t for t in TRAININGS if t in summary.index.get_level_values(0)]
    head = ["metric", "global effect"] + [f"{col} ({t})" for t in trainings
                                          for col in ("A/B estimate", "bias")]
    rows = []
    for metric, label in AB_METRICS.items():
        cells = [label]
        for i, training in enumerate(trainings):
            if (training, metric) not in summary.index:
                cells += ["–"] * (3 if i == 0 else 2)
                continue
            row = summary.loc[(training, metric)]
            cols = ("global_effect", "ab_estimate", "bias") if i == 0 else ("ab_estimate", "bias")
            cells += [_mean_se(row[c]["mean"], row[c]["sem"]) for c in cols]
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return f'<table class="details"><tr>{header}</tr>{"".join(rows)}</table>'


def _mean_se(mean: float, se: float) -> str:
    return f"{mean:+.4f}" + (f" ± {se:.4f}" if np.isfinite(se) else "")


def daily_effect_figure(runs: Sequence[rl.Run]) -> go.Figure | None:
    """First seed: each split's daily treatment − control CTR with its 95% interval, beside
    the daily global effect (the all-treatment run's CTR minus the all-control run's)."""
    first: dict[str, rl.Run] = {}
    for run in runs:
        kind = design(run)
        if kind is not None and run.config.get("seed") == runs[0].config.get("seed"):
            first.setdefault(kind, run)
    if ALL_CONTROL not in first or ALL_TREATMENT not in first:
        return None
    fig = go.Figure()
    ctr = {k: _series(first[k], arm, "ctr") for k, arm in
           ((ALL_CONTROL, "control"), (ALL_TREATMENT, "treatment"))}
    truth = ctr[ALL_TREATMENT] - ctr[ALL_CONTROL]
    fig.add_trace(go.Scatter(x=truth.index, y=truth.values, name="global effect",
                             line={"color": "#222", "dash": "dash", "width": 3}))
    for i, training in enumerate(t for t in TRAININGS if t in first):
        effect = _series(first[training], "ab", "effect_ctr")
        half = Z95 * _series(first[training], "ab", "effect_ctr_se")
        colour = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatter(
            x=effect.index, y=effect.values, name=f"A/B estimate ({training})",
            mode="lines+markers", line={"color": colour},
            error_y={"type": "data", "array": half.values, "visible": True},
        ))
    fig.update_layout(height=420, template="plotly_white", xaxis_title="day",
                      yaxis_title="treatment − control CTR")
    return fig


def _series(run: rl.Run, arm: str, metric: str) -> pd.Series:
    m = run.metrics
    sub = m[(m["arm"] == arm) & (m["metric"] == metric)]
    return sub.set_index("day")["value"].sort_index()


def srm_note(runs: Sequence[rl.Run]) -> str:
    """The smallest daily SRM p-value over the split runs, and whether it breaks the test."""
    values = [run.metrics.loc[run.metrics["metric"] == "srm_p_value", "value"].min()
              for run in runs if design(run) in TRAININGS]
    values = [v for v in values if np.isfinite(v)]
    if not values:
        return ""
    low = min(values)
    verdict = "below 0.001: some split is broken" if low < 1e-3 else "no sample-ratio mismatch"
    return f" Smallest daily SRM p-value over the split runs: {low:.3g} ({verdict})."


def ab_blocks(runs: Sequence[rl.Run]) -> list[Block]:
    """The A/B section of a sweep report; empty when the sweep has no complete A/B design."""
    rows = bias_rows(runs)
    if rows.empty:
        return []
    caption = ("Treatment − control, each run's mean over its last "
               f"{rl.FINAL_DAYS} days, mean ± s.e. over {rows['seed'].nunique()} seed(s). "
               "Global effect: the same seed run with everyone on treatment minus everyone "
               "on control. Bias: A/B estimate − global effect." + srm_note(runs))
    blocks: list[Block] = [("A/B estimate against the global effect", caption,
                            bias_html(bias_summary(rows)))]
    fig = daily_effect_figure(runs)
    if fig is not None:
        blocks.append(("A/B daily CTR effect", (
            "First seed. Markers: each split's daily treatment − control CTR with its 95% "
            "interval (users as units); dashed: the daily global effect."), fig))
    return blocks
