"""Taste drift: what users watch pulls their tastes toward it (the filter-bubble mechanism).

After watching title i to completion fraction f, a user's taste t moves to
``normalise(t + rate * f * (v_i - t))``: a small step toward the title's vector, in
proportion to how much of it they watched. Tastes stay unit vectors. The default
``rate = 0.01`` is small but not zero (a hundred full watches of one title close about
two thirds of the gap); ``rate = 0`` keeps every taste fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recloop.agents.catalog import Catalog, unit_rows
from recloop.conf.ranges import UNIT, ranged


@dataclass
class DriftConfig:
    """How fast consumption moves taste."""

    # step toward a watched title's vector, per title fully watched; 0 keeps tastes fixed
    rate: float = ranged(0.01, UNIT)

    @property
    def enabled(self) -> bool:
        return self.rate > 0


def drift(taste: np.ndarray, watched: np.ndarray, completion: np.ndarray, catalog: Catalog,
          cfg: DriftConfig) -> np.ndarray:
    """Tastes after each row watched ``watched`` (-1: nothing) to ``completion``."""
    rows = np.flatnonzero(watched >= 0)
    out = taste.copy()
    step = (cfg.rate * completion[rows])[:, None]
    out[rows] = unit_rows(taste[rows] + step * (catalog.vectors[watched[rows]] - taste[rows]))
    return out.astype(taste.dtype)
