"""How the headline metrics move with each swept parameter, against fixed yardsticks.

One figure per swept parameter: a subplot per headline metric, the parameter on the x
axis, a line per value of the other parameters, means over seeds with ± 1 s.e. bars. When
the sweep ran the ``random`` or the ``oracle`` policy, their levels are dashed horizontal
lines in every subplot: a policy's CTR of 5% means little until one sees that random
serving gets 4% and an all-knowing one 9%. The summary table's cells live here too: the
same numbers, as text.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from recloop.experiments import aggregate as ag
from recloop.experiments import runs as rl
from recloop.experiments.style import (
    LAYOUT,
    PALETTE,
    format_value,
    is_percent,
    metric_label,
    unit_axis,
)

REFERENCE_POLICIES: dict[str, str] = {"random": "#7f7f7f", "oracle": "#2ca02c"}  # line colours
N_COLS = 3


def parameter_figure(per_run: pd.DataFrame, runs: Sequence[rl.Run], key: str,
                     others: Sequence[str]) -> go.Figure:
    """Headline metrics against one swept parameter; a line per value of the other ones.

    Numbers go on a numeric axis (uneven steps stay uneven); anything else is categorical
    and drawn as unjoined markers, since a line between categories would suggest an order.
    """
    stats = ag.seed_stats(ag.with_parameter(per_run, runs, key, others), ["line", key])
    stats = stats.sort_values(key, key=lambda s: s.map(rl.value_key), kind="stable")
    numeric = all(rl.as_number(v) is not None for v in stats[key])
    metrics = [m for m in ag.HEADLINE_METRICS if m in set(stats["metric"])]
    n_rows = -(-len(metrics) // N_COLS)
    fig = make_subplots(rows=n_rows, cols=N_COLS,
                        subplot_titles=[metric_label(m) for m in metrics])
    lines = list(pd.unique(stats["line"]))
    for i, metric in enumerate(metrics):
        at = {"row": i // N_COLS + 1, "col": i % N_COLS + 1}
        fig.update_yaxes(unit_axis(metric, stats.loc[stats["metric"] == metric, "mean"]), **at)
        for j, line in enumerate(lines):
            sub = stats[(stats["metric"] == metric) & (stats["line"] == line)]
            trace = _error_bar_trace(sub, key, numeric, line, PALETTE[j % len(PALETTE)])
            trace.showlegend = i == 0
            fig.add_trace(trace, **at)
    add_reference_lines(fig, reference_levels(per_run, runs), metrics)
    fig.update_xaxes(title_text=key, type="linear" if numeric else "category")
    fig.update_layout(height=120 + 300 * n_rows, **LAYOUT,
                      legend={"title": {"text": " ".join(others)}})
    return fig


def _error_bar_trace(sub: pd.DataFrame, key: str, numeric: bool, line: str,
                     colour: str) -> go.Scatter:
    """Means over seeds with ± 1 s.e. bars (zero-length for a single seed)."""
    return go.Scatter(
        x=sub[key].astype(float) if numeric else sub[key], y=sub["mean"],
        error_y={"type": "data", "array": sub["se"].fillna(0.0), "visible": True},
        mode="lines+markers" if numeric else "markers", name=line, legendgroup=line,
        marker={"color": colour, "size": 8}, line={"color": colour},
        customdata=sub[["n", "se"]],
        hovertemplate="%{y:.4g} ± %{customdata[1]:.2g} (n=%{customdata[0]})",
    )


def run_policy(run: rl.Run) -> str | None:
    """The policy a run served with, from its summary or else its overrides."""
    policy = run.summary.get("policy") if isinstance(run.summary, dict) else None
    return str(policy) if policy is not None else run.overrides.get("policy")


def reference_levels(per_run: pd.DataFrame, runs: Sequence[rl.Run]) -> dict[str, pd.Series]:
    """Per reference policy in the sweep, each headline metric's mean over its runs."""
    policy_of = {str(r.path): run_policy(r) for r in runs}
    policies = per_run["run"].map(policy_of)
    return {
        name: per_run[policies == name].groupby("metric")["value"].mean()
        for name in REFERENCE_POLICIES if (policies == name).any()
    }


def add_reference_lines(fig: go.Figure, levels: Mapping[str, pd.Series],
                        metrics: Sequence[str]) -> None:
    """A dashed horizontal line per reference policy in each metric's subplot, labelled."""
    for i, metric in enumerate(metrics):
        for name, level in levels.items():
            y = level.get(metric, np.nan)
            if not np.isfinite(y):
                continue
            fig.add_hline(y=float(y), row=i // N_COLS + 1, col=i % N_COLS + 1,
                          line={"dash": "dash", "color": REFERENCE_POLICIES[name], "width": 1.5},
                          annotation={"text": name, "font": {"color": REFERENCE_POLICIES[name]}},
                          annotation_position="top left")


def summary_table(stats: pd.DataFrame, order: Sequence[str]) -> str:
    """Variant rows, headline-metric columns, cells ``mean ± s.e.`` over seeds."""
    metrics = [m for m in ag.HEADLINE_METRICS if m in set(stats["metric"])]
    cells = stats.set_index(["variant", "metric"])
    head = "".join(f"<th>{html.escape(m)}</th>"
                   for m in ["variant", "seeds", *map(metric_label, metrics)])
    rows = []
    for variant in order:
        sub = cells.loc[variant] if variant in cells.index.get_level_values(0) else None
        n = int(sub["n"].max()) if sub is not None else 0
        values = [mean_se(sub, m) for m in metrics]
        tds = "".join(f"<td>{html.escape(v)}</td>" for v in [variant, str(n), *values])
        rows.append(f"<tr>{tds}</tr>")
    return f'<table class="details"><tr>{head}</tr>{"".join(rows)}</table>'


def mean_se(sub: pd.DataFrame | None, metric: str) -> str:
    """``7.5% ± 0.2%`` or ``0.123 ± 0.004``; the bare mean when there is no spread."""
    if sub is None or metric not in sub.index:
        return "–"
    mean, se = sub.loc[metric, "mean"], sub.loc[metric, "se"]
    if is_percent(metric):
        text, spread = format_value(metric, mean), f"{se:.1%}" if se >= 0.001 else f"{se:.2%}"
    else:
        text, spread = f"{mean:.4g}", f"{se:.2g}"
    return text if pd.isna(se) else f"{text} ± {spread}"
