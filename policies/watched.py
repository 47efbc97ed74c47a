"""The watched matrix: which titles each user has watched, in memory that follows what was
watched rather than users × items.

Every served slate drops what its user has watched, so the run answers "has user u watched
item i?" for every slot it serves and masks whole rows when it scores. A bit per pair
(``policies.bits``) is the fastest answer and small for small catalogs, but at a million
users × 20,000 items it is 2.5 GB, nearly all zeros: in the default world a user has
watched 39 titles after 30 days (median 31, 90th percentile 83, the most 469).

``WatchLists`` keeps each user's titles in a short list of ``slots`` (title + 1 as uint16,
0 for an empty slot, filled from the left) and moves a user whose list would overflow to a
bit row of its own. At a million users × 20,000 items and 64 slots that is 128 MB of lists
plus bit rows for the 18% of users past 64 titles: about 0.56 GB instead of 2.5. The price
is the pair lookup, a comparison with each of the user's slots instead of one bit (13 ms
against 1.1 ms for 130,000 pairs), which the day makes a few times per round.

``watched_matrix`` picks the bits below ``LISTS_FROM`` items, where a bit row is no bigger
than a list and the default world keeps its speed, and the lists from there on. Both answer
the same indexing (``BitMatrix``'s docstring) with the same flags.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recloop.conf.distinct import distinct
from recloop.policies.bits import BitMatrix

SLOTS = 64  # titles a user's list holds before the user moves to a bit row
LISTS_FROM = 4_096  # items: from here a bit row (512 bytes) is 4x a list of 64 slots
CHUNK = 1 << 16  # pairs compared at once: bounds the temporaries to a few MB
WIDE_SHARE = 0.18  # users past 64 titles after 30 days of the default world (17%)


def watched_matrix(n_users: int, n_items: int) -> BitMatrix | WatchLists:
    """An all-False watched matrix in the representation that suits the catalog."""
    if n_items >= LISTS_FROM:
        return WatchLists(n_users, n_items, SLOTS)
    return BitMatrix(n_users, n_items)


def late_nbytes(n_users: int, n_items: int) -> float:
    """About what ``watched_matrix`` holds late in a long run (the start-up memory check)."""
    bit_row = (n_items + 7) // 8
    if n_items < LISTS_FROM:
        return n_users * bit_row
    return n_users * (2 * SLOTS + 8 + WIDE_SHARE * bit_row)


class WatchLists:
    """bool[n_users, n_items] as each user's list of titles, or a bit row when it is long."""

    ndim = 2
    dtype = np.dtype(bool)

    def __init__(self, n_users: int, n_items: int, slots: int = SLOTS) -> None:
        if n_items >= 2**16 - 1:
            raise ValueError(f"WatchLists holds titles as uint16: n_items={n_items} "
                             f"must be below {2**16 - 1}")
        self.n_items = n_items
        self.titles = np.zeros((n_users, slots), dtype=np.uint16)  # title + 1; 0: empty
        self.count = np.zeros(n_users, dtype=np.int32)  # filled slots, from the left
        self.row = np.full(n_users, -1, dtype=np.int32)  # a wide user's row of ``wide``
        self.wide = BitMatrix(0, n_items)

    @classmethod
    def from_dense(cls, dense: np.ndarray, slots: int = SLOTS) -> WatchLists:
        """The same flags as a dense bool matrix (tests, small worlds)."""
        out = cls(*dense.shape, slots=slots)
        out[np.nonzero(dense)] = True
        return out

    @property
    def shape(self) -> tuple[int, int]:
        return (self.titles.shape[0], self.n_items)

    @property
    def nbytes(self) -> int:
        return self.titles.nbytes + self.count.nbytes + self.row.nbytes + self.wide.nbytes

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, tuple):
            users, items = np.broadcast_arrays(*(np.asarray(k, dtype=np.intp) for k in key))
            return self._holds(users.reshape(-1), items.reshape(-1)).reshape(users.shape)
        users = np.asarray(key, dtype=np.intp)
        return self._rows(users.reshape(-1)).reshape(*users.shape, self.n_items)

    def _holds(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """bool per (user, item) pair."""
        out = np.empty(users.size, dtype=bool)
        for start in range(0, users.size, CHUNK):
            part = slice(start, start + CHUNK)
            title = (items[part] + 1).astype(np.uint16)
            out[part] = (self.titles[users[part]] == title[:, None]).any(axis=1)
        row = self.row[users]
        wide = np.flatnonzero(row >= 0)  # a wide user's list is empty: look at the bits
        if wide.size:
            out[wide] = self.wide[row[wide], items[wide]]
        return out

    def _rows(self, users: np.ndarray) -> np.ndarray:
        """bool[len(users), n_items]."""
        out = np.zeros((users.size, self.n_items), dtype=bool)
        out[self.pairs(users)] = True
        return out

    def pairs(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The pairs of ``np.nonzero(self[users])`` (in another order) without the dense
        rows: (position in ``users``, title) of every watched title, so a scorer masks a few
        dozen entries a user instead of a row."""
        users = np.asarray(users, dtype=np.intp).reshape(-1)
        titles = self.titles[users]
        at, slot = np.nonzero(titles)
        listed = titles[at, slot].astype(np.intp) - 1
        row = self.row[users]
        wide = np.flatnonzero(row >= 0)
        if wide.size == 0:
            return at, listed
        which, items = np.divmod(np.flatnonzero(self.wide[row[wide]]), self.n_items)
        return np.concatenate([at, wide[which]]), np.concatenate([listed, items])

    def __setitem__(self, key: tuple[Any, Any], value: bool) -> None:
        if not isinstance(key, tuple) or not isinstance(value, bool | np.bool_):
            raise TypeError("set flags as w[user_index, item_index] = True or False")
        users, items = (a.reshape(-1) for a in
                        np.broadcast_arrays(*(np.asarray(k, dtype=np.intp) for k in key)))
        if value:
            self._add(users, items)
        else:
            self._remove(users, items)

    def _add(self, users: np.ndarray, items: np.ndarray) -> None:
        """Flag the pairs not flagged yet: in the user's list when it has room, else in the
        user's bit row (created, with the list moved into it, when the list overflows)."""
        new = ~self._holds(users, items)
        pairs = distinct(users[new] * self.n_items + items[new])  # by user, once each
        if pairs.size == 0:
            return
        users, items = np.divmod(pairs, self.n_items)
        first = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
        sizes = np.diff(np.r_[first, users.size])
        owners = users[first]
        overflow = (self.row[owners] < 0) & (self.count[owners] + sizes > self.titles.shape[1])
        self._widen(owners[overflow])
        narrow = self.row[owners] < 0
        listed = np.repeat(narrow, sizes)
        if not listed.all():
            self.wide[self.row[users[~listed]], items[~listed]] = True
        slot = self.count[users] + np.arange(users.size) - np.repeat(first, sizes)
        self.titles[users[listed], slot[listed]] = items[listed] + 1
        self.count[owners[narrow]] += sizes[narrow]

    def _widen(self, users: np.ndarray) -> None:
        """Move these users' lists into new bit rows."""
        if users.size == 0:
            return
        rows = self.wide.add_rows(users.size)
        self.row[users] = rows
        titles = self.titles[users]
        at, slot = np.nonzero(titles)
        self.wide[rows[at], titles[at, slot].astype(np.intp) - 1] = True
        self.titles[users] = 0
        self.count[users] = 0

    def _remove(self, users: np.ndarray, items: np.ndarray) -> None:
        """Unflag the pairs; a list closes its gaps so its titles stay on the left."""
        row = self.row[users]
        wide = row >= 0
        if wide.any():
            self.wide[row[wide], items[wide]] = False
        owners = distinct(users[~wide])
        if owners.size == 0:
            return
        titles = self.titles[owners]
        at = np.searchsorted(owners, users[~wide])
        hit, slot = np.nonzero(titles[at] == (items[~wide] + 1).astype(np.uint16)[:, None])
        titles[at[hit], slot] = 0
        order = np.argsort(titles == 0, axis=1, kind="stable")
        self.titles[owners] = np.take_along_axis(titles, order, axis=1)
        self.count[owners] = (titles != 0).sum(axis=1)

    def to_dense(self) -> np.ndarray:
        """The whole matrix as bool (tests, small worlds)."""
        return self[np.arange(self.shape[0])]

    def copy(self) -> WatchLists:
        out = WatchLists.__new__(WatchLists)
        out.n_items, out.wide = self.n_items, self.wide.copy()
        out.titles, out.count, out.row = self.titles.copy(), self.count.copy(), self.row.copy()
        return out

    def __getstate__(self) -> dict[str, Any]:
        """The filled slots only (a run checkpoints every night, and the lists are mostly
        empty early), the wide users and their bit rows."""
        return {"shape": self.shape, "slots": self.titles.shape[1], "count": self.count,
                "titles": self.titles[self.titles != 0], "row": self.row, "wide": self.wide}

    def __setstate__(self, state: dict[str, Any]) -> None:
        n_users, self.n_items = state["shape"]
        self.count, self.row, self.wide = state["count"], state["row"], state["wide"]
        self.titles = np.zeros((n_users, state["slots"]), dtype=np.uint16)
        self.titles[np.arange(state["slots"])[None, :] < self.count[:, None]] = state["titles"]

    def __eq__(self, other: object) -> bool:
        """The same flags (however they are stored)."""
        if not isinstance(other, WatchLists) or other.shape != self.shape:
            return False
        for start in range(0, self.shape[0], 1024):
            users = np.arange(start, min(start + 1024, self.shape[0]))
            if not np.array_equal(self[users], other[users]):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]  # mutable


Watched = BitMatrix | WatchLists  # what a run's ``state.seen`` is
