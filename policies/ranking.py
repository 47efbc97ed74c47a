"""Picking each row's best entries: a partition then a sort of the few, and the same near
the top only (``policies.near_top``) when most of a row cannot reach it."""

from __future__ import annotations

import numpy as np

from recloop.policies.near_top import NearTop, near_top


def top_of_near(near: NearTop, jittered: np.ndarray,
                n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The top n of the near columns once jittered (``jittered`` aligned with
    ``near.columns``): items, scores and the rows left unsure. A row with exactly equal
    jittered scores near its top is unsure too: a full partition may order them either way.
    """
    best, values = top_k_scored(jittered, n + 1)  # one more, to see a tie at the edge
    tied = ((values[:, 1:] == values[:, :-1]) & np.isfinite(values[:, 1:])).any(axis=1)
    best, values = best[:, :n], values[:, :n]
    items = np.full(best.shape, -1, dtype=np.intp)  # all rows unsure when nothing is near
    if near.columns.shape[1]:
        items = np.where(best >= 0, np.take_along_axis(near.columns, best.clip(0), axis=1), -1)
    return items.astype(np.int32), values, np.flatnonzero(near.unsure | tied)


def top_k_jittered(rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``top_k_scored`` of rows already jittered (overwrites them): the near columns first,
    since a flat row is flat no longer; what stays unsure is ranked in full."""
    near = near_top(rows, np.zeros((rows.shape[0], 1), rows.dtype), n)
    items, values, unsure = top_of_near(near, near.scores, n)
    if unsure.size:
        items[unsure], values[unsure] = top_k_scored(rows[unsure], n)
    return items, values


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best finite scores per row, best first; -1 where fewer exist.

    Overwrites ``scores`` (negated in place) to avoid a copy of the score block.
    """
    return top_k_scored(scores, k)[0]


def top_k_scored(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``top_k`` plus the selected scores (``-inf`` on padding); overwrites ``scores``."""
    n, m = scores.shape
    k_eff = min(k, m)
    items = np.full((n, k), -1, dtype=np.int32)
    values = np.full((n, k), -np.inf, dtype=scores.dtype)
    if k_eff == 0:
        return items, values
    np.negative(scores, out=scores)  # argpartition selects the smallest
    part = np.argpartition(scores, k_eff - 1, axis=1)[:, :k_eff]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(part_scores, axis=1, kind="stable")
    best = np.take_along_axis(part, order, axis=1).astype(np.int32)
    best_scores = -np.take_along_axis(part_scores, order, axis=1)
    finite = np.isfinite(best_scores)
    items[:, :k_eff] = np.where(finite, best, -1)
    values[:, :k_eff] = np.where(finite, best_scores, -np.inf)
    return items, values
