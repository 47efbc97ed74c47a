"""The one recommender interface, and the scoring machinery most policies share.

Contract (every policy, wrappers included):

* ``fit(window)`` is called every night with a point-in-time ``TrainingWindow`` of logged
  data. It may be called with an empty window (day 0): the policy must still serve.
* ``recommend(users, k, ctx)`` returns ``Slates`` with ``items`` int32[len(users), k]:
  distinct items per row, all released (``ctx.available``), not already watched
  (``ctx.seen``) and, when set, within the user's ``ctx.candidates``. When fewer than k
  items qualify, the row is padded with ``-1``.
* ``rank_ahead(users, n, ctx)`` ranks lists to be served later minus what users watch
  meanwhile (batch serving); by default it is ``recommend``. A stochastic policy whose
  propensities change when items move up also returns the record that restates them.
* Policies hold their own ``np.random.Generator`` (given at construction) and never read
  the clock, globals or the simulated world.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from recloop.policies.allowed import mask_blocked
from recloop.policies.chunk_threads import run_chunks
from recloop.policies.near_top import near_top, worth_it
from recloop.policies.ranking import top_k_jittered, top_k_scored, top_of_near
from recloop.policies.shifted import ExploredLists
from recloop.policies.types import ItemMetadata, ServeContext, Slates, TrainingWindow

SCORE_CHUNK = 512  # the most users scored at once
SCORE_BLOCK = 2_560_000  # scores per block: 256 users of 10k items, 128 of 20k (10 MB float32)


def score_chunk(n_items: int) -> int:
    """Users scored at once: about ``SCORE_BLOCK`` scores, and at most ``SCORE_CHUNK`` users.

    The block's temporaries (mask, tie order, partition) are faulted in afresh for each
    chunk, so past a few MB a larger block costs more than the fewer calls save. Measured
    (ALS top 20 of 6,000 users, median of 5 on a busy 2-core machine): 10k items, 256 users
    2.8 s against 3.3 s at 512 and 4.4 s at 1,024; 20k items, 128 users 5.6 s, 256 6.4 s,
    512 8.3 s; 2k items, 256 and 512 alike, 1,024 slower. Rows are scored independently,
    so the chunk size changes no result.
    """
    return max(1, min(SCORE_CHUNK, SCORE_BLOCK // max(n_items, 1)))


class Policy(ABC):
    """A recommender: trained nightly on logged data, asked for slates in batches."""

    name: str = "policy"
    deterministic: bool = False  # same state and request => same slate (propensity 1)
    # fit reads only its window and the previous model, draws only from this policy's stream
    # and gives the same model on any thread count: it may run beside the day's sessions
    fits_apart: bool = False

    def __init__(self, items: ItemMetadata, rng: np.random.Generator, cfg: Any = None) -> None:
        """Store inputs only; learned state (trailing ``_``) is set in ``fit``."""
        self.items = items
        self.rng = rng
        self.cfg = cfg

    @abstractmethod
    def fit(self, window: TrainingWindow) -> None:
        """Learn from one night's training window (logged data only)."""

    def refit(self, window: TrainingWindow) -> None:
        """Learn again from a window one day longer than the one just fitted (a gated
        candidate before it deploys). A fresh ``fit`` here; a model that can continue from
        what it learned does so for less."""
        self.fit(window)

    def fit_from(self, previous: Policy | None, window: TrainingWindow) -> None:
        """Learn from tonight's window, free to start from ``previous`` (the model serving
        now, None on the first night). A fresh ``fit`` here; a model that can warm-start
        from yesterday's does so when its config asks."""
        self.fit(window)

    @abstractmethod
    def recommend(self, users: np.ndarray, k: int, ctx: ServeContext) -> Slates:
        """Top-k slates for a batch of users."""

    def candidates(
        self, users: np.ndarray, n: int, ctx: ServeContext
    ) -> tuple[np.ndarray, np.ndarray]:
        """The policy's n best items per user with a relevance score each (higher is better).

        Re-rankers need more than an order. This default has no scores to give, so it ranks
        by position (``-j``); scoring policies override it with their real scores. Items are
        masked like ``recommend``'s; missing entries are ``-1`` with score ``-inf``.
        """
        items = self.recommend(users, n, ctx).items
        scores = np.where(items >= 0, -np.arange(n, dtype=np.float32), -np.inf)
        return items, scores.astype(np.float32)

    def item_vectors(self) -> np.ndarray | None:
        """float[n_items, d] learned item embeddings, or None when the model has none."""
        return None

    def rank_ahead(self, users: np.ndarray, n: int,
                   ctx: ServeContext) -> tuple[Slates, ExploredLists | None]:
        """Lists ranked now and served later minus what users watch meanwhile (batch
        serving), with the record that restates their propensities then.

        None when dropping items cannot change the propensities (a deterministic policy's
        stay 1) or the policy cannot say; the lists then keep the propensities of now.
        """
        return self.recommend(users, n, ctx), None

    def probabilities(self, users: np.ndarray, items: np.ndarray,
                      ctx: ServeContext) -> np.ndarray | None:
        """P(this policy puts ``items[i, j]`` at slot j for request i), ``n × k``, for
        off-policy estimates of it from another policy's log; None when it cannot say.

        A deterministic policy shows exactly its own slate: 1 where the item matches, else 0.
        """
        if not self.deterministic:
            return None
        mine = self.recommend(users, items.shape[1], ctx).items
        return ((items == mine) & (items >= 0)).astype(np.float64)


class ScoringPolicy(Policy):
    """A policy that scores every item for each user and serves the top k.

    Subclasses implement ``score``; this class masks what may not be shown, breaks exact ties
    by a fixed pseudo-random order that differs per user (so cold-start users do not all get
    the same slate), and selects the top k in chunks to bound memory. Tie-breaking is a
    deterministic function of (model, user, item), so a slate really is shown with
    probability 1 and the logged propensity of 1 is honest.
    """

    deterministic: bool = True  # propensity 1 for what is shown: same state, same slate
    fresh_scores: bool = False  # ``score`` returns a new block, free to overwrite: no copy

    def __init__(self, items: ItemMetadata, rng: np.random.Generator, cfg: Any = None) -> None:
        """The tie-break keys are drawn here, not when first needed: no later draw of this
        stream may depend on which batch first met a tie (or on how a day is split)."""
        super().__init__(items, rng, cfg)
        self.tie_keys_ = rng.random(items.n_items, dtype=np.float32)

    @abstractmethod
    def score(self, users: np.ndarray, ctx: ServeContext) -> np.ndarray:
        """float[len(users), n_items]: higher is better."""

    def recommend(self, users: np.ndarray, k: int, ctx: ServeContext) -> Slates:
        items, _ = self.candidates(users, k, ctx)
        return Slates(items, self._propensity(items, users, ctx))

    def candidates(
        self, users: np.ndarray, n: int, ctx: ServeContext
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n allowed items per user and their (masked, jittered) scores, best first."""
        users = np.asarray(users, dtype=np.int64)
        items = np.empty((users.size, n), dtype=np.int32)
        values = np.empty((users.size, n), dtype=np.float32)
        step = score_chunk(self.items.n_items)

        def rank(chunk_index: int) -> None:
            block = slice(chunk_index * step, min((chunk_index + 1) * step, users.size))
            scores = self.score(users[block], ctx)
            # ranking overwrites the block: a copy unless it is ours alone
            scores = (np.asarray if self.fresh_scores else np.array)(scores, dtype=np.float32)
            items[block], values[block] = self._best(scores, users[block], n, ctx)

        run_chunks(rank, -(-users.size // step), self.ranking_threads())
        return items, values

    def ranking_threads(self) -> int:
        """Threads that may rank a batch's chunks at once (0: one per core). One, unless a
        policy's ``score`` only reads its state: a draw from its stream would then depend
        on which thread got there first."""
        return 1

    def _best(self, scores: np.ndarray, users: np.ndarray, n: int,
              ctx: ServeContext) -> tuple[np.ndarray, np.ndarray]:
        """The top n of ``scores`` plus the tie order, among allowed items (overwrites
        ``scores``). Only the columns that can reach the top are jittered and ranked, when
        the catalog is large enough for that to pay (``policies.near_top``). A row that
        selection cannot settle (flat scores, exact ties) is jittered whole and selected
        again; only what is still unsure is ranked in full, as it always was.

        The tie-breaker is about 16 float32 ulps of each row's largest score: enough to order
        equal scores (popularity counts, cold users), too small to reorder real gaps. It is
        scaled per row so one user's large scores never drown another's small ones.
        """
        bound = 1e-6 * largest_magnitude(scores) + np.float32(1e-30)
        mask_blocked(scores, users, ctx)
        if not worth_it(n, scores.shape[1]):
            scores += self._tie_order(users) * bound
            return top_k_scored(scores, n)
        near = near_top(scores, bound, n)
        jittered = near.scores + self._tie_order(users, near.columns) * bound
        items, values, unsure = top_of_near(near, jittered, n)
        if unsure.size:  # mostly cold users' flat rows, where the jitter is the whole order
            rows = scores[unsure] + self._tie_order(users[unsure]) * bound[unsure]
            items[unsure], values[unsure] = top_k_jittered(rows, n)
        return items, values

    def _tie_order(self, users: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        """float32[len(users), n_items] in [0, 1) (or at ``columns``, per user): a random item
        order, rotated per user.

        The item keys are drawn once per model from its own stream; each user's rotation is a
        hash of the user id, so the order depends on (model, user) alone, never on call order.
        """
        keys = self.tie_keys_[None, :] if columns is None else self.tie_keys_[columns]
        order = user_hash01(users)[:, None] + keys
        order -= np.floor(order)
        return order

    def _propensity(
        self, items: np.ndarray, users: np.ndarray, ctx: ServeContext
    ) -> np.ndarray | None:
        """Deterministic policies show exactly what they rank: propensity 1 (0 for padding)."""
        return shown_once(items) if self.deterministic else None


def user_hash01(users: np.ndarray) -> np.ndarray:
    """A fixed pseudo-random number in [0, 1) per user id (splitmix64 finaliser)."""
    x = np.asarray(users, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return ((x >> np.uint64(40)).astype(np.float64) / 2.0**24).astype(np.float32)


def largest_magnitude(scores: np.ndarray) -> np.ndarray:
    """float[n, 1]: each row's largest absolute value, without an n × m temporary."""
    return np.maximum(scores.max(axis=1, keepdims=True), -scores.min(axis=1, keepdims=True))


def shown_once(items: np.ndarray) -> np.ndarray:
    """Propensity of a deterministic slate: 1 where an item is shown, 0 on padding."""
    return np.where(items >= 0, 1.0, 0.0).astype(np.float32)
