"""Judging a candidate on its held-out day: offline metrics, off-policy estimates, the gate.

The candidate, the production model and a most-popular ranking built from the candidate's
own window are scored on the same held-out day; the gate compares the candidate's score
with the configured baseline (see ``sim/pipeline/nightly.py`` for why "popular" is the
default). The off-policy estimates of the candidate's CTR use the logging policy's
propensities on a sample of that day's sessions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recloop.conf.distinct import distinct
from recloop.policies.base import Policy
from recloop.policies.types import ServeContext, TrainingWindow
from recloop.policies.wrappers import greedy
from recloop.sim.eventlog import LOG_PATHS, ORGANIC, EventLog
from recloop.sim.metrics.offline import ranking_metrics
from recloop.sim.metrics.offpolicy import SLATE_COLUMNS, explored, logged_slates, slate_estimates
from recloop.sim.pipeline.config import PipelineConfig
from recloop.sim.pipeline.registry import Registry
from recloop.sim.pipeline.state import ModelRecord, PipelineState
from recloop.sim.window import TrainConfig, WindowReader

# (day, users) -> the context at that day's start; it may hold only those users' seen rows
EvalContext = Callable[[int, np.ndarray], ServeContext]


class Judge:
    """Scores candidates for one pipeline; reads and extends its state's gate history."""

    def __init__(self, cfg: PipelineConfig, train: TrainConfig, complete_at: float,
                 log: EventLog, registry: Registry, windows: WindowReader) -> None:
        """``windows`` reads the pipeline's own rows (its arm's, in an A/B test)."""
        self.cfg, self.train, self.complete_at = cfg, train, complete_at
        self.log, self.registry, self.windows = log, registry, windows
        self.arm = windows.arm

    @property
    def state(self) -> PipelineState:
        return self.registry.state

    def judge(self, rec: ModelRecord, candidate: Policy, window: TrainingWindow, eval_day: int,
               shape: tuple[int, int], k: int, eval_ctx: EvalContext) -> None:
        """Offline metrics of candidate and production on the held-out day; the gate verdict.

        Both are scored on their greedy ranking (``policies.wrappers.greedy``); the
        off-policy estimates, in contrast, score the candidate as it would serve.

        ``window`` holds days before ``eval_day`` only: the most-popular baseline is built
        from it, so a leaky candidate never drags the baseline along.
        """
        assert self.state.model is not None
        users, relevant = self._held_out(eval_day, shape)
        rec.eval_day = eval_day
        if users.size == 0:
            return  # nothing to judge on: no verdict
        ctx = eval_ctx(eval_day, users)
        rec.offline = ranking_metrics(greedy(candidate).recommend(users, k, ctx).items, relevant)
        self._estimate_online(rec, candidate, eval_day, eval_ctx)
        ranked = greedy(self.state.model).recommend(users, k, ctx).items
        rec.production_offline = ranking_metrics(ranked, relevant)
        popularity = np.asarray(window.interactions.sum(axis=0)).ravel()
        rec.popular_offline = ranking_metrics(most_popular(popularity, users, k, ctx), relevant)
        baseline = self._baseline(rec)
        score = rec.offline[self.cfg.gate_metric]
        self.state.scores.append(score)
        if baseline is None:
            return  # nothing to compare with yet: no verdict
        rec.gate_passed = bool(score >= self.cfg.gate_ratio * baseline)

    def _estimate_online(self, rec: ModelRecord, candidate: Policy, day: int,
                         eval_ctx: EvalContext) -> None:
        """The candidate's CTR on ``day`` estimated from the logged sessions of a sample of
        that day's users, with the logging policy's propensities (IPS, SNIPS, cascade)."""
        frame = self.log.read([day], [*SLATE_COLUMNS, "serving_path"], arm=self.arm)
        frame = frame[frame["serving_path"] != LOG_PATHS[ORGANIC]]  # found, not served
        users = distinct(frame["user"].to_numpy())
        if users.size > self.cfg.eval_users:
            users = np.sort(self.state.estimate_rng.choice(users, self.cfg.eval_users, replace=False))
        frame = frame[frame["user"].isin(users)]
        if frame.empty:
            return
        owners, items, prop, clicked = logged_slates(frame)
        target = None  # not worth computing when the log cannot support an estimate
        if explored(items, prop):
            target = session_probabilities(candidate, owners, items, clicked,
                                           eval_ctx(day, owners))
        for name, est in slate_estimates(items, prop, clicked, target).items():
            rec.offpolicy |= {name: est.value, f"{name}_se": est.se}
            rec.offpolicy_note = rec.offpolicy_note or est.note

    def _baseline(self, rec: ModelRecord) -> float | None:
        """What the candidate must reach (before ``gate_ratio``); see ``gate_baseline``."""
        metric, how = self.cfg.gate_metric, self.cfg.gate_baseline
        if how == "live":
            return rec.production_offline[metric]
        if how == "popular":
            return rec.popular_offline[metric]
        if how == "recent":
            recent = self.state.scores[-self.cfg.gate_history :]
            return float(np.median(recent)) if recent else None
        assert self.registry.production is not None
        return self.registry.records[self.registry.production - 1].offline.get(metric)

    def _held_out(self, day: int, shape: tuple[int, int]) -> tuple[np.ndarray, sp.csr_matrix]:
        """A sample of users with positives on ``day`` and their positives (rows aligned)."""
        matrix = self.windows.day_positives(day, shape).tocsr()
        users = np.flatnonzero(np.diff(matrix.indptr))
        if users.size > self.cfg.eval_users:
            users = np.sort(self.state.rng.choice(users, self.cfg.eval_users, replace=False))
        return users, matrix[users]


def most_popular(popularity: np.ndarray, users: np.ndarray, k: int, ctx: ServeContext) -> np.ndarray:
    """The non-personalised reference ranking: window popularity among allowed items, ties
    by item id. Each user's first k allowed items of one global order; only users who are
    barred from most of its head need the whole catalog looked at."""
    order = np.argsort(-popularity, kind="stable")
    ranked = np.full((users.size, k), -1, dtype=np.int32)
    head = order[: 4 * k]
    short = _first_allowed(head, users, ctx, ranked)
    if short.size:
        sub = ranked[short]
        _first_allowed(order, users[short], ctx, sub)
        ranked[short] = sub
    return ranked


def _first_allowed(order: np.ndarray, users: np.ndarray, ctx: ServeContext,
                   out: np.ndarray) -> np.ndarray:
    """Fill ``out`` with each user's first allowed items of ``order``; return the rows that
    found fewer than ``out.shape[1]``."""
    allowed = ctx.available[order][None, :] & ~ctx.seen[users[:, None], order[None, :]]
    if ctx.candidates is not None:
        allowed &= ctx.candidates[users[:, None], order[None, :]]
    rank = np.cumsum(allowed, axis=1)
    rows, cols = np.nonzero(allowed & (rank <= out.shape[1]))
    out[rows, rank[rows, cols] - 1] = order[cols]
    return np.flatnonzero(rank[:, -1] < out.shape[1]) if order.size else np.arange(users.size)


def session_probabilities(policy: Policy, users: np.ndarray, items: np.ndarray,
                          clicked: np.ndarray, start: ServeContext) -> np.ndarray | None:
    """``policy.probabilities`` of a day's logged slates, each in its own session's state.

    Sessions (rows, in time order) are taken by occurrence: every user's first session with
    the start-of-day watched items, their second with the first one's click added, and so
    on, so the policy is asked what it would have shown at that moment, not at midnight.
    """
    seen = start.seen.copy()
    ctx = replace(start, seen=seen)
    occurrence = pd.Series(users).groupby(users).cumcount().to_numpy()
    out = np.zeros(items.shape)
    for r in range(int(occurrence.max(initial=-1)) + 1):
        rows = np.flatnonzero(occurrence == r)
        prob = policy.probabilities(users[rows], items[rows], ctx)
        if prob is None:
            return None
        out[rows] = prob
        hit, pos = np.nonzero(clicked[rows])
        seen[users[rows][hit], items[rows][hit, pos]] = True
    return out
