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

from recloop.experiments import aggregate as ag
from recloop.experiments import runs as rl
from recloop.experiments.style import PALETTE, Z95, metric_label, unit_axis
from recloop.sim.assignment import CONTROL, TREATMENT
from recloop.sim.metrics.abtest import AB_ROWS, SRM_ALPHA
from recloop.sim.metrics.catalogue import (
    COMPLETION,
    CTR,
    EFFECTS,
    SE,
    SRM_P,
    TOP1_SHARE,
    UTILITY,
    WATCH,
)

AB_METRICS: tuple[str, ...] = (CTR, TOP1_SHARE, UTILITY, COMPLETION, WATCH)
ALL_CONTROL, ALL_TREATMENT = "all_control", "all_treatment"
TRAININGS = ("pooled", "per_arm")
DESIGN_KEYS = {"ab", "ab.share", "ab.training", rl.SEED_KEY}
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


def arm_means(run: rl.Run, days: int = ag.FINAL_DAYS) -> pd.DataFrame:
    """Arms × metrics: each arm's mean over the run's last ``days`` days."""
    m = run.metrics
    recent = m[(m["day"] > m["day"].max() - days) & m["metric"].isin(AB_METRICS)]
    return recent.pivot_table(index="arm", columns="metric", values="value", observed=True)


def comparison_groups(runs: Sequence[rl.Run]) -> dict[tuple[str, object], dict[str, rl.Run]]:
    """(group, seed) → design → run. A group is one setting of every swept key other than
    the A/B design keys and the seed (e.g. one treatment policy of several); a second run
    of the same design, group and seed would make the pairing ambiguous, so it is an error."""
    designed = [r for r in runs if design(r) is not None]
    keys = [k for k in rl.swept_keys([r.overrides for r in designed]) if k not in DESIGN_KEYS]
    groups: dict[tuple[str, object], dict[str, rl.Run]] = {}
    for run in designed:
        group = rl.variant_label(run.overrides, keys, "all runs")
        slot = groups.setdefault((group, run.config.get("seed")), {})
        kind = design(run)
        assert kind is not None
        if kind in slot:
            raise ValueError(f"two {kind} runs for {group}, seed {run.config.get('seed')}: "
                             f"{slot[kind].path} and {run.path}")
        slot[kind] = run
    return groups


def bias_rows(runs: Sequence[rl.Run]) -> pd.DataFrame:
    """Per group, seed, training mode and metric: global effect, A/B estimate, difference."""
    rows = []
    for (group, seed), kinds in comparison_groups(runs).items():
        if ALL_CONTROL not in kinds or ALL_TREATMENT not in kinds:
            continue
        control = arm_means(kinds[ALL_CONTROL]).loc[CONTROL]
        treated = arm_means(kinds[ALL_TREATMENT]).loc[TREATMENT]
        for training in TRAININGS:
            if training not in kinds:
                continue
            split = arm_means(kinds[training])
            for metric in AB_METRICS:
                truth = treated[metric] - control[metric]
                estimate = split.at[TREATMENT, metric] - split.at[CONTROL, metric]
                rows.append((group, seed, training, metric, truth, estimate, estimate - truth))
    return pd.DataFrame(rows, columns=["group", "seed", "training", "metric", "global_effect",
                                       "ab_estimate", "bias"])


def bias_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard error over seeds per training mode and metric (one group's rows)."""
    grouped = rows.groupby(["training", "metric"], sort=False)
    return grouped[["global_effect", "ab_estimate", "bias"]].agg(["mean", "sem"])


def bias_html(summary: pd.DataFrame) -> str:
    """Metric rows; global effect, then estimate and bias for each training mode."""
    trainings = [t for t in TRAININGS if t in summary.index.get_level_values(0)]
    head = ["metric", "global effect"] + [f"{col} ({t})" for t in trainings
                                          for col in ("A/B estimate", "bias")]
    rows = []
    for metric in AB_METRICS:
        cells = [metric_label(metric)]
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


def daily_effect_figure(kinds: dict[str, rl.Run]) -> go.Figure | None:
    """One group and seed: each split's daily treatment − control CTR with its 95% interval,
    beside the daily global effect (all-treatment run's CTR minus all-control run's)."""
    if ALL_CONTROL not in kinds or ALL_TREATMENT not in kinds:
        return None
    fig = go.Figure()
    ctr = {k: _series(kinds[k], arm, CTR) for k, arm in
           ((ALL_CONTROL, CONTROL), (ALL_TREATMENT, TREATMENT))}
    truth = ctr[ALL_TREATMENT] - ctr[ALL_CONTROL]
    fig.add_trace(go.Scatter(x=truth.index, y=truth.values, name="global effect",
                             line={"color": "#222", "dash": "dash", "width": 3}))
    for i, training in enumerate(t for t in TRAININGS if t in kinds):
        effect = _series(kinds[training], AB_ROWS, EFFECTS[CTR])
        half = Z95 * _series(kinds[training], AB_ROWS, EFFECTS[CTR] + SE)
        colour = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatter(
            x=effect.index, y=effect.values, name=f"A/B estimate ({training})",
            mode="lines+markers", line={"color": colour},
            error_y={"type": "data", "array": half.values, "visible": True},
        ))
    fig.update_layout(height=420, template="plotly_white", xaxis_title="day",
                      yaxis_title=metric_label(EFFECTS[CTR]))
    fig.update_yaxes(unit_axis(EFFECTS[CTR]))
    return fig


def _series(run: rl.Run, arm: str, metric: str) -> pd.Series:
    m = run.metrics
    sub = m[(m["arm"] == arm) & (m["metric"] == metric)]
    return sub.set_index("day")["value"].sort_index()


def srm_note(runs: Sequence[rl.Run]) -> str:
    """The smallest final-day SRM p-value over the split runs (cumulative exposure, so one
    test per run), Bonferroni-corrected for the number of runs."""
    finals = []
    for run in runs:
        if design(run) in TRAININGS:
            srm = run.metrics[run.metrics["metric"] == SRM_P]
            finals.append(float(srm.loc[srm["day"].idxmax(), "value"]) if len(srm) else np.nan)
    finals = [v for v in finals if np.isfinite(v)]
    if not finals:
        return ""
    low = min(finals)
    broken = low * len(finals) < SRM_ALPHA
    verdict = "a split lost users: distrust it" if broken else "no sample-ratio mismatch"
    return (f" Sample-ratio check on users exposed by the last day: smallest p {low:.3g} over "
            f"{len(finals)} split run(s), {verdict}.")


def ab_blocks(runs: Sequence[rl.Run]) -> list[Block]:
    """The A/B section of a sweep report; empty when the sweep has no complete A/B design."""
    rows = bias_rows(runs)
    if rows.empty:
        return []
    blocks: list[Block] = []
    first_seed = rows["seed"].iloc[0]
    groups = comparison_groups(runs)
    for group, sub in rows.groupby("group", sort=False):
        suffix = "" if group == "all runs" else f" ({group})"
        title = "A/B estimate against the global effect" + suffix
        caption = ("Treatment − control, each run's mean over its last "
                   f"{ag.FINAL_DAYS} days, mean ± s.e. over {sub['seed'].nunique()} seed(s). "
                   "Global effect: the same seed run with everyone on treatment minus "
                   "everyone on control. Bias: A/B estimate − global effect." + srm_note(runs))
        blocks.append((title, caption, bias_html(bias_summary(sub))))
        fig = daily_effect_figure(groups[group, first_seed])
        if fig is not None:
            blocks.append((f"A/B daily CTR effect, seed {first_seed}{suffix}", (
                "Markers: each split's daily treatment − control CTR with its 95% interval "
                "(users as units); dashed: the daily global effect."), fig))
    return blocks
