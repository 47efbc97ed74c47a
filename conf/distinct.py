"""Sorted distinct values of an integer array, by a sort and a comparison of neighbours.

``np.unique`` answers the same, but from NumPy 2.3 on a plain call (no indices, inverse or
counts asked for) goes through a hash table first, and that path is far slower here than
sorting: measured with NumPy 2.4 on this project's machine, 1M int64 user ids took 535 ms
against 11 ms, a day's 9M shown (user, item) keys of the million-user world 11.4 s against
0.18 s, and a round's 2,600 ids 2.1 ms against 0.05 ms.

Why here: the users' day (``sim/``) and the watched lists (``policies/``) both need it, and
``conf`` is the one package both already build on (as ``conf/rowwise.py``).
"""

from __future__ import annotations

import numpy as np


def distinct(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` for integers: the distinct values of the flattened array,
    ascending."""
    ordered = np.sort(np.asarray(values), axis=None)
    if ordered.size == 0:
        return ordered
    first = np.empty(ordered.size, dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first]
