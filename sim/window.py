"""Point-in-time training windows built from sealed log partitions only."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recloop.conf.ranges import AtLeast, one_of, ranged
from recloop.policies.types import TrainingWindow
from recloop.sim.eventlog import EventLog

WINDOW_COLUMNS = [
    "day", "user", "session", "position", "item", "propensity", "clicked", "completion",
]


@dataclass
class TrainConfig:
    """What the nightly fit reads."""

    window_days: int = ranged(14, AtLeast(1, integer=True))
    # "click" or "complete" (a watch of at least complete_at)
    label: str = ranged("click", one_of("click", "complete"))
    # Deliberate leakage, to show what it does: "window" trains the gate's candidate on its
    # own held-out day; "features" lets two_stage's training features see their labels' day.
    # Each needs something to leak into: sim/checks.py holds that rule.
    leakage: str = ranged("none", one_of("none", "window", "features"))


def window_days(day: int, window: int, quarantined: Collection[int] = ()) -> list[int]:
    """The last ``window`` days strictly before ``day``, minus quarantined ones."""
    return [d for d in range(max(0, day - window), day) if d not in quarantined]


def positives(frame: pd.DataFrame, label: str, complete_at: float,
              shape: tuple[int, int]) -> sp.csr_matrix:
    """users × items counts of positive labels: clicks, or watches of at least complete_at."""
    positive = frame["clicked"].to_numpy(dtype=bool)
    if label == "complete":
        positive = positive & (frame["completion"].to_numpy() >= complete_at)
    users = frame["user"].to_numpy()[positive]
    items = frame["item"].to_numpy()[positive]
    ones = np.ones(users.size, dtype=np.float32)
    return sp.csr_matrix((ones, (users, items)), shape=shape)  # duplicates are summed


def build_window(
    log: EventLog,
    day: int,
    cfg: TrainConfig,
    complete_at: float,
    shape: tuple[int, int],
    quarantined: Collection[int] = (),
    arm: str | None = None,
) -> TrainingWindow:
    """Read the window's partitions and turn positive labels into a users × items matrix.

    With ``arm`` set only that arm's rows are read (an A/B arm trained on its own data).
    """
    days = window_days(day, cfg.window_days, quarantined)
    frame = log.read(days, WINDOW_COLUMNS, arm=arm)
    return TrainingWindow(
        day=day,
        days=tuple(days),
        interactions=positives(frame, cfg.label, complete_at, shape),
        impressions=frame,
        data_version=log.data_version(days, arm),
        leaky=cfg.leakage == "features",
    )
