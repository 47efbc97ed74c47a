"""How every recloop figure looks and what it calls things: colours, layout, labels, units.

The run report, the sweep report, the A/B page, the divergence table, the trade-off curve
and the registry timeline all read these, so a metric has one label (from the metric
catalogue) and one axis format wherever it is drawn.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from recloop.sim.metrics.catalogue import CATALOGUE, SE

Z95 = 1.96  # a standard error is drawn as the 95% band of its metric, not as a line
TITLED_UNITS: tuple[str, ...] = ("bits", "titles", "utility")  # units worth an axis title
SI_UNITS: tuple[str, ...] = ("count",)  # 12k, 1.2M read well; 5m (0.005) or 2µ do not
PERCENT_UNITS: tuple[str, ...] = ("share", "rate")  # fractions people read as percentages
TITLE_WIDTH = 40  # characters a third of the page holds as a subplot title
PALETTE: tuple[str, ...] = tuple(qualitative.Plotly) + tuple(qualitative.Dark24)
LAYOUT: dict[str, object] = {  # the sweep page's figures share one look
    "template": "plotly_white", "margin": {"l": 50, "r": 20, "t": 50, "b": 40},
}


def arm_colours(arms: Sequence[str]) -> dict[str, str]:
    """Fix one colour per arm so an arm looks the same in every subplot and section."""
    return {arm: PALETTE[i % len(PALETTE)] for i, arm in enumerate(arms)}


def metric_label(metric: str) -> str:
    """The metric's label from the catalogue; an undeclared one (an older run's) is spelled
    out from its name, so no page shows ``snake_case``."""
    if metric in CATALOGUE:
        return CATALOGUE[metric].label
    words = metric.replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else metric


def wrap_title(label: str, width: int = TITLE_WIDTH) -> str:
    """Break a long subplot title over lines so it never runs into its neighbour."""
    return "<br>".join(textwrap.wrap(label, width)) or label


def is_percent(metric: str) -> bool:
    """Whether the metric is a share or a rate, shown as a percentage everywhere."""
    return metric in CATALOGUE and CATALOGUE[metric].unit in PERCENT_UNITS


def format_value(metric: str, value: float) -> str:
    """One number as a table cell or a sentence shows it: ``7.5%``, ``12,345``, ``0.153``."""
    if value is None or not np.isfinite(value):
        return "–"
    if is_percent(metric):
        return f"{value:.2%}" if 0 < abs(value) < 0.01 else f"{value:.1%}"
    if metric in CATALOGUE and CATALOGUE[metric].unit in SI_UNITS:
        return f"{value:,.0f}" if abs(value) >= 100 or value == round(value) else f"{value:.3g}"
    return f"{value:.3g}"


def percent_tickformat(values: Sequence[float] | None) -> str:
    """``.0%`` for wide ranges, more decimals when the data span a narrow band, so
    neighbouring ticks never print the same label (1.8%, 1.9% rather than 2%, 2%)."""
    finite = np.asarray([] if values is None else values, dtype=float)
    finite = finite[np.isfinite(finite)]
    span = float(finite.max() - finite.min()) if finite.size else 0.0
    if span <= 0:
        return ".1%"
    step = span * 100 / 5  # about five ticks, in percentage points
    return f".{min(3, max(0, math.ceil(-math.log10(step))))}%"


def standard_error_of(metric: str) -> str | None:
    """The metric that ``metric`` is the standard error of, or None if it is one itself.

    Declared metrics say so (``se_of``); an undeclared name (an older run's) is read by
    the catalogue's naming rule, its metric's name plus ``SE``.
    """
    if metric in CATALOGUE:
        return CATALOGUE[metric].se_of
    return metric.removesuffix(SE) if metric.endswith(SE) else None


def unit_axis(metric: str, values: Sequence[float] | None = None) -> dict[str, object]:
    """Axis settings for the metric's unit: shares and rates as percentages (with as many
    decimals as ``values``' spread needs), no SI prefixes on fractions (a Gini of 0.005 is
    not "5m"), the unit as the title where the label needs it."""
    unit = CATALOGUE[metric].unit if metric in CATALOGUE else ""
    if unit in PERCENT_UNITS:
        return {"tickformat": percent_tickformat(values), "hoverformat": ".2%"}
    axis: dict[str, object] = {} if unit in SI_UNITS else {"exponentformat": "none"}
    if unit in TITLED_UNITS:
        axis["title"] = {"text": unit}
    return axis


def band_trace(
    x: pd.Series, lo: pd.Series, hi: pd.Series, group: str, colour: str
) -> go.Scatter:
    """A filled polygon from ``lo`` to ``hi``: one trace, so it toggles with its line."""
    xs = [*x.to_numpy(), *x.to_numpy()[::-1]]
    ys = [*hi.to_numpy(), *lo.to_numpy()[::-1]]
    return go.Scatter(
        x=xs, y=ys, fill="toself", fillcolor=translucent(colour), mode="none",
        name=f"{group} (band)", legendgroup=group, showlegend=False, hoverinfo="skip",
    )


def translucent(colour: str, alpha: float = 0.18) -> str:
    """``#RRGGBB`` → ``rgba(r,g,b,alpha)`` so a band never hides the lines under it."""
    r, g, b = (int(colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"
