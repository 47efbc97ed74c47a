"""The trade-off curve of a numeric sweep: exposure concentration against clicks.

A fix for the feedback loop (exploration, diversity) buys a spread-out catalog with some
clicks; plotting concentration against CTR, one point per swept value joined in order,
shows the whole price list at once, with each point's seed error bars in both directions.
Two measures of concentration side by side: the Gini of impressions (the whole
distribution) and the top-1% items' share (the head only), which can disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from recloop.experiments import aggregate as ag
from recloop.experiments import runs as rl
from recloop.experiments.style import LAYOUT, PALETTE, metric_label, unit_axis
from recloop.sim.metrics.catalogue import CTR, GINI, TOP1_SHARE

X_METRICS: tuple[str, ...] = (GINI, TOP1_SHARE)  # concentration, whole and head
Y_METRIC = CTR


def tradeoff_figure(per_run: pd.DataFrame, runs: Sequence[rl.Run], key: str,
                    others: Sequence[str]) -> go.Figure | None:
    """Concentration (x) against CTR (y) per value of ``key``; None if ``key`` is not numeric."""
    stats = ag.seed_stats(ag.with_parameter(per_run, runs, key, others), ["line", key])
    if not all(rl.as_number(v) is not None for v in stats[key]):
        return None
    wide = stats.pivot_table(index=["line", key], columns="metric", values=["mean", "se"])
    fig = make_subplots(rows=1, cols=len(X_METRICS), shared_yaxes=True,
                        subplot_titles=[metric_label(m) for m in X_METRICS])
    for i, line in enumerate(dict.fromkeys(stats["line"])):
        sub = wide.loc[line].sort_index(key=lambda s: s.map(float))
        colour = PALETTE[i % len(PALETTE)]
        for col, metric in enumerate(X_METRICS, start=1):
            fig.add_trace(go.Scatter(
                x=sub[("mean", metric)], y=sub[("mean", Y_METRIC)],
                error_x={"type": "data", "array": sub[("se", metric)].fillna(0.0)},
                error_y={"type": "data", "array": sub[("se", Y_METRIC)].fillna(0.0)},
                text=[f"{key}={v}" for v in sub.index], textposition="top right",
                mode="lines+markers+text", name=line, legendgroup=line, showlegend=col == 1,
                line={"color": colour}, marker={"size": 9, "color": colour},
            ), row=1, col=col)
    for col, metric in enumerate(X_METRICS, start=1):
        fig.update_xaxes(unit_axis(metric), col=col)
    fig.update_yaxes(unit_axis(Y_METRIC))
    fig.update_yaxes(title_text=metric_label(Y_METRIC), col=1)
    fig.update_layout(height=460, **LAYOUT, legend_title_text=" ".join(others))
    return fig
