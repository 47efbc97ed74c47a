"""The trade-off curve of a numeric sweep: exposure concentration against clicks.

A fix for the feedback loop (exploration, diversity) buys a spread-out catalog with some
clicks; plotting top-1% share against CTR, one point per swept value joined in order,
shows the whole price list at once, with each point's seed error bars in both directions.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from experiments import runs as rl
from experiments.report import PALETTE

X_METRIC, Y_METRIC = "top1_share", "ctr"
AXIS_TITLES = {"top1_share": "top-1% items' share of impressions", "ctr": "CTR"}


def tradeoff_figure(per_run: pd.DataFrame, runs: Sequence[rl.Run], key: str,
                    others: Sequence[str]) -> go.Figure | None:
    """Concentration (x) against CTR (y) per value of ``key``; None if ``key`` is not numeric."""
    stats = rl.seed_stats(rl.with_parameter(per_run, runs, key, others), ["line", key])
    if not all(rl.as_number(v) is not None for v in stats[key]):
        return None
    wide = stats.pivot_table(index=["line", key], columns="metric", values=["mean", "se"])
    fig = go.Figure()
    for i, line in enumerate(dict.fromkeys(stats["line"])):
        sub = wide.loc[line].sort_index(key=lambda s: s.map(float))
        colour = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatter(
            x=sub[("mean", X_METRIC)], y=sub[("mean", Y_METRIC)],
            error_x={"type": "data", "array": sub[("se", X_METRIC)].fillna(0.0)},
            error_y={"type": "data", "array": sub[("se", Y_METRIC)].fillna(0.0)},
            text=[f"{key}={v}" for v in sub.index], textposition="top right",
            mode="lines+markers+text", name=line, line={"color": colour},
            marker={"size": 9, "color": colour},
        ))
    fig.update_layout(height=460, template="plotly_white", legend_title_text=" ".join(others),
                      xaxis_title=AXIS_TITLES[X_METRIC], yaxis_title=AXIS_TITLES[Y_METRIC])
    return fig
