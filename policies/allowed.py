"""What a policy may show a user: released titles not yet watched and, when serving
restricts each user to a candidate set (hybrid serving), within that set.

Every policy applies the same rule, as a mask (``allowed_items``) or by setting the scores
it rules out to -inf (``mask_blocked``); the second reads a user's watched titles as a few
dozen pairs when the watched matrix keeps lists (``policies.watched``), not a dense row.
"""

from __future__ import annotations

import numpy as np

from recloop.policies.types import ServeContext
from recloop.policies.watched import WatchLists


def allowed_items(users: np.ndarray, ctx: ServeContext) -> np.ndarray:
    """bool[len(users), n_items]: released, not yet watched and, when serving restricts each
    user to a candidate set (hybrid serving), in that set."""
    return ~blocked_items(users, ctx)


def mask_blocked(scores: np.ndarray, users: np.ndarray, ctx: ServeContext) -> None:
    """``scores[blocked_items(users, ctx)] = -inf``; from the watched lists' pairs when the
    watched titles come as lists (a few dozen a user, not a dense row per user)."""
    if ctx.candidates is not None or not isinstance(ctx.seen, WatchLists):
        scores[blocked_items(users, ctx)] = -np.inf
        return
    scores[ctx.seen.pairs(users)] = -np.inf
    if not ctx.available.all():
        scores[:, ~ctx.available] = -np.inf


def blocked_items(users: np.ndarray, ctx: ServeContext) -> np.ndarray:
    """bool[len(users), n_items]: what ``allowed_items`` rules out, in one pass fewer."""
    blocked = ctx.seen[users] | ~ctx.available[None, :]
    if ctx.candidates is not None:
        blocked |= ~ctx.candidates[users]
    return blocked
