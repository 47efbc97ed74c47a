"""How concentrated exposure is across items. Pure functions of per-item counts."""

from __future__ import annotations

import math

import numpy as np


def gini(counts: np.ndarray) -> float:
    """Gini coefficient: 0 when every item gets the same exposure, → 1 when one gets all.

    Uses the sorted-values form G = 2 Σ i x_(i) / (n Σ x) - (n + 1) / n. With no exposure at
    all there is no inequality to speak of, so the result is 0.
    """
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n, total = x.size, x.sum()
    if n == 0 or total == 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float(2 * (ranks * x).sum() / (n * total) - (n + 1) / n)


def top_share(counts: np.ndarray, fraction: float = 0.01) -> float:
    """Share of all exposure taken by the top ``ceil(fraction * n)`` items."""
    x = np.asarray(counts, dtype=np.float64)
    total = x.sum()
    if total == 0:
        return 0.0
    top = _count(fraction, x.size)
    return float(np.sort(x)[-top:].sum() / total)


def coverage(counts: np.ndarray) -> float:
    """Fraction of items shown at least once."""
    x = np.asarray(counts)
    return float((x > 0).mean()) if x.size else 0.0


def exposure_entropy(counts: np.ndarray) -> float:
    """Shannon entropy (bits) of the exposure distribution; log2(n) when uniform."""
    x = np.asarray(counts, dtype=np.float64)
    total = x.sum()
    if total == 0:
        return 0.0
    p = x[x > 0] / total
    return float(-(p * np.log2(p)).sum())


def graveyard(counts: np.ndarray, true_value: np.ndarray, top_fraction: float = 0.1) -> int:
    """Items among the best ``top_fraction`` by true value that got no exposure at all."""
    x, value = np.asarray(counts), np.asarray(true_value)
    if x.size == 0:
        return 0
    top = _count(top_fraction, x.size)
    best = np.argsort(-value, kind="stable")[:top]
    return int((x[best] == 0).sum())


def share_of(counts: np.ndarray, members: np.ndarray) -> float:
    """Share of all exposure that went to the ``members`` (boolean mask) items."""
    x = np.asarray(counts, dtype=np.float64)
    total = x.sum()
    return float(x[members].sum() / total) if total else 0.0


def _count(fraction: float, n: int) -> int:
    """ceil(fraction * n), at least 1, immune to float noise (0.07 * 100 = 7.000000000000001)."""
    return max(1, math.ceil(round(fraction * n, 9)))
