"""How much of the users' true tastes a deployed model has learned: pure functions.

* ``rank_agreement``: per user, Spearman's rho between the model's ranking of the items it
  may show and those items' user-specific true utility (utility minus the item's mean over
  users, so item quality and popularity do not count as "personal"). Rows list items in
  the model's order, best first, ``-1`` padding last; with m items and no ties
  rho = 1 - 6 Σd² / (m (m² - 1)).
* ``gap_recovered``: (U_served - U_random) / (U_oracle - U_random), the share of the welfare
  gap between a random slate and the oracle's that the model's slates close.
"""

from __future__ import annotations

import numpy as np


def rank_agreement(ranked: np.ndarray, value: np.ndarray) -> np.ndarray:
    """float[n]: Spearman's rho per row between model order and ``value`` of its items.

    ``ranked`` is int[n, m] (best first, -1 padding last); ``value`` float[n, n_items].
    Rows with fewer than 3 items give NaN (too few to rank).
    """
    valid = ranked >= 0
    counts = valid.sum(axis=1)
    truth = np.where(valid, np.take_along_axis(value, np.maximum(ranked, 0), axis=1), -np.inf)
    # rank of each item's true value within its row, best (largest) first; padding last
    order = np.argsort(-truth, axis=1, kind="stable")
    truth_rank = np.empty_like(order)
    np.put_along_axis(truth_rank, order, np.arange(ranked.shape[1])[None, :], axis=1)
    model_rank = np.arange(ranked.shape[1])[None, :]
    d2 = np.where(valid, (model_rank - truth_rank) ** 2, 0).sum(axis=1).astype(float)
    m = counts.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - 6.0 * d2 / (m * (m**2 - 1))
    return np.where(counts >= 3, rho, np.nan)


def gap_recovered(served: float, random: float, oracle: float) -> float:
    """Share of the random-to-oracle welfare gap closed; NaN when there is no gap."""
    gap = oracle - random
    return float((served - random) / gap) if gap > 0 else float("nan")
