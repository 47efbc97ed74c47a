"""Lorenz curves of exposure or consumption: who gets the impressions (or the plays).

Shared by the sweep report (exposure per variant) and the check of a calibrated world
against its rating data (plays against ratings).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def lorenz_curve(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share of items (x, least shown first) against their share of impressions (y)."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    total = x.sum()
    cum = np.concatenate([[0.0], np.cumsum(x) / total]) if total else np.linspace(0, 1, x.size + 1)
    return np.linspace(0.0, 1.0, x.size + 1), cum


def lorenz_gini(x: np.ndarray, y: np.ndarray) -> float:
    """Gini as twice the area between the diagonal and the Lorenz curve."""
    area = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))
    return 1.0 - 2.0 * area


def mean_lorenz(curves: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Average Lorenz curves of several seeds on the finest of their grids.

    With equal catalog sizes this is exact, and its Gini is the seeds' mean Gini (the
    area is linear in the curve).
    """
    grid = max((x for x, _ in curves), key=len)
    return grid, np.mean([np.interp(grid, x, y) for x, y in curves], axis=0)
