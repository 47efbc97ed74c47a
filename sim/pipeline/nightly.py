"""The nightly job: validate → train → evaluate offline → gate → register → deploy.

Before day d the job may use days < d. With the gate on, a candidate is trained on days
< d-1 and it and the production model are evaluated on held-out day d-1 (neither has seen
it). If the candidate holds at least ``gate_ratio`` × the baseline it is deployed, refit on
days < d first when ``refit_after_gate``; otherwise production keeps serving.

The baseline is, by default, a most-popular ranking built from the candidate's own window
and scored on the same held-out day ("popular"): a sanity check that no learned model should
fail and that drifts with the data. Comparing with production itself froze the loop in
every run we tried: re-scoring it on a day it served ("live") favours it because that day's
clicks happened on its own slates (default world, day 2: production NDCG@10 0.84 against
the candidate's 0.68, then no deploy for the rest of the run), and its score at its own gate
("registered") goes stale; once the loop freezes, the data drift makes every later
candidate look worse, so a rolling median of recent candidates ("recent") freezes too. All
remain selectable, to show exactly that. A day that fails validation is quarantined (no window ever reads it) and that
night deploys nothing; a crashed job deploys nothing either. A new model whose first day's
CTR fell more than ``rollback_ctr_drop`` below its predecessor's last day is rolled back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from conf.ranges import UNIT, AtLeast, one_of, ranged
from policies.base import Policy, allowed_items, top_k
from policies.types import ServeContext, TrainingWindow
from policies.wrappers import greedy
from sim.eventlog import EventLog
from sim.metrics.offline import ranking_metrics
from sim.metrics.offpolicy import SLATE_COLUMNS, explored, logged_slates, slate_estimates
from sim.pipeline.registry import Registry
from sim.pipeline.state import ModelRecord, PipelineState
from sim.pipeline.validation import Bounds, ValidationConfig, validate_partition
from sim.window import TrainConfig, build_window, positives

PolicyFactory = Callable[[int], Policy]  # model version -> fresh, unfitted policy
EvalContext = Callable[[int, np.ndarray], ServeContext]  # (day, users) -> context as of that day


@dataclass
class PipelineConfig:
    """How the nightly job decides what serves tomorrow (see the module docstring).

    A rollback loads the previous model's artifact, so ``rollback_ctr_drop > 0`` needs
    ``save_models``; ``sim/checks.py`` holds that rule.
    """

    gate: bool = True
    gate_metric: str = ranged("ndcg", one_of("precision", "recall", "ndcg", "hit_rate", "mrr"))
    # candidate must reach this × production's offline metric
    gate_ratio: float = ranged(0.98, AtLeast(0))
    # What the candidate is compared with on its held-out day (see the module docstring):
    # "popular": a most-popular ranking from the same window; "recent": the median score of
    # the last `gate_history` candidates; "registered": production's score at its own gate;
    # "live": production re-scored on the day it served. The production-based ones froze
    # the loop in every run we tried (the logging model wins offline on its own clicks).
    gate_baseline: str = ranged("popular", one_of("popular", "recent", "registered", "live"))
    gate_history: int = ranged(7, AtLeast(1, integer=True))
    # held-out users sampled for offline evaluation
    eval_users: int = ranged(2000, AtLeast(1, integer=True))
    refit_after_gate: bool = True  # retrain a passing candidate on days < d before deploying
    # 0 = off; else roll back a new model whose CTR falls this much
    rollback_ctr_drop: float = ranged(0.0, UNIT)
    save_models: bool = True  # keep every candidate's artifact under models/
    validation: ValidationConfig = field(default_factory=ValidationConfig)


@dataclass
class NightOutcome:
    """What the night decided."""

    record: ModelRecord
    policy: Policy  # the model serving tomorrow


class NightlyJob:
    """Owns the registry, the quarantine list and the volume history; runs one night at a time."""

    def __init__(self, cfg: PipelineConfig, train: TrainConfig, complete_at: float,
                 log: EventLog, models: Path, state: PipelineState, factory: PolicyFactory,
                 rng: np.random.Generator, arm: str | None = None) -> None:
        """``arm``: train and evaluate on that arm's rows only (None: the whole log).

        ``state`` is what carries over between nights; ``models`` holds the artifacts.
        """
        self.cfg, self.train, self.complete_at = cfg, train, complete_at
        self.arm = arm
        self.log, self.factory, self.rng = log, factory, rng
        self.state = state
        self.registry = Registry(models, state)
        self.estimate_rng = rng.spawn(1)[0]  # off-policy samples never shift the gate's draws

    @property
    def quarantined(self) -> set[int]:
        return self.state.quarantined

    def run(self, day: int, shape: tuple[int, int], k: int, eval_ctx: EvalContext,
            crashed: bool, ctr: dict[int, float]) -> NightOutcome:
        """One night before ``day``. ``ctr`` maps past days to their online CTR."""
        version = self.registry.next_version()
        problems = self._validate(day - 1, shape, k) if day > 0 else []
        if crashed or problems:
            status = "job_failed" if crashed else "validation_failed"
            return self._keep(ModelRecord(version, day, status, problems=problems))
        rolled = self._rollback(day, version, ctr)
        if rolled is not None:
            return rolled
        return self._train_and_gate(day, version, shape, k, eval_ctx)

    def _train_and_gate(self, day: int, version: int, shape: tuple[int, int], k: int,
                        eval_ctx: EvalContext) -> NightOutcome:
        rec = ModelRecord(version, day, "deployed")
        candidate = self.factory(version)
        gated = self.cfg.gate and self.state.model is not None and day >= 2 \
            and (day - 1) not in self.quarantined
        if gated:
            peek = self.train.leakage == "window"  # the held-out day leaks into training
            window = self._fit(candidate, day if peek else day - 1, shape)
            self._note(rec, window)
            rec.judged_train_days = list(window.days)
            honest = self._window(day - 1, shape) if peek else window  # for the baseline
            self._judge(rec, candidate, honest, day - 1, shape, k, eval_ctx)
        if rec.gate_passed is False:
            rec.status = "rejected"
            return self._keep(rec)
        if not gated or self.cfg.refit_after_gate:
            self._note(rec, self._fit(candidate, day, shape))
        return self._deploy(rec, candidate)

    def _validate(self, day: int, shape: tuple[int, int], k: int) -> list[str]:
        """Check the sealed partition of ``day``; quarantine it when it fails."""
        if not self.cfg.validation.enabled:
            return []
        bounds = Bounds(day, shape[0], shape[1], k)
        report = validate_partition(self.log.table(day), bounds, self.state.volumes, self.cfg.validation)
        if report.passed:
            self.state.volumes.append(report.rows)
        else:
            self.state.quarantined.add(day)
        return report.problems

    def _rollback(self, day: int, version: int, ctr: dict[int, float]) -> NightOutcome | None:
        """Undo last night's deploy if its first day's CTR dropped too far."""
        reg, limit = self.registry, self.cfg.rollback_ctr_drop
        if limit <= 0 or reg.previous is None or reg.production is None:
            return None
        deployed_night = reg.records[reg.production - 1].night
        if deployed_night != day - 1 or day - 2 not in ctr or day - 1 not in ctr:
            return None
        if ctr[day - 1] >= (1 - limit) * ctr[day - 2]:
            return None
        back = reg.previous
        why = (f"v{reg.production} CTR {ctr[day - 1]:.4f} < (1 - {limit}) x "
               f"{ctr[day - 2]:.4f}; back to v{back}")
        rec = ModelRecord(version, day, "rolled_back", problems=[why])
        self.registry.record(rec)
        self.registry.promote(back)
        self.state.model = self.registry.load(back)
        return NightOutcome(rec, self.state.model)

    def _fit(self, policy: Policy, day: int, shape: tuple[int, int]) -> TrainingWindow:
        window = self._window(day, shape)
        policy.fit(window)
        return window

    def _window(self, day: int, shape: tuple[int, int]) -> TrainingWindow:
        return build_window(self.log, day, self.train, self.complete_at, shape, self.quarantined,
                            self.arm)

    @staticmethod
    def _note(rec: ModelRecord, window: TrainingWindow) -> None:
        rec.data_version, rec.train_days = window.data_version, list(window.days)

    def _judge(self, rec: ModelRecord, candidate: Policy, window: TrainingWindow, eval_day: int,
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
        frame = self.log.read([day], SLATE_COLUMNS, arm=self.arm)
        users = np.unique(frame["user"].to_numpy())
        if users.size > self.cfg.eval_users:
            users = np.sort(self.estimate_rng.choice(users, self.cfg.eval_users, replace=False))
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
        matrix = positives(self.log.read([day], arm=self.arm), self.train.label, self.complete_at,
                           shape)
        users = np.flatnonzero(np.diff(matrix.indptr))
        if users.size > self.cfg.eval_users:
            users = np.sort(self.rng.choice(users, self.cfg.eval_users, replace=False))
        return users, matrix[users]

    def _deploy(self, rec: ModelRecord, candidate: Policy) -> NightOutcome:
        self.registry.record(rec, candidate if self.cfg.save_models else None)
        self.registry.promote(rec.version)
        self.state.model = candidate
        return NightOutcome(rec, candidate)

    def _keep(self, rec: ModelRecord) -> NightOutcome:
        """Record a night that changes nothing: production keeps serving."""
        self.registry.record(rec)
        assert self.state.model is not None, "the first night must deploy a model"
        return NightOutcome(rec, self.state.model)


def most_popular(popularity: np.ndarray, users: np.ndarray, k: int, ctx: ServeContext) -> np.ndarray:
    """The non-personalised reference ranking: window popularity among allowed items."""
    scores = np.where(allowed_items(users, ctx), popularity[None, :], -np.inf).astype(np.float32)
    return top_k(scores, k)


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
