"""The cross-run page's sections: what a sweep (or one run) shows, in reading order.

Seeds of one configuration are repeated measurements, so sections show variants (overrides
minus ``seed``) as the mean over seeds with its spread: bands over days, error bars against
swept parameters, mean ± s.e. in the summary table. A sensitivity sweep gets its verdicts
instead; one run in a calibrated world gets its check against the data first.
``experiments/report_cli.py`` turns these into the page and writes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from recloop.experiments import aggregate as ag
from recloop.experiments import divergence as dv
from recloop.experiments import runs as rl
from recloop.experiments.abreport import ab_blocks
from recloop.experiments.churn_report import sweep_churn_blocks
from recloop.experiments.data_match_report import data_match_blocks
from recloop.experiments.headline import sweep_headline_html, sweep_stories
from recloop.experiments.lorenz import lorenz_curve, lorenz_gini, mean_lorenz
from recloop.experiments.panels import not_shown_html
from recloop.experiments.parameters import parameter_figure, summary_table
from recloop.experiments.registry_plot import registry_figure
from recloop.experiments.report import Block, build_sections
from recloop.experiments.sensitivity import is_sensitivity_sweep
from recloop.experiments.sensitivity_report import sensitivity_blocks
from recloop.experiments.style import LAYOUT, arm_colours
from recloop.experiments.tradeoff import tradeoff_figure

BAND_NOTE = "Line: mean over seeds; shaded band: min–max over seeds."
SE_NOTE = "Error bars: ± 1 standard error over seeds (s.d. / √n; none with one seed)."


LORENZ_WINDOWS = (  # (title, Run attribute, legend): each subplot keeps its own legend
    ("final day", "exposure_final", "legend"),
    ("whole run", "exposure_total", "legend2"),
)


def lorenz_figure(
    runs: Sequence[rl.Run], order: Sequence[str], colours: dict[str, str]
) -> go.Figure:
    """Final-day and whole-run Lorenz curves, one per variant (mean over seeds), Gini in legend."""
    titles = [f"Item exposure, {title}" for title, _, _ in LORENZ_WINDOWS]
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles)
    for col, (_, attr, legend) in enumerate(LORENZ_WINDOWS, start=1):
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="equality",
                                 line={"color": "#999", "dash": "dash"}, legend=legend),
                      row=1, col=col)
        for variant in order:
            curves = [lorenz_curve(getattr(r, attr)) for r in runs if r.variant == variant]
            x, y = mean_lorenz(curves)
            fig.add_trace(go.Scatter(
                x=x, y=y, mode="lines", legend=legend, line={"color": colours[variant]},
                name=f"{variant} (Gini {lorenz_gini(x, y):.3f})",
            ), row=1, col=col)
    fig.update_xaxes(title_text="share of items, least shown first", range=[0, 1])
    fig.update_yaxes(title_text="share of impressions", range=[0, 1])
    corner = {"yanchor": "top", "y": 0.98, "bgcolor": "rgba(255,255,255,0.8)"}
    fig.update_layout(height=480, **LAYOUT, legend={**corner, "x": 0.01},
                      legend2={**corner, "x": 0.56})
    return fig


def day_sections(combined: pd.DataFrame) -> list[Block]:
    """The one-run report's small multiples, with variants as arms and seed bands; the
    metrics left out (constant or empty in every run) are named in one line."""
    figures, dropped = build_sections(ag.seed_bands(combined), legend_title="variant")
    blocks: list[Block] = [(title, BAND_NOTE, fig) for title, fig in figures]
    if dropped:
        blocks.append(("Not charted", "", not_shown_html(dropped, "every run here")))
    return blocks


def sweep_blocks(runs: list[rl.Run], keys: list[str]) -> list[Block]:
    """Every section of the cross-run page, in reading order."""
    combined = ag.combined_metrics(runs)
    variants = rl.variant_order(runs, keys)
    order = ag.label_order(combined, variants)
    colours = arm_colours(order)
    per_run = ag.final_means(combined)
    blocks: list[Block] = [(
        "Summary per variant",
        (f"Each run's mean over its last {ag.FINAL_DAYS} days, then mean ± 1 standard error "
         "over seeds. Compare variants row by row; overlapping ± ranges are not a difference."),
        summary_table(ag.seed_stats(per_run, ["variant"]), order),
    )]
    blocks += ab_blocks(runs)
    blocks += sweep_churn_blocks(runs, combined, variants)
    blocks += divergence_blocks(combined, order, colours)
    for key in keys:
        others = [k for k in keys if k != key]
        fig = parameter_figure(per_run, runs, key, others)
        blocks.append((f"Headline metrics against {key}",
                       f"Mean over seeds of the last-{ag.FINAL_DAYS}-day means. {SE_NOTE}", fig))
        curve = tradeoff_figure(per_run, runs, key, others)
        if curve is not None:
            blocks.append((f"Trade-off curve across {key}", (
                f"Each point one value of {key}: concentration (x; left, the Gini of "
                "impressions; right, the top-1% items' share) against CTR (y), last-"
                f"{ag.FINAL_DAYS}-day means over seeds, ± 1 s.e. both ways. Left is a less "
                "concentrated catalog, up is more clicks."), curve))
    blocks.append((
        "Exposure inequality (Lorenz curves)",
        ("Items from least to most shown against their cumulative share of impressions, on the "
         "final day (left) and over the whole run (right), averaged over seeds. The further a "
         "curve sags below the diagonal, the fewer items take the impressions; legend: mean "
         "Gini. All catalog items count, unreleased ones too, so the Gini sits a little above "
         "the daily gini metric (released items only). An A/B run's curve pools its arms."),
        lorenz_figure(runs, variants, arm_colours(variants)),
    ))
    blocks += day_sections(combined)
    blocks.append((
        "Model registry timeline",
        ("First seed of each variant. Line: model version serving each day; markers: the "
         "night's candidate and what became of it; red shading: model-server outage time."),
        registry_figure(runs, variants),
    ))
    return blocks


def divergence_blocks(combined: pd.DataFrame, order: Sequence[str],
                      colours: dict[str, str]) -> list[Block]:
    """Offline against online ordering of the variants, when there is something to order."""
    table = dv.divergence_table(combined)
    if len(table) < 2 or table[dv.OFFLINE].notna().sum() < 2:
        return []
    caption = ("Mean offline NDCG@k of each variant's nightly candidates (held-out next day) "
               f"beside its online outcomes over the last {dv.FINAL_DAYS} days, both averaged "
               "over seeds; (#n) is the rank. Kendall's τ: 1 = offline orders variants as users "
               "do, 0 = unrelated, −1 = reversed.")
    return [("Offline versus online", caption, dv.divergence_html(table, order)),
            ("Offline versus online, plotted", "One marker per variant.",
             dv.divergence_figure(table, colours))]


def page_blocks(runs: list[rl.Run], keys: list[str], path: Path) -> tuple[list[Block], str]:
    """The page's sections and lead: a sensitivity sweep's verdicts, or the sweep sections
    (preceded, for one run in a calibrated world, by its check against the data)."""
    if is_sensitivity_sweep(runs):
        return sensitivity_blocks(runs), ""
    combined = ag.combined_metrics(runs)
    order = ag.label_order(combined, rl.variant_order(runs, keys))
    lead = sweep_headline_html(sweep_stories(combined, order))
    if len(runs) != 1:
        return sweep_blocks(runs, keys), lead
    banner, checks = data_match_blocks(runs[0].path, runs[0].config)
    return [*checks, *sweep_blocks(runs, keys)], banner + lead
