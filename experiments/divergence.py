"""Do offline metrics order policies the way users do? The divergence summary of a sweep.

For each variant: the mean offline NDCG@k of its nightly candidates (held-out next day,
point in time) beside its online outcomes over the last days. Kendall's tau between the
offline ordering and each online ordering says how far a team choosing by the offline
number would be led astray: 1 = same order, 0 = unrelated, -1 = reversed.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy.stats import kendalltau

from recloop.experiments.aggregate import NOT_SERVING
from recloop.experiments.style import format_value, is_percent, metric_label, unit_axis
from recloop.sim.metrics.catalogue import ACTIVE_SHARE, COMPLETION, CTR, OFFLINE_NDCG, UTILITY

OFFLINE = OFFLINE_NDCG
ONLINE: tuple[str, ...] = (CTR, COMPLETION, UTILITY, ACTIVE_SHARE)  # the last is retention
FINAL_DAYS = 10


def divergence_table(combined: pd.DataFrame) -> pd.DataFrame:
    """One row per variant (per arm, in A/B runs): mean offline NDCG over all nights, online
    metrics over the last days, each averaged over the variant's runs (seeds)."""
    serving = combined[~combined["arm_name"].isin(NOT_SERVING)]
    offline = serving[serving["metric"] == OFFLINE].groupby(["arm", "run"])["value"].mean()
    online = serving[serving["metric"].isin(ONLINE)]
    last = online.groupby("run")["day"].transform("max")
    recent = online[online["day"] > last - FINAL_DAYS]
    per_run = recent.pivot_table(index=["arm", "run"], columns="metric", values="value")
    per_run[OFFLINE] = offline
    return per_run.groupby("arm").mean().rename_axis("variant")


def kendall(table: pd.DataFrame) -> dict[str, float]:
    """Kendall's tau between the offline column and each online column (NaN if undefined)."""
    out = {}
    for metric in ONLINE:
        if metric in table and table[OFFLINE].notna().sum() >= 2:
            both = table[[OFFLINE, metric]].dropna()
            out[metric] = float(kendalltau(both[OFFLINE], both[metric]).statistic)
    return out


def divergence_html(table: pd.DataFrame, order: Sequence[str]) -> str:
    """The table with each column's rank among variants, and the tau row underneath."""
    taus = kendall(table)
    cols = [OFFLINE, *[m for m in ONLINE if m in table]]
    ranks = table[cols].rank(ascending=False)
    head = "".join(f"<th>{html.escape(c)}</th>"
                   for c in ["variant", *map(metric_label, cols)])
    rows = []
    for variant in [v for v in order if v in table.index]:
        cells = [f"{_cell(c, table.at[variant, c])} (#{int(ranks.at[variant, c])})"
                 if pd.notna(table.at[variant, c]) else "–" for c in cols]
        rows.append("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in [variant, *cells])
                    + "</tr>")
    tau_cells = ["Kendall τ vs offline", "1"]
    tau_cells += [f"{taus.get(m, float('nan')):.2f}" for m in cols[1:]]
    rows.append("<tr>" + "".join(f"<th>{html.escape(x)}</th>" for x in tau_cells) + "</tr>")
    return f'<table class="details"><tr>{head}</tr>{"".join(rows)}</table>'


def _cell(metric: str, value: float) -> str:
    """A percentage for shares and rates (CTR 5.3%), four significant digits otherwise."""
    return format_value(metric, value) if is_percent(metric) else f"{value:.4g}"


def divergence_figure(table: pd.DataFrame, colours: dict[str, str]) -> go.Figure:
    """Offline NDCG (x) against each online outcome (y), one marker per variant."""
    metrics = [m for m in ONLINE if m in table]
    titles = [metric_label(m) for m in metrics]
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=titles)
    for col, metric in enumerate(metrics, start=1):
        for variant, row in table.iterrows():
            fig.add_trace(go.Scatter(
                x=[row[OFFLINE]], y=[row[metric]], mode="markers", name=str(variant),
                legendgroup=str(variant), showlegend=col == 1,
                marker={"size": 11, "color": colours.get(str(variant))},
            ), row=1, col=col)
        fig.update_xaxes(title_text=metric_label(OFFLINE), row=1, col=col)
        fig.update_yaxes(unit_axis(metric), row=1, col=col)
    fig.update_layout(height=360, legend_title_text="variant")
    return fig
