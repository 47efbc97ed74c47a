"""Point-in-time training windows built from sealed log partitions only."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recloop.conf.ranges import MAX_DAYS, Between, one_of, ranged
from recloop.policies.types import TrainingWindow
from recloop.sim.eventlog import EventLog

WINDOW_COLUMNS = [
    "day", "user", "session", "position", "item", "propensity", "clicked", "completion",
]


@dataclass
class TrainConfig:
    """What the nightly fit reads."""

    window_days: int = ranged(30, Between(1, MAX_DAYS, integer=True))
    # "click" or "complete" (a watch of at least complete_at)
    label: str = ranged("click", one_of("click", "complete"))
    # Deliberate leakage, to show what it does: "window" trains the gate's candidate on its
    # own held-out day; "features" lets two_stage's training features see their labels' day.
    # Each needs something to leak into: sim/cross_checks.py holds that rule.
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
    return WindowReader(log, cfg, complete_at, arm).window(day, shape, quarantined)


class PartitionChanged(RuntimeError):
    """A sealed partition no longer has its digest: training on it would mislabel the data."""


class WindowReader:
    """Builds one pipeline's training windows, reading each sealed day's positives once.

    A sealed partition never changes, so its positives matrix is kept and summed into every
    window that covers the day; a window's raw impressions are read only when a policy asks
    for them. Nightly windows overlap in all but one day, so this reads one partition a
    night instead of the whole window (twice, with the gate on).
    """

    def __init__(self, log: EventLog, cfg: TrainConfig, complete_at: float,
                 arm: str | None = None) -> None:
        self.log, self.cfg, self.complete_at, self.arm = log, cfg, complete_at, arm
        self._positives: dict[tuple[int, tuple[int, int]], sp.coo_matrix] = {}

    def window(self, day: int, shape: tuple[int, int],
               quarantined: Collection[int] = ()) -> TrainingWindow:
        """The window for a model first serving ``day``: days before it, none quarantined."""
        days = window_days(day, self.cfg.window_days, quarantined)
        self._forget_before(day - self.cfg.window_days - 1)
        parts = [self.day_positives(d, shape) for d in days]
        rows, cols, ones = (np.concatenate([getattr(p, a) for p in parts] or [np.empty(0)])
                            for a in ("row", "col", "data"))
        log, arm = self.log, self.arm
        return TrainingWindow(
            day=day,
            days=tuple(days),
            interactions=sp.csr_matrix((ones.astype(np.float32), (rows, cols)), shape=shape),
            log=lambda: log.read(days, WINDOW_COLUMNS, arm=arm),
            data_version=log.data_version(days, arm),
            leaky=self.cfg.leakage == "features",
        )

    def day_positives(self, day: int, shape: tuple[int, int]) -> sp.coo_matrix:
        """users × items positive labels of one sealed day (this pipeline's arm only)."""
        key = (day, shape)
        if key not in self._positives:
            if not self.log.intact(day):  # validation (when on) quarantines such a day first
                raise PartitionChanged(f"the partition of day {day} changed after it was "
                                       "sealed; refusing to train on it")
            frame = self.log.read([day], ["user", "item", "clicked", "completion"], arm=self.arm)
            self._positives[key] = positives(frame, self.cfg.label, self.complete_at,
                                             shape).tocoo()
        return self._positives[key]

    def _forget_before(self, day: int) -> None:
        for key in [key for key in self._positives if key[0] < day]:
            del self._positives[key]
