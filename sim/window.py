"""Point-in-time training windows built from sealed log partitions only."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from policies.types import TrainingWindow
from sim.config import TrainConfig
from sim.eventlog import EventLog

WINDOW_COLUMNS = ["day", "user", "session", "position", "item", "propensity", "clicked", "completion"]


def window_days(day: int, window: int) -> list[int]:
    """The last ``window`` days strictly before ``day``: what a model serving ``day`` may see."""
    return list(range(max(0, day - window), day))


def build_window(
    log: EventLog, day: int, cfg: TrainConfig, complete_at: float, shape: tuple[int, int]
) -> TrainingWindow:
    """Read the window's partitions and turn positive labels into a users × items matrix."""
    days = window_days(day, cfg.window_days)
    frame = log.read(days, WINDOW_COLUMNS)
    positive = frame["clicked"].to_numpy(dtype=bool)
    if cfg.label == "complete":
        positive = positive & (frame["completion"].to_numpy() >= complete_at)
    users = frame["user"].to_numpy()[positive]
    items = frame["item"].to_numpy()[positive]
    ones = np.ones(users.size, dtype=np.float32)
    matrix = sp.csr_matrix((ones, (users, items)), shape=shape)  # duplicates are summed
    return TrainingWindow(
        day=day,
        days=tuple(days),
        interactions=matrix,
        impressions=frame,
        data_version=log.data_version(days),
    )
