"""Self-contained HTML reports over the tidy metrics table.

The simulator's metrics are one row per ``(day, arm, metric)``; this module turns
that table into a single HTML page of small-multiple line charts, a figure per section
of the metric catalogue (``sim/metrics/catalogue.py``), which also gives each chart its
label and its axis's unit. A headline paragraph above the charts tells the run's story in
numbers (``headline.py``); metrics that stayed constant or empty get one line instead of a
chart (``panels.py``). The page inlines plotly.js once so it opens offline (run
directories get copied to laptops, CI artifacts and email), and it only ever reads the
tidy frame and the catalogue, never simulator state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from recloop.experiments.headline import run_headline_html
from recloop.experiments.page import (  # noqa: F401 (re-exported for the reports)
    Block,
    blocks_html,
    details_table,
    figure_html,
    html_page,
    write_html,
)
from recloop.experiments.panels import Dropped, not_shown_html, split_panels
from recloop.experiments.style import (
    Z95,
    arm_colours,
    band_trace,
    metric_label,
    standard_error_of,
    unit_axis,
    wrap_title,
)
from recloop.sim.metrics.catalogue import CATALOGUE

REQUIRED_COLUMNS: tuple[str, ...] = ("day", "arm", "metric", "value")
SPREAD_COLUMNS: tuple[str, ...] = ("lo", "hi")  # optional: a band across seeds

OTHER_SECTION = "Other"  # metrics the catalogue does not declare (an older run's, say)

N_COLS = 3
ROW_HEIGHT_PX = 260
ROW_GAP_PX = 80
HEADER_PX = 80



def validate_metrics(metrics: pd.DataFrame) -> None:
    """Fail early with the missing column names rather than deep inside plotly."""
    missing = [c for c in REQUIRED_COLUMNS if c not in metrics.columns]
    if missing:
        raise ValueError(
            f"metrics frame is missing required column(s): {', '.join(missing)}; "
            f"expected {', '.join(REQUIRED_COLUMNS)}"
        )


def group_sections(metric_names: Sequence[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Split present metrics into report sections as ``(section, [(metric, label)])``.

    Sections come in the catalogue's order and metrics in their declaration order;
    standard errors are not listed (they are their metric's band). Undeclared metrics
    go to "Other" in sorted order, labelled with their name spelled out in words.
    """
    present = set(metric_names)
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    for section in CATALOGUE.sections:
        items = [(m.name, m.label) for m in CATALOGUE.in_section(section) if m.name in present]
        if items:
            sections.append((section, items))
    other = sorted(m for m in present if m not in CATALOGUE)
    if other:
        sections.append((OTHER_SECTION, [(m, metric_label(m)) for m in other]))
    return sections


def section_figure(
    metrics: pd.DataFrame,
    items: Sequence[tuple[str, str]],
    colours: Mapping[str, str],
    legend_title: str = "arm",
) -> go.Figure:
    """Build one small-multiples figure: a subplot per metric, a line per arm.

    Traces share a ``legendgroup`` per arm and only the first trace of each arm
    shows in the legend, so the legend lists each arm once and toggles it everywhere.
    When the frame has ``lo``/``hi`` columns (a spread across seeds), each line gets a
    shaded band behind it.
    """
    n_rows = -(-len(items) // N_COLS)
    fig = make_subplots(
        rows=n_rows,
        cols=N_COLS,
        subplot_titles=[wrap_title(title) for _, title in items],
        horizontal_spacing=0.07,
        vertical_spacing=ROW_GAP_PX / (ROW_HEIGHT_PX * n_rows) if n_rows > 1 else 0.0,
    )
    groups = dict(tuple(metrics.groupby(["metric", "arm"], sort=False)))
    legend_shown: set[str] = set()
    for i, (metric, _) in enumerate(items):
        row, col = divmod(i, N_COLS)
        values = metrics.loc[metrics["metric"] == metric, "value"]
        fig.update_yaxes(unit_axis(metric, values), row=row + 1, col=col + 1)
        for arm, colour in colours.items():
            series = groups.get((metric, arm))
            if series is None:
                continue
            for trace in _arm_traces(series, arm, colour, show_legend=arm not in legend_shown):
                fig.add_trace(trace, row=row + 1, col=col + 1)
            legend_shown.add(arm)
    fig.update_xaxes(title_text="day", title_standoff=4)
    fig.update_layout(
        height=HEADER_PX + ROW_HEIGHT_PX * n_rows,
        hovermode="x unified",
        template="plotly_white",
        margin={"l": 50, "r": 20, "t": 40, "b": 40},
        legend={"title": {"text": legend_title}},
    )
    return fig


def _arm_traces(
    series: pd.DataFrame, arm: str, colour: str, *, show_legend: bool
) -> list[go.Scatter]:
    """One arm's line for one metric, behind it its band if the frame has one."""
    line = _arm_trace(series, arm, colour, show_legend=show_legend)
    if "lo" not in series or not (series["hi"] > series["lo"]).any():
        return [line]
    return [band_trace(series["day"], series["lo"], series["hi"], arm, colour), line]


def _arm_trace(series: pd.DataFrame, arm: str, colour: str, *, show_legend: bool) -> go.Scatter:
    """One arm's line for one metric; ``legendgroup`` links it to the arm's other lines."""
    return go.Scatter(
        x=series["day"].to_numpy(),
        y=series["value"].to_numpy(),
        mode="lines" if len(series) > 1 else "markers",  # a 1-day run is still visible
        name=arm,
        legendgroup=arm,
        showlegend=show_legend,
        line={"color": colour, "width": 2},
    )


def _tidy(metrics: pd.DataFrame) -> pd.DataFrame:
    """Normalise dtypes and order by day so lines are drawn left to right."""
    spread = [c for c in SPREAD_COLUMNS if c in metrics.columns]
    tidy = metrics.loc[:, [*REQUIRED_COLUMNS, *spread]].copy()
    tidy["arm"] = tidy["arm"].astype(str)
    tidy["metric"] = tidy["metric"].astype(str)
    tidy["day"] = pd.to_numeric(tidy["day"])
    for col in ("value", *spread):
        tidy[col] = pd.to_numeric(tidy[col], errors="coerce").astype(float)
    return tidy.sort_values(["metric", "arm", "day"], kind="stable")


def with_intervals(tidy: pd.DataFrame) -> pd.DataFrame:
    """Turn standard-error rows into a 95% band (``lo``/``hi``) around their metric.

    Only when the frame has no band yet (a cross-seed frame already carries the seeds'
    spread); the standard-error rows themselves are never drawn as lines.
    """
    names = tidy["metric"]
    of = names.map({name: standard_error_of(name) for name in names.unique()})
    is_se = of.notna()
    rest = tidy[~is_se]
    if "lo" in tidy.columns or not is_se.any():
        return rest
    se = tidy[is_se].assign(metric=of[is_se]).set_index(["day", "arm", "metric"])["value"]
    half = Z95 * rest.set_index(["day", "arm", "metric"]).index.map(se).to_numpy(dtype=float)
    return rest.assign(lo=rest["value"] - half, hi=rest["value"] + half)


def build_sections(
    metrics: pd.DataFrame, legend_title: str = "arm"
) -> tuple[list[tuple[str, go.Figure]], list[Dropped]]:
    """Build one figure per report section, in page order, and list the metrics left out.

    Separate from the HTML so callers (and tests) can inspect or restyle the figures.
    Arm colours are assigned once here so they match across sections. Optional ``lo``
    and ``hi`` columns draw a band around each line (a cross-seed report uses variants
    as arms); otherwise standard-error rows give a 95% confidence band. Metrics constant
    over days and arms, or empty, get no subplot (``panels.split_panels``).
    """
    validate_metrics(metrics)
    if metrics.empty:
        return [], []
    tidy, dropped = split_panels(with_intervals(_tidy(metrics)))
    colours = arm_colours(list(pd.unique(tidy["arm"])))
    sections = group_sections(list(pd.unique(tidy["metric"])))
    figures = [
        (title, section_figure(tidy, items, colours, legend_title)) for title, items in sections
    ]
    return figures, dropped


def build_figures(metrics: pd.DataFrame, legend_title: str = "arm") -> list[tuple[str, go.Figure]]:
    """The section figures of ``build_sections``, without the list of what was left out."""
    return build_sections(metrics, legend_title)[0]


def build_report_html(
    metrics: pd.DataFrame, title: str, details: Mapping[str, str] | None = None, *,
    lead: str = "", extra: Sequence[Block] = (),
) -> str:
    """Render the metrics table as one offline HTML page.

    Args:
        metrics: Tidy frame with columns ``day, arm, metric, value``.
        title: Page heading (escaped).
        details: Optional run facts (policy, seed, days, ...) shown as a table.
        lead: HTML above everything (a warning the reader must see first).
        extra: Sections shown before the metric sections (e.g. the check of a calibrated
            world against its data).

    Returns:
        A complete HTML document with plotly.js inlined exactly once.

    Raises:
        ValueError: If required columns are missing.
    """
    figures, dropped = build_sections(metrics)
    parts = [lead, run_headline_html(metrics, (details or {}).get("policy")),
             details_table(details)]
    if not figures:
        parts.append('<p class="empty">No data: the metrics table is empty.</p>')
    parts.append(not_shown_html(dropped))
    parts += blocks_html([*extra, *((section, "", fig) for section, fig in figures)], True)
    return html_page(title, "\n".join(parts))


def write_report(
    metrics: pd.DataFrame, path: Path, title: str, details: Mapping[str, str] | None = None,
    *, lead: str = "", extra: Sequence[Block] = (),
) -> Path:
    """Write the one-run report atomically.

    Returns:
        The path written.
    """
    return write_html(build_report_html(metrics, title, details, lead=lead, extra=extra), path)
