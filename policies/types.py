"""The data a policy is allowed to see, and what it hands back.

These types are the wall between the simulated world and the recommender: a policy is
built from ``ItemMetadata`` (public catalog facts), trained on a ``TrainingWindow`` (logged
data only) and served through a ``ServeContext``. Nothing here carries users' true tastes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recloop.policies.bits import BitMatrix
from recloop.policies.seen import SeenRows
from recloop.policies.watched import Watched


@dataclass(frozen=True)
class ItemMetadata:
    """Public facts about the catalog: what a streaming service would know about its titles."""

    genre: np.ndarray  # int16[n_items]
    release_day: np.ndarray  # int16[n_items]

    @property
    def n_items(self) -> int:
        return int(self.genre.shape[0])


@dataclass(frozen=True)
class TrainingWindow:
    """Logged data for one nightly fit, point-in-time: only days before the fit.

    ``interactions`` is a users × items CSR matrix of positive labels (clicks or completed
    watches, whichever the run trains on); ``impressions`` is the raw log of the window for
    policies that need more than labels, read from ``log`` on first use (most policies need
    only the labels, and reading every row of the window each night is most of its cost).
    ``data_version`` hashes the partitions read, so a model can be traced to exactly the data
    it saw.
    """

    day: int  # the first day this model will serve
    days: tuple[int, ...]
    interactions: sp.csr_matrix
    log: pd.DataFrame | Callable[[], pd.DataFrame]  # the impressions, or how to read them
    data_version: str
    leaky: bool = False  # features may see their labels' own day: a deliberate bug to study

    @cached_property
    def impressions(self) -> pd.DataFrame:
        """The window's impression rows (``WINDOW_COLUMNS`` of ``sim/window.py``)."""
        return self.log() if callable(self.log) else self.log

    @property
    def n_users(self) -> int:
        return int(self.interactions.shape[0])


@dataclass(frozen=True)
class ServeContext:
    """What the serving path knows at request time.

    ``available`` marks items released by now. ``seen`` marks, per user, everything already
    watched as logged (``policies.watched``; offline evaluation
    passes only the evaluated users' rows, ``policies.seen.SeenRows``; tests may pass a
    dense bool matrix); policies never recommend those again. ``recent`` holds today's
    logged positives so far (users × items) for real-time serving to fold in; ``None`` when
    the serving path has none (batch).
    ``candidates``, when set, restricts each user to a precomputed candidate set (hybrid
    serving re-ranks last night's candidates in real time).
    """

    day: int
    hour: float
    available: np.ndarray  # bool[n_items]
    seen: Watched | SeenRows | np.ndarray  # [n_users, n_items], or the asked-about users' rows
    recent: sp.csr_matrix | None = None
    candidates: BitMatrix | np.ndarray | None = None  # [n_users, n_items] flags


@dataclass(frozen=True)
class Slates:
    """Ranked item lists for a batch of users.

    ``propensity[i, j]`` is the probability that the policy would put ``items[i, j]`` at
    position ``j`` for that request; ``None`` when the policy cannot state it. Batch lists
    whose items moved up past watched ones state it given the positions above instead
    (``policies.shifted``): what prefix-weighted off-policy estimates multiply.
    """

    items: np.ndarray  # int32[n, k]
    propensity: np.ndarray | None = field(default=None)  # float32[n, k]

    def __post_init__(self) -> None:
        if self.items.ndim != 2:
            raise ValueError(f"slate items must be 2-D, got shape {self.items.shape}")
        if self.propensity is not None and self.propensity.shape != self.items.shape:
            raise ValueError("propensity must have the same shape as items")

    @property
    def k(self) -> int:
        return int(self.items.shape[1])

    def take(self, rows: np.ndarray) -> Slates:
        """Slates for a subset of the requests (rows of this batch)."""
        prop = None if self.propensity is None else self.propensity[rows]
        return Slates(self.items[rows], prop)
