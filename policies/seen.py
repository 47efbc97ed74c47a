"""Some users' rows of the watched matrix, indexed by user id like the whole matrix.

Offline judging needs the start-of-day watched items of the users it evaluates (2,000 by
default), not of everyone; rolling the whole dense ``seen`` back one day meant copying
n_users × n_items bytes every gated night (1 GB at 100k users × 10k items) to read 0.02%
of them. ``SeenRows`` holds only those users' rows and answers the indexing policies apply
to ``ServeContext.seen`` (``seen[users]``, ``seen[user_index, item_index]``, assignment
through the latter, ``shape``, ``copy``), so every policy takes it where it takes the
dense matrix. Asking for a user whose row it does not hold raises ``KeyError``: a wrong
answer would be a silent ``False``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class SeenRows:
    """bool rows of ``users`` (sorted, distinct) out of an ``n_users`` × n_items matrix."""

    ndim = 2
    dtype = np.dtype(bool)

    def __init__(self, users: np.ndarray, rows: np.ndarray, n_users: int) -> None:
        """``rows[j]`` is the row of user ``users[j]``; ``users`` sorted and distinct."""
        users = np.asarray(users, dtype=np.int64)
        if users.size and (np.any(np.diff(users) <= 0) or users[0] < 0 or users[-1] >= n_users):
            raise ValueError("users must be sorted, distinct and below n_users")
        if rows.shape[0] != users.size or rows.dtype != bool:
            raise ValueError("one bool row per user")
        self.users, self.rows, self.n_users = users, rows, n_users

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_users, int(self.rows.shape[1]))

    def holds(self, users: np.ndarray) -> np.ndarray:
        """bool, shaped like ``users``: whether each user's row is here."""
        users = np.asarray(users, dtype=np.int64)
        if self.users.size == 0:
            return np.zeros(users.shape, dtype=bool)
        at = np.minimum(np.searchsorted(self.users, users), self.users.size - 1)
        return self.users[at] == users

    def _at(self, users: Any) -> np.ndarray:
        """Row positions of ``users`` (any shape), or ``KeyError`` for a row not held."""
        users = np.asarray(users, dtype=np.int64)
        if not self.holds(users).all():
            raise KeyError("seen rows asked for users they do not hold")
        return np.searchsorted(self.users, users)

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, tuple):
            users, items = key
            return self.rows[self._at(users), items]
        return self.rows[self._at(key)]

    def __setitem__(self, key: tuple[Any, Any], value: Any) -> None:
        users, items = key
        self.rows[self._at(users), items] = value

    def copy(self) -> SeenRows:
        return SeenRows(self.users, self.rows.copy(), self.n_users)
