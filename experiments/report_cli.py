"""``recloop-report PATH``: one offline page comparing finished runs (a sweep, or one run).

Seeds of one configuration are repeated measurements, so the page groups runs into
variants (overrides minus ``seed``) and shows the mean over seeds with its spread: bands
over days, error bars against swept parameters, mean ± s.e. in the summary table. Per-run
detail that does not average well (which model served when) is shown for one seed.
"""

from __future__ import annotations

import argparse
import html
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from recloop.experiments import divergence as dv
from recloop.experiments import runs as rl
from recloop.experiments.abreport import ab_blocks
from recloop.experiments.png import export_png
from recloop.experiments.registry_plot import registry_figure
from recloop.experiments.report import (
    build_figures,
    details_table,
    figure_html,
    html_page,
    write_html,
)
from recloop.experiments.style import LAYOUT, PALETTE, arm_colours, metric_label, unit_axis
from recloop.experiments.tradeoff import tradeoff_figure

Block = tuple[str, str, "go.Figure | str"]  # heading, caption, figure or ready HTML

BAND_NOTE = "Line: mean over seeds; shaded band: min–max over seeds."
SE_NOTE = "Error bars: ± 1 standard error over seeds (s.d. / √n; none with one seed)."


class ReportError(Exception):
    """A problem the user can fix (wrong path, nothing finished); shown as one line."""


def summary_table(stats: pd.DataFrame, order: Sequence[str]) -> str:
    """Variant rows, headline-metric columns, cells ``mean ± s.e.`` over seeds."""
    metrics = [m for m in rl.HEADLINE_METRICS if m in set(stats["metric"])]
    cells = stats.set_index(["variant", "metric"])
    head = "".join(f"<th>{html.escape(m)}</th>"
                   for m in ["variant", "seeds", *map(metric_label, metrics)])
    rows = []
    for variant in order:
        sub = cells.loc[variant] if variant in cells.index.get_level_values(0) else None
        n = int(sub["n"].max()) if sub is not None else 0
        values = [_mean_se(sub, m) for m in metrics]
        tds = "".join(f"<td>{html.escape(v)}</td>" for v in [variant, str(n), *values])
        rows.append(f"<tr>{tds}</tr>")
    return f'<table class="details"><tr>{head}</tr>{"".join(rows)}</table>'


def _mean_se(sub: pd.DataFrame | None, metric: str) -> str:
    """``0.123 ± 0.004``, or the bare mean when there is no spread to estimate."""
    if sub is None or metric not in sub.index:
        return "–"
    row = sub.loc[metric]
    return f"{row['mean']:.4g}" if pd.isna(row["se"]) else f"{row['mean']:.4g} ± {row['se']:.2g}"


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
            curves = [rl.lorenz_curve(getattr(r, attr)) for r in runs if r.variant == variant]
            x, y = rl.mean_lorenz(curves)
            fig.add_trace(go.Scatter(
                x=x, y=y, mode="lines", legend=legend, line={"color": colours[variant]},
                name=f"{variant} (Gini {rl.lorenz_gini(x, y):.3f})",
            ), row=1, col=col)
    fig.update_xaxes(title_text="share of items, least shown first", range=[0, 1])
    fig.update_yaxes(title_text="share of impressions", range=[0, 1])
    corner = {"yanchor": "top", "y": 0.98, "bgcolor": "rgba(255,255,255,0.8)"}
    fig.update_layout(height=480, **LAYOUT, legend={**corner, "x": 0.01},
                      legend2={**corner, "x": 0.56})
    return fig


def parameter_figure(per_run: pd.DataFrame, runs: Sequence[rl.Run], key: str,
                     others: Sequence[str]) -> go.Figure:
    """Headline metrics against one swept parameter; a line per value of the other ones.

    Numbers go on a numeric axis (uneven steps stay uneven); anything else is categorical
    and drawn as unjoined markers, since a line between categories would suggest an order.
    """
    stats = rl.seed_stats(rl.with_parameter(per_run, runs, key, others), ["line", key])
    stats = stats.sort_values(key, key=lambda s: s.map(rl.value_key), kind="stable")
    numeric = all(rl.as_number(v) is not None for v in stats[key])
    metrics = [m for m in rl.HEADLINE_METRICS if m in set(stats["metric"])]
    n_rows = -(-len(metrics) // 3)
    fig = make_subplots(rows=n_rows, cols=3, subplot_titles=[metric_label(m) for m in metrics])
    lines = list(pd.unique(stats["line"]))
    for i, metric in enumerate(metrics):
        fig.update_yaxes(unit_axis(metric), row=i // 3 + 1, col=i % 3 + 1)
        for j, line in enumerate(lines):
            sub = stats[(stats["metric"] == metric) & (stats["line"] == line)]
            trace = _error_bar_trace(sub, key, numeric, line, PALETTE[j % len(PALETTE)])
            trace.showlegend = i == 0
            fig.add_trace(trace, row=i // 3 + 1, col=i % 3 + 1)
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


def day_sections(combined: pd.DataFrame) -> list[Block]:
    """The one-run report's small multiples, with variants as arms and seed bands."""
    figures = build_figures(rl.seed_bands(combined), legend_title="variant")
    return [(title, BAND_NOTE, fig) for title, fig in figures]


def sweep_blocks(runs: list[rl.Run], keys: list[str]) -> list[Block]:
    """Every section of the cross-run page, in reading order."""
    combined = rl.combined_metrics(runs)
    variants = rl.variant_order(runs, keys)
    order = rl.label_order(combined, variants)
    colours = arm_colours(order)
    per_run = rl.final_means(combined)
    blocks: list[Block] = [(
        "Summary per variant",
        (f"Each run's mean over its last {rl.FINAL_DAYS} days, then mean ± 1 standard error "
         "over seeds. Compare variants row by row; overlapping ± ranges are not a difference."),
        summary_table(rl.seed_stats(per_run, ["variant"]), order),
    )]
    blocks += ab_blocks(runs)
    blocks += divergence_blocks(combined, order, colours)
    for key in keys:
        others = [k for k in keys if k != key]
        fig = parameter_figure(per_run, runs, key, others)
        blocks.append((f"Headline metrics against {key}",
                       f"Mean over seeds of the last-{rl.FINAL_DAYS}-day means. {SE_NOTE}", fig))
        curve = tradeoff_figure(per_run, runs, key, others)
        if curve is not None:
            blocks.append((f"Trade-off curve across {key}", (
                f"Each point one value of {key}: concentration (x; left, the Gini of "
                "impressions; right, the top-1% items' share) against CTR (y), last-"
                f"{rl.FINAL_DAYS}-day means over seeds, ± 1 s.e. both ways. Left is a less "
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


def render(blocks: Sequence[Block], title: str, details: dict[str, str],
           skipped: Sequence[rl.Skipped]) -> str:
    """Assemble the page; plotly.js goes into the first figure only."""
    parts = [details_table(details)]
    if skipped:
        items = "".join(f"<li><code>{html.escape(str(s.path))}</code>: {html.escape(s.reason)}"
                        "</li>" for s in skipped)
        parts.append(f"<h2>Skipped runs</h2><ul>{items}</ul>")
    js_done = False
    for heading, caption, content in blocks:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.append(f'<p class="caption">{html.escape(caption)}</p>')
        if isinstance(content, go.Figure):
            parts.append(figure_html(content, with_plotlyjs=not js_done))
            js_done = True
        else:
            parts.append(content)
    return html_page(title, "\n".join(parts))


def build_report(
    path: Path, out: Path | None = None, png: bool = False
) -> tuple[Path, list[rl.Run], list[rl.Skipped]]:
    """Find, load and report the finished runs under ``path``; return what was written.

    With ``png``, each figure is also exported beside the page (``<page>_png/``) when
    kaleido and a browser are available; otherwise one line on stderr says why not.
    """
    path = Path(path)
    if not path.is_dir():
        raise ReportError(f"{path} is not a directory")
    found, skipped = rl.find_runs(path)
    runs, unreadable = rl.load_runs(found)
    skipped += unreadable
    if not runs:
        note = f" ({len(skipped)} skipped: failed, unfinished or unreadable)" if skipped else ""
        raise ReportError(f"no finished runs under {path}{note}")
    keys = rl.assign_variants(runs)
    details = {
        "path": str(path.resolve()),
        "finished runs": str(len(runs)),
        "variants": str(len({r.variant for r in runs})),
        "swept parameters": ", ".join(keys) or "none (seeds only)",
        "skipped runs": str(len(skipped)),
    }
    blocks = sweep_blocks(runs, keys)
    text = render(blocks, f"recloop report: {path.resolve().name}", details, skipped)
    target = write_html(text, out if out is not None else path / "report.html")
    if png:
        figures = [(heading, fig) for heading, _, fig in blocks if isinstance(fig, go.Figure)]
        written, reason = export_png(figures, target.with_name(target.stem + "_png"))
        note = f"{len(written)} PNG files in {written[0].parent}" if written else \
            f"PNG export skipped: {reason}"
        print(f"recloop-report: {note}", file=sys.stderr)
    return target, runs, skipped


def main(argv: Sequence[str] | None = None) -> int:
    """Console script; exit status 2 with one line on stderr when there is nothing to report."""
    parser = argparse.ArgumentParser(
        prog="recloop-report",
        description="One offline HTML report over a run directory or a sweep of them.",
    )
    parser.add_argument("path", type=Path, help="a run directory, or a folder of them (a sweep)")
    parser.add_argument("--out", type=Path, help="where to write (default: PATH/report.html)")
    parser.add_argument("--png", action="store_true",
                        help="also export every figure as PNG (needs the [png] extra and Chrome)")
    args = parser.parse_args(argv)
    try:
        target, runs, skipped = build_report(args.path, args.out, args.png)
    except ReportError as err:
        print(f"recloop-report: {err}", file=sys.stderr)
        return 2
    for skip in skipped:
        print(f"recloop-report: skipped {skip.path}: {skip.reason}", file=sys.stderr)
    print(f"report: {target} (runs: {len(runs)}, variants: {len({r.variant for r in runs})})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
