"""Serving paths and the fallback chain: real-time ranker → last batch list → most popular.

* ``batch``: slates ranked by last night's model, in last night's context, looked up during
  the day (stale by design); items watched since are dropped, so ``k + spare`` are ranked.
  A list is ranked at the user's first request of the day rather than for every active user
  at night: nothing of the user's has changed since midnight (their watches all happen in
  their own sessions), so the list is the one the night would have ranked, and the users
  who never come today cost nothing. The items below a dropped one move up: a stochastic
  policy's record of its draw restates their propensities for the slots shown
  (``policies.shifted``).
* ``realtime``: ranked per request by the deployed model with today's interactions folded
  in (``ServeContext.recent``).
* ``hybrid``: the night ranks a long candidate list per user; requests re-rank within it in
  real time.

Whatever the mode, a request is always answered: when the model server is down (an
injected outage) or a user's batch row is empty, the next path in the chain serves it, and
every impression records which path did.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from recloop.conf.ranges import Between, one_of, ranged
from recloop.policies.base import Policy
from recloop.policies.bits import BitMatrix
from recloop.policies.shifted import ExploredLists
from recloop.policies.types import ServeContext, Slates
from recloop.sim.eventlog import SERVING_PATHS

BATCH, REALTIME, POPULAR = (SERVING_PATHS.index(p) for p in ("batch", "realtime", "popular"))
POPULAR_HEAD = 4  # popular titles read per slot to fill before the whole list is read


@dataclass
class ServingConfig:
    """How slates reach users: batch (nightly lists), realtime (per request) or hybrid."""

    name: str = ranged("batch", one_of("batch", "realtime", "hybrid"))
    k: int = ranged(10, Between(1, "catalog.n_items", integer=True))  # position is logged as int16
    # extra batch candidates per user to replace items watched during the day
    spare: int = ranged(10, Between(0, "catalog.n_items", integer=True))
    # hybrid: nightly candidates per user, re-ranked per request
    hybrid_candidates: int = ranged(100, Between(1, "catalog.n_items", integer=True))


@dataclass
class ServingLists:
    """What the night precomputed for the day: its state, kept until the next night."""

    table: Slates | None = None  # batch lists, one row per user (-1 empty)
    owed: np.ndarray | None = None  # bool[n_users]: lists not ranked yet (see module docstring)
    night: ServeContext | None = None  # the context owed lists are ranked in
    # how the table was drawn (row u: user u), to restate propensities as items move up;
    # None when moving cannot change them (deterministic lists) or the policy cannot say
    explored: ExploredLists | None = None
    allowed: BitMatrix | None = None  # hybrid: [n_users, n_items] candidates, as bits
    popular: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))


@dataclass(frozen=True)
class Ranked:
    """Batch lists ranked during the day (at their users' first request), for the table."""

    users: np.ndarray
    slates: Slates


@dataclass
class Served:
    """Slates for a batch of requests and the path that served each row."""

    slates: Slates
    path: np.ndarray  # int8 codes into SERVING_PATHS
    ranked: Ranked | None = None  # the owed lists these requests had ranked


class Server:
    """Holds tonight's batch lists and the popular list; answers requests by mode."""

    def __init__(self, mode: str, k: int, spare: int, hybrid_candidates: int,
                 lists: ServingLists) -> None:
        """``lists`` is the state the night fills and the day reads."""
        self.mode, self.k = mode, k
        self.precompute = hybrid_candidates if mode == "hybrid" else k + spare
        self.lists = lists

    def prepare(self, policy: Policy, users: np.ndarray, ctx: ServeContext,
                popularity: np.ndarray) -> None:
        """Night: owe every active user a batch list (ranked now for hybrid serving, which
        needs every candidate set; else at the user's first request); refresh the popular
        list."""
        n_users = ctx.seen.shape[0]
        lists = self.lists
        lists.table = Slates(np.full((n_users, self.precompute), -1, dtype=np.int32),
                             np.zeros((n_users, self.precompute), dtype=np.float32))
        lists.owed = np.zeros(n_users, dtype=bool)
        lists.owed[users] = True
        lists.night = ctx
        lists.explored = None
        if self.mode == "hybrid":
            self._rank_owed(policy, users)
            items = lists.table.items
            allowed = BitMatrix(*ctx.seen.shape)  # a bit per (user, item)
            rows, cols = np.nonzero(items >= 0)
            allowed[rows, items[rows, cols]] = True
            lists.allowed = allowed
        # the whole catalog by popularity: the last resort must never run dry
        lists.popular = np.argsort(-popularity, kind="stable").astype(np.int32)

    def _rank_owed(self, policy: Policy, users: np.ndarray) -> Ranked | None:
        """Rank the owed lists among ``users`` with the night's model and context."""
        lists = self.lists
        assert lists.table is not None and lists.owed is not None and lists.night is not None
        owed = users[lists.owed[users]]
        if owed.size == 0:
            return None
        slates, explored = policy.rank_ahead(owed, self.precompute, lists.night)
        ranked = Ranked(owed, slates)
        self.keep(ranked)
        if explored is not None:  # after a crashed night: drawn with the explorer's ε now
            if lists.explored is None:
                lists.explored = explored.by_user(owed, lists.owed.size)
            else:
                lists.explored.base[owed], lists.explored.pool[owed] = explored.base, explored.pool
        return ranked

    def keep(self, ranked: Ranked) -> None:
        """Put ranked lists in the table; no longer owed. A worker process ranks on its own
        copy of this server, so the lists it ranked are kept here too (``sim/shards.py``)."""
        lists = self.lists
        assert lists.table is not None and lists.owed is not None
        lists.table.items[ranked.users] = ranked.slates.items
        if ranked.slates.propensity is None:  # the policy cannot state them: neither can its lists
            lists.table = Slates(lists.table.items, None)
        elif lists.table.propensity is not None:
            lists.table.propensity[ranked.users] = ranked.slates.propensity
        lists.owed[ranked.users] = False

    def serve(self, policy: Policy, users: np.ndarray, ctx: ServeContext,
              model_down: np.ndarray) -> Served:
        """Answer every request; ``model_down`` marks requests during a model outage."""
        path = np.full(users.size, BATCH, dtype=np.int8)
        items = np.full((users.size, self.k), -1, dtype=np.int32)
        prop = np.full((users.size, self.k), np.nan, dtype=np.float32)
        live = ~model_down if self.mode != "batch" else np.zeros(users.size, dtype=bool)
        if live.any():
            self._fill(items, prop, live, self._live(policy, users[live], ctx))
            path[live] = REALTIME
        batch, ranked = ~live, None
        if batch.any() and self.lists.table is not None:
            ranked = self._rank_owed(policy, users[batch])
            self._fill(items, prop, batch, self._from_table(users[batch], ctx))
        empty = (items < 0).all(axis=1)
        if empty.any():
            self._fill(items, prop, empty, self._popular(users[empty], ctx))
            path[empty] = POPULAR
        short = (items < 0).any(axis=1)
        if short.any():  # a list worn down by today's watches: top up from most popular
            extra = self._popular(users[short], ctx, 2 * self.k)
            items[short], prop[short] = top_up(items[short], prop[short], extra)
        return Served(Slates(items, prop), path, ranked)

    def _from_table(self, users: np.ndarray, ctx: ServeContext) -> Slates:
        """Tonight's lists minus what each user watched since, propensities for the slots
        the items now stand at."""
        assert self.lists.table is not None
        shown = drop_seen(self.lists.table.take(users), users, ctx.seen, self.k)
        explored = self.lists.explored
        return shown if explored is None else explored.take(users).restate(shown, users, ctx.seen)

    def _live(self, policy: Policy, users: np.ndarray, ctx: ServeContext) -> Slates:
        if self.mode == "hybrid":
            ctx = replace(ctx, candidates=self.lists.allowed)
        return policy.recommend(users, self.k, ctx)

    def _popular(self, users: np.ndarray, ctx: ServeContext, n: int | None = None) -> Slates:
        """Most popular released items each user has not watched; propensity 1.

        Read off the head of the popular list first (``POPULAR_HEAD`` times n titles): a
        user has watched few of them, and the whole list is the catalog, 20,000 lookups a
        row. Only a row the head cannot fill reads the whole list: the same items."""
        n = n or self.k
        popular = self.lists.popular
        pool = popular[ctx.available[popular]]
        items = unwatched_head(pool[:POPULAR_HEAD * n], users, ctx, n)
        unfilled = (items < 0).any(axis=1)
        if unfilled.any() and pool.size > POPULAR_HEAD * n:
            items[unfilled] = unwatched_head(pool, users[unfilled], ctx, n)
        return Slates(items, np.where(items >= 0, 1.0, 0.0).astype(np.float32))

    @staticmethod
    def _fill(items: np.ndarray, prop: np.ndarray, rows: np.ndarray, slates: Slates) -> None:
        items[rows] = slates.items
        if slates.propensity is not None:
            prop[rows] = slates.propensity
        else:
            prop[rows] = np.nan


def top_up(
    items: np.ndarray, prop: np.ndarray, extra: Slates
) -> tuple[np.ndarray, np.ndarray]:
    """Fill each row's trailing empty slots with ``extra`` items not already in the row.

    Rows hold their items first and ``-1`` after (as every path produces them); top-up
    items are deterministic (propensity 1). Returns new arrays.
    """
    items, prop = items.copy(), prop.copy()
    in_row = (extra.items[:, :, None] == items[:, None, :]).any(axis=2)
    usable = (extra.items >= 0) & ~in_row
    order = np.argsort(~usable, axis=1, kind="stable")
    pool = np.where(np.take_along_axis(usable, order, 1), np.take_along_axis(extra.items, order, 1), -1)
    filled = (items >= 0).sum(axis=1, keepdims=True)
    slot = np.arange(items.shape[1])[None, :] - filled
    take = np.clip(slot, 0, pool.shape[1] - 1)
    candidate = np.where(slot >= 0, np.take_along_axis(pool, take, 1), -1)
    new = (items < 0) & (candidate >= 0)
    items[new] = candidate[new]
    prop[new] = 1.0
    return items, prop


def unwatched_head(pool: np.ndarray, users: np.ndarray, ctx: ServeContext,
                   n: int) -> np.ndarray:
    """int32[len(users), n]: each user's first n titles of ``pool`` not watched (-1 pad)."""
    table = np.broadcast_to(pool, (users.size, pool.size)).astype(np.int32)
    return drop_seen(Slates(table), users, ctx.seen, n).items


def drop_seen(slates: Slates, users: np.ndarray, seen: np.ndarray, k: int) -> Slates:
    """Remove watched items from each row, keep order, return the first k (pad with -1)."""
    items = slates.items
    keep = items >= 0
    keep[keep] = ~seen[np.broadcast_to(users[:, None], items.shape)[keep], items[keep]]
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]
    out = np.where(np.take_along_axis(keep, order, 1), np.take_along_axis(items, order, 1), -1)
    prop = None
    if slates.propensity is not None:
        prop = np.where(out >= 0, np.take_along_axis(slates.propensity, order, 1), 0.0)
    if out.shape[1] < k:
        out = np.pad(out, ((0, 0), (0, k - out.shape[1])), constant_values=-1)
        prop = None if prop is None else np.pad(prop, ((0, 0), (0, k - prop.shape[1])))
    return Slates(out.astype(np.int32), prop)
