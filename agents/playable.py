"""What each session's user may still play on their own: released, not watched before, and
not the title they just clicked.

The organic channel asks this two ways: whole rows, when a find scans the catalog, and
single (row, item) pairs, when it proposes titles and checks each (``agents/organic.py``).
``Unwatched`` answers both from the watched matrix without building the batch's
users × items mask the rows need only for the sessions that find something;
``AllowedMatrix`` answers from a ready-made mask (tests, small worlds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class Playable(Protocol):
    """Per batch row: which items its user may still play."""

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """bool[len(rows), n_items]."""

    def pairs(self, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        """bool, shaped like ``items`` (int[len(rows), t]): row ``rows[r]`` may play it."""


@dataclass(frozen=True)
class AllowedMatrix:
    """A dense bool[n, n_items] mask, one row per batch row."""

    allowed: np.ndarray

    def rows(self, rows: np.ndarray) -> np.ndarray:
        return self.allowed[rows]

    def pairs(self, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.allowed[rows[:, None], items]


@dataclass(frozen=True)
class Unwatched:
    """Released and not yet watched by the row's user, and not the row's ``just`` item."""

    available: np.ndarray  # bool[n_items]
    seen: Any  # the watched matrix (``policies.watched`` or dense bool)
    users: np.ndarray  # the user of each batch row
    just: np.ndarray  # int[n]: the title each row's session just played (-1: none)

    def rows(self, rows: np.ndarray) -> np.ndarray:
        allowed = self.available[None, :] & ~self.seen[self.users[rows]]
        played = np.flatnonzero(self.just[rows] >= 0)
        allowed[played, self.just[rows][played]] = False
        return allowed

    def pairs(self, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        users = np.broadcast_to(self.users[rows][:, None], items.shape)
        fresh = items != self.just[rows][:, None]
        return self.available[items] & ~self.seen[users, items] & fresh


def as_playable(allowed: np.ndarray | Playable) -> Playable:
    """A dense mask as ``AllowedMatrix``; anything ``Playable`` passes through."""
    return AllowedMatrix(allowed) if isinstance(allowed, np.ndarray) else allowed
