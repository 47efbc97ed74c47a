"""Properties of the slates themselves, independent of how users reacted."""

from __future__ import annotations

import numpy as np


def intra_list_diversity(items: np.ndarray, genre: np.ndarray) -> np.ndarray:
    """Per slate: the share of item pairs from different genres (empty slots ignored).

    1 when every item is from a different genre, 0 when all share one; NaN for slates with
    fewer than two items.
    """
    shown = items >= 0
    g = np.where(shown, genre[np.maximum(items, 0)], -1)
    same = (g[:, :, None] == g[:, None, :]) & shown[:, :, None] & shown[:, None, :]
    n = shown.sum(axis=1)
    pairs = n * (n - 1) / 2
    same_pairs = (same.sum(axis=(1, 2)) - n) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, 1 - same_pairs / pairs, np.nan)
