"""Which metrics earn a panel: a chart of a flat line or of nothing is noise on the page.

A metric that is constant over every day and arm (no outage all run, every slate served
from the batch path) or has no value at all (off-policy estimates when nothing was explored)
gets no subplot; instead one line under the title lists them by their human labels, the
constant ones with their value, so a reader still learns that the gate never failed or
that coverage stayed at 100%. Families that go empty together are named once.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recloop.experiments.style import format_value, metric_label
from recloop.sim.metrics.catalogue import ESTIMATORS

# families listed as one entry when all of their members are dropped: (name, members)
FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("off-policy CTR estimates (IPS, SNIPS, cascade IPS: no exploration logged)",
     tuple(f"{est}_ctr_candidate" for est in ESTIMATORS)),
)


@dataclass(frozen=True)
class Dropped:
    """A metric left out of the charts, and the value it held throughout (NaN: none)."""

    metric: str
    value: float


def split_panels(tidy: pd.DataFrame) -> tuple[pd.DataFrame, list[Dropped]]:
    """Keep the rows of metrics that vary; return them and the dropped metrics in order.

    A metric with one value only (a one-day, one-arm run) is kept: a single value is not
    evidence of a flat line. Days without a value (a gate that judged no candidate on the
    first night) do not count against constancy. Standard errors are bands by now.
    """
    dropped: list[Dropped] = []
    for metric, rows in tidy.groupby("metric", sort=False)["value"]:
        values = rows.to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            dropped.append(Dropped(str(metric), float("nan")))
        elif finite.size > 1 and np.ptp(finite) == 0:
            dropped.append(Dropped(str(metric), float(finite[0])))
    gone = {d.metric for d in dropped}
    return tidy[~tidy["metric"].isin(gone)], dropped


def dropped_entries(dropped: Sequence[Dropped]) -> list[str]:
    """Human entries for the dropped metrics: ``Catalog coverage (100% throughout)``."""
    empty = {d.metric for d in dropped if np.isnan(d.value)}
    entries: list[str] = []
    folded: set[str] = set()
    for name, members in FAMILIES:
        if set(members) <= empty:
            entries.append(name)
            folded |= set(members)
    for d in dropped:
        if d.metric in folded:
            continue
        label = metric_label(d.metric)
        state = "no value" if np.isnan(d.value) else f"{format_value(d.metric, d.value)} throughout"
        entries.append(f"{label} ({state})")
    return entries


def not_shown_html(dropped: Sequence[Dropped], scope: str = "this run") -> str:
    """The one line naming what has no chart; empty when everything is drawn."""
    if not dropped:
        return ""
    text = f"Not shown (constant or empty in {scope}): " + "; ".join(dropped_entries(dropped))
    return f'<p class="caption not-shown">{html.escape(text)}.</p>'
