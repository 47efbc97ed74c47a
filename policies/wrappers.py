"""Policies that wrap a policy: exploration and a freshness quota.

A wrapper is a policy itself (fit and recommend), so wrappers stack; ``policies.registry``
builds base → Diversify → FreshnessQuota → EpsilonGreedy from the config's shared knobs.
The wrapper keeps the base's ``name`` because the event log records which model served.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

import numpy as np
from scipy.stats import binom

from recloop.policies.allowed import allowed_items
from recloop.policies.base import Policy, shown_once
from recloop.policies.ranking import top_k
from recloop.policies.shifted import ExploredLists
from recloop.policies.types import ServeContext, Slates, TrainingWindow

SAMPLE_CHUNK = 2048  # users whose exploration draws are made at once (bounds n × items keys)
W = TypeVar("W", bound="Wrapper")


class Wrapper(Policy):
    """Delegates training, naming and item vectors to the wrapped ``base`` policy."""

    def __init__(self, base: Policy) -> None:
        """Store the base; wrappers learn nothing of their own."""
        super().__init__(base.items, base.rng, base.cfg)
        self.base = base

    @property  # type: ignore[override]
    def name(self) -> str:  # the log records the model, not the wrapping
        return self.base.name

    @property  # type: ignore[override]
    def deterministic(self) -> bool:
        return self.base.deterministic

    @property  # type: ignore[override]
    def fits_apart(self) -> bool:
        return self.base.fits_apart

    def fit(self, window: TrainingWindow) -> None:
        self.base.fit(window)

    def refit(self, window: TrainingWindow) -> None:
        self.base.refit(window)

    def fit_from(self, previous: Policy | None, window: TrainingWindow) -> None:
        self.base.fit_from(previous.base if isinstance(previous, Wrapper) else previous, window)

    def item_vectors(self) -> np.ndarray | None:
        return self.base.item_vectors()


def find_wrapper(policy: Policy, kind: type[W]) -> W | None:
    """The outermost layer of type ``kind`` in a wrapper stack (e.g. for a controller)."""
    while True:
        if isinstance(policy, kind):
            return policy
        if not isinstance(policy, Wrapper):
            return None
        policy = policy.base


def greedy(policy: Policy) -> Policy:
    """The ranking under the exploration layer (the policy itself when it does not explore).

    Exploration is a serving decision, not something a model learned: offline metrics and
    the quality gate score this ranking, so a random slot never counts against a model.
    """
    explorer = find_wrapper(policy, EpsilonGreedy)
    return explorer.base if explorer is policy and explorer is not None else policy


class EpsilonGreedy(Wrapper):
    """Each slot independently explores with probability ``epsilon``.

    Explored slots are filled, in slot order, by a uniform draw without replacement from the
    pool: allowed items (``allowed_items``) not already in the base slate. With m pool items
    and j slots before slot j, the probability of what ends up at slot j, given the base
    slate, is exactly:

    * base item kept: ``(1 - ε + ε·P[Bin(j, ε) ≥ m]) · p_base`` — not explored, or explored
      after the pool ran dry. For m ≥ k (the usual case) this is ``(1 - ε) · p_base``.
    * a given pool item: ``ε · P[Bin(j, ε) < m] / m`` — slot j explores and the pool is not
      yet used up; the pool is drawn as a uniformly random order, so by symmetry each pool
      item is equally likely to be the one at any explored slot. For m ≥ k: ``ε / m``.

    ``p_base`` is the base's propensity (1 for deterministic bases, where the formulas are the
    exact marginal probabilities). For a stochastic base they are conditional on the base's
    draw; when the base states no propensity, neither does this wrapper.

    ``epsilon`` is a plain mutable attribute in [0, 1]: a controller may change it between
    requests (e.g. raise it when exposure concentrates); ε = 0 serves the base slates as is.
    Lists drawn at night and served later minus watched items (``rank_ahead``) carry a record
    of the draw, which restates their propensities for the slots shown (``policies.shifted``).
    """

    def __init__(self, base: Policy, epsilon: float, rng: np.random.Generator) -> None:
        """Wrap ``base``; exploration draws come from ``rng`` (not the base's stream)."""
        super().__init__(base)
        self.epsilon = epsilon
        self.rng = rng

    @property  # type: ignore[override]
    def deterministic(self) -> bool:
        return self.epsilon == 0 and self.base.deterministic

    def recommend(self, users: np.ndarray, k: int, ctx: ServeContext) -> Slates:
        return self._draw(np.asarray(users, dtype=np.int64), k, ctx)[0]

    def rank_ahead(self, users: np.ndarray, n: int,
                   ctx: ServeContext) -> tuple[Slates, ExploredLists | None]:
        """Lists plus the record of their draw (``policies.shifted``), over a deterministic
        base; a stochastic base's lists keep the propensities stated now."""
        slates, base, pool = self._draw(np.asarray(users, dtype=np.int64), n, ctx)
        if pool is None or not self.base.deterministic:
            return slates, None
        if ctx.candidates is not None:
            raise ValueError("lists to restate later are drawn without candidate sets")
        return slates, ExploredLists(base.items, pool, ctx.available.copy(), float(self.epsilon))

    def _draw(self, users: np.ndarray, k: int,
              ctx: ServeContext) -> tuple[Slates, Slates, np.ndarray | None]:
        """(served slates, the base's slates, pool sizes); no pool sizes when not exploring."""
        slates = self.base.recommend(users, k, ctx)
        if self.epsilon == 0 or users.size == 0:
            return slates, slates, None
        items = slates.items.copy()
        explored = np.zeros(items.shape, dtype=bool)
        pool = np.zeros(users.size, dtype=np.int64)
        for start in range(0, users.size, SAMPLE_CHUNK):
            rows = slice(start, start + SAMPLE_CHUNK)
            items[rows], explored[rows], pool[rows] = self._explore(items[rows], users[rows], ctx)
        return Slates(items, self._propensity(slates.propensity, explored, pool)), slates, pool

    def probabilities(self, users: np.ndarray, items: np.ndarray,
                      ctx: ServeContext) -> np.ndarray | None:
        """Exact slot probabilities of given slates (see ``Policy.probabilities``).

        The base's item at slot j: the kept probability; another item of the base slate: 0
        (the pool excludes the slate); an item the pool holds (allowed, not in the slate):
        the pool-draw probability; anything else: 0. None when the base states no
        propensities.
        """
        users = np.asarray(users, dtype=np.int64)
        base = self.base.recommend(users, items.shape[1], ctx)
        if base.propensity is None:
            return None
        allowed = allowed_items(users, ctx)
        pool = allowed.sum(axis=1) - (base.items >= 0).sum(axis=1)
        same = items == base.items
        prob = self._propensity(base.propensity, ~same, pool)
        assert prob is not None
        in_slate = (items[:, :, None] == base.items[:, None, :]).any(axis=2)
        rows = np.broadcast_to(np.arange(users.size)[:, None], items.shape)
        drawable = (items >= 0) & allowed[rows, np.maximum(items, 0)] & ~in_slate
        return np.where((same & (items >= 0)) | drawable, prob, 0.0).astype(np.float64)

    def _explore(
        self, items: np.ndarray, users: np.ndarray, ctx: ServeContext
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Overwrite explored slots with pool draws; return items, explored mask, pool sizes."""
        allowed = allowed_items(users, ctx)
        rows = np.broadcast_to(np.arange(users.size)[:, None], items.shape)
        shown = items >= 0
        allowed[rows[shown], items[shown]] = False  # the pool excludes the base slate
        keys = self.rng.random(allowed.shape, dtype=np.float32)
        keys[~allowed] = -np.inf
        draws = top_k(keys, items.shape[1])  # uniform order over the pool, -1 when dry
        wants = self.rng.random(items.shape) < self.epsilon
        turn = np.cumsum(wants, axis=1) - 1  # which draw an exploring slot takes
        drawn = np.take_along_axis(draws, np.maximum(turn, 0), axis=1)
        explored = wants & (drawn >= 0)
        return np.where(explored, drawn, items), explored, allowed.sum(axis=1)

    def _propensity(
        self, base: np.ndarray | None, explored: np.ndarray, pool: np.ndarray
    ) -> np.ndarray | None:
        """The exact probabilities derived in the class docstring."""
        if base is None:
            return None
        eps = self.epsilon
        before = np.arange(explored.shape[1])[None, :]
        dry = binom.sf(pool[:, None] - 1, before, eps)  # P[Bin(j, ε) ≥ m]
        kept = (1.0 - eps + eps * dry) * base
        drawn = eps * (1.0 - dry) / np.maximum(pool[:, None], 1)
        return np.where(explored, drawn, kept).astype(np.float32)


class FreshnessQuota(Wrapper):
    """At least ``fresh_slots`` new releases per slate, when that many are allowed.

    An item is fresh when released within the last ``fresh_days`` days (release day in
    ``(day - fresh_days, day]``). The fresh items come from the base's own ranking of the
    fresh items alone (it is asked again with only fresh items available), best first.
    They replace the *lowest-ranked non-fresh* items and take over those bottom positions:
    the top of the slate, where attention is, stays as the base ranked it, and fresh items
    already in the slate count toward the quota and stay where they are.
    """

    def __init__(self, base: Policy, fresh_slots: int, fresh_days: int) -> None:
        """Wrap ``base`` with a quota of ``fresh_slots`` items newer than ``fresh_days``."""
        super().__init__(base)
        self.fresh_slots = fresh_slots
        self.fresh_days = fresh_days

    def recommend(self, users: np.ndarray, k: int, ctx: ServeContext) -> Slates:
        users = np.asarray(users, dtype=np.int64)
        slates = self.base.recommend(users, k, ctx)
        age = ctx.day - self.items.release_day.astype(np.int64)
        fresh = (age >= 0) & (age < self.fresh_days)
        quota = min(self.fresh_slots, k)
        if quota == 0 or users.size == 0 or not (fresh & ctx.available).any():
            return slates
        only_fresh = replace(ctx, available=ctx.available & fresh)
        picks = self.base.recommend(users, quota, only_fresh).items
        items = with_quota(slates.items, picks, fresh, quota)
        return Slates(items, shown_once(items) if self.deterministic else None)


def with_quota(items: np.ndarray, picks: np.ndarray, fresh: np.ndarray, quota: int) -> np.ndarray:
    """Put ``picks`` (best fresh first) into the bottom non-fresh slots until ``quota`` is met."""
    real = items >= 0
    is_fresh = real & fresh[np.maximum(items, 0)]
    in_slate = (picks[:, :, None] == items[:, None, :]).any(axis=2)
    new = (picks >= 0) & ~in_slate
    replaceable = ~is_fresh
    need = np.minimum.reduce(
        [np.maximum(quota - is_fresh.sum(axis=1), 0), new.sum(axis=1), replaceable.sum(axis=1)]
    )
    from_bottom = np.cumsum(replaceable[:, ::-1], axis=1)[:, ::-1]
    swap = replaceable & (from_bottom <= need[:, None])
    order = np.argsort(~new, axis=1, kind="stable")  # new picks first, in the base's order
    ranked_new = np.take_along_axis(picks, order, axis=1)
    turn = np.cumsum(swap, axis=1) - 1
    incoming = np.take_along_axis(ranked_new, np.clip(turn, 0, picks.shape[1] - 1), axis=1)
    return np.where(swap, incoming, items).astype(np.int32)
