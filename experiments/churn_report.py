"""The indirect loop on a report page: the churn dashboard against the truth, the alarms.

For a run (or a sweep's runs) with ``churn_model.enabled``: the model's mean predicted
risk per hidden segment and tenure band beside the same users' true risk, the day the
niche blind spot opened (``monitor_eval``), the monitors' alarms on a timeline, and for
a sweep a table of detection delays, false alarms and the holdout's cost per variant.
Everything is read from the metrics table; a sweep's curves are means over seeds.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from recloop.experiments import monitor_eval as me
from recloop.experiments.page import Block
from recloop.experiments.runs import Run
from recloop.experiments.style import LAYOUT, arm_colours
from recloop.sim.alarms import MONITOR_NAMES
from recloop.sim.metrics.catalogue import CTR, UTILITY
from recloop.sim.metrics.churn import CHURN_ROWS, SEGMENT_NAMES, TENURE_BANDS
from recloop.sim.metrics.monitor_metrics import ALARM, CHURN_PREDICTED, CHURN_TRUE

GROUP_PANELS = (("Per hidden segment", SEGMENT_NAMES), ("Per tenure band", TENURE_BANDS))
DASHBOARD_CAPTION = (
    "Solid: the true risk of no activity in the next N days of the users the churn model "
    "scored (only the simulator knows it); dashed: the model's mean predicted risk for the "
    "same users. A dashed line under its solid one is a model saying 'fine' about users "
    "who are leaving. Dotted vertical line (one run): the day the niche blind spot opened "
    f"(true − predicted niche risk above {me.MARGIN:.0%} for {me.DAYS} days running).")
TIMELINE_CAPTION = ("Share of runs (one run: 1 or 0) whose alarm was up each day, per monitor. "
                    "Holdout: niche retention below the random holdout's; calibration: "
                    "predicted against observed churn of a matured date, per segment and "
                    "tenure band; concentration: the top-1% share the ε controller reads.")


def dashboard_figure(frame: pd.DataFrame, order: Sequence[str],
                     start: int | None = None) -> go.Figure:
    """Predicted (dashed) and true (solid) risk per group, one colour per variant×group;
    ``start``: the day the niche blind spot opened (drawn for one run)."""
    churn = frame[frame["arm_name"] == CHURN_ROWS]
    means = churn.groupby(["variant", "metric", "day"])["value"].mean()
    present = set(means.index.droplevel("day"))
    fig = make_subplots(rows=1, cols=2, subplot_titles=[t for t, _ in GROUP_PANELS])
    colours = arm_colours([f"{v} · {g}" for v in order for g in (*SEGMENT_NAMES,
                                                                    *TENURE_BANDS)])
    for col, (_, groups) in enumerate(GROUP_PANELS, start=1):
        for variant in order:
            for group in groups:
                label = f"{variant} · {group}"
                for metric, dash, what in ((CHURN_TRUE[group], "solid", "true"),
                                           (CHURN_PREDICTED[group], "dash", "predicted")):
                    if (variant, metric) not in present:
                        continue
                    series = means.loc[(variant, metric)]
                    fig.add_trace(go.Scatter(
                        x=series.index, y=series.to_numpy(), mode="lines", name=f"{label}, {what}",
                        legendgroup=label, line={"color": colours[label], "dash": dash}),
                        row=1, col=col)
    if start is not None:
        fig.add_vline(x=start, line={"dash": "dot", "color": "#777"}, row=1, col=1)
    fig.update_xaxes(title_text="day")
    fig.update_yaxes(title_text="risk of no activity in N days", tickformat=".0%", col=1)
    fig.update_yaxes(tickformat=".0%", col=2)
    fig.update_layout(height=460, **LAYOUT)
    return fig


def timeline_figure(frame: pd.DataFrame, order: Sequence[str]) -> go.Figure:
    """One panel per monitor: share of the variant's runs with the alarm up, by day."""
    fig = make_subplots(rows=1, cols=len(MONITOR_NAMES), shared_yaxes=True,
                        subplot_titles=[f"{m} alarm" for m in MONITOR_NAMES])
    colours = arm_colours(list(order))
    for col, monitor in enumerate(MONITOR_NAMES, start=1):
        rows = frame[(frame["arm_name"] == me.ROWS_OF[monitor])
                     & (frame["metric"] == ALARM[monitor])]
        share = rows.groupby(["variant", "day"])["value"].mean()
        for variant in order:
            if variant not in share.index.get_level_values(0):
                continue
            series = share.loc[variant]
            fig.add_trace(go.Scatter(
                x=series.index, y=series.to_numpy(), mode="lines", line_shape="hv",
                name=variant, legendgroup=variant, showlegend=col == 1,
                line={"color": colours[variant]}), row=1, col=col)
    fig.update_xaxes(title_text="day")
    fig.update_yaxes(range=[-0.05, 1.05], tickformat=".0%", col=1,
                     title_text="runs with the alarm up")
    fig.update_layout(height=380, **LAYOUT)
    return fig


def _cell(mean: float, se: float, percent: bool = True, digits: int = 1) -> str:
    """``+4.2% ± 0.3%`` (a share) or ``0.790 ± 0.004``; the bare mean without a spread."""
    if not np.isfinite(mean):
        return "–"
    text = f"{mean:+.{digits}%}" if percent else f"{mean:.3f}"
    if np.isfinite(se):
        text += f" ± {se:.{digits}%}" if percent else f" ± {se:.3f}"
    return text


def _alarm_cell(row: pd.Series, monitor: str) -> str:
    share, delay = row[f"alarmed_{monitor}"], row[f"delay_{monitor}"]
    word = "false alarms" if row["no_loop"] else "alarmed"
    text = f"{share:.0%} {word}"
    if np.isfinite(row[f"first_{monitor}"]):
        text += f", first day {row[f'first_{monitor}']:.1f}"
    if np.isfinite(delay):
        text += f", delay {delay:+.1f} d"
    return text


def evaluation_table(stats: pd.DataFrame) -> str:
    """Per variant: the niche and mainstream gaps, AUC, the monitors, the holdout's cost."""
    heads = ["variant", "seeds", "niche gap (true − predicted)", "mainstream gap", "AUC",
             "blind spot opened", *[f"{m} monitor" for m in MONITOR_NAMES],
             "holdout cost: CTR", "holdout cost: true utility"]
    rows = []
    for _, r in stats.iterrows():
        cells = [str(r["variant"]), str(r["seeds"]),
                 _cell(r["niche_gap"], r["niche_gap_se"]),
                 _cell(r["mainstream_gap"], r["mainstream_gap_se"]),
                 _cell(r["auc"], r["auc_se"], percent=False),
                 f"{r['diverged']:.0%} of seeds; on {r['blind_days']:.0%} of days",
                 *[_alarm_cell(r, m) for m in MONITOR_NAMES],
                 _cell(r[f"cost_{CTR}"], r[f"cost_{CTR}_se"], digits=2),
                 _cell(r[f"cost_{UTILITY}"], r[f"cost_{UTILITY}_se"], percent=False)]
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    return f'<table class="details"><tr>{head}</tr>{"".join(rows)}</table>'


TABLE_CAPTION = (
    "Mean ± 1 s.e. over seeds. Gaps: true − predicted risk of the scored users, mean over "
    "the days with a fitted model. Blind spot opened: share of seeds whose niche gap "
    f"exceeded {me.MARGIN:.0%} for {me.DAYS} days running, and share of days (mean over "
    f"seeds) on which it exceeded {me.MARGIN:.0%}. Per monitor: share of seeds with "
    "an alarm (for random and the oracle, which have no loop, these are false alarms), mean "
    "first alarm day and mean delay from the blind spot's opening (negative: the alarm came "
    "first). Holdout cost: production − holdout, mean over days.")


def churn_blocks(frame: pd.DataFrame, order: Sequence[str],
                 table: pd.DataFrame | None = None, start: int | None = None) -> list[Block]:
    """The section's blocks from a combined frame (``variant, run, arm_name, day, metric,
    value``); with ``table`` (``monitor_eval.monitor_table``), the evaluation table too."""
    if not (frame["arm_name"] == CHURN_ROWS).any():
        return []
    blocks: list[Block] = [
        ("Churn dashboard against the truth", DASHBOARD_CAPTION,
         dashboard_figure(frame, order, start)),
        ("Monitors' alarms on a timeline", TIMELINE_CAPTION, timeline_figure(frame, order))]
    if table is not None and not table.empty:
        blocks.append(("Monitors: detection delay, false alarms, cost", TABLE_CAPTION,
                       evaluation_table(me.summary(table))))
    return blocks


def run_blocks(metrics: pd.DataFrame, label: str) -> list[Block]:
    """The section for one run's metrics table (empty without a churn dashboard)."""
    frame = metrics.assign(variant=label, run="0", arm_name=metrics["arm"].astype(str))
    if not me.has_dashboard(metrics):
        return []
    return churn_blocks(frame, [label], start=me.divergence_start(metrics))


def sweep_churn_blocks(runs: Sequence[Run], combined: pd.DataFrame,
                       order: Sequence[str]) -> list[Block]:
    """The section for a sweep's runs with a churn dashboard, variants in ``order``."""
    inputs = me.run_inputs(runs)
    if not inputs:
        return []
    variants = [v for v in order if v in {variant for variant, *_ in inputs}]
    return churn_blocks(combined, variants, me.monitor_table(inputs))
