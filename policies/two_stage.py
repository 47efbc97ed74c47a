"""Two-stage recommendation: ALS retrieves candidates, a learned ranker orders them.

Production recommenders split the work: a cheap model narrows thousands of items to a few
hundred per user, then a ranker with richer features (here: the user's genre affinity, the
item's trailing popularity and age, the retrieval score and rank; see
``policies.features``) picks the slate. The ranker (``policies.ranker``, an additive
gradient-boosted classifier from scikit-learn) learns click probability from the window's
newest day of impressions, with features from the days before it and from an ALS fitted on
those days only, so no row sees its own label. Serving uses features from the whole window
and an ALS refit on all of it. When the ranker cannot be trained (day 0, one class only, too
few positives) the policy serves the ALS order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from recloop.conf.distinct import distinct
from recloop.conf.ranges import Between, ranged
from recloop.policies.base import SCORE_CHUNK, Policy, shown_once
from recloop.policies.factor import ALSConfig, ALSPolicy
from recloop.policies.features import History, LastDay, history, pair_features, split_last_day
from recloop.policies.ranker import AdditiveRanker, RankerConfig
from recloop.policies.types import ItemMetadata, ServeContext, Slates, TrainingWindow


@dataclass
class TwoStageConfig(ALSConfig):
    """ALS retrieval (the ALS fields) of ``retrieve`` candidates, then the ranker."""

    name: str = "two_stage"
    retrieve: int = ranged(200, Between(1, "catalog.n_items", integer=True))
    ranker: RankerConfig = field(default_factory=RankerConfig)


class TwoStagePolicy(Policy):
    """Retrieve with ALS, rank with a ranker trained on the window's last day."""

    name = "two_stage"
    deterministic = True
    history_: History | None = None
    ranker_: AdditiveRanker | None = None

    def __init__(self, items: ItemMetadata, rng: np.random.Generator, cfg: TwoStageConfig) -> None:
        """The retriever is an (unfitted) ALS on our stream; it is refit in ``fit``."""
        super().__init__(items, rng, cfg)
        self.retriever = ALSPolicy(items, rng, cfg)

    def fit(self, window: TrainingWindow) -> None:
        self.ranker_ = self._train_ranker(window)
        self.retriever.fit(window)
        self.history_ = history(window.interactions, self.items.genre)

    def recommend(self, users: np.ndarray, k: int, ctx: ServeContext) -> Slates:
        items, _ = self.candidates(users, k, ctx)
        return Slates(items, shown_once(items))

    def candidates(
        self, users: np.ndarray, n: int, ctx: ServeContext
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ranker's best n of the retriever's top ``retrieve`` (ALS order if no ranker)."""
        pool, retrieval = self.retriever.candidates(users, max(self.cfg.retrieve, n), ctx)
        if self.ranker_ is None or self.history_ is None:
            return pool[:, :n], retrieval[:, :n]
        users = np.asarray(users, dtype=np.int64)
        ranks = np.broadcast_to(np.arange(pool.shape[1], dtype=np.float32), pool.shape)
        scores = np.empty(pool.shape, dtype=np.float32)
        for start in range(0, users.size, SCORE_CHUNK):
            rows = slice(start, start + SCORE_CHUNK)
            pairs = (users[rows, None], np.maximum(pool[rows], 0))
            x = self._features(self.history_, ctx.day, pairs, (retrieval[rows], ranks[rows]))
            scores[rows] = self.ranker_.score(x)
        scores[pool < 0] = -np.inf
        order = np.argsort(-scores, axis=1, kind="stable")[:, :n]  # ties: retrieval order
        return np.take_along_axis(pool, order, 1), np.take_along_axis(scores, order, 1)

    def item_vectors(self) -> np.ndarray | None:
        return self.retriever.item_vectors()

    def _features(
        self,
        hist: History,
        day: int,
        pairs: tuple[np.ndarray, np.ndarray],
        retrieval: tuple[np.ndarray, np.ndarray],
    ) -> np.ndarray:
        return pair_features(hist, self.items.genre, self.items.release_day, day, pairs, retrieval)

    def _train_ranker(self, window: TrainingWindow) -> AdditiveRanker | None:
        """A ranker fitted on the window's last day, or None when it cannot be trained."""
        last = split_last_day(window)
        enough = max(self.cfg.ranker.min_positives, 1)
        if last is None or last.labels.sum() < enough:
            return None
        features, labels = self.training_set(window, last)
        if labels.sum() < enough or labels.all():
            return None
        seed = int(self.rng.integers(2**31 - 1))
        return AdditiveRanker(self.cfg.ranker, seed).fit(features, labels)

    def training_set(self, window: TrainingWindow, last: LastDay) -> tuple[np.ndarray, np.ndarray]:
        """Features and labels of the last day's pairs that an earlier-days ALS retrieves.

        Pairs outside that ALS's top ``retrieve`` are dropped: at serving the ranker only
        ever sees retrieved candidates, so those rows would teach it about inputs it never
        gets. Everything here is computed from ``last.before``: days before ``last.day``;
        unless the window is ``leaky``, when the retrieval scores and history features also
        see the labels' own day (the deliberate bug of the leakage experiment).
        """
        known = window.interactions if window.leaky else last.before
        als = ALSPolicy(self.items, self.rng, self.cfg)
        als.fit(replace(window, interactions=known))
        users = distinct(last.users)
        ctx = ServeContext(
            day=last.day,
            hour=0.0,
            available=self.items.release_day <= last.day,
            seen=last.before.astype(bool).toarray(),
        )
        pool, retrieval = als.candidates(users, self.cfg.retrieve, ctx)
        row = np.searchsorted(users, last.users)
        rank = locate(pool, row, last.items)
        kept = rank >= 0
        row, rank = row[kept], rank[kept]
        pairs = (last.users[kept], last.items[kept])
        hist = history(known, self.items.genre)
        x = self._features(hist, last.day, pairs, (retrieval[row, rank], rank.astype(np.float32)))
        return x, last.labels[kept]


def locate(pool: np.ndarray, row: np.ndarray, item: np.ndarray) -> np.ndarray:
    """Column of ``item`` in ``pool[row]`` for each query, or -1 where it is absent."""
    n_items = int(max(pool.max(initial=0), item.max(initial=0))) + 1
    rows, cols = np.nonzero(pool >= 0)
    keys = rows.astype(np.int64) * n_items + pool[rows, cols]
    order = np.argsort(keys)
    keys, cols = keys[order], cols[order]
    wanted = row.astype(np.int64) * n_items + item
    if keys.size == 0:
        return np.full(wanted.size, -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
    return np.where(keys[at] == wanted, cols[at], -1)
