"""Which columns of a score row can reach its top n once the tie-breaking jitter is added,
found without jittering or partitioning the whole row.

A scoring policy ranks by ``score + jitter`` (``ScoringPolicy``), where each item's jitter
lies in ``[0, bound)`` and ``bound`` is about 16 float32 ulps of the row's largest score.
If at least n allowed scores reach a threshold ``t``, an item scoring below
``t - 2 * bound`` cannot be in the top n: even jittered it stays below ``t - bound`` (the
extra ``bound`` absorbs float32 rounding), under each of those n items. So:

* ``t`` is read off a strided sample of the row, aiming at ``OVERSHOOT * n`` items above;
* only items scoring at least ``t - 2 * bound`` are jittered and ranked;
* a row where fewer than n allowed items reach ``t``, or where most of the row is near
  (flat scores: a user the model knows nothing of), is ``unsure`` and is ranked in full.

The selected items are those of the full ranking, in its order. Items whose jittered
scores are exactly equal may come out of any partition either way round, so the caller
ranks a row with such a tie near its top in full too, as before (rare: float32 scores
that differ by a few ulps, and jitters that differ by as much the other way).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OVERSHOOT = 8  # aim the threshold at this many times the items needed
SAMPLE = 1024  # columns of the row the threshold is read from


@dataclass(frozen=True)
class NearTop:
    """Per row, the columns within reach of its top n (padded with -inf scores)."""

    columns: np.ndarray  # intp[rows, width]
    scores: np.ndarray  # float32[rows, width], -inf on padding
    unsure: np.ndarray  # bool[rows]: fewer than n allowed items reached the threshold


def worth_it(n: int, n_items: int) -> bool:
    """Whether the sample is a small part of the row and the threshold lands well inside
    it (at 2,000 items the sample is the whole row and selection saved nothing)."""
    return 4 * SAMPLE <= n_items and 4 * OVERSHOOT * n <= n_items


def near_top(scores: np.ndarray, bound: np.ndarray, n: int) -> NearTop:
    """``scores``: float32[rows, m], -inf where not allowed, not jittered; ``bound``:
    float32[rows, 1], the jitter's upper bound per row."""
    m = scores.shape[1]
    sample = strided_sample(scores)
    threshold = sample_threshold(sample, OVERSHOOT * n, m)
    reach = threshold - 2 * bound
    # a row of ties (a cold user's flat scores) leaves most columns near: rank it in full.
    # Its sample shows it, so its columns are never listed; the count catches what it missed
    wide = (sample >= reach).sum(axis=1) > sample.shape[1] // 8
    reach[wide] = np.inf
    rows, cols = np.divmod(np.flatnonzero(scores >= reach), m)
    counts = np.bincount(rows, minlength=scores.shape[0])
    missed = counts > m // 8
    if missed.any():
        kept = ~missed[rows]
        rows, cols = rows[kept], cols[kept]
        counts[missed], wide = 0, wide | missed
    slot = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
    width = int(counts.max(initial=0))
    columns = np.zeros((scores.shape[0], width), dtype=np.intp)
    values = np.full((scores.shape[0], width), -np.inf, dtype=scores.dtype)
    columns[rows, slot], values[rows, slot] = cols, scores[rows, cols]
    reached = (np.isfinite(values) & (values >= threshold)).sum(axis=1)
    return NearTop(columns, values, (reached < n) | wide)


def strided_sample(scores: np.ndarray) -> np.ndarray:
    """About ``SAMPLE`` columns of every row, evenly spaced (a view)."""
    return scores[:, :: max(1, scores.shape[1] // SAMPLE)]


def sample_threshold(sample: np.ndarray, above: int, m: int) -> np.ndarray:
    """float[rows, 1]: per row, a score about ``above`` of a row's ``m`` columns reach,
    read off ``sample``, every stride-th column (its rank-th largest, rank scaled to it)."""
    rank = min(-(-above * sample.shape[1] // m), sample.shape[1])  # ceil, at most all
    return np.partition(sample, sample.shape[1] - rank, axis=1)[:, -rank, None]
