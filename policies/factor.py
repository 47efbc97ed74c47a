"""Matrix factorisation from ``implicit``: ALS and BPR.

Both refit from scratch every night (a full refit, not an incremental update; a gated ALS
candidate continues from its own factors for a few sweeps over the one-day-longer window
before it deploys) and fall back to popularity for users the window has not seen
(``policies/window.py``). ALS also folds in ``ctx.recent`` (today's positives, real-time
serving only) by re-solving the user's factor (``policies.foldin``). BPR does not fold in:
its factors come from SGD over sampled triples, with no closed-form user step.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking
from threadpoolctl import threadpool_limits

from recloop.conf.ranges import Between, ranged
from recloop.conf.rowwise import rowwise_product
from recloop.policies.base import Policy
from recloop.policies.config import PolicyConfig
from recloop.policies.foldin import fold_in
from recloop.policies.types import ServeContext, TrainingWindow
from recloop.policies.window import WindowPolicy


@dataclass
class ALSConfig(PolicyConfig):
    """Implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008)."""

    name: str = "als"
    factors: int = ranged(32, Between(1, 1024, integer=True))
    regularization: float = ranged(0.05, Between(0, 1000))
    # confidence = alpha * count on observed items (implicit's convention)
    alpha: float = ranged(10.0, Between(0, 10_000, strict=True))
    iterations: int = ranged(10, Between(1, 1000, integer=True))
    # sweeps that carry a gated candidate over to the window with the held-out day, starting
    # from its own factors; 0 refits from scratch
    refit_iterations: int = ranged(3, Between(0, 1000, integer=True))
    # sweeps of a night's candidate started from the deployed model's factors; 0 starts
    # every night from random factors for `iterations` sweeps
    warm_iterations: int = ranged(0, Between(0, 1000, integer=True))
    # threads that fit (OpenMP) and rank lists (policies/chunk_threads.py); 0 = one per core
    # this process may use. Any count gives the same factors and lists: only the time changes
    threads: int = ranged(0, Between(0, 256, integer=True))


@dataclass
class BPRConfig(PolicyConfig):
    """Bayesian personalised ranking (Rendle et al. 2009): pairwise SGD on sampled triples."""

    name: str = "bpr"
    factors: int = ranged(32, Between(1, 1024, integer=True))
    learning_rate: float = ranged(0.01, Between(0, 1, strict=True))
    regularization: float = ranged(0.01, Between(0, 1000))
    iterations: int = ranged(100, Between(1, 10_000, integer=True))
    # pinned to 1: implicit's parallel BPR is lock-free SGD (threads race on shared factors),
    # so two runs of one seed at threads=2 differed in 137 of 275 metric rows (small, 5 days)
    threads: int = ranged(1, Between(1, 1, integer=True))


class _FactorPolicy(WindowPolicy):
    """Score = user factors · item factors, refit nightly by an ``implicit`` model."""

    user_factors_: np.ndarray | None = None
    item_factors_: np.ndarray | None = None
    fresh_scores = True  # each block is a new product (or new zeros), prior added in place
    fits_apart = True  # implicit fits in compiled code; any thread count, the same factors

    def fit(self, window: TrainingWindow) -> None:
        self.user_factors_ = self.item_factors_ = None
        if self._remember(window):
            self._train(self._model(random_state=int(self.rng.integers(2**31 - 1))))

    def _train(self, model: Any) -> None:
        # implicit's solvers parallelise over users themselves; a BLAS pool on top only thrashes
        with threadpool_limits(1, "blas"):
            model.fit(self.interactions_, show_progress=False)
        self.user_factors_, self.item_factors_ = self._factors(model)

    def score(self, users: np.ndarray, ctx: ServeContext) -> np.ndarray:
        if self.user_factors_ is None or self.item_factors_ is None:
            return self._with_prior(np.zeros((users.size, self.items.n_items), np.float32))
        rows = self._user_rows(users, ctx)
        precision = np.result_type(rows, self.item_factors_)
        return self._with_prior(rowwise_product(rows, self._wide_items(), precision))

    def _wide_items(self) -> np.ndarray:
        """float64[d, n_items]: the item factors transposed and widened once per model, as
        ``rowwise_product`` would widen them for every chunk (same layout, so the same bits).
        Kept beside the factors they came from, so new factors are never scored with old."""
        factors = self.item_factors_
        cached = self.__dict__.get("_wide")
        if cached is None or cached[0] is not factors:
            cached = self._wide = (factors, factors.T.astype(np.float64))
        return cached[1]

    def __getstate__(self) -> dict[str, Any]:
        """Model files hold the factors, not their widened copy."""
        return {key: value for key, value in self.__dict__.items() if key != "_wide"}

    @abstractmethod
    def _model(self, random_state: int) -> object:
        """The unfitted ``implicit`` model."""

    def _settings(self, random_state: int) -> dict[str, Any]:
        """Constructor arguments every ``implicit`` factor model shares."""
        c = self.cfg
        return {
            "factors": c.factors,
            "regularization": c.regularization,
            "iterations": c.iterations,
            "num_threads": c.threads,
            "random_state": random_state,
        }

    def _factors(self, model: object) -> tuple[np.ndarray, np.ndarray]:
        """(user, item) factor matrices from the fitted model."""
        return model.user_factors, model.item_factors  # type: ignore[attr-defined]

    def ranking_threads(self) -> int:
        """Scoring reads the factors and draws nothing: as many threads as training."""
        return self.cfg.threads

    def _user_rows(self, users: np.ndarray, ctx: ServeContext) -> np.ndarray:
        """The factors to score ``users`` with (last night's, unless a subclass folds in)."""
        assert self.user_factors_ is not None
        return self.user_factors_[users]


class ALSPolicy(_FactorPolicy):
    """Alternating least squares; folds today's positives into the user factor when served
    in real time (``ctx.recent``)."""

    name = "als"

    def _model(self, random_state: int) -> object:
        return AlternatingLeastSquares(alpha=self.cfg.alpha, **self._settings(random_state))

    def refit(self, window: TrainingWindow) -> None:
        """``refit_iterations`` sweeps from this model's own factors: the window differs from
        the one just fitted by one day, so a few sweeps reach what a fresh fit would, at a
        fraction of its cost."""
        self._sweep_from(self, window, self.cfg.refit_iterations)

    def fit_from(self, previous: Policy | None, window: TrainingWindow) -> None:
        """``warm_iterations`` sweeps from the deployed model's factors (when set): tonight's
        window shares all but a day or two with the one it was fitted on."""
        self._sweep_from(previous, window, self.cfg.warm_iterations)

    def _sweep_from(self, start: Policy | None, window: TrainingWindow, sweeps: int) -> None:
        """``sweeps`` ALS sweeps over ``window`` from ``start``'s factors; a fresh ``fit``
        when there are none to start from (or ``sweeps`` is 0)."""
        warm = (getattr(start, "user_factors_", None), getattr(start, "item_factors_", None))
        if sweeps == 0 or not isinstance(start, ALSPolicy) or warm[0] is None \
                or not self._remember(window):
            self.fit(window)
            return
        model = self._model(random_state=0)  # nothing random: the factors are given
        model.iterations = sweeps
        model.user_factors, model.item_factors = (np.array(f) for f in warm)
        self._train(model)

    def item_vectors(self) -> np.ndarray | None:
        return self.item_factors_

    def _user_rows(self, users: np.ndarray, ctx: ServeContext) -> np.ndarray:
        """Last night's factors, re-solved for users with positives today (see ``foldin``)."""
        rows = super()._user_rows(users, ctx)
        if ctx.recent is None or self.interactions_ is None or self.item_factors_ is None:
            return rows
        fresh = np.flatnonzero(np.diff(ctx.recent[users].indptr) > 0)
        if fresh.size == 0:
            return rows
        history = self.interactions_[users[fresh]] + ctx.recent[users[fresh]]
        rows = rows.copy()
        rows[fresh] = fold_in(self.item_factors_, history, self.cfg.alpha, self.cfg.regularization)
        return rows


class BPRPolicy(_FactorPolicy):
    """Bayesian personalised ranking; users the window has not seen fall back to popularity.

    implicit appends a bias column (user side all ones, item side the item bias), so scores
    include item bias. Users with no positives keep their random initial factors inside
    implicit; we zero them so their ranking is the popularity prior, like ALS's cold users.
    """

    name = "bpr"

    def _model(self, random_state: int) -> object:
        return BayesianPersonalizedRanking(
            learning_rate=self.cfg.learning_rate, **self._settings(random_state)
        )

    def _factors(self, model: object) -> tuple[np.ndarray, np.ndarray]:
        users, items = super()._factors(model)
        assert self.interactions_ is not None
        users = np.array(users, dtype=np.float32)
        users[np.diff(self.interactions_.indptr) == 0] = 0.0
        return users, np.asarray(items, dtype=np.float32)

    def item_vectors(self) -> np.ndarray | None:
        """Item factors without the bias column: similarity is about taste, not popularity."""
        return None if self.item_factors_ is None else self.item_factors_[:, :-1]
