"""The model registry's timeline: which version served each day, and every night's verdict.

One row per variant (its first seed, first arm): the serving version as a step line, each
night's candidate as a marker by status (deployed, rejected by the gate, validation failed,
crashed, rolled back), and model-server outages shaded, darker for longer.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from recloop.experiments import runs as rl
from recloop.experiments.report import ROW_GAP_PX
from recloop.experiments.style import LAYOUT, metric_label
from recloop.sim.metrics.catalogue import MODEL_VERSION, OUTAGE

STATUS_STYLE: dict[str, tuple[str, str, str]] = {  # status: (legend label, symbol, colour)
    "deployed": ("deployed", "circle", "#2ca02c"),
    "rejected": ("rejected by gate", "x", "#ff7f0e"),
    "validation_failed": ("data validation failed", "diamond", "#9467bd"),
    "job_failed": ("nightly job crashed", "triangle-up", "#d62728"),
    "rolled_back": ("rolled back", "square", "#111111"),
}
OUTAGE_COLOUR = "#d62728"


def registry_figure(runs: Sequence[rl.Run], order: Sequence[str]) -> go.Figure:
    """Model versions over nights for the first seed (and first arm) of each variant,
    candidates by status."""
    firsts = [next(r for r in runs if r.variant == v) for v in order]
    height = 220 * len(firsts)
    fig = make_subplots(
        rows=len(firsts), cols=1, shared_xaxes=True,
        vertical_spacing=min(ROW_GAP_PX / height, 0.3) if len(firsts) > 1 else 0,
        subplot_titles=[f"{r.variant} (seed {r.summary.get('seed')})" for r in firsts],
    )
    shown: set[str] = set()
    for row, run in enumerate(firsts, start=1):
        for trace in _registry_traces(run, shown):
            fig.add_trace(trace, row=row, col=1)
        for day, share in _outages(run.metrics):
            fig.add_vrect(x0=day - 0.5, x1=day + 0.5, fillcolor=OUTAGE_COLOUR, line_width=0,
                          opacity=min(0.1 + 0.6 * share, 0.7), row=row, col=1)
    if any(_outages(r.metrics) for r in firsts):  # shapes have no legend entry: add one
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers",
                                 name=f"{metric_label(OUTAGE)} (darker: longer)",
                                 marker={"symbol": "square", "color": OUTAGE_COLOUR,
                                         "opacity": 0.4}))
    fig.update_xaxes(title_text="day (a night's candidate serves from that day)", row=len(firsts))
    fig.update_yaxes(title_text=metric_label(MODEL_VERSION))
    fig.update_layout(height=100 + height, **LAYOUT)
    return fig


def _registry_traces(run: rl.Run, shown: set[str]) -> list[go.Scatter]:
    """The serving-version step line and one marker trace per candidate status."""
    first_arm = run.metrics["arm"].iloc[0]
    served = run.metrics[(run.metrics["metric"] == MODEL_VERSION)
                         & (run.metrics["arm"] == first_arm)].sort_values("day")
    traces = [go.Scatter(x=served["day"], y=served["value"], mode="lines", line_shape="hv",
                         line={"color": "#888"}, name="serving", legendgroup="serving",
                         showlegend="serving" not in shown)]
    shown.add("serving")
    reg = run.registry
    if "arm" in reg and reg["arm"].nunique() > 1:  # A/B or shadow: the first arm's models
        reg = reg[reg["arm"] == reg["arm"].iloc[0]]
    for status, (label, symbol, colour) in STATUS_STYLE.items():
        sub = reg[reg["status"] == status] if "status" in reg else reg
        if sub.empty:
            continue
        traces.append(go.Scatter(
            x=sub["night"], y=sub["version"], mode="markers", name=label, legendgroup=status,
            showlegend=status not in shown, text=sub["problems"].map("; ".join),
            marker={"symbol": symbol, "color": colour, "size": 10},
            hovertemplate="v%{y} night %{x}: " + label + "<br>%{text}<extra></extra>",
        ))
        shown.add(status)
    return traces


def _outages(metrics: pd.DataFrame) -> list[tuple[int, float]]:
    """``(day, share of the day down)`` for days with any model-server outage."""
    sub = metrics[(metrics["metric"] == OUTAGE) & (metrics["value"] > 0)]
    return list(zip(sub["day"].astype(int), sub["value"].astype(float), strict=True))
