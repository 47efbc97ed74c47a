"""Data validation of a day's log partition before anything trains on it.

A bad day (a logging outage, a schema change, a broken join) should stop the nightly job
rather than quietly become tomorrow's model. Each check returns the problems it found;
the partition passes when there are none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from recloop.conf.ranges import MAX_DAYS, UNIT, Between, ranged
from recloop.sim.eventlog import SCHEMA


@dataclass
class ValidationConfig:
    """Tolerances of the nightly data checks."""

    enabled: bool = True
    # for every column except propensity (null = unknown)
    max_null_rate: float = ranged(0.0, UNIT)
    # a day missing this share of the rows its serving side counted fails (partial loss)
    max_loss: float = ranged(0.2, UNIT)
    # a day below this × the trailing mean volume fails
    volume_low: float = ranged(0.5, Between(0, 1000))
    volume_high: float = ranged(2.0, Between(0, 1000, strict=True))  # ... and above this ×
    trailing_days: int = ranged(7, Between(1, MAX_DAYS, integer=True))


@dataclass(frozen=True)
class Bounds:
    """What a valid day looks like: the world's sizes and the slate length."""

    day: int
    n_users: int
    n_items: int
    k: int


@dataclass
class ValidationReport:
    """Outcome of one partition's checks."""

    day: int
    rows: int
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def validate_partition(
    table: pa.Table, bounds: Bounds, trailing_rows: list[int], cfg: ValidationConfig,
    served: int | None = None,
) -> ValidationReport:
    """Run every check on one day's table; ``trailing_rows`` are earlier days' volumes,
    ``served`` the rows the serving side counted for the day (None: not known)."""
    report = ValidationReport(bounds.day, table.num_rows)
    report.problems += check_schema(table)
    if report.problems:
        return report  # other checks read columns the schema check found wrong
    frame = table.to_pandas()
    report.problems += check_nulls(frame, cfg.max_null_rate)
    report.problems += check_ranges(frame, bounds)
    report.problems += check_delivery(table.num_rows, served, cfg.max_loss)
    report.problems += check_volume(table.num_rows, trailing_rows[-cfg.trailing_days :], cfg)
    return report


def check_schema(table: pa.Table) -> list[str]:
    """Columns and types exactly as the log writes them."""
    if table.schema.equals(SCHEMA):
        return []
    expected = {f.name: f.type for f in SCHEMA}
    actual = {f.name: f.type for f in table.schema}
    missing = sorted(set(expected) - set(actual))
    changed = sorted(n for n in set(expected) & set(actual) if expected[n] != actual[n])
    extra = sorted(set(actual) - set(expected))
    return [f"schema: missing {missing}, changed type {changed}, unexpected {extra}"]


def check_nulls(frame: pd.DataFrame, max_rate: float) -> list[str]:
    """No column but propensity may exceed the allowed null rate."""
    rates = frame.drop(columns=["propensity"]).isna().mean()
    bad = rates[rates > max_rate]
    return [f"nulls: {name} {rate:.1%} > {max_rate:.1%}" for name, rate in bad.items()]


def check_ranges(frame: pd.DataFrame, b: Bounds) -> list[str]:
    """Ids, positions and fractions within the world's bounds; one click per session."""
    rules = {
        "day": frame["day"].eq(b.day),
        "user": frame["user"].between(0, b.n_users - 1),
        "item": frame["item"].between(0, b.n_items - 1),
        "position": frame["position"].between(0, b.k - 1),
        "completion": frame["completion"].between(0.0, 1.0),
        "propensity": frame["propensity"].isna() | frame["propensity"].between(0.0, 1.0),
        "completion without click": frame["clicked"] | frame["completion"].eq(0.0),
    }
    problems = [f"range: {name} fails on {int((~ok).sum())} rows" for name, ok in rules.items()
                if not ok.all()]
    clicks = frame.loc[frame["clicked"], "session"]
    if clicks.duplicated().any():
        problems.append(f"range: {int(clicks.duplicated().sum())} sessions with several clicks")
    return problems


def check_delivery(rows: int, served: int | None, max_loss: float) -> list[str]:
    """Rows against what serving counted: a lossy day fails even with no history to compare
    (a lossy first day would otherwise set the trailing mean every later day fails)."""
    if not served:
        return []
    lost = served - rows  # in rows, so that 20% of 50 is exactly 10
    if lost <= 0 or lost < max_loss * served - 1e-9:
        return []
    allowed = f"allowed under {max_loss:.0%}"
    return [f"volume: {rows} rows of {served} served ({lost / served:.0%} lost; {allowed})"]


def check_volume(rows: int, trailing: list[int], cfg: ValidationConfig) -> list[str]:
    """Row count within [low, high] × the trailing mean (no check without history)."""
    if not trailing:
        return []
    mean = float(np.mean(trailing))
    if cfg.volume_low * mean <= rows <= cfg.volume_high * mean:
        return []
    allowed = f"{cfg.volume_low}x..{cfg.volume_high}x"
    return [f"volume: {rows} rows vs trailing mean {mean:.0f} (allowed {allowed})"]
