"""A bool matrix stored one bit per entry: the watched matrix of a small catalog, the
wide users' rows of a large one (``policies.watched``), hybrid serving's candidate mask.

As a dense bool array the flags take a byte per pair: 20 GB at one million users × 20,000
items. ``BitMatrix`` packs them eight to a byte and answers the indexing the run and the
policies apply to the dense matrix: ``w[users]`` (bool rows, unpacked for a batch: what
scoring masks with), ``w[user_index, item_index]`` (broadcast like NumPy's integer
indexing), assignment of ``True`` or ``False`` through the latter, ``shape`` and ``copy``.
Unpacking a batch's rows costs about what copying dense rows did.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class BitMatrix:
    """bool[n_users, n_items] stored as bits (little-endian within each byte)."""

    ndim = 2
    dtype = np.dtype(bool)

    def __init__(self, n_users: int, n_items: int) -> None:
        self.n_items = n_items
        self.bits = np.zeros((n_users, (n_items + 7) // 8), dtype=np.uint8)

    @classmethod
    def from_dense(cls, dense: np.ndarray) -> BitMatrix:
        """The same flags as a dense bool matrix (tests, small worlds)."""
        out = cls(*dense.shape)
        out.bits[:] = np.packbits(dense, axis=1, bitorder="little")
        return out

    @property
    def shape(self) -> tuple[int, int]:
        return (self.bits.shape[0], self.n_items)

    @property
    def nbytes(self) -> int:
        return self.bits.nbytes

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, tuple):
            users, items = np.broadcast_arrays(*(np.asarray(k, dtype=np.intp) for k in key))
            return (self.bits[users, items >> 3] >> (items & 7).astype(np.uint8)) & 1 == 1
        rows = np.unpackbits(self.bits[key], axis=-1, count=self.n_items, bitorder="little")
        return rows.view(bool)

    def __setitem__(self, key: tuple[Any, Any], value: bool) -> None:
        if not isinstance(key, tuple) or not isinstance(value, bool | np.bool_):
            raise TypeError("set flags as w[user_index, item_index] = True or False")
        users, items = np.broadcast_arrays(*(np.asarray(k, dtype=np.intp) for k in key))
        mask = np.left_shift(np.uint8(1), (items & 7).astype(np.uint8))
        if value:
            np.bitwise_or.at(self.bits, (users, items >> 3), mask)
        else:
            np.bitwise_and.at(self.bits, (users, items >> 3), ~mask)

    def to_dense(self) -> np.ndarray:
        """The whole matrix as bool (tests, small worlds)."""
        return self[np.arange(self.shape[0])]

    def add_rows(self, count: int) -> np.ndarray:
        """Append ``count`` all-False rows; their indices. Room grows by half again when it
        runs out, so appending a row at a time stays linear overall."""
        n = self.bits.shape[0]
        store = self.bits.base if self.bits.base is not None else self.bits
        if n + count > store.shape[0]:
            grown = np.zeros((max(n + count, store.shape[0] * 3 // 2), self.bits.shape[1]),
                             dtype=np.uint8)
            grown[:n] = self.bits
            store = grown
        self.bits = store[:n + count]
        return np.arange(n, n + count)

    def copy(self) -> BitMatrix:
        out = BitMatrix.__new__(BitMatrix)
        out.n_items, out.bits = self.n_items, self.bits.copy()
        return out

    def __getstate__(self) -> dict[str, Any]:
        """Only the 8-byte words that hold a watched flag: a run checkpoints every night,
        and at a million users × 20,000 items the bits are 2.5 GB, nearly all zero early."""
        flat = self.bits.reshape(-1)
        whole = flat.size - flat.size % 8
        words = flat[:whole].view(np.uint64)
        at = np.flatnonzero(words)
        return {"shape": self.shape, "at": at, "words": words[at], "tail": flat[whole:].copy()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        n_users, self.n_items = state["shape"]
        self.bits = np.zeros((n_users, (self.n_items + 7) // 8), dtype=np.uint8)
        flat = self.bits.reshape(-1)
        whole = flat.size - flat.size % 8
        flat[:whole].view(np.uint64)[state["at"]] = state["words"]
        flat[whole:] = state["tail"]

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, BitMatrix) and other.n_items == self.n_items
                and np.array_equal(other.bits, self.bits))

    __hash__ = None  # type: ignore[assignment]  # mutable
