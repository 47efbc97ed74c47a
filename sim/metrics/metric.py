"""What declaring a metric means: one entry with everything anyone needs to know about it.

A metric is declared once, in ``sim/metrics/catalogue.py``: its name (the ``metric``
column of the metrics table), a label and unit for reports, the report section it belongs
to, which kind of row carries it (an arm's, the A/B test's, a shadow's) and how it is
computed from that row's inputs (plain data such as a tally, never a simulator object).
The simulator asks the catalogue for a row's values; reports ask it for labels and
sections; code that needs one metric imports its name constant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

ARM, AB, SHADOW = "arm", "ab", "shadow"  # the kinds of row in the metrics table
CHURN, HOLDOUT = "churn", "holdout"  # the churn dashboard's and the holdout monitor's rows
MONITOR = "monitor"  # the other monitors' rows: calibration per group, alarms
Compute = Callable[[Any], float | None]  # None: the metric has no value in this row today


@dataclass(frozen=True)
class Metric:
    """One metric's declaration."""

    name: str
    label: str
    section: str
    unit: str  # "share", "count", "rate", "bits", "titles", "utility", "p", "flag", "version", "ε"
    rows: tuple[str, ...]  # kinds of row that carry it
    compute: Compute
    se_of: str | None = None  # this is the standard error of that metric (a band, not a line)


class Catalogue:
    """Metrics in declaration order, which is also the order of each row's values."""

    def __init__(self, sections: tuple[str, ...]) -> None:
        self.sections = sections  # report order
        self.metrics: dict[str, Metric] = {}

    def declare(self, name: str, label: str, section: str, compute: Compute, *,
                unit: str = "", rows: tuple[str, ...] = (ARM,), se_of: str | None = None) -> str:
        """Add a metric; returns its name, the constant other modules use."""
        if name in self.metrics:
            raise ValueError(f"metric {name!r} declared twice")
        if section not in self.sections:
            raise ValueError(f"metric {name!r}: unknown section {section!r}")
        self.metrics[name] = Metric(name, label, section, unit, rows, compute, se_of)
        return name

    def values(self, row: str, inputs: Any) -> dict[str, float]:
        """Every metric that ``row`` kind carries, computed from its inputs, in order."""
        out: dict[str, float] = {}
        for metric in self.metrics.values():
            if row in metric.rows and (value := metric.compute(inputs)) is not None:
                out[metric.name] = float(value)
        return out

    def in_section(self, section: str) -> Iterator[Metric]:
        """The section's metrics drawn as lines (standard errors are drawn as their bands)."""
        return (m for m in self.metrics.values() if m.section == section and m.se_of is None)

    def __getitem__(self, name: str) -> Metric:
        return self.metrics[name]

    def __contains__(self, name: object) -> bool:
        return name in self.metrics
