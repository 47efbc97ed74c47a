"""The sensitivity sweep's page: which findings survive which change of world.

A forest plot per finding (one row per setting, the effect's mean over seeds ± 2 s.e.,
coloured by verdict, zero marked) carries the answer at a glance; the tables beneath give
the numbers.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from recloop.experiments import sensitivity as sv
from recloop.experiments.runs import Run
from recloop.experiments.style import LAYOUT

VERDICT_COLOURS = {"holds": "#2a9d8f", "flips": "#d62828", "unclear": "#999999"}
ROW_PX = 22


def sensitivity_blocks(runs: Sequence[Run]) -> list[tuple[str, str, go.Figure | str]]:
    """Survival table, forest plot and the full table, in reading order."""
    order = setting_order(runs)
    per_seed = sv.effects(runs)
    table = sv.verdicts(per_seed, order)
    seeds = per_seed.groupby("setting")["seed"].nunique()
    low, high = (int(seeds.min()), int(seeds.max())) if len(seeds) else (0, 0)
    caption = (f"{len(order)} settings (each moves one world parameter from the centre, "
               f"'{sv.CENTRE}'), {low if low == high else f'{low}–{high}'} seeds each, "
               "findings read as the mean "
               f"of the last {sv.LATE_DAYS} days. A setting holds a finding when the mean over "
               "seeds has the sign the finding claims by more than 2 s.e., flips it when it has "
               "the other sign by as much, and is unclear otherwise.")
    return [
        ("Which findings survive", caption, _html_table(sv.survival(table))),
        ("Effects by setting", "Mean over seeds ± 2 s.e.; the dashed line is zero.",
         forest_figure(table, order)),
        ("Effects by setting, in numbers", "Mean ± s.e. over seeds (n seeds).",
         effects_html(table, order)),
    ]


def setting_order(runs: Sequence[Run]) -> list[str]:
    """The centre first, then the other settings in sorted order."""
    names = sorted({r.overrides[sv.VARY] for r in runs} - {sv.CENTRE})
    return [sv.CENTRE, *names] if any(r.overrides[sv.VARY] == sv.CENTRE for r in runs) else names


def forest_figure(table: pd.DataFrame, order: Sequence[str]) -> go.Figure:
    """One panel per finding: settings down, effect across, verdict as colour."""
    findings = [f for f in sv.FINDINGS if f.name in set(table["finding"])]
    fig = make_subplots(rows=1, cols=max(len(findings), 1), shared_yaxes=True,
                        subplot_titles=[f"{f.name}<br><sub>{f.meaning}</sub>" for f in findings],
                        horizontal_spacing=0.03)
    in_legend: set[str] = set()
    for col, finding in enumerate(findings, start=1):
        sub = table[table["finding"] == finding.name]
        for verdict, colour in VERDICT_COLOURS.items():
            part = sub[sub["verdict"] == verdict]
            if part.empty:
                continue
            fig.add_trace(go.Scatter(
                x=part["mean"], y=part["setting"], mode="markers", name=verdict,
                marker={"color": colour, "size": 8}, legendgroup=verdict,
                showlegend=verdict not in in_legend,
                error_x={"type": "data", "array": 2 * part["se"], "color": colour},
                hovertemplate="%{y}: %{x:.4g}<extra>" + verdict + "</extra>"), row=1, col=col)
            in_legend.add(verdict)
        fig.add_vline(x=0, line_dash="dash", line_color="#555", row=1, col=col)
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(order)))
    fig.update_layout(**{**LAYOUT, "margin": {"l": 50, "r": 20, "t": 90, "b": 40}},
                      height=170 + ROW_PX * len(order), legend_title_text="verdict")
    return fig


def effects_html(table: pd.DataFrame, order: Sequence[str]) -> str:
    """Settings as rows, findings as columns, ``mean ± se (n)`` in the verdict's colour."""
    findings = [f.name for f in sv.FINDINGS]
    cells = {(r.setting, r.finding): r for r in table.itertuples()}
    head = "".join(f"<th>{html.escape(f)}</th>" for f in ["setting", *findings])
    rows = [f"<tr>{head}</tr>"]
    for setting in order:
        tds = [f"<th>{html.escape(setting)}</th>"]
        for finding in findings:
            row = cells.get((setting, finding))
            if row is None:
                tds.append("<td>–</td>")
                continue
            colour = VERDICT_COLOURS[row.verdict]
            tds.append(f'<td style="color:{colour}">{row.mean:.4g} ± {row.se:.2g} '
                       f"({row.n}) {row.verdict}</td>")
        rows.append("<tr>" + "".join(tds) + "</tr>")
    return '<table class="details">' + "".join(rows) + "</table>"


def _html_table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f'<table class="details"><tr>{head}</tr>{body}</table>'
