"""Where the users' coin flips come from: a component's stream, or one keyed per user.

Every transition of the users' side draws through a ``Draws``: ``uniform`` numbers, a
``beta`` variate or a ``categorical`` pick per row of its batch.

* ``StreamDraws`` reads one ``np.random.Generator`` shared by the component (choice, churn,
  ...): a user's numbers depend on everything drawn before them in the run.
* ``KeyedDraws`` computes each number from (run key, purpose, user, day, the user's request
  number that day, slot) with a counter-based hash (splitmix64 finaliser), so a user's
  coin flips never depend on other users or on the policy: two runs that differ only in
  the policy share every user's draws for as long as the users' states agree (common
  random numbers). Its beta draws invert the CDF of one uniform; both kinds draw a
  categorical pick that way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
from scipy.special import betaincinv

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1, MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
PICK_BLOCK = 2**17  # logits per block of rows in softmax_pick


class Draws(Protocol):
    """Random numbers for a batch of ``n`` rows (one session each)."""

    n: int

    def uniform(self, m: int, tag: int = 0) -> np.ndarray:
        """float[n, m] in [0, 1)."""

    def beta(self, a: np.ndarray, b: np.ndarray, tag: int = 0) -> np.ndarray:
        """float[n]: Beta(a, b) per row."""

    def categorical(self, logits: np.ndarray, tag: int = 0) -> np.ndarray:
        """int[n]: an index per row, with probability softmax(logits) (-inf: never)."""

    def take(self, rows: np.ndarray) -> Draws:
        """The draws of some rows only."""


@dataclass(frozen=True)
class StreamDraws:
    """Draws in call order from one component stream (the run's original randomness)."""

    rng: np.random.Generator
    n: int

    def uniform(self, m: int, tag: int = 0) -> np.ndarray:
        return self.rng.random((self.n, m))  # the same numbers as random(n) when m == 1

    def beta(self, a: np.ndarray, b: np.ndarray, tag: int = 0) -> np.ndarray:
        return self.rng.beta(a, b)

    def categorical(self, logits: np.ndarray, tag: int = 0) -> np.ndarray:
        return softmax_pick(logits, self.rng.random((self.n, 1)))

    def take(self, rows: np.ndarray) -> StreamDraws:
        return StreamDraws(self.rng, int(np.size(rows)))


@dataclass(frozen=True)
class KeyedDraws:
    """Draws keyed by (key, user, day, request number, slot): common random numbers."""

    key: np.uint64  # the run's key for one purpose (arrivals, choice, churn, ...)
    users: np.ndarray
    day: int
    request: np.ndarray  # the user's request number on ``day``, per row

    @property
    def n(self) -> int:
        return int(self.users.size)

    def uniform(self, m: int, tag: int = 0) -> np.ndarray:
        with np.errstate(over="ignore"):  # uint64 arithmetic wraps by design
            key = self.key + np.uint64(tag) * GOLDEN
        return keyed_uniform(key, self.users, self.day, self.request, m)

    def beta(self, a: np.ndarray, b: np.ndarray, tag: int = 0) -> np.ndarray:
        return betaincinv(a, b, self.uniform(1, tag)[:, 0])

    def categorical(self, logits: np.ndarray, tag: int = 0) -> np.ndarray:
        return softmax_pick(logits, self.uniform(1, tag))

    def take(self, rows: np.ndarray) -> KeyedDraws:
        return replace(self, users=self.users[rows], request=self.request[rows])


def softmax_pick(logits: np.ndarray, u: np.ndarray) -> np.ndarray:
    """int[n]: per row, the index where ``u`` (float[n, 1] in [0, 1)) falls in the CDF of
    softmax(logits): one uniform per row, where Gumbel-max needs one per item.

    Rows go through in blocks of about ``PICK_BLOCK`` logits: the float64 CDF of a block
    stays in cache instead of page-faulting one n × n_items temporary into memory, which
    made whole-batch picks 2.2 times slower at 20,000 items (same numbers either way).
    """
    n, m = logits.shape
    rows = max(1, PICK_BLOCK // max(m, 1))
    pick = np.empty(n, dtype=np.intp)
    cumulative = np.empty((min(rows, n), m), dtype=np.float64)
    for start in range(0, n, rows):
        block = logits[start:start + rows]
        cdf = cumulative[:block.shape[0]]
        np.cumsum(np.exp(block - block.max(axis=1, keepdims=True)), axis=1, dtype=np.float64,
                  out=cdf)
        pick[start:start + rows] = (cdf <= u[start:start + rows] * cdf[:, -1:]).sum(axis=1)
    return np.minimum(pick, m - 1)


def mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a bijection of uint64 that scatters every input bit."""
    x = (x ^ (x >> np.uint64(30))) * MIX1
    x = (x ^ (x >> np.uint64(27))) * MIX2
    return x ^ (x >> np.uint64(31))


def keyed_uniform(key: np.uint64, users: np.ndarray, day: int, request: np.ndarray,
                  m: int) -> np.ndarray:
    """float[n, m]: uniforms hashed from (key, user, day, request, slot), 53 bits each."""
    with np.errstate(over="ignore"):
        h = mix(np.asarray(users, np.uint64) + key)
        h = mix(h + GOLDEN * np.uint64(day + 1))
        h = mix(h + GOLDEN * (np.asarray(request, np.uint64) + np.uint64(1)))
        h = mix(h[:, None] + GOLDEN * (np.arange(m, dtype=np.uint64) + np.uint64(1)))
    return (h >> np.uint64(11)).astype(np.float64) / 2.0**53


def as_draws(source: np.random.Generator | Draws, n: int) -> Draws:
    """A component stream as ``StreamDraws`` for ``n`` rows; ``Draws`` pass through."""
    return StreamDraws(source, n) if isinstance(source, np.random.Generator) else source
