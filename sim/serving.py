"""Serving paths: nightly precomputed slates (batch) or ranking per request (realtime).

Batch serving is stale by design: the slate was ranked last night. It precomputes
``k + spare`` candidates per user so items watched earlier today can be dropped at request
time without calling the model.
"""

from __future__ import annotations

import numpy as np

from policies.base import Policy
from policies.types import ServeContext, Slates


class BatchServing:
    """Rank everyone at night; during the day look up, drop watched items, keep the top k."""

    path = "batch"

    def __init__(self, policy: Policy, k: int, spare: int) -> None:
        self.policy, self.k, self.spare = policy, k, spare
        self.table_: Slates | None = None

    def prepare(self, users: np.ndarray, n_users: int, ctx: ServeContext) -> None:
        """Precompute candidates for ``users``; others get an empty (all -1) row."""
        ranked = self.policy.recommend(users, self.k + self.spare, ctx)
        items = np.full((n_users, ranked.k), -1, dtype=np.int32)
        items[users] = ranked.items
        prop = None
        if ranked.propensity is not None:
            prop = np.zeros((n_users, ranked.k), dtype=np.float32)
            prop[users] = ranked.propensity
        self.table_ = Slates(items, prop)

    def serve(self, users: np.ndarray, ctx: ServeContext) -> Slates:
        if self.table_ is None:
            raise RuntimeError("batch serving asked for slates before the nightly precompute")
        return drop_seen(self.table_.take(users), users, ctx.seen, self.k)


class RealtimeServing:
    """Ask the policy at request time (with last night's model)."""

    path = "realtime"

    def __init__(self, policy: Policy, k: int, spare: int = 0) -> None:
        self.policy, self.k = policy, k

    def prepare(self, users: np.ndarray, n_users: int, ctx: ServeContext) -> None:
        """Nothing to precompute."""

    def serve(self, users: np.ndarray, ctx: ServeContext) -> Slates:
        return self.policy.recommend(users, self.k, ctx)


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
    return Slates(out.astype(np.int32), prop)


SERVING = {"batch": BatchServing, "realtime": RealtimeServing}
