"""The calibrated world's check against its data, as a report section.

Four panels, each with the simulated curve beside the data's, and a table of distances
against their thresholds. A world that misses a threshold says so in a banner above
everything else on the page: a reader must not take a badly fitted world's findings at
face value.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from recloop.agents.datasets import RatingData, data_folder, read_ratings
from recloop.experiments import data_match as dm
from recloop.experiments.style import LAYOUT

SIMULATED, DATA = ("simulated log", "#1f77b4"), ("rating data", "#ff7f0e")
VALIDATION_LOGGER = "random"
OTHER_LOGGER = ("Thresholds apply to the world's validation run, logged by random slates "
                "(recloop catalog=movielens users=movielens policy=random); under a learning "
                "policy the distances measure how far its feedback loop moves consumption "
                "from the data's.")
Block = tuple[str, str, "go.Figure | str"]  # heading, caption, content

AXES = {  # comparison → (x title, y title)
    "item popularity": ("share of titles, least played first", "share of plays (ratings)"),
    "user activity": ("plays (ratings) per user ÷ mean", "share of users at or below"),
    "genre shares": ("genre (first listed)", "share of plays (ratings)"),
    "ratings and completion": ("share watched; rating rescaled (r − 1) / 4",
                               "share of plays at or below"),
}


def data_match_blocks(run_dir: Path, config: dict) -> tuple[str, list[Block]]:
    """The banner and blocks for a run in a calibrated world; ('', []) for a synthetic one."""
    catalog = config.get("catalog", {}) or {}
    if catalog.get("source") != "movielens":
        return "", []
    heading = "Against the rating data"
    try:
        data = read_ratings(data_folder(str(catalog.get("path") or "")))
        comparisons = dm.compare(dm.read_plays(run_dir), data)
    except (OSError, ValueError) as err:
        return "", [(heading, f"Not compared: {err}", "")]
    validation = is_validation_run(config)
    text = caption(comparisons) + ("" if validation else f" {OTHER_LOGGER}")
    return banner(comparisons) if validation else "", [
        (heading, text, verdict_html(comparisons)),
        (f"{heading}, plotted", "Blue: the simulated log; orange: the data.",
         comparison_figure(comparisons, _genre_names(data)))]


def is_validation_run(config: dict) -> bool:
    """Logged by the validation logger: random slates, one arm. The data record what users
    found and rated anywhere, not what one ranking served them, so only a logger without a
    ranking's own popularity feedback is held to the thresholds."""
    policy = config.get("policy", {}) or {}
    ab = config.get("ab", {}) or {}
    return policy.get("name") == VALIDATION_LOGGER and float(policy.get("epsilon", 0) or 0) == 0 \
        and not ab.get("treatment")


def caption(comparisons: list[dm.Comparison]) -> str:
    """Distances against thresholds in one paragraph."""
    parts = [f"{c.name}: {c.distance_name} {c.distance:.3f} (threshold {c.threshold:.2f}, "
             f"{'within' if c.passed else 'OUTSIDE'})" for c in comparisons]
    extra = [f"{k} {v:.3f}" for c in comparisons for k, v in c.notes.items() if k != "genres"]
    return ("The simulated log's plays against the ratings the world was fitted to. "
            + "; ".join(parts) + ". " + ", ".join(extra) + ".")


def banner(comparisons: list[dm.Comparison]) -> str:
    """'' when every distance is within its threshold, else a warning naming the misses."""
    missed = [c for c in comparisons if not c.passed]
    if not missed:
        return ""
    names = ", ".join(f"{c.name} ({c.distance:.3f} > {c.threshold:.2f})" for c in missed)
    return (f'<p class="warning"><b>This world fails its validation against the rating data: '
            f"{html.escape(names)}.</b> Read its findings as those of a world unlike the "
            "data.</p>")


def verdict_html(comparisons: list[dm.Comparison]) -> str:
    """The summary table as HTML."""
    return dm.summary_table(comparisons).to_html(index=False, classes="details",
                                                 float_format=lambda v: f"{v:.3f}")


def comparison_figure(comparisons: list[dm.Comparison], genres: list[str]) -> go.Figure:
    """Two by two: Lorenz curves, activity CDFs, genre bars, completion vs rating CDFs."""
    fig = make_subplots(rows=2, cols=2, subplot_titles=[
        f"{c.name}: {c.distance_name} {c.distance:.3f}" for c in comparisons],
        vertical_spacing=0.16)
    for i, comp in enumerate(comparisons):
        row, col = divmod(i, 2)
        for (label, colour), (x, y) in ((SIMULATED, comp.simulated), (DATA, comp.data)):
            fig.add_trace(_trace(comp.name, label, colour, x, y, genres, show=i == 0),
                          row=row + 1, col=col + 1)
        xtitle, ytitle = AXES[comp.name]
        fig.update_xaxes(title_text=xtitle, row=row + 1, col=col + 1)
        fig.update_yaxes(title_text=ytitle, tickformat=".0%", row=row + 1, col=col + 1)
    fig.update_xaxes(type="log", row=1, col=2)
    fig.update_layout(**LAYOUT, height=720, barmode="group")
    return fig


def _trace(name: str, label: str, colour: str, x: np.ndarray, y: np.ndarray,
           genres: list[str], *, show: bool) -> go.BaseTraceType:
    common = {"name": label, "legendgroup": label, "showlegend": show,
              "marker": {"color": colour}}
    if name == "genre shares":
        return go.Bar(x=[genres[int(i)] for i in x], y=y, **common)
    return go.Scatter(x=x, y=y, mode="lines", line={"color": colour}, **common)


def _genre_names(data: RatingData) -> list[str]:
    return sorted(set(dm.first_genres(data)))
