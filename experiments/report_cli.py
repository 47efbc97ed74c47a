"""``recloop-report PATH``: one offline page comparing finished runs (a sweep, or one run).

Seeds of one configuration are repeated measurements, so the page groups runs into
variants (overrides minus ``seed``) and shows the mean over seeds with its spread: bands
over days, error bars against swept parameters, mean ± s.e. in the summary table. Per-run
detail that does not average well (which model served when) is shown for one seed. A
sweep's page loads plotly.js from one ``plotly.min.js`` beside it; one run's stays a
single self-contained file.
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
from recloop.experiments.plotlyjs import INLINE, SHARED, write_plotlyjs
from recloop.experiments.png import export_png
from recloop.experiments.registry_plot import registry_figure
from recloop.experiments.report import (
    Block,
    blocks_html,
    build_sections,
    details_table,
    html_page,
    write_html,
)
from recloop.experiments.sensitivity import is_sensitivity_sweep
from recloop.experiments.sensitivity_report import sensitivity_blocks
from recloop.experiments.style import LAYOUT, arm_colours
from recloop.experiments.tradeoff import tradeoff_figure

BAND_NOTE = "Line: mean over seeds; shaded band: min–max over seeds."
SE_NOTE = "Error bars: ± 1 standard error over seeds (s.d. / √n; none with one seed)."


class ReportError(Exception):
    """A problem the user can fix (wrong path, nothing finished); shown as one line."""


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


def render(blocks: Sequence[Block], title: str, details: dict[str, str],
           skipped: Sequence[rl.Skipped], *, lead: str = "",
           plotlyjs: bool | str = INLINE) -> str:
    """Assemble the page, ``lead`` (the headline) first; plotly.js is loaded by the first
    figure only, inlined or (``SHARED``) from ``plotly.min.js`` beside the page."""
    parts = [lead, details_table(details)]
    if skipped:
        items = "".join(f"<li><code>{html.escape(str(s.path))}</code>: {html.escape(s.reason)}"
                        "</li>" for s in skipped)
        parts.append(f"<h2>Skipped runs</h2><ul>{items}</ul>")
    parts += blocks_html(blocks, plotlyjs)
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
        note = (f" ({len(skipped)} skipped: failed, unfinished or unreadable; first: "
                f"{skipped[0].path.name}: {skipped[0].reason})") if skipped else ""
        raise ReportError(f"no finished runs under {path}{note}")
    keys = rl.assign_variants(runs)
    details = {
        "path": str(path.resolve()),
        "finished runs": str(len(runs)),
        "variants": str(len({r.variant for r in runs})),
        "swept parameters": ", ".join(keys) or "none (seeds only)",
        "skipped runs": str(len(skipped)),
    }
    gaps = [f"{r.path.name}: {', '.join(map(str, r.missing_days))}" for r in runs if r.missing_days]
    if gaps:
        details["log days missing (figures cover the rest)"] = "; ".join(gaps)
    blocks, lead = page_blocks(runs, keys, path)
    single = len(runs) == 1 and runs[0].path.resolve() == path.resolve()
    target = Path(out if out is not None else path / "report.html")
    if not single:
        write_plotlyjs(target.parent)
    text = render(blocks, f"recloop report: {path.resolve().name}", details, skipped,
                  lead=lead, plotlyjs=INLINE if single else SHARED)
    write_html(text, target)
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
    except OSError as err:  # an unwritable --out or folder: one line, not a traceback
        print(f"recloop-report: cannot write the report: {err.strerror or err} "
              f"({err.filename or args.out or args.path})", file=sys.stderr)
        return 2
    for skip in skipped:
        print(f"recloop-report: skipped {skip.path}: {skip.reason}", file=sys.stderr)
    for run in runs:
        if run.missing_days:
            days = ", ".join(map(str, run.missing_days))
            print(f"recloop-report: {run.path}: log days missing: {days}", file=sys.stderr)
    print(f"report: {target} (runs: {len(runs)}, variants: {len({r.variant for r in runs})})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
