"""The paragraph at the top of a report: the run's story in a few measured numbers.

Charts show everything; a reader first wants to know what happened. For each serving arm
we say how the head of the catalog grew (the top-1% items' share of impressions on the
first and the last day), how many of the most valuable items were never shown at all,
the click-through rate and how much of the gap between a random and an oracle policy's
welfare the policy closed. A sweep says the same per variant and names the best and the
worst variant on clicks and on concentration. Every number is read from the metrics
table; nothing here knows what a policy "should" do.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from recloop.experiments.style import format_value
from recloop.sim.metrics.catalogue import CTR, GRAVEYARD_EVER, ORACLE_GAP, TOP1_SHARE

FINAL_DAYS = 10  # rates are averaged over the last days: one day is noisy (as runs.FINAL_DAYS)
STEADY = 1.1  # a share that moved by less than this factor "held steady"
STORY_METRICS: tuple[str, ...] = (TOP1_SHARE, GRAVEYARD_EVER, CTR, ORACLE_GAP)
Story = dict[str, float]  # first/last day, top1 then, never shown, ctr and gap since recent_from


def arm_story(frame: pd.DataFrame, days: int = FINAL_DAYS) -> Story | None:
    """The headline numbers of one arm's rows (``day, metric, value``); None without a
    concentration series (an A/B readout or a shadow row serves nobody)."""
    frame = frame[frame["metric"].isin(STORY_METRICS)]
    wide = frame.pivot_table(index="day", columns="metric", values="value", aggfunc="mean")
    if TOP1_SHARE not in wide or wide[TOP1_SHARE].dropna().empty:
        return None
    wide = wide.sort_index().reindex(columns=list(STORY_METRICS))
    top1 = wide[TOP1_SHARE].dropna()
    recent = wide[wide.index > wide.index.max() - days]
    never = wide[GRAVEYARD_EVER].dropna()
    return {
        "first_day": float(top1.index[0]), "last_day": float(top1.index[-1]),
        "top1_first": float(top1.iloc[0]), "top1_last": float(top1.iloc[-1]),
        "never_shown": float(never.iloc[-1]) if len(never) else np.nan,
        "ctr": _mean(recent[CTR]), "gap": _mean(recent[ORACLE_GAP]),
        "recent_from": float(recent.index.min()),
    }


def _mean(series: pd.Series) -> float:
    finite = series.dropna()
    return float(finite.mean()) if len(finite) else np.nan


def story_text(story: Story, who: str) -> str:
    """One arm's numbers as sentences; a number the run did not record is left out."""
    first, last = story["top1_first"], story["top1_last"]
    verb = "rose from" if last > first * STEADY else "fell from" if last < first / STEADY \
        else "held steady:"
    linker = "," if verb == "held steady:" else " to"
    parts = [(f"Top-1% items' share of impressions {verb} {_pct(first)} (day "
              f"{story['first_day']:.0f}){linker} {_pct(last)} (day {story['last_day']:.0f})")]
    never = story["never_shown"]
    if np.isfinite(never):
        parts.append("every top-decile item (by true value) was shown" if round(never) == 0 else
                     f"{never:.0f} top-decile items (by true value) were never shown")
    window = f"days {story['recent_from']:.0f}–{story['last_day']:.0f}"
    if np.isfinite(story["ctr"]):
        parts.append(f"CTR {_pct(story['ctr'])} ({window})")
    if np.isfinite(story["gap"]):
        gap = round(story["gap"], 2) + 0.0  # no "-0%"
        parts.append(f"{who} closed {gap:.0%} of the random→oracle welfare gap "
                     f"({window})")
    return "; ".join(parts) + "."


def _pct(value: float) -> str:
    return format_value(TOP1_SHARE, value)


def run_headline_html(metrics: pd.DataFrame, policy: str | None = None) -> str:
    """The single-run paragraph: one sentence group per serving arm, prefixed by the arm's
    name when there are several; empty when the run has no concentration series."""
    if metrics.empty or not {"day", "arm", "metric", "value"} <= set(metrics.columns):
        return ""
    frame = metrics.assign(value=pd.to_numeric(metrics["value"], errors="coerce"))
    stories = {str(arm): s for arm, rows in frame.groupby("arm", sort=False)
               if (s := arm_story(rows)) is not None}
    if not stories:
        return ""
    lines = [
        (f"{arm}: " if len(stories) > 1 else "")
        + story_text(s, arm if len(stories) > 1 or not policy else str(policy))
        for arm, s in stories.items()
    ]
    return "".join(f'<p class="headline">{html.escape(line)}</p>' for line in lines)


def sweep_stories(combined: pd.DataFrame, order: Sequence[str]) -> dict[str, Story]:
    """Each serving label's story, every number averaged over its seeds (runs)."""
    per_run = [
        (str(label), s)
        for (label, _), rows in combined.groupby(["arm", "run"], sort=False)
        if (s := arm_story(rows)) is not None
    ]
    out: dict[str, Story] = {}
    for label in order:
        runs = [s for name, s in per_run if name == label]
        if runs:
            out[label] = {k: float(np.nanmean([s[k] for s in runs])) if any(
                np.isfinite(s[k]) for s in runs) else np.nan for k in runs[0]}
    return out


def sweep_headline_html(stories: Mapping[str, Story]) -> str:
    """Per variant the run headline's numbers, then who did best and worst."""
    if not stories:
        return ""
    items = "".join(f"<li><b>{html.escape(label)}</b>: {html.escape(story_text(s, label))}</li>"
                    for label, s in stories.items())
    verdict = ""
    if len(stories) > 1:
        verdict = " ".join(filter(None, (
            _extremes(stories, "ctr", "Best CTR", "worst"),
            _extremes(stories, "top1_last", "Most concentrated (top-1% share, last day)",
                      "least"),
        )))
        verdict = f'<p class="headline">{html.escape(verdict)}</p>' if verdict else ""
    return f'<ul class="headline">{items}</ul>{verdict}'


def _extremes(stories: Mapping[str, Story], key: str, high: str, low: str) -> str:
    """``Best CTR: als (7.5%); worst: random (4.0%).`` over the variants that have ``key``."""
    values = {label: s[key] for label, s in stories.items() if np.isfinite(s[key])}
    if len(values) < 2:
        return ""
    top, bottom = max(values, key=values.get), min(values, key=values.get)
    return (f"{high}: {top} ({_pct(values[top])}); {low}: {bottom} ({_pct(values[bottom])}).")
