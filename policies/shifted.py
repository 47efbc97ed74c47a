r"""What a nightly ε-greedy list's propensities become once watched items drop out of it.

Batch serving draws each user's list of n = k + spare items at night and answers every
request with the first k items of it the user has not watched since
(``sim.serving.drop_seen``): items move up past what dropped out. The night's
propensities (an item at its *nightly* position) then no longer describe the slots
shown, so the serving path asks the record of the draw (``ExploredLists``) to restate them.

The draw (``EpsilonGreedy`` over a deterministic base list :math:`b_0..b_{n-1}`, with a
pool M of m items: allowed, not in the base list): each nightly position q explores
independently with probability ε; exploring positions, in order, take successive items of
a uniformly random ordering of M, and keep :math:`b_q` once M is used up. At the request,
W is the set of items watched since the night, taken as given, i.e. independent of the
night's draw. That holds for plays found elsewhere; when W holds a click on this very
list from an earlier session it is not (the user's sessions of the day share one draw,
which no per-request probability can express), and the values are those of a fresh draw.

For shown items :math:`s_0..s_{k-1}` let :math:`P_j` = P(the first j+1 unwatched items of
the list are :math:`s_0..s_j`). One pass over nightly positions computes every
:math:`P_j` exactly, pool draws without replacement included. Its state is (c, f): c items
of the prefix matched, f pool draws that fell on watched items (and dropped out). With
:math:`e = (\text{pool items among } s_{<c}) + f` draws made and :math:`a = |W \cap M|`,
position q

* keeps :math:`b_q` with probability 1 − ε (1 once e = m): it drops out if
  :math:`b_q \in W` (state unchanged), matches if :math:`b_q = s_c` (c + 1), else the
  path ends;
* draws :math:`s_c` with probability ε / (m − e) when :math:`s_c \in M` (c + 1), and a
  watched pool item with probability ε (a − f) / (m − e) (f + 1).

The logged propensity of slot j is :math:`\rho_j = P_j / P_{j-1}`, the slot's probability
given the slots above it, with a shown pool item counted at ε/m rather than ε/(m − e),
i.e. times :math:`(m - e_j)/m` with :math:`e_j` the pool items shown above j. So

.. math:: \prod_{t \le j} \rho_t = P_j \prod_{t \le j,\ s_t \in M} \frac{m - e_t}{m},

a factor fixed by the shown items and m alone, the same for every ε: between two ε-greedy
policies over one base list, ratios of these products are ratios of prefix probabilities,
which is what ``cascade_ips`` multiplies; for a deterministic target (π > 0 only on
prefixes without pool items) the factor is 1. Rows where nothing can drop (W meets
neither the list nor the pool) keep the night's values: (1 − ε) for a base item and ε/m
for a pool item when m ≥ n, which are then these very numbers.

Why not log the marginal P(:math:`s_j` at shown slot j)? The drops above slot j are shared
by every slot below it; a product of marginals counts their uncertainty once per slot,
and prefix weights built from it run away geometrically. (Slot 0's value is its
marginal.) The price: item-position estimators (``ips``, ``snips``), which want
marginals, read conditional values on restated rows; for recloop's one-click users they
are biased anyway (``sim.metrics.offpolicy``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recloop.policies.types import Slates


@dataclass(frozen=True)
class ExploredLists:
    """How a batch of ε-greedy lists was drawn: enough to restate their propensities later.

    Rows align with the lists'. ``base`` is the ranking before exploration (-1 padding),
    ``pool`` the pool size m of each row, ``available`` the items released at the draw,
    which was made without a candidate restriction (as nightly lists are).
    """

    base: np.ndarray  # int32[n, n_list]
    pool: np.ndarray  # int64[n]
    available: np.ndarray  # bool[n_items]
    epsilon: float

    def take(self, rows: np.ndarray) -> ExploredLists:
        """The records of a subset of the rows."""
        return ExploredLists(self.base[rows], self.pool[rows], self.available, self.epsilon)

    def by_user(self, users: np.ndarray, n_users: int) -> ExploredLists:
        """A table with user u's record in row u (no list: -1 base, empty pool)."""
        base = np.full((n_users, self.base.shape[1]), -1, dtype=np.int32)
        pool = np.zeros(n_users, dtype=np.int64)
        base[users], pool[users] = self.base, self.pool
        return ExploredLists(base, pool, self.available, self.epsilon)

    def restate(self, shown: Slates, users: np.ndarray, seen: np.ndarray) -> Slates:
        """``shown`` (these rows' lists after ``drop_seen``) with each slot's propensity
        restated for where its item now stands, given ``seen`` (bool[n_users, n_items]).

        Rows where nothing can have dropped out keep their propensities as they are.
        """
        real = self.base >= 0
        gone = real & seen[users[:, None], np.maximum(self.base, 0)]
        unwatched = (self.available[None, :] & ~seen[users]).sum(axis=1)
        watched_pool = self.pool - (unwatched - (real & ~gone).sum(axis=1))
        moved = np.flatnonzero(gone.any(axis=1) | (watched_pool > 0))
        if moved.size == 0 or shown.propensity is None:
            return shown
        prop = shown.propensity.copy()
        part = self.take(moved)
        prop[moved] = part.propensity(shown.items[moved], gone[moved], watched_pool[moved])
        return Slates(shown.items, prop)

    def propensity(self, shown: np.ndarray, gone: np.ndarray,
                   watched_pool: np.ndarray) -> np.ndarray:
        """ρ_j of every shown slot (module docstring); 0 where nothing is shown."""
        from_pool = self._from_pool(shown)
        prefix = self.prefix_probabilities(shown, gone, watched_pool)
        above = np.concatenate([np.ones((shown.shape[0], 1)), prefix[:, :-1]], axis=1)
        given_above = np.divide(prefix, above, out=np.zeros_like(prefix), where=above > 0)
        pool = np.maximum(self.pool, 1)[:, None]
        scale = np.where(from_pool, (pool - pool_above(from_pool)) / pool, 1.0)
        rho = np.minimum(given_above * scale, 1.0)  # a certain slot may round above 1
        return np.where(shown >= 0, rho, 0.0).astype(np.float32)

    def prefix_probabilities(self, shown: np.ndarray, gone: np.ndarray,
                             watched_pool: np.ndarray) -> np.ndarray:
        """P_j for every row and j (n × k): the (c, f) pass of the module docstring.

        ``gone`` marks base items watched since the draw; ``watched_pool`` is a = |W ∩ M|.
        """
        n, k = shown.shape
        from_pool = self._from_pool(shown)
        f = np.arange(int(min(watched_pool.max(initial=0), self.base.shape[1])) + 1)
        drawn = pool_above(from_pool)[:, :, None] + f  # e, per (row, c, f)
        left = self.pool[:, None, None] - drawn
        dry = left <= 0
        per_draw = np.where(dry, 0.0, self.epsilon / np.maximum(left, 1))
        keep = np.where(dry, 1.0, 1.0 - self.epsilon)
        draw_shown = per_draw * from_pool[:, :, None]
        draw_gone = per_draw * np.maximum(watched_pool[:, None, None] - f, 0)
        mass = np.zeros((n, k, f.size))
        mass[:, 0, 0] = 1.0
        prefix = np.zeros((n, k))
        for q in range(self.base.shape[1]):
            b = self.base[:, q]
            drops = (gone[:, q] | (b < 0))[:, None, None]
            match = ((shown == b[:, None]) & (shown >= 0))[:, :, None]
            advance = mass * (keep * match + draw_shown)
            prefix += advance.sum(axis=2)
            after = mass * keep * drops
            after[:, :, 1:] += (mass * draw_gone)[:, :, :-1]
            after[:, 1:] += advance[:, :-1]
            mass = after
        return prefix

    def _from_pool(self, shown: np.ndarray) -> np.ndarray:
        """bool[n, k]: shown items the draw took from the pool (not in the base list)."""
        in_base = (shown[:, :, None] == self.base[:, None, :]).any(axis=2)
        return (shown >= 0) & ~in_base


def pool_above(from_pool: np.ndarray) -> np.ndarray:
    """Pool items shown above each slot (e_j)."""
    return np.cumsum(from_pool, axis=1) - from_pool
